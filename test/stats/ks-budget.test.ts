import { describe, expect, it } from 'vitest';
import { GATEWAY_KS_MAX_EXACT_WORK, KS_ASYMPTOTIC_RATIO_MARGIN, KS_CHEAP_EXACT_WORK, KS_SMALLEST_CHECKED_THRESHOLD, ksAsymptoticPValue, ksExactWork, ksPValue, ksPValueAgainst } from '../../src/stats/distribution.ts';
import { kolmogorovSfByMatrix, twoSampleExactPValue } from '../../src/stats/kolmogorov.ts';
import { mulberry32 } from '../../src/sketch/random.ts';

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

// What KS_ASYMPTOTIC_RATIO_MARGIN's doc and the README state of the asymptotic p-value where the
// work is between KS_CHEAP_EXACT_WORK and the gateway's budget (sizes 20..10,000).
const STATED_RATIO = { below1e8: 2.5, between: 1.95, above005: 1.13 };
const STATED_ABSOLUTE_ERROR = 0.033;
const STATED_ABSOLUTE_ERROR_BELOW_005 = 0.0035;
const GRID_SIZES = [20, 31, 50, 77, 120, 200, 333, 600, 999, 1500, 2400, 4000, 6500, 10_000];

/** Every (n1, n2, d) of the grid whose exact p-value costs more than the cheap work and fits the budget. */
function* priceyCases(): Generator<{ n1: number; n2: number; d: number }> {
  for (const n1 of GRID_SIZES) {
    for (const n2 of GRID_SIZES) {
      for (let d = 0.005; d < 0.95; d *= 1.06) {
        const work = ksExactWork(n1, n2, d);
        if (work > KS_CHEAP_EXACT_WORK && work <= GATEWAY_KS_MAX_EXACT_WORK) yield { n1, n2, d };
      }
    }
  }
}

