/**
 * KS and Wasserstein between two quantile summaries (log-bucket sketches), with error bounds
 * against the exact statistics of the samples the summaries were built from.
 *
 * Model. A summary with relative accuracy alpha replaces every value x by its bucket's
 * representative r(x), with |r(x) - x| <= alpha |x|, and r is non-decreasing in x. Two
 * summaries with the same alpha (the same bucket mapping) share bucket boundaries, so a bucket
 * is identified by its representative in both.
 *
 * KS bound. Let F, G be the exact reference/current ECDFs, D = sup_x |F(x) - G(x)| the exact
 * sample statistic, and D_q the statistic evaluated on the representatives (what we compute:
 * both step functions jump only at representatives). Evaluating the quantized ECDFs at a
 * representative equals evaluating F and G at the upper end of that bucket, a real point, so
 * D_q <= D. Conversely, for x inside bucket B = (lo, hi]:
 *   F(x) - G(x) = [F(hi) - G(hi)] - [F(hi) - F(x)] + [G(hi) - G(x)],
 * and 0 <= F(hi) - F(x) <= F(B), 0 <= G(hi) - G(x) <= G(B) (the bucket's share of each sample),
 * so |F(x) - G(x)| <= D_q + max(F(B), G(B)). Hence
 *   D_q <= D <= D_q + max over buckets B of max(F(B), G(B))   (`errorBound`).
 * The bound is data-dependent: narrow buckets (alpha = 0.01 -> 2 % wide) hold little mass for
 * continuous data, so it is typically 0.5-2 % for thousands of values; it grows only when many
 * values share one bucket (near-constant data), which is exactly when KS cannot tell them apart.
 *
 * Wasserstein bound. W1 is a metric and moving every value by at most alpha |x| moves the
 * distribution by at most alpha E|X| in W1, so |W_q - W| <= alpha (E_ref|X| + E_cur|Y|).
 * From representatives |x| <= |r| / (1 - alpha), so
 *   errorBound = alpha / (1 - alpha) * (mean |r| over reference + mean |r| over current).
 * (Values a sketch stores in an exact-zero bucket add at most its zero threshold, ~1e-9.)
 */
import type { QuantileSummary } from '../sketch/types.ts';
import { binIndex, GATEWAY_KS_MAX_EXACT_WORK, ksAsymptoticPValue, ksPValue, normByStd } from './distribution.ts';

export interface SketchKsResult {
  /** sup |F_ref - F_cur| over every bucket representative of both summaries. */
  statistic: number;
  /** p-value of `statistic` (see ksFromSummaries for exact vs asymptotic). */
  pValue: number;
  /** The exact sample statistic lies in [statistic, statistic + errorBound]. */
  errorBound: number;
  /** Asymptotic p-value at statistic + errorBound: the most drift the data could show. */
  pValueAtUpperBound: number;
}

export interface SketchWassersteinResult {
  /** Wasserstein-1 between the two bucketed distributions. */
  statistic: number;
  /** |statistic - exact sample Wasserstein-1| <= errorBound. */
  errorBound: number;
}

interface Buckets {
  values: number[];
  weights: number[];
  total: number;
}

function collectBuckets(summary: QuantileSummary, name: string): Buckets {
  const values: number[] = [];
  const weights: number[] = [];
  let total = 0;
  let previous = -Infinity;
  summary.forEachBucket((value, weight) => {
    if (!(value >= previous)) {
      throw new RangeError(`${name}: forEachBucket must visit buckets in ascending value order`);
    }
    previous = value;
    if (weight <= 0) return;
    values.push(value);
    weights.push(weight);
    total += weight;
  });
  return { values, weights, total };
}

function checkComparable(where: string, ref: QuantileSummary, cur: QuantileSummary): void {
  if (Math.abs(ref.relativeAccuracy - cur.relativeAccuracy) > 1e-12) {
    throw new RangeError(
      `${where}: summaries must share one bucket mapping, but reference has relative accuracy ` +
        `${ref.relativeAccuracy} and current ${cur.relativeAccuracy}`,
    );
  }
}

/**
 * Two-sample KS from two summaries with the same bucket mapping (see the module comment for
 * the bound). NaN results when either summary is empty. The p-value is exact (lattice paths,
 * ties = shared buckets) when both counts are integers <= 10000 and the work fits
 * `maxExactWork` (default GATEWAY_KS_MAX_EXACT_WORK, ~10 ms), else asymptotic.
 */
