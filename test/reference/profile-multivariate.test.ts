/**
 * The multivariate (PCA reconstruction) part of a file reference: fitted on the rows, stored with
 * the profile, and absent from profiles stored before it existed.
 */
import { encode, decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { profileFromBytes, profileFromRows, profileToBytes } from '../../src/reference/profile.ts';
import type { TrainingRow } from '../../src/reference/profile.ts';
import { ProfileBuilder } from '../../src/reference/profile-builder.ts';
import { mulberry32 } from '../../src/sketch/random.ts';
import { WorkerReferences } from '../../src/reference/worker-references.ts';
import { DEFAULT_PANE_LIMITS, PaneInput } from '../../src/window/pane.ts';

function correlatedRows(n: number, seed: number): TrainingRow[] {
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const rows: TrainingRow[] = [];
  for (let i = 0; i < n; i++) {
    const shared = normal();
    rows.push({ output: random(), features: { a: shared + 0.3 * normal(), b: shared + 0.3 * normal(), c: normal(), plan: i % 7 === 0 ? null : random() < 0.5 ? 'basic' : 'pro' } });
  }
  return rows;
}

describe('multivariate reference', () => {
  const rows = correlatedRows(3000, 7);

  it('a file reference fits the PCA model on its rows and keeps its chunk statistics', () => {
    const profile = profileFromRows('p1', 'm', null, rows, 0.01, undefined, 200);
    const multivariate = profile.multivariate;
    expect(multivariate).not.toBeNull();
    expect(multivariate?.model.fittedOn).toBe(3000);
    expect(multivariate?.model.numeric.map((c) => c.name)).toEqual(['a', 'b', 'c']);
    expect([...(multivariate?.model.categorical[0].categories ?? [])].sort()).toEqual(['basic', 'pro']);
    expect(multivariate?.errors.chunks).toBe(15);
    expect(multivariate?.errors.chunkStd).toBeGreaterThan(0);
  });

  it('survives the stored form; a profile stored before it loads with none', () => {
    const profile = profileFromRows('p1', 'm', null, rows);
    const loaded = profileFromBytes(profileToBytes(profile));
    expect(loaded.multivariate).toEqual(profile.multivariate);
    const old = decode(profileToBytes({ ...profile, multivariate: undefined })) as Record<string, unknown>;
    expect('multivariate' in old).toBe(false);
    expect(profileFromBytes(encode(old)).multivariate).toBeNull();
  });

  it('a damaged stored model is refused with the profile named', () => {
    const raw = decode(profileToBytes(profileFromRows('p9', 'm', null, rows))) as Record<string, unknown>;
    const multivariate = raw.multivariate as { model: { components: number[][] } };
    multivariate.model.components = [[1]];
    expect(() => profileFromBytes(encode(raw))).toThrow(/reference profile p9: multivariate model: components must be rows of/);
  });

  it('the streaming builder fits the same model as profileFromRows on a small file, and a sample past its bound', () => {
    const builder = new ProfileBuilder('p1', 'm', null);
    for (const row of rows) builder.add(row);
    expect(builder.build().multivariate).toEqual(profileFromRows('p1', 'm', null, rows).multivariate);

    const bounded = new ProfileBuilder('p2', 'm', null, { multivariateRowsMax: 500, multivariateChunkSize: 50 });
    for (const row of rows) bounded.add(row);
    expect(bounded.multivariateIsExact).toBe(false);
    const sampled = bounded.build().multivariate;
    expect(sampled?.model.fittedOn).toBe(500);
    expect(sampled?.errors.chunks).toBe(10);
  });
});

describe('a worker follows the active reference for multivariate scoring', () => {
  const rows = correlatedRows(500, 3);
  const scored = (scorers: WorkerReferences, version = 'v1') => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    scorers.observe(pane, 'm', version, { a: 0, b: 0, c: 0, plan: 'pro' });
    return [...(pane.multivariate?.keys() ?? [])];
  };

  it('scores against the newest profile, a version against its own, and stops when the profile goes', () => {
    const scorers = new WorkerReferences();
    expect(scored(scorers)).toEqual([]);
    const older = { ...profileFromRows('old', 'm', null, rows), createdAt: 1 };
    const newer = { ...profileFromRows('new', 'm', null, rows), createdAt: 2 };
    scorers.setReference(newer);
    scorers.setReference(older);
    expect(scored(scorers)).toEqual(['new']);
    scorers.setReference({ ...profileFromRows('own', 'm', 'v2', rows), createdAt: 3 });
    expect(scored(scorers, 'v2')).toEqual(['own']);
    expect(scored(scorers, 'v1')).toEqual(['new']);
    // a version's own profile without a model (a window capture) shadows the model's, as in the gateway
    scorers.setReference({ ...profileFromRows('capture', 'm', 'v3', rows), createdAt: 4, multivariate: null });
    expect(scored(scorers, 'v3')).toEqual([]);
    scorers.removeReference('new');
    expect(scored(scorers)).toEqual(['old']);
    scorers.removeReference('old');
    expect(scored(scorers)).toEqual([]);
  });
});
