/**
 * Two-sample distribution tests on raw samples or on counts, each matching a SciPy/NumPy
 * reference (test/golden/drift-statistics.json, produced by test/golden/make_golden.py).
 *
 * Conventions shared by every function here:
 * - samples are ArrayLike<number> of finite values; counts are ArrayLike<number> of finite,
 *   non-negative values aligned by bin/category index;
 * - bad input throws a RangeError naming the function, the argument and the offending index.
 */
import { chiSquaredSf, normalTwoSidedPValue } from './special.ts';
import { kolmogorovSf, kolmogorovSfByMatrix, twoSampleExactPValue } from './kolmogorov.ts';

/** Share used for a bin that is empty on either side of PSI (as Evidently and make_golden.py). */
export const PSI_EMPTY_BIN_SHARE = 1e-4;

function checkSample(where: string, name: string, sample: ArrayLike<number>): void {
  if (sample.length === 0) throw new RangeError(`${where}: ${name} is empty`);
  for (let i = 0; i < sample.length; i++) {
    if (!Number.isFinite(sample[i])) {
      throw new RangeError(`${where}: ${name}[${i}] is ${sample[i]}, expected a finite number`);
    }
  }
}

function checkCounts(where: string, name: string, counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!(c >= 0) || !Number.isFinite(c)) {
      throw new RangeError(`${where}: ${name}[${i}] is ${c}, expected a finite count >= 0`);
    }
    total += c;
  }
  return total;
}

function checkSameLength(where: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new RangeError(
      `${where}: reference has ${a.length} bins/categories but current has ${b.length}`,
    );
  }
}

function sortedCopy(sample: ArrayLike<number>): Float64Array {
  return Float64Array.from(sample).sort();
}

// ---------------------------------------------------------------------------------------------
// Binning and PSI

/**
 * The `bins - 1` inner edges at quantiles 1/bins .. (bins-1)/bins of `sample`, exactly as
 * numpy.quantile(sample, numpy.linspace(1/bins, 1 - 1/bins, bins - 1)) with the default
 * 'linear' method: the same linspace, virtual index and lerp operations, so the edges agree bit
 * for bit (checked for every size 1..2000 against NumPy in test/golden/quantile-edges.json).
 * With the first and last bins open-ended these are the decile edges PSI uses (bins = 10).
 */
export function quantileEdges(sample: ArrayLike<number>, bins = 10): number[] {
  if (!Number.isInteger(bins) || bins < 2) {
    throw new RangeError(`quantileEdges: bins must be an integer >= 2, got ${bins}`);
  }
  checkSample('quantileEdges', 'sample', sample);
  const sorted = sortedCopy(sample);
  const count = bins - 1;
  // numpy.linspace(start, stop, num): step = (stop - start) / (num - 1); y = arange(num) * step
  // + start; the last element set to stop exactly (num > 1).
  const start = 1 / bins;
  const stop = 1 - 1 / bins;
  const step = (stop - start) / (count - 1);
  const edges: number[] = [];
  for (let i = 0; i < count; i++) {
    const q = count > 1 && i === count - 1 ? stop : count > 1 ? i * step + start : start;
    edges.push(linearQuantileOfSorted(sorted, q));
  }
  return edges;
}

/**
 * numpy.quantile(..., method='linear') of an ascending array, q in [0, 1], operation for
 * operation (numpy/lib/function_base.py): virtual index `(n - 1) * q`; below 0 the first value,
 * at or above n - 1 the last; gamma = index - floor(index); `_lerp`: `a + (b - a) * gamma`,
 * replaced by `b - (b - a) * (1 - gamma)` where gamma >= 0.5.
 */
export function linearQuantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const virtualIndex = (n - 1) * q;
  if (virtualIndex < 0) return sorted[0];
  if (virtualIndex >= n - 1) return sorted[n - 1];
  const below = Math.floor(virtualIndex);
  const gamma = virtualIndex - below;
  const a = sorted[below];
  const b = sorted[below + 1];
  const difference = b - a;
  return gamma >= 0.5 ? b - difference * (1 - gamma) : a + difference * gamma;
}

