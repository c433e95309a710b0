/**
 * KS and Wasserstein between two quantile summaries (log-bucket sketches), with error bounds
 * against the exact statistics of the samples the summaries were built from.
 *
 * Model. A summary with relative accuracy alpha and center c replaces every value x by its
 * bucket's representative r(x), with |r(x) - x| <= alpha |x - c|, and r is non-decreasing in x.
 * With the center inside the data (the first value a producer saw, the median of a file
 * reference), |x - c| is a few standard deviations at most for the bulk of the data: the error is
 * relative to the spread, not to the location. Two summaries with the same alpha and center share
 * bucket boundaries; summaries of different centers are compared on their representatives.
 *
 * KS bound. Let F, G be the exact reference/current ECDFs, D = sup_x |F(x) - G(x)| the exact
 * sample statistic, and D_q the statistic evaluated on the representatives (what we compute:
 * both step functions jump only at representatives). Each quantized ECDF is within its own
 * largest bucket share of the exact one everywhere (a value is counted at its representative,
 * which lies in its bucket), so
 *   |D - D_q| <= max_B F(B) + max_B' G(B')   (`errorBound`, two-sided).
 * With shared buckets and no rebinning, D_q <= D even holds (evaluating the quantized ECDFs at a
 * representative equals evaluating F and G at the bucket's upper end, a real point). A window
 * that merged panes of other centers holds them rebinned (each value moved to a representative
 * of its pane's bucket, then into one of the window's); that displacement is of the order of
 * one bucket of each grid and is not counted in `errorBound`: the fidelity bench and the
 * affine-invariance property test measure the total within the bound.
 * The bound is data-dependent: a bucket 2 alpha |x - c| wide holds little mass for continuous
 * data (under 0.3 % for a normal at alpha = 0.005 with the center at the mean); it grows only
 * when many values share one bucket (near-constant data), which is exactly when KS cannot tell
 * them apart.
 *
 * Wasserstein bound. W1 is a metric and moving every value by at most alpha |x - c| moves the
 * distribution by at most alpha E|X - c| in W1, so |W_q - W| <= alpha (E_ref|X - c_ref| +
 * E_cur|Y - c_cur|). From representatives |x - c| <= |r - c| / (1 - alpha), so
 *   errorBound = alpha / (1 - alpha) * (mean |r - c_ref| over reference + mean |r - c_cur| over current),
 * which is at most about 2 alpha / (1 - alpha) E|X - c| / sigma in normed units: with the center
 * within a standard deviation of the mean, under 0.045 at alpha = 0.01 and typically a tenth of it.
 * (Values a sketch stores in its center bucket add at most its zero threshold.)
 */
import type { BucketArrays, QuantileSummary } from '../sketch/types.ts';
import { binIndex, GATEWAY_KS_MAX_EXACT_WORK, ksAsymptoticPValue, ksPValue, ksPValueAgainst, normByStd } from './distribution.ts';

