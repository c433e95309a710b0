import { describe, expect, it } from 'vitest';
import { ProfileBuilder } from '../../src/reference/profile-builder.ts';
import { binCountsOnEdges, profileFromRows, profileFromWindow, profileToBytes } from '../../src/reference/profile.ts';
import { PaneInput, PaneOutcome, DEFAULT_PANE_LIMITS } from '../../src/window/pane.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import type { ReferenceProfile, TrainingRow } from '../../src/reference/profile.ts';
import type { NumericReference } from '../../src/stats/select.ts';

/** Deterministic mixed rows: numbers, categories, missing cells, a score output with 0/1 labels. */
function rows(n: number, seed = 7): TrainingRow[] {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out: TrainingRow[] = [];
  for (let i = 0; i < n; i++) {
    const score = random();
    out.push({
      features: {
        amount: Math.round(random() * 1000) / 10,
        country: i % 7 === 0 ? null : ['de', 'fr', 'es'][i % 3],
        age: i % 11 === 0 ? '' : 18 + (i % 60),
        mixed: i % 2 === 0 ? i : `c${i % 5}`,
        rating: 1 + (i % 5),
      },
      output: score,
      label: i % 5 === 0 ? null : random() < score ? 1 : 0,
    });
  }
  return out;
}

function built(input: readonly TrainingRow[], exactValuesMax?: number): ReferenceProfile {
  const builder = new ProfileBuilder('p', 'm', 'v1', { exactValuesMax });
  for (const row of input) builder.add(row);
  return builder.build();
}

describe('ProfileBuilder', () => {
  it('produces exactly what profileFromRows produces for the same rows (byte for byte once stored)', () => {
    for (const input of [rows(1), rows(50), rows(3000)]) {
      const expected = profileFromRows('p', 'm', 'v1', input);
      const actual = built(input);
      actual.createdAt = expected.createdAt;
      expect(actual).toEqual(expected);
      expect(Buffer.from(profileToBytes(actual)).equals(Buffer.from(profileToBytes(expected)))).toBe(true);
    }
  });

  it('keeps a numeric reference\'s bin counts as plain numbers (no buffer of their own), those of its sketch on its edges, however it was made', () => {
    const input = rows(5_000);
    const pane = new PaneInput(DEFAULT_PANE_LIMITS, new Map([['amount', 50]]));
    for (const row of input) {
      pane.count++;
      pane.addFeature('amount', row.features.amount as number);
    }
    const references: Array<[string, NumericReference]> = [
      ['from rows', profileFromRows('p', 'm', 'v1', input).features.amount as NumericReference],
      ['built past its exact budget', built(input, 1000).features.amount as NumericReference],
      ['captured from a window', profileFromWindow('w', 'm', null, 'window', pane, new PaneOutcome(DEFAULT_PANE_LIMITS), 0, 1).features.amount as NumericReference],
    ];
    for (const [how, reference] of references) {
      expect(Array.isArray(reference.binCounts), how).toBe(true);
      expect(reference.binCounts, how).toHaveLength(reference.innerEdges.length + 1);
      expect(reference.binCounts, how).toEqual(Array.from(binCountsOnEdges(reference.summary as LogHistogram, reference.innerEdges)));
      expect(Array.from(reference.binCounts).reduce((a, b) => a + b, 0), how).toBeCloseTo(5_000, 6);
    }
  });

  it('matches categorical outputs and accuracy of string labels', () => {
    const input: TrainingRow[] = Array.from({ length: 40 }, (_, i) => ({ features: { x: i }, output: i < 10 ? 'no' : 'yes', label: 'yes' }));
    const expected = profileFromRows('p', 'm', 'v1', input);
    const actual = built(input);
    actual.createdAt = expected.createdAt;
    expect(actual).toEqual(expected);
    expect(actual.accuracy).toBe(0.75);
  });

  it('past its exact budget it keeps counts exact and deciles, std and calibration close to the exact profile', () => {
    const input = rows(20_000);
    const exact = profileFromRows('p', 'm', 'v1', input);
    const builder = new ProfileBuilder('p', 'm', 'v1', { exactValuesMax: 1000 });
    for (const row of input) builder.add(row);
    expect(builder.isExact).toBe(false);
    const sketched = builder.build();
    expect(sketched.count).toBe(20_000);
    expect(Object.keys(sketched.features)).toEqual(Object.keys(exact.features));
    expect(sketched.accuracy).toBe(exact.accuracy);
    expect(sketched.calibration).toEqual(exact.calibration);
    expect(sketched.features.country).toEqual(exact.features.country);
    // a discrete feature keeps its exact counts past the budget, as profileFromRows keeps them
    expect((sketched.features.rating as NumericReference).exactCounts).toEqual((exact.features.rating as NumericReference).exactCounts);
    expect((sketched.features.rating as NumericReference).exactCounts?.get(3)).toBe(4_000);
    expect((sketched.features.amount as NumericReference).exactCounts).toBeUndefined();
    for (const name of ['amount', 'age', 'mixed']) {
      const a = sketched.features[name] as NumericReference;
      const b = exact.features[name] as NumericReference;
      expect(a.count).toBe(b.count);
      expect(a.std).toBeCloseTo(b.std, 6);
      expect(a.sample).toHaveLength(1000);
      Array.from(a.innerEdges).forEach((edge, i) => expect(Math.abs(edge - b.innerEdges[i])).toBeLessThanOrEqual(0.021 * Math.abs(b.innerEdges[i]) + 0.11));
      expect(Array.from(a.binCounts).reduce((s, c) => s + c, 0)).toBeCloseTo(b.count, 6);
    }
    expect(sketched.scoreCalibration).not.toBeUndefined();
  });
});