/** Index of the bin [e_i, e_{i+1}) holding x, given ascending inner edges (searchsorted right). */
export function binIndex(innerEdges: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = innerEdges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (innerEdges[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Counts of `sample` in the innerEdges.length + 1 bins (-inf, e_0), [e_0, e_1), ..., [e_last, inf).
 * `innerEdges` must be ascending (non-decreasing).
 */
export function binCounts(sample: ArrayLike<number>, innerEdges: ArrayLike<number>): Float64Array {
  for (let i = 1; i < innerEdges.length; i++) {
    if (!(innerEdges[i] >= innerEdges[i - 1])) {
      throw new RangeError(`binCounts: innerEdges must be ascending, edge ${i} (${innerEdges[i]}) < edge ${i - 1}`);
    }
  }
  const counts = new Float64Array(innerEdges.length + 1);
  for (let i = 0; i < sample.length; i++) {
    const x = sample[i];
    if (Number.isNaN(x)) throw new RangeError(`binCounts: sample[${i}] is NaN`);
    counts[binIndex(innerEdges, x)] += 1;
  }
  return counts;
}

/**
 * Population stability index sum((a - e) ln(a / e)) over bins, with e and a the reference
 * (expected) and current (actual) shares; an empty bin's share on either side is `epsilon`.
 * NaN when either side has no weight at all.
 */
export function psi(
  expectedCounts: ArrayLike<number>,
  actualCounts: ArrayLike<number>,
  epsilon = PSI_EMPTY_BIN_SHARE,
): number {
  checkSameLength('psi', expectedCounts, actualCounts);
  const expectedTotal = checkCounts('psi', 'expectedCounts', expectedCounts);
  const actualTotal = checkCounts('psi', 'actualCounts', actualCounts);
  if (expectedTotal === 0 || actualTotal === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < expectedCounts.length; i++) {
    const e = expectedCounts[i] === 0 ? epsilon : expectedCounts[i] / expectedTotal;
    const a = actualCounts[i] === 0 ? epsilon : actualCounts[i] / actualTotal;
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Kolmogorov–Smirnov, two samples, two-sided

export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsResult {
  statistic: number;
  pValue: number;
  /** The method actually used ('auto' resolved; 'exact' may fall back to 'asymp' like SciPy). */
  method: 'exact' | 'asymp';
}

/** Largest sample size for which 'auto' tries the exact distribution (SciPy's MAX_AUTO_N). */
export const KS_MAX_EXACT_N = 10_000;

/** sup |F_ref - F_cur| over all data points of two ascending arrays (ties handled as SciPy). */
export function ksStatisticOfSorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxDiff = 0;
  let minDiff = 0;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
    while (i < n1 && a[i] <= v) i++;
    while (j < n2 && b[j] <= v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxDiff) maxDiff = diff;
    if (diff < minDiff) minDiff = diff;
  }
  return Math.max(maxDiff, -minDiff);
}

/**
 * Two-sided asymptotic p-value of the two-sample KS statistic, as ks_2samp(method='asymp'):
 * the one-sample Kolmogorov distribution kstwo with n = round(n1 n2 / (n1 + n2)).
 * (Sizes may be non-integer weights, e.g. from sketches; n is rounded and at least 1.)
 */
export function ksAsymptoticPValue(statistic: number, n1: number, n2: number): number {
  return kolmogorovSf(ksEffectiveSize(n1, n2), statistic);
}

/** The one-sample size the asymptotic two-sample p-value is read at: round(n1 n2 / (n1 + n2)), at least 1. */
function ksEffectiveSize(n1: number, n2: number): number {
  return Math.max(1, Math.round((n1 * n2) / (n1 + n2)));
}

/**
 * Inner-loop steps of the exact two-sample p-value for sizes n1, n2 and statistic d (~12 ns
 * each): n for equal sizes, else max(n1, n2) x the lattice band width ~ 2 d min(n1, n2).
 */
export function ksExactWork(n1: number, n2: number, d: number): number {
  if (n1 === n2) return n1;
  const small = Math.min(n1, n2);
  return Math.max(n1, n2) * Math.min(2 * d * small + 2, small + 1);
}

/**
 * Work budget (see ksExactWork) the gateway allows one exact KS p-value: about 1 ms (10–35 ns a
 * step measured on the 2-core development machine under load). Above it the statistic is large
 * or the samples big, and the asymptotic p-value is used. Sizes with (min + 1) x max <= 100,000
 * (90 x 1,000, 300 x 330) stay exact whatever the statistic, and so do equal sizes up to 10,000. Where the budget switches to
 * the asymptotic p-value (sizes 20..10,000, measured against the exact one), it differs by at most
 * 0.0073 absolute, at most 0.0014 where the exact p-value is <= 0.05, and by at most 18 % relative
 * for exact p-values in [1e-8, 0.05] (where it differed most, the asymptotic one was the smaller).
 * It used to be 1,000,000 (~10 ms): an automatically captured reference of a few thousand values
 * against a busy window cost 2–3 ms per feature, half of a gateway's CPU at 100 models x 30 features.
 */
export const GATEWAY_KS_MAX_EXACT_WORK = 100_000;

/**
 * Work (ksExactWork) up to which ksPValueAgainst always takes the exact KS p-value (~2-4 us, as
 * cheap as the asymptotic one). Not more: a window much like its reference (a statistic of 0.004 at
 * 600 against 1,100 values) costs ~8,000 steps, and such windows were most of the exact p-values of
 * bench gateway at 300 models.
 */
export const KS_CHEAP_EXACT_WORK = 1_000;

/**
 * How far (a factor either way) the asymptotic KS p-value may lie from a test's threshold before
 * ksPValueAgainst computes the exact one to decide. Measured against the exact p-value for sizes
 * 20..10,000 where the work is 1,000..100,000 steps (test/stats/ks-budget.test.ts): the two differ
 * by a factor of at most 1.95 for exact p-values in [1e-8, 0.05], 2.5 down to 2.5e-10 (a quarter
 * of KS_SMALLEST_CHECKED_THRESHOLD) and 1.13 above 0.05. With 4, an asymptotic p-value outside
 * [t / 4, 4 t] lies on the same side of t as the exact one.
 */
export const KS_ASYMPTOTIC_RATIO_MARGIN = 4;

/**
 * Smallest threshold ksPValueAgainst decides with the asymptotic p-value; below it, as ksPValue.
 * Deeper in the tail the two differ by more (a factor up to 50 near 1e-14 for samples of 20 against
 * 77). The false-alarm budget's significance level is at least 8e-9 (one value, a window evaluated
 * 60 times over its length).
 */
export const KS_SMALLEST_CHECKED_THRESHOLD = 1e-9;

/**
 * ksPValue for a test that decides `p <= threshold`: exact (within `maxExactWork`) where it is cheap
 * (KS_CHEAP_EXACT_WORK), where the asymptotic one would cost more (kolmogorovSfByMatrix: samples of
 * an effective size up to 140, 30-540 us against 13-50 us exact at 600 against 30-160 values) or
 * where the asymptotic p-value lies within KS_ASYMPTOTIC_RATIO_MARGIN of the threshold, asymptotic
 * elsewhere, where the exact one would decide the same (and differ from it by
 * at most 0.033 absolute, 0.0035 where the exact one is <= 0.05, a factor 1.95 for exact p-values in
 * [1e-8, 0.05]). Where sizes and statistic come
 * from sketches, the statistic itself is only known within its error bound, and the exact p-value
 * of it was a quarter of a gateway's drift statistics at 300 models x 30 features (1,200-value
 * windows against 600-value references: ~40 us each, 2,500 a second), almost all of them far from
 * any threshold.
 */
export function ksPValueAgainst(threshold: number, d: number, n1: number, n2: number, maxExactWork = Infinity): KsResult {
  // where the asymptotic p-value takes Durbin's matrix (small samples), it costs more than the exact one
  if (threshold >= KS_SMALLEST_CHECKED_THRESHOLD && ksExactWork(n1, n2, d) > KS_CHEAP_EXACT_WORK && !kolmogorovSfByMatrix(ksEffectiveSize(n1, n2), d)) {
    const asymptotic = ksAsymptoticPValue(d, n1, n2);
    if (asymptotic > threshold * KS_ASYMPTOTIC_RATIO_MARGIN || asymptotic * KS_ASYMPTOTIC_RATIO_MARGIN < threshold) {
      return { statistic: d, pValue: asymptotic, method: 'asymp' };
    }
  }
  return ksPValue(d, n1, n2, maxExactWork);
}

/** p-value of a two-sample statistic d, exact when SciPy's 'auto' would be and within budget. */
export function ksPValue(d: number, n1: number, n2: number, maxExactWork = Infinity): KsResult {
  const integral = Number.isInteger(n1) && Number.isInteger(n2);
  if (integral && Math.max(n1, n2) <= KS_MAX_EXACT_N && ksExactWork(n1, n2, d) <= maxExactWork) {
    const exact = twoSampleExactPValue(n1, n2, d);
    if (exact !== null) return { statistic: exact.statistic, pValue: exact.pValue, method: 'exact' };
  }
  return { statistic: d, pValue: ksAsymptoticPValue(d, n1, n2), method: 'asymp' };
}

/**
 * scipy.stats.ks_2samp(reference, current, alternative='two-sided', method).
 * 'auto' (the default) uses the exact distribution when max(n1, n2) <= 10000 (and, when
 * `maxExactWork` is given, the exact computation fits that budget), else the asymptotic one;
 * 'exact' is honoured at any size unless lcm(n1, n2) exceeds int32 or the exact computation
 * fails numerically, in which case it falls back to 'asymp' as SciPy does.
 * The exact method reports the statistic snapped to the lattice h / lcm(n1, n2).
 * Cost: sorting, plus the exact p-value's ksExactWork steps — 1 ms at 1000 x 1000, 70 ms at
 * 10000 x 9999 with d = 0.02, 1.2 s at 10000 x 9999 with d = 0.5 (SciPy's rule, unbudgeted).
 */
export function ks2Samp(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  method: KsMethod = 'auto',
  maxExactWork = Infinity,
): KsResult {
  checkSample('ks2Samp', 'reference', reference);
  checkSample('ks2Samp', 'current', current);
  const a = sortedCopy(reference);
  const b = sortedCopy(current);
  const n1 = a.length;
  const n2 = b.length;
  const d = ksStatisticOfSorted(a, b);
  if (method === 'asymp') return { statistic: d, pValue: ksAsymptoticPValue(d, n1, n2), method: 'asymp' };
  if (method === 'exact') {
    const exact = twoSampleExactPValue(n1, n2, d);
    if (exact !== null) return { statistic: exact.statistic, pValue: exact.pValue, method: 'exact' };
    return { statistic: d, pValue: ksAsymptoticPValue(d, n1, n2), method: 'asymp' };
  }
  return ksPValue(d, n1, n2, maxExactWork);
}

// ---------------------------------------------------------------------------------------------
// Chi-squared

export interface ChiSquaredResult {
  statistic: number;
  pValue: number;
  dof: number;
}

/**
 * Goodness of fit of the current counts to the reference shares, as
 * scipy.stats.chisquare(current, reference / sum(reference) * sum(current)); dof = k - 1 over
 * the categories with a non-zero count on either side. A category present in the current
 * window but absent from the reference has expected count 0: statistic Infinity, p-value 0.
 */
export function chiSquaredGoodnessOfFit(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
): ChiSquaredResult {
  checkSameLength('chiSquaredGoodnessOfFit', referenceCounts, currentCounts);
  const refTotal = checkCounts('chiSquaredGoodnessOfFit', 'referenceCounts', referenceCounts);
  const curTotal = checkCounts('chiSquaredGoodnessOfFit', 'currentCounts', currentCounts);
  if (refTotal === 0 || curTotal === 0) return { statistic: NaN, pValue: NaN, dof: 0 };
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const observed = currentCounts[i];
    const expected = (referenceCounts[i] / refTotal) * curTotal;
    if (expected === 0 && observed === 0) continue;
    categories++;
    const diff = observed - expected;
    statistic += expected === 0 ? Infinity : (diff * diff) / expected;
  }
  const dof = categories - 1;
  if (dof < 1) return { statistic: 0, pValue: 1, dof: 0 };
  return { statistic, pValue: statistic === Infinity ? 0 : chiSquaredSf(statistic, dof), dof };
}

/**
 * Chi-squared test of independence of the 2 x k table [reference; current] without continuity
 * correction, as scipy.stats.chi2_contingency([reference, current], correction=False).
 * Categories empty on both sides are dropped (SciPy would return NaN); dof = k' - 1.
 */
export function chiSquaredContingency(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
): ChiSquaredResult {
  checkSameLength('chiSquaredContingency', referenceCounts, currentCounts);
  const refTotal = checkCounts('chiSquaredContingency', 'referenceCounts', referenceCounts);
  const curTotal = checkCounts('chiSquaredContingency', 'currentCounts', currentCounts);
  if (refTotal === 0 || curTotal === 0) return { statistic: NaN, pValue: NaN, dof: 0 };
  const total = refTotal + curTotal;
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const column = referenceCounts[i] + currentCounts[i];
    if (column === 0) continue;
    categories++;
    const expectedRef = (refTotal * column) / total;
    const expectedCur = (curTotal * column) / total;
    const dr = referenceCounts[i] - expectedRef;
    const dc = currentCounts[i] - expectedCur;
    statistic += (dr * dr) / expectedRef + (dc * dc) / expectedCur;
  }
  const dof = categories - 1;
  if (dof < 1) return { statistic: 0, pValue: 1, dof: 0 };
  return { statistic, pValue: chiSquaredSf(statistic, dof), dof };
}

// ---------------------------------------------------------------------------------------------
// Distances between count vectors

/**
 * Jensen–Shannon distance in natural-log units (in [0, sqrt(ln 2)]), between the normalised count
 * vectors, as scipy.spatial.distance.jensenshannon(p / sum p, q / sum q) with SciPy's default base
 * e, which is what Evidently computes and what its 0.1 threshold is set for (a base-2 distance is
 * 1/sqrt(ln 2) ~ 1.20 times larger, so 0.1 on it would alarm at 0.083 in Evidently's units).
 * NaN if a side is empty.
 */
export function jensenShannonDistance(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
): number {
  checkSameLength('jensenShannonDistance', referenceCounts, currentCounts);
  const pTotal = checkCounts('jensenShannonDistance', 'referenceCounts', referenceCounts);
  const qTotal = checkCounts('jensenShannonDistance', 'currentCounts', currentCounts);
  if (pTotal === 0 || qTotal === 0) return NaN;
  let divergence = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const p = referenceCounts[i] / pTotal;
    const q = currentCounts[i] / qTotal;
    const m = (p + q) / 2;
    if (p > 0) divergence += p * Math.log(p / m);
    if (q > 0) divergence += q * Math.log(q / m);
  }
  // Rounding can leave a -1e-17 divergence for identical inputs.
  return Math.sqrt(Math.max(0, divergence / 2));
}

