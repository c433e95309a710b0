import { describe, expect, it } from 'vitest';
import { twoSampleExactPValue } from '../../src/stats/kolmogorov.ts';

/**
 * SciPy's lattice walk for unequal sizes (scipy.stats._stats_py._compute_prob_outside_square's
 * sibling, `_count_paths_outside_method`'s 1 - inside form), one step at a time with a division per
 * step, as SciPy writes it: the reference the two-steps-at-a-time walk in src must agree with.
 */
function stepByStep(n1: number, n2: number, d: number): number {
  let g = n1;
  for (let y = n2; y !== 0; ) [g, y] = [y, g % y];
  const lcm = (n1 / g) * n2;
  const h = Math.round(d * lcm);
  if (h === 0) return 1;
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const mg = m / g;
  const ng = n / g;
  let minJ = 0;
  let maxJ = Math.min(Math.ceil(h / mg), n + 1);
  let currentLength = maxJ - minJ;
  const column = new Float64Array(Math.min(2 * maxJ + 2, n + 1) + 2).fill(1);
  for (let j = minJ; j < maxJ; j++) column[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastMinJ = minJ;
    const lastLength = currentLength;
    minJ = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxJ = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxJ <= minJ) return 1;
    let value = minJ === 0 ? 0 : 1;
    for (let jj = 0; jj < maxJ - minJ; jj++) {
      const j = jj + minJ;
      value = (column[jj + minJ - lastMinJ] * i + value * j) / (i + j);
      column[jj] = value;
    }
    currentLength = maxJ - minJ;
    if (lastLength > currentLength) column.fill(1, maxJ - minJ, maxJ - minJ + (lastLength - currentLength));
  }
  return column[maxJ - minJ - 1];
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
  it('walks the lattice two steps at a time to what SciPy\'s step-by-step walk gives, to rounding', () => {
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
      const reference = stepByStep(n1, n2, d);
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
        const reference = stepByStep(n1, n2, d);
        expect(Math.abs(p - reference), `n1=${n1} n2=${n2} d=${d}`).toBeLessThanOrEqual(1e-12 * reference + 1e-300);
      }
    }
  });
});