export function ksFromSummaries(
  ref: QuantileSummary,
  cur: QuantileSummary,
  maxExactWork = GATEWAY_KS_MAX_EXACT_WORK,
): SketchKsResult {
  checkComparable('ksFromSummaries', ref, cur);
  const a = collectBuckets(ref, 'ksFromSummaries(ref)');
  const b = collectBuckets(cur, 'ksFromSummaries(cur)');
  if (a.total === 0 || b.total === 0) {
    return { statistic: NaN, pValue: NaN, errorBound: NaN, pValueAtUpperBound: NaN };
  }
  let i = 0;
  let j = 0;
  let cumulativeRef = 0;
  let cumulativeCur = 0;
  let statistic = 0;
  let largestShare = 0;
  while (i < a.values.length || j < b.values.length) {
    const v =
      j >= b.values.length || (i < a.values.length && a.values[i] <= b.values[j]) ? a.values[i] : b.values[j];
    let refShare = 0;
    let curShare = 0;
    while (i < a.values.length && a.values[i] === v) refShare += a.weights[i++];
    while (j < b.values.length && b.values[j] === v) curShare += b.weights[j++];
    cumulativeRef += refShare;
    cumulativeCur += curShare;
    const diff = Math.abs(cumulativeRef / a.total - cumulativeCur / b.total);
    if (diff > statistic) statistic = diff;
    largestShare = Math.max(largestShare, refShare / a.total, curShare / b.total);
  }
  const upper = Math.min(1, statistic + largestShare);
  return {
    statistic,
    pValue: ksPValue(statistic, a.total, b.total, maxExactWork).pValue,
    errorBound: largestShare,
    pValueAtUpperBound: ksAsymptoticPValue(upper, a.total, b.total),
  };
}

/** Wasserstein-1 between two summaries, integrating |F - G| between representatives. */
export function wassersteinFromSummaries(ref: QuantileSummary, cur: QuantileSummary): SketchWassersteinResult {
  checkComparable('wassersteinFromSummaries', ref, cur);
  const a = collectBuckets(ref, 'wassersteinFromSummaries(ref)');
  const b = collectBuckets(cur, 'wassersteinFromSummaries(cur)');
  if (a.total === 0 || b.total === 0) return { statistic: NaN, errorBound: NaN };
  let i = 0;
  let j = 0;
  let cumulativeRef = 0;
  let cumulativeCur = 0;
  let statistic = 0;
  let meanAbsRef = 0;
  let meanAbsCur = 0;
  let previous = Math.min(a.values[0], b.values[0]);
  while (i < a.values.length || j < b.values.length) {
    const v =
      j >= b.values.length || (i < a.values.length && a.values[i] <= b.values[j]) ? a.values[i] : b.values[j];
    statistic += Math.abs(cumulativeRef / a.total - cumulativeCur / b.total) * (v - previous);
    previous = v;
    while (i < a.values.length && a.values[i] === v) {
      cumulativeRef += a.weights[i];
      meanAbsRef += (Math.abs(v) * a.weights[i++]) / a.total;
    }
    while (j < b.values.length && b.values[j] === v) {
      cumulativeCur += b.weights[j];
      meanAbsCur += (Math.abs(v) * b.weights[j++]) / b.total;
    }
  }
  const alpha = ref.relativeAccuracy;
  return { statistic, errorBound: (alpha / (1 - alpha)) * (meanAbsRef + meanAbsCur) };
}

/** Wasserstein-1 from summaries divided by the reference's population std (bound scaled too). */
export function wassersteinNormedFromSummaries(
  ref: QuantileSummary,
  cur: QuantileSummary,
  referenceStd: number,
): SketchWassersteinResult {
  const w = wassersteinFromSummaries(ref, cur);
  return { statistic: normByStd(w.statistic, referenceStd), errorBound: normByStd(w.errorBound, referenceStd) };
}

/**
 * Counts of a summary's weight in the bins of `innerEdges` (as binCounts), placing each bucket
 * by its representative. Approximate: values within alpha |e| of an edge e may land in the
 * neighbouring bin. Prefer exact per-pane counts on the reference edges when available.
 */
export function binCountsFromSummary(summary: QuantileSummary, innerEdges: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(innerEdges.length + 1);
  summary.forEachBucket((value, weight) => {
    counts[binIndex(innerEdges, value)] += weight;
  });
  return counts;
}

/** Inner edges at quantiles 1/bins .. (bins-1)/bins of a summary (each within alpha relative). */
export function quantileEdgesFromSummary(summary: QuantileSummary, bins = 10): number[] {
  if (!Number.isInteger(bins) || bins < 2) {
    throw new RangeError(`quantileEdgesFromSummary: bins must be an integer >= 2, got ${bins}`);
  }
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) edges.push(summary.quantile(i / bins));
  return edges;
}

/** Mean and population std of a summary's bucketed values (each value within alpha relative). */
export function summaryMeanAndStd(summary: QuantileSummary): { mean: number; std: number } {
  let total = 0;
  let mean = 0;
  let m2 = 0;
  // Weighted Welford: stable for large offsets.
  summary.forEachBucket((value, weight) => {
    if (weight <= 0) return;
    total += weight;
    const delta = value - mean;
    mean += (delta * weight) / total;
    m2 += weight * delta * (value - mean);
  });
  if (total === 0) return { mean: NaN, std: NaN };
  return { mean, std: Math.sqrt(Math.max(0, m2 / total)) };
}