/** Hellinger distance sqrt(1/2 sum (sqrt p - sqrt q)^2) on normalised counts, in [0, 1]. */
export function hellingerDistance(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
): number {
  checkSameLength('hellingerDistance', referenceCounts, currentCounts);
  const pTotal = checkCounts('hellingerDistance', 'referenceCounts', referenceCounts);
  const qTotal = checkCounts('hellingerDistance', 'currentCounts', currentCounts);
  if (pTotal === 0 || qTotal === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const diff = Math.sqrt(referenceCounts[i] / pTotal) - Math.sqrt(currentCounts[i] / qTotal);
    sum += diff * diff;
  }
  return Math.sqrt(0.5 * sum);
}

// ---------------------------------------------------------------------------------------------
// Wasserstein-1

/**
 * Wasserstein-1 distance between two ascending arrays: the integral of |F - G| between
 * consecutive pooled values, as scipy.stats.wasserstein_distance.
 */
export function wassersteinOfSorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let total = 0;
  let previous = Math.min(a[0], b[0]);
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
    total += Math.abs(i / n1 - j / n2) * (v - previous);
    previous = v;
    if (i < n1 && a[i] === v) i++;
    else j++;
  }
  return total;
}

/** scipy.stats.wasserstein_distance(reference, current) on raw samples. */
export function wassersteinDistance(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  checkSample('wassersteinDistance', 'reference', reference);
  checkSample('wassersteinDistance', 'current', current);
  return wassersteinOfSorted(sortedCopy(reference), sortedCopy(current));
}