describe('KS p-value against a known threshold (ksPValueAgainst)', () => {
  it('has the asymptotic p-value within the stated factor and distance of the exact one where the exact one is not cheap', () => {
    const worst = { below1e8: 1, between: 1, above005: 1, absolute: 0, absoluteBelow005: 0 };
    let cases = 0;
    for (const { n1, n2, d } of priceyCases()) {
      const exact = ksPValue(d, n1, n2, Infinity);
      if (exact.method !== 'exact') continue; // lcm(n1, n2) past int32: asymptotic either way
      const asymptotic = ksAsymptoticPValue(d, n1, n2);
      cases++;
      const error = Math.abs(asymptotic - exact.pValue);
      worst.absolute = Math.max(worst.absolute, error);
      if (exact.pValue <= 0.05) worst.absoluteBelow005 = Math.max(worst.absoluteBelow005, error);
      if (exact.pValue < KS_SMALLEST_CHECKED_THRESHOLD / KS_ASYMPTOTIC_RATIO_MARGIN) continue;
      const ratio = Math.max(asymptotic / exact.pValue, exact.pValue / asymptotic);
      const band = exact.pValue < 1e-8 ? 'below1e8' : exact.pValue <= 0.05 ? 'between' : 'above005';
      worst[band] = Math.max(worst[band], ratio);
    }
    expect(cases).toBeGreaterThan(1000);
    expect(worst.below1e8).toBeLessThanOrEqual(STATED_RATIO.below1e8);
    expect(worst.between).toBeLessThanOrEqual(STATED_RATIO.between);
    expect(worst.above005).toBeLessThanOrEqual(STATED_RATIO.above005);
    expect(worst.absolute).toBeLessThanOrEqual(STATED_ABSOLUTE_ERROR);
    expect(worst.absoluteBelow005).toBeLessThanOrEqual(STATED_ABSOLUTE_ERROR_BELOW_005);
    // the margin leaves room beyond the widest factor measured
    expect(Math.max(worst.below1e8, worst.between, worst.above005)).toBeLessThan(KS_ASYMPTOTIC_RATIO_MARGIN);
  }, 120_000);

  it('decides as the exact p-value would, exact where it is cheap or near the threshold, asymptotic elsewhere', () => {
    const random = mulberry32(20261205);
    let asymptotic = 0;
    let exactNear = 0;
    let flipped = 0; // cases where the asymptotic p-value alone would have decided otherwise
    let matrixRegion = 0; // where the asymptotic p-value would cost more than the exact one
    for (let run = 0; run < 6000; run++) {
      const n1 = GRID_SIZES[Math.floor(random() * GRID_SIZES.length)];
      const n2 = Math.max(1, Math.round(n1 * Math.exp((random() - 0.5) * 6)));
      if (n2 > 10_000) continue;
      const d = Math.exp(Math.log(0.003) + random() * Math.log(0.9 / 0.003));
      const work = ksExactWork(n1, n2, d);
      const budgeted = ksPValue(d, n1, n2, GATEWAY_KS_MAX_EXACT_WORK);
      // a third of the thresholds between the exact and the asymptotic p-value (where the asymptotic
      // one alone would decide wrongly), a third within a factor 3 of the p-value, a third anywhere
      const near = [
        Math.sqrt(budgeted.pValue * ksAsymptoticPValue(d, n1, n2)),
        budgeted.pValue * Math.exp((random() - 0.5) * 2.2),
        Math.exp(Math.log(KS_SMALLEST_CHECKED_THRESHOLD) + random() * Math.log(0.2 / KS_SMALLEST_CHECKED_THRESHOLD)),
      ][run % 3];
      const threshold = Math.max(KS_SMALLEST_CHECKED_THRESHOLD, near);
      const against = ksPValueAgainst(threshold, d, n1, n2, GATEWAY_KS_MAX_EXACT_WORK);
      const where = `n1=${n1} n2=${n2} d=${d} threshold=${threshold}`;
      if (work <= KS_CHEAP_EXACT_WORK || budgeted.method === 'asymp') {
        // cheap, or past the budget: as before
        expect(against, where).toEqual(budgeted);
        continue;
      }
      expect(against.pValue <= threshold, where).toBe(budgeted.pValue <= threshold);
      const farFromThreshold = ksAsymptoticPValue(d, n1, n2) > threshold * KS_ASYMPTOTIC_RATIO_MARGIN || ksAsymptoticPValue(d, n1, n2) * KS_ASYMPTOTIC_RATIO_MARGIN < threshold;
      const byMatrix = kolmogorovSfByMatrix(Math.round((n1 * n2) / (n1 + n2)), d);
      if (byMatrix) matrixRegion++;
      expect(against.method, where).toBe(farFromThreshold && !byMatrix ? 'asymp' : 'exact');
      if (against.method === 'asymp') asymptotic++;
      else exactNear++;
      if (against.method === 'exact' && (budgeted.pValue <= threshold) !== (ksAsymptoticPValue(d, n1, n2) <= threshold)) flipped++;
    }
    expect(asymptotic).toBeGreaterThan(300);
    expect(exactNear).toBeGreaterThan(300);
    expect(flipped).toBeGreaterThan(10);
    expect(matrixRegion).toBeGreaterThan(30);
  }, 120_000);

  it('decides as ksPValue below the smallest threshold the factor was measured at', () => {
    for (const threshold of [0, 1e-13, KS_SMALLEST_CHECKED_THRESHOLD / 2]) {
      expect(ksPValueAgainst(threshold, 0.05, 600, 1300, GATEWAY_KS_MAX_EXACT_WORK)).toEqual(ksPValue(0.05, 600, 1300, GATEWAY_KS_MAX_EXACT_WORK));
    }
    expect(ksPValueAgainst(KS_SMALLEST_CHECKED_THRESHOLD, 0.05, 600, 1300, GATEWAY_KS_MAX_EXACT_WORK).method).toBe('asymp');
  });
});

