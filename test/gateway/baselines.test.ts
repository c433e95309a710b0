import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/server.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import type { ReferenceProfile } from '../../src/reference/profile.ts';
import { FakeSource } from './fake-source.ts';
import { LIMITS, PANE_MS, inputPane, recordingLogger, spread } from './panes.ts';

/** The object store's part the routes use, in memory. */
class MemoryProfiles {
  readonly byId = new Map<string, ReferenceProfile>();
  async put(profile: ReferenceProfile): Promise<void> {
    this.byId.set(profile.id, profile);
  }
  async list(): Promise<ReferenceProfile[]> {
    return [...this.byId.values()];
  }
  async delete(id: string): Promise<boolean> {
    return this.byId.delete(id);
  }
}

describe('baseline routes', () => {
  let app: FastifyInstance;
  let references: ReferenceRegistry;
  let profiles: MemoryProfiles;

  beforeEach(async () => {
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    for (let i = 0; i < 12; i++) windows.applyPaneMessage(inputPane('churn', 100_000 + i * PANE_MS, spread(10, 0, 50)));
    references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    profiles = new MemoryProfiles();
    app = await buildGateway({ source: new FakeSource(), registry: new Registry(), baselines: { windows, references, profiles } });
  });
  afterEach(async () => {
    await app.close();
  });

  it('captures a live window as the active reference, stores it and lists it', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/models/churn/baseline', payload: { window: '1m' } });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({ model: 'churn', version: null, source: 'window', count: 60 });
    expect(references.referenceFor('churn')?.id).toBe(created.id);
    expect([...profiles.byId.keys()]).toEqual([created.id]);
    // the default window is 5m, and from/to pick a range inside it
    const ranged = await app.inject({ method: 'POST', url: '/v1/models/churn/baseline', payload: { from: 100_000, to: 100_000 + 3 * PANE_MS } });
    expect(ranged.json().count).toBe(30);
    const listed = await app.inject({ url: '/v1/baselines?model=churn' });
    expect(listed.json().baselines.map((p: { count: number }) => p.count)).toEqual([60, 30]);
    expect((await app.inject({ url: '/v1/baselines?model=fraud' })).json()).toEqual({ baselines: [] });
  });

  it('uploads training rows as a file profile (20 rows: below the minimum, so forced)', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({ features: { x: i, plan: i % 2 ? 'pro' : 'free' }, output: i % 2 }));
    const refused = await app.inject({ method: 'POST', url: '/v1/baselines', payload: { model: 'churn', version: 'v2', rows } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toMatch(/^refused \(pass force to upload anyway\): the profile describes 20 rows, fewer than the minimum of 500/);
    expect(profiles.byId.size).toBe(0);
    const res = await app.inject({ method: 'POST', url: '/v1/baselines', payload: { model: 'churn', version: 'v2', rows, force: true } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ model: 'churn', version: 'v2', source: 'file', count: 20, inForce: { id: res.json().id, model: 'churn', version: 'v2' } });
    expect(references.referenceFor('churn', 'v2')?.id).toBe(res.json().id);
    expect(references.referenceFor('churn', 'v1')).toBeNull();
  });

  it('gives uploads made in the same millisecond distinct ids that sort in upload order; the last one is in force', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({ features: { x: i }, output: i % 2 }));
    const ids: string[] = [];
    for (let k = 0; k < 5; k++) {
      const res = await app.inject({ method: 'POST', url: '/v1/baselines', payload: { model: 'churn', rows, force: true } });
      expect(res.statusCode).toBe(201);
      ids.push(res.json().id);
    }
    expect(new Set(ids).size).toBe(5);
    expect([...ids].sort()).toEqual(ids);
    expect(profiles.byId.size).toBe(5);
    for (const id of ids) expect(id).toMatch(/^churn\.all\.file\.\d{15}-[0-9a-z]{10}$/);
    expect(references.referenceFor('churn')?.id).toBe(ids[4]);
  });

  it('deletes a profile and drops it when active; an unknown id is a 404', async () => {
    const { id } = (await app.inject({ method: 'POST', url: '/v1/models/churn/baseline', payload: {} })).json();
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/baselines/${id}` });
    expect(deleted.json()).toEqual({ deleted: id, inForce: null });
    expect(references.referenceFor('churn')).toBeNull();
    const again = await app.inject({ method: 'DELETE', url: `/v1/baselines/${id}` });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: 'Not Found', message: `no baseline '${id}'`, statusCode: 404 });
  });

  it('answers every refusal with the one error body', async () => {
    const cases: Array<[string, unknown, number, string, string]> = [
      ['/v1/models/nope/baseline', {}, 404, 'Not Found', "unknown model 'nope'"],
      ['/v1/models/churn/baseline', { window: '2m' }, 400, 'Bad Request', "body/window must be one of 1m, 5m, got '2m'"],
      ['/v1/models/churn/baseline', { from: 200_000, to: 150_000 }, 400, 'Bad Request', 'body/to (150000) must be after body/from (200000)'],
      ['/v1/models/churn/baseline', { from: 0, to: 50_000 }, 409, 'Conflict', "model 'churn' has no predictions between 0 (1970-01-01T00:00:00.000Z) and 50000 (1970-01-01T00:00:50.000Z) to capture"],
      ['/v1/models/churn/baseline', { version: 'v9' }, 404, 'Not Found', "unknown version 'v9' of model 'churn' (known versions: v1)"],
      ['/v1/models/churn/baseline', { version: 'v1', from: 0, to: 50_000 }, 409, 'Conflict', "model 'churn' version 'v1' has no predictions between 0 (1970-01-01T00:00:00.000Z) and 50000 (1970-01-01T00:00:50.000Z) to capture"],
      ['/v1/models/churn/baseline', { from: 'yesterday' }, 400, 'Bad Request', 'body/from must be number'],
      ['/v1/baselines', { model: 'churn' }, 400, 'Bad Request', 'body must have either rows (training rows) or profile (a profile summarised from a file, base64 of its MessagePack bytes)'],
      ['/v1/baselines', { model: 'churn', profile: Buffer.from('not msgpack').toString('base64') }, 400, 'Bad Request', 'body/profile: not a reference profile: Extra 10 of 11 byte(s) found at buffer[1]'],
      ['/v1/baselines', { model: 'a.b', rows: [{ features: {} }] }, 400, 'Bad Request', "body/model must be a name without whitespace, '.', '*' or '>'"],
    ];
    for (const [url, payload, statusCode, error, message] of cases) {
      const res = await app.inject({ method: 'POST', url, payload: payload as object });
      expect({ url, status: res.statusCode, body: res.json() }).toEqual({ url, status: statusCode, body: { error, message, statusCode } });
    }
    expect(profiles.byId.size).toBe(0);
  });

  it('refuses a capture request over the body limit with 413', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/models/churn/baseline', payload: { window: 'x'.repeat(2 * 1024 * 1024) } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'Payload Too Large', statusCode: 413 });
  });
});

describe('a capture from history older than the fine panes', () => {
  it('records the range the coarse (1-minute) panes it summed really cover, not the range asked', async () => {
    const MINUTE = 60_000;
    const windows = new WindowStore({ windows: ['1m', '5m', '1h'], limits: LIMITS, maxModels: 10 });
    const t0 = 100 * MINUTE;
    // 70 minutes of closed panes, 10 predictions each: the first hour's fold into 1-minute panes
    for (let t = t0; t < t0 + 70 * MINUTE; t += PANE_MS) windows.applyPaneMessage({ ...inputPane('churn', t, spread(10, 0, 50)), final: true });
    const app = await buildGateway({ source: new FakeSource(), registry: new Registry(), baselines: { windows, references: new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger }), profiles: new MemoryProfiles() } });
    try {
      // asked: 20 s into minute 10 to 20 s into minute 13; held: minutes 11 and 12 whole, and minute 13
      // whole (a coarse pane starting inside the range is taken whole)
      const from = t0 + 10 * MINUTE + 20_000;
      const to = t0 + 13 * MINUTE + 20_000;
      const res = await app.inject({ method: 'POST', url: '/v1/models/churn/baseline', payload: { from, to } });
      expect(res.statusCode).toBe(201);
      const created = res.json();
      expect(created.count).toBe(3 * 6 * 10);
      expect(created.from).toBe(t0 + 11 * MINUTE);
      expect(created.to).toBe(t0 + 14 * MINUTE);
    } finally {
      await app.close();
    }
  });
});

describe('baseline routes behind a token', () => {
  it('require it like every other route', async () => {
    const windows = new WindowStore({ windows: ['5m'], limits: LIMITS, maxModels: 1 });
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    const app = await buildGateway({ source: new FakeSource(), registry: new Registry(), token: 'tok', baselines: { windows, references, profiles: new MemoryProfiles() } });
    const res = await app.inject({ url: '/v1/baselines' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="driftwatch"');
    expect((await app.inject({ url: '/v1/baselines', headers: { authorization: 'Bearer tok' } })).json()).toEqual({ baselines: [] });
    await app.close();
  });
});

describe('safe activation of uploaded profiles', () => {
  it('checks an upload against the live features: missing, new and retyped ones refused unless forced; dry run stores nothing; deleting the profile in force falls back to the newest remaining', async () => {
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    // live traffic of churn: one numeric feature, 'f' (see panes.ts spread)
    for (let i = 0; i < 12; i++) windows.applyPaneMessage(inputPane('churn', 100_000 + i * PANE_MS, spread(10, 0, 50)));
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    const profiles = new MemoryProfiles();
    const app = await buildGateway({ source: new FakeSource(), registry: new Registry(), baselines: { windows, references, profiles, minRows: 5 } });
    const live = [...(windows.aggregateRange('churn', 0, 1e9)?.input.features.keys() ?? [])];
    expect(live.length).toBeGreaterThan(0);
    const rowsWith = (features: (i: number) => Record<string, number | string>) => Array.from({ length: 10 }, (_, i) => ({ features: features(i), output: i / 10 }));
    const matching = rowsWith((i) => Object.fromEntries(live.map((name) => [name, i])));
    const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/baselines', payload: { model: 'churn', ...payload } });

    const first = await post({ rows: matching });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ problems: [], inForce: { id: first.json().id, model: 'churn', version: null } });

    const mismatched = rowsWith((i) => ({ [live[0]]: `c${i}`, extra: i }));
    const refused = await post({ rows: mismatched });
    expect(refused.statusCode).toBe(409);
    const message: string = refused.json().message;
    expect(message).toContain(`features in the profile the model does not send: extra`);
    expect(message).toContain(`feature '${live[0]}' is categorical in the profile but numeric in live traffic`);
    expect(references.referenceFor('churn')?.id).toBe(first.json().id);

    const dry = await post({ rows: mismatched, dryRun: true });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({ dryRun: true, inForce: null });
    expect(dry.json().problems).toHaveLength(2);
    expect(profiles.byId.size).toBe(1);

    const forced = await post({ rows: mismatched, force: true });
    expect(forced.statusCode).toBe(201);
    expect(forced.json().inForce.id).toBe(forced.json().id);
    expect(forced.json().problems).toHaveLength(2);

    const deleted = await app.inject({ method: 'DELETE', url: `/v1/baselines/${forced.json().id}` });
    expect(deleted.json()).toEqual({ deleted: forced.json().id, inForce: { id: first.json().id, model: 'churn', version: null } });
    expect(references.referenceFor('churn')?.id).toBe(first.json().id);
    await app.close();
  });
});