/** Population standard deviation (numpy.std, ddof = 0), two-pass for accuracy. */
export function populationStd(sample: ArrayLike<number>): number {
  checkSample('populationStd', 'sample', sample);
  let mean = 0;
  for (let i = 0; i < sample.length; i++) mean += sample[i];
  mean /= sample.length;
  let sumSquares = 0;
  for (let i = 0; i < sample.length; i++) sumSquares += (sample[i] - mean) ** 2;
  return Math.sqrt(sumSquares / sample.length);
}

/**
 * Wasserstein-1 divided by the reference's population std (Evidently's "wasserstein normed"):
 * a shift of 0.1 means the current distribution moved by a tenth of a reference std on average.
 * A reference with std 0 gives 0 when the current equals it, Infinity otherwise.
 */
export function wassersteinNormed(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const distance = wassersteinDistance(reference, current);
  const std = populationStd(reference);
  return normByStd(distance, std);
}

/** distance / std, with the degenerate std = 0 case made explicit. */
export function normByStd(distance: number, std: number): number {
  if (std > 0) return distance / std;
  return distance === 0 ? 0 : Infinity;
}

// ---------------------------------------------------------------------------------------------
// Two-proportion Z-test

export interface ZTestResult {
  /** (p_ref - p_cur) / sqrt(P (1 - P) (1/n_ref + 1/n_cur)), P the pooled proportion. */
  statistic: number;
  /** Two-sided: P(|Z| >= |z|). */
  pValue: number;
}

