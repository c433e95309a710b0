/**
 * The read side of a quantile summary, as the statistics need it. `LogHistogram`
 * (src/sketch/log-histogram.ts) implements it; statistics accept any implementation.
 */
export interface QuantileSummary {
  /** Total weight added (minus weight subtracted). */
  readonly count: number;
  /**
   * The documented relative accuracy alpha: every reported value is within alpha * |v - center| of a
   * true one.
   */
  readonly relativeAccuracy: number;
  /** The point the buckets are laid around (LogHistogram's center); absent means 0. */
  readonly center?: number;
  /** Value v such that about q*count values are <= v (q in [0,1]); NaN when empty. */
  quantile(q: number): number;
  /** Estimated number of values <= x (a CDF times count). */
  rank(x: number): number;
  /** Every non-empty bucket in ascending value order: its representative value and its weight. */
  forEachBucket(visit: (value: number, weight: number) => void): void;
  /**
   * Optional: the buckets forEachBucket visits, in the same order, as arrays (the first `count`
   * entries of each). A statistic that walks every bucket reads them without a call per bucket.
   */
  bucketArrays?(into?: BucketArrays): BucketArrays;
}

/**
 * A summary's buckets as arrays (QuantileSummary.bucketArrays): the first `count` entries of each.
 * Passed back in as `into`, its arrays are written over (and replaced by larger ones when the
 * buckets do not fit), so a caller walking many summaries one at a time allocates nothing once
 * they fit: the gateway's drift statistics walk thousands of buckets per feature and evaluation.
 */
export interface BucketArrays {
  values: Float64Array;
  weights: Float64Array;
  count: number;
  /**
   * Set by a writer that vouches for its buckets (ascending values, positive weights), with their
   * figures: the total weight, and the largest weight on one value (a run of equal values summed).
   * The statistics then take the arrays as they are, without a pass of their own to check them and
   * sum them (LogHistogram.bucketArrays sets them). A caller passing arrays back in as `into` clears
   * them first (undefined), so that figures an earlier writer left are never read as a later one's.
   */
  total?: number | undefined;
  largest?: number | undefined;
}

/**
 * A store's weights over its range (see BucketStore.counts): counts in one byte a bucket while each
 * is below 2^8 (stores made for it: a sum of panes, see BucketStore's constructor), in two below
 * 2^16, in four below 2^32, float64 weights otherwise.
 */
export type Counts = Uint8Array | Uint16Array | Uint32Array | Float64Array;