export interface SketchKsResult {
  /** sup |F_ref - F_cur| over every bucket representative of both summaries. */
  statistic: number;
  /** p-value of `statistic` (see ksFromSummaries for exact vs asymptotic). */
  pValue: number;
  /** The exact sample statistic lies in [statistic - errorBound, statistic + errorBound] (see the module comment). */
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

/** A summary's weighted buckets in ascending order, as KS and Wasserstein walk them (summaryBuckets). */
export interface SummaryBuckets {
  values: ArrayLike<number>;
  weights: ArrayLike<number>;
  total: number;
  /** Largest weight on one representative value. */
  largest: number;
}

/**
 * The weighted buckets of `summary` (representative value and weight, ascending, empty ones left
 * out). Collected once per side for both tests: a window's sketch of a heavy-tailed feature spans
 * thousands of buckets, and walking it twice (KS, then Wasserstein) was a third of the gateway's
 * drift work at 300 models. With `room`, a summary's bucket arrays are written into it and the
 * result is a view of it, valid until the room is used again (see SummaryBucketsRoom).
 */
export function summaryBuckets(summary: QuantileSummary, name = 'summaryBuckets', room?: BucketArrays): SummaryBuckets {
  if (summary.bucketArrays !== undefined) {
    if (room !== undefined) {
      // figures the room's last writer left are not this summary's (see BucketArrays.total)
      room.total = undefined;
      room.largest = undefined;
    }
    return bucketsOfArrays(summary.bucketArrays(room), name);
  }
  const values: number[] = [];
  const weights: number[] = [];
  let total = 0;
  let largest = 0;
  let previous = -Infinity;
  let run = 0;
  summary.forEachBucket((value, weight) => {
    if (!(value >= previous)) {
      throw new RangeError(`${name}: forEachBucket must visit buckets in ascending value order`);
    }
    if (value !== previous) run = 0;
    previous = value;
    if (weight <= 0) return;
    values.push(value);
    weights.push(weight);
    total += weight;
    run += weight;
    if (run > largest) largest = run;
  });
  return { values, weights, total, largest };
}

/**
 * Room for both sides' buckets of one drift evaluation, reused by the next: an evaluator that runs
 * them one at a time (the gateway's MetricsView) allocates no bucket arrays once they fit. Two
 * reference and window arrays per numeric feature and evaluation were a quarter of the bytes the
 * gateway allocated outside its heap at 300 models, and what V8 counts outside the heap starts its
 * full collections (bench gateway: 19 of 20 marked "external memory pressure").
 */
export interface SummaryBucketsRoom {
  reference: BucketArrays;
  current: BucketArrays;
}

export function summaryBucketsRoom(): SummaryBucketsRoom {
  const empty = (): BucketArrays => ({ values: new Float64Array(0), weights: new Float64Array(0), count: 0, total: undefined, largest: undefined });
  return { reference: empty(), current: empty() };
}

/**
 * summaryBuckets of a summary's bucket arrays (QuantileSummary.bucketArrays): the same checks, in
 * place; taken as they are where their writer vouched for them with their figures (BucketArrays.total).
 */
function bucketsOfArrays(arrays: BucketArrays, name: string): SummaryBuckets {
  const { values, weights, count, total: vouchedTotal, largest: vouchedLargest } = arrays;
  if (vouchedTotal !== undefined && vouchedLargest !== undefined) {
    return { values: values.subarray(0, count), weights: weights.subarray(0, count), total: vouchedTotal, largest: vouchedLargest };
  }
  let kept = 0;
  let total = 0;
  let largest = 0;
  let previous = -Infinity;
  let run = 0;
  for (let k = 0; k < count; k++) {
    const value = values[k];
    const weight = weights[k];
    if (!(value >= previous)) throw new RangeError(`${name}: bucketArrays must hold buckets in ascending value order`);
    if (value !== previous) run = 0;
    previous = value;
    if (weight <= 0) continue;
    values[kept] = value;
    weights[kept++] = weight;
    total += weight;
    run += weight;
    if (run > largest) largest = run;
  }
  return { values: values.subarray(0, kept), weights: weights.subarray(0, kept), total, largest };
}

/** Both summaries' relative accuracies are in [0, 1); RangeError naming `where` and the side otherwise. */
export function checkComparable(where: string, ref: QuantileSummary, cur: QuantileSummary): void {
  for (const [side, summary] of [['reference', ref], ['current', cur]] as const) {
    if (!(summary.relativeAccuracy >= 0 && summary.relativeAccuracy < 1)) {
      throw new RangeError(`${where}: ${side} relative accuracy must be in [0, 1), got ${summary.relativeAccuracy}`);
    }
  }
}

/**
 * Two-sample KS from two summaries, of the same buckets or not (see the module comment for
 * the bound). NaN results when either summary is empty. The p-value is exact (lattice paths,
 * ties = shared buckets) when both counts are integers <= 10000 and the work fits
 * `maxExactWork` (default GATEWAY_KS_MAX_EXACT_WORK, ~1 ms), else asymptotic.
 */
export function ksFromSummaries(
  ref: QuantileSummary,
  cur: QuantileSummary,
  maxExactWork = GATEWAY_KS_MAX_EXACT_WORK,
): SketchKsResult {
  checkComparable('ksFromSummaries', ref, cur);
  const a = summaryBuckets(ref, 'ksFromSummaries(ref)');
  const b = summaryBuckets(cur, 'ksFromSummaries(cur)');
  const ks = ksFromBuckets(a, b, maxExactWork);
  const upper = Math.min(1, ks.statistic + ks.errorBound);
  return { ...ks, pValueAtUpperBound: Number.isNaN(upper) ? NaN : ksAsymptoticPValue(upper, a.total, b.total) };
}

/**
 * KS's statistic and Wasserstein-1's (with the mean distances its bound needs) from one merged walk
 * of both sides' buckets (summaryBuckets): the numeric drift tests walked them once each, a
 * window's thousands of buckets twice per feature and evaluation. Each figure is summed exactly as
 * its own walk summed it (KS a value's weight at once, Wasserstein bucket by bucket), so the tests'
 * results are the same to the last bit.
 */
export interface BucketWalk {
  ks: number;
  wasserstein: number;
  /** Mean |representative - center| of each side, for the Wasserstein bound. */
  meanAbsRef: number;
  meanAbsCur: number;
}

export function walkBuckets(a: SummaryBuckets, b: SummaryBuckets, refCenter: number, curCenter: number): BucketWalk {
  if (a.total === 0 || b.total === 0) return { ks: NaN, wasserstein: NaN, meanAbsRef: NaN, meanAbsCur: NaN };
  const aValues = a.values;
  const bValues = b.values;
  const aWeights = a.weights;
  const bWeights = b.weights;
  const aLength = aValues.length;
  const bLength = bValues.length;
  let i = 0;
  let j = 0;
  let ksRef = 0;
  let ksCur = 0;
  let ks = 0;
  let wRef = 0;
  let wCur = 0;
  let wasserstein = 0;
  let meanAbsRef = 0;
  let meanAbsCur = 0;
  let previous = Math.min(aValues[0], bValues[0]);
  while (i < aLength || j < bLength) {
    const v = j >= bLength || (i < aLength && aValues[i] <= bValues[j]) ? aValues[i] : bValues[j];
    wasserstein += Math.abs(wRef / a.total - wCur / b.total) * (v - previous);
    previous = v;
    let refShare = 0;
    let curShare = 0;
    while (i < aLength && aValues[i] === v) {
      const weight = aWeights[i++];
      refShare += weight;
      wRef += weight;
      meanAbsRef += (Math.abs(v - refCenter) * weight) / a.total;
    }
    while (j < bLength && bValues[j] === v) {
      const weight = bWeights[j++];
      curShare += weight;
      wCur += weight;
      meanAbsCur += (Math.abs(v - curCenter) * weight) / b.total;
    }
    ksRef += refShare;
    ksCur += curShare;
    const diff = Math.abs(ksRef / a.total - ksCur / b.total);
    if (diff > ks) ks = diff;
  }
  return { ks, wasserstein, meanAbsRef, meanAbsCur };
}

/**
 * ksFromSummaries on buckets already collected (summaryBuckets) of the reference (`a`) and the
 * current summary (`b`), without the p-value at the upper bound (which the drift test does not read:
 * a second p-value per feature and evaluation, ~6 % of the gateway's drift work at 300 models).
 * `walk`: walkBuckets of the same buckets, when the caller has it. `threshold`: the significance
 * level the p-value is compared with, when the caller has one: the p-value is then exact only where
 * it decides (ksPValueAgainst).
 */
export function ksFromBuckets(
  a: SummaryBuckets,
  b: SummaryBuckets,
  maxExactWork = GATEWAY_KS_MAX_EXACT_WORK,
  walk: BucketWalk = walkBuckets(a, b, 0, 0),
  threshold?: number,
): Omit<SketchKsResult, 'pValueAtUpperBound'> {
  if (a.total === 0 || b.total === 0) {
    return { statistic: NaN, pValue: NaN, errorBound: NaN };
  }
  const statistic = walk.ks;
  const errorBound = Math.min(1, a.largest / a.total + b.largest / b.total);
  const ks = threshold === undefined ? ksPValue(statistic, a.total, b.total, maxExactWork) : ksPValueAgainst(threshold, statistic, a.total, b.total, maxExactWork);
  return { statistic, pValue: ks.pValue, errorBound };
}

/** Wasserstein-1 between two summaries, integrating |F - G| between representatives. */
export function wassersteinFromSummaries(ref: QuantileSummary, cur: QuantileSummary): SketchWassersteinResult {
  checkComparable('wassersteinFromSummaries', ref, cur);
  return wassersteinFromBuckets(ref, cur, summaryBuckets(ref, 'wassersteinFromSummaries(ref)'), summaryBuckets(cur, 'wassersteinFromSummaries(cur)'));
}

/**
 * wassersteinFromSummaries on buckets already collected (summaryBuckets) of `ref` (`a`) and `cur`
 * (`b`); `walk`: walkBuckets of the same buckets and the summaries' centers, when the caller has it.
 */
export function wassersteinFromBuckets(
  ref: QuantileSummary,
  cur: QuantileSummary,
  a: SummaryBuckets,
  b: SummaryBuckets,
  walk: BucketWalk = walkBuckets(a, b, ref.center ?? 0, cur.center ?? 0),
): SketchWassersteinResult {
  if (a.total === 0 || b.total === 0) return { statistic: NaN, errorBound: NaN };
  const refAlpha = ref.relativeAccuracy;
  const curAlpha = cur.relativeAccuracy;
  return { statistic: walk.wasserstein, errorBound: (refAlpha / (1 - refAlpha)) * walk.meanAbsRef + (curAlpha / (1 - curAlpha)) * walk.meanAbsCur };
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

/** Inner edges at quantiles 1/bins .. (bins-1)/bins of a summary (each within alpha |q - center|). */
export function quantileEdgesFromSummary(summary: QuantileSummary, bins = 10): number[] {
  if (!Number.isInteger(bins) || bins < 2) {
    throw new RangeError(`quantileEdgesFromSummary: bins must be an integer >= 2, got ${bins}`);
  }
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) edges.push(summary.quantile(i / bins));
  return edges;
}

/** Mean and population std of a summary's bucketed values (each value within alpha |x - center|). */
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