/**
 * Two-proportion Z-test for a binary categorical (Evidently's z-test): are the shares of one
 * category the same in reference and current? `*Successes` count that category, `*Total` all
 * values. When the pooled share is 0 or 1 both samples are identical: z = 0, p = 1.
 */
export function twoProportionZTest(
  referenceSuccesses: number,
  referenceTotal: number,
  currentSuccesses: number,
  currentTotal: number,
): ZTestResult {
  const args = { referenceSuccesses, referenceTotal, currentSuccesses, currentTotal };
  for (const [name, value] of Object.entries(args)) {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`twoProportionZTest: ${name} is ${value}, expected a finite count >= 0`);
    }
  }
  if (referenceSuccesses > referenceTotal || currentSuccesses > currentTotal) {
    throw new RangeError('twoProportionZTest: successes exceed the total');
  }
  if (referenceTotal === 0 || currentTotal === 0) return { statistic: NaN, pValue: NaN };
  const p1 = referenceSuccesses / referenceTotal;
  const p2 = currentSuccesses / currentTotal;
  const pooled = (referenceSuccesses + currentSuccesses) / (referenceTotal + currentTotal);
  const variance = pooled * (1 - pooled) * (1 / referenceTotal + 1 / currentTotal);
  if (!(variance > 0)) return { statistic: 0, pValue: 1 };
  const statistic = (p1 - p2) / Math.sqrt(variance);
  return { statistic, pValue: normalTwoSidedPValue(statistic) };
}
