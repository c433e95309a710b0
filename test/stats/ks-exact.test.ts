import { describe, expect, it } from 'vitest';
import { twoSampleExactPValue } from '../../src/stats/kolmogorov.ts';

/**
 * The definition, over the whole lattice: P(D >= h / lcm) is the share of the monotone paths from
 * (0, 0) to (n1, n2) that reach a point (i, j) with |i / n1 - j / n2| >= h / lcm, the points compared
 * in integers (|i lcm/n1 - j lcm/n2| >= h). A path's share is carried to each point as a fraction of
 * the paths reaching it (a step from (i-1, j) carries i / (i + j) of them): every term positive, so
 * the tail keeps its precision. No band, no bounds per column: none of src's walk is shared.
 */
function shareLeaving(n1: number, n2: number, d: number): number {
  let g = n1;
  for (let y = n2; y !== 0; ) [g, y] = [y, g % y];
  const lcm = (n1 / g) * n2;
  const h = Math.round(d * lcm);
  if (h === 0) return 1;
  const a = lcm / n1;
  const b = lcm / n2;
  // row i of the lattice: left[j] is the share of paths to (i, j) that left the band on the way
  const left = new Float64Array(n2 + 1);
  for (let i = 0; i <= n1; i++) {
    for (let j = 0; j <= n2; j++) {
      if (Math.abs(i * a - j * b) >= h) left[j] = 1;
      else if (i === 0) left[j] = j === 0 ? 0 : left[j - 1];
      // (i, 0) is reached from (i - 1, 0) alone: its share stays
      else if (j > 0) left[j] = (left[j] * i + left[j - 1] * j) / (i + j);
    }
  }
  return left[n2];
}

/** A small seeded generator: the same cases on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('exact two-sample KS p-value (unequal sizes)', () => {
  it('gives the share of lattice paths that leave the band, counted over the whole lattice, to rounding', () => {
    const random = seeded(14);
    let compared = 0;
    let smallest = 1;
    for (let k = 0; k < 400; k++) {
      const n1 = 1 + Math.floor(random() * 700);
      const n2 = 1 + Math.floor(random() * 2500);
      if (n1 === n2) continue;
      // statistics from none to far out in the tail (p-values down to ~1e-100)
      const d = random() ** 2 * Math.min(1, 12 / Math.sqrt((n1 * n2) / (n1 + n2)));
      const exact = twoSampleExactPValue(n1, n2, d);
      expect(exact, `n1=${n1} n2=${n2} d=${d}`).not.toBeNull();
      const reference = shareLeaving(n1, n2, d);
      const p = (exact as { pValue: number }).pValue;
      expect(Math.abs(p - reference), `n1=${n1} n2=${n2} d=${d}: ${p} against ${reference}`).toBeLessThanOrEqual(1e-12 * reference + 1e-300);
      compared++;
      if (reference > 0) smallest = Math.min(smallest, reference);
    }
    expect(compared).toBeGreaterThan(350);
    expect(smallest).toBeLessThan(1e-20);
  });

  it('agrees at the sizes a gateway meets: a minute of reference against 1m and 5m windows', () => {
    for (const [n1, n2] of [[600, 1200], [600, 6000], [600, 6001], [387, 1947], [1000, 6000]]) {
      for (const d of [0.011, 0.03, 0.05, 0.12]) {
        const p = (twoSampleExactPValue(n1, n2, d) as { pValue: number }).pValue;
        const reference = shareLeaving(n1, n2, d);
        expect(Math.abs(p - reference), `n1=${n1} n2=${n2} d=${d}`).toBeLessThanOrEqual(1e-12 * reference + 1e-300);
      }
    }
  });
});
