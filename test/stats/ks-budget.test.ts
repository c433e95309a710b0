import { describe, expect, it } from 'vitest';
import { GATEWAY_KS_MAX_EXACT_WORK, ksExactWork, ksPValue } from '../../src/stats/distribution.ts';
import { twoSampleExactPValue } from '../../src/stats/kolmogorov.ts';

// The error the README and GATEWAY_KS_MAX_EXACT_WORK state for the asymptotic p-value where the budget switches to it.
const MAX_ABSOLUTE_ERROR = 0.0073;
const MAX_ABSOLUTE_ERROR_BELOW_005 = 0.0014;
const MAX_RELATIVE_ERROR_BELOW_005 = 0.18;

describe('KS p-value under the gateway budget', () => {
  it('stays exact whatever the statistic when (min + 1) x max <= 100,000, and for equal sizes up to 10,000', () => {
    for (const [n1, n2] of [[90, 1000], [300, 332], [50, 1900], [316, 316], [10_000, 10_000]]) {
      for (const d of [0.01, 0.3, 0.9]) expect(ksPValue(d, n1, n2, GATEWAY_KS_MAX_EXACT_WORK).method).toBe('exact');
    }
  });

  it('switches to the asymptotic p-value above the budget, within the stated error of the exact one', () => {
    let switched = 0;
    for (const n1 of [30, 200, 600, 1000, 3000]) {
      for (const n2 of [1000, 2000, 5000]) {
        if (n2 <= n1) continue;
        for (let k = 1; k <= 12; k++) {
          const d = (k / 12) * Math.min(1, 8 / Math.sqrt((n1 * n2) / (n1 + n2)));
          const work = ksExactWork(n1, n2, d);
          if (work <= GATEWAY_KS_MAX_EXACT_WORK || work > 1_500_000) continue;
          const exact = twoSampleExactPValue(n1, n2, d)!;
          const budgeted = ksPValue(exact.statistic, n1, n2, GATEWAY_KS_MAX_EXACT_WORK);
          expect(budgeted.method).toBe('asymp');
          switched++;
          const error = Math.abs(budgeted.pValue - exact.pValue);
          expect(error, `n1=${n1} n2=${n2} d=${exact.statistic}`).toBeLessThanOrEqual(MAX_ABSOLUTE_ERROR);
          if (exact.pValue <= 0.05) expect(error, `n1=${n1} n2=${n2} d=${exact.statistic}`).toBeLessThanOrEqual(MAX_ABSOLUTE_ERROR_BELOW_005);
          if (exact.pValue >= 1e-8 && exact.pValue <= 0.05) expect(error / exact.pValue, `n1=${n1} n2=${n2} d=${exact.statistic}`).toBeLessThanOrEqual(MAX_RELATIVE_ERROR_BELOW_005);
        }
      }
    }
    expect(switched).toBeGreaterThan(30);
  }, 120_000);
});
