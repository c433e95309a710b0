import { CubicLogMapping } from './cubic-log-mapping.ts';
import { BucketStore, EMPTY_HIGH, EMPTY_LOW, NO_INDEX, SPARSE_SHARE, bucketDelta, lowerBound, newInts, newRebinArrays, newWeights } from './bucket-store.ts';
import type { BucketDelta, BucketScratch, Counts, StoreForm } from './bucket-store.ts';
import { CountsArena } from './counts-arena.ts';
import type { BucketArrays, QuantileSummary } from './types.ts';

/**
 * A DDSketch-style quantile sketch: values go to logarithmically sized buckets of their distance
 * to a fixed `center` (default 0) so that every quantile is reported within a relative error alpha
 * (default 1 %) of that distance:
 *
 *   |quantile(q) - x| <= alpha * |x - center|, x being the exact order statistic of rank floor(q*(n-1)),
 *
 * for every value with |x - center| > minIndexable (values that close count as the center itself,
 * so their absolute error is at most minIndexable), as long as no bucket was collapsed (below).
 * With center 0 this is DDSketch's relative error, right for latency; a feature sketch centers
 * inside its data, so a bucket is a small share of the spread wherever the data lie. Values exactly
 * 0 are kept exact apart from the buckets when the center is not 0 (`originCount`).
 *
 * Bucket weights are plain sums, so the sketch is ADDITIVE: merge adds, subtract removes, and a
 * sliding window is a running merge of panes minus the panes that leave it. `count` and `sum`
 * are additive too; min and max are not (they cannot be un-merged), so they are not kept:
 * quantile(0) and quantile(1) give them within alpha.
 *
 * Memory: at most `maxBuckets` (default 2048) buckets per sign (of x - center). At alpha = 1 % a
 * bucket spans a factor of about 1.02, so 2048 buckets cover magnitudes over about 17 decades (e.g.
 * 1e-6 to 1e11) before anything collapses; the span shrinks in proportion to alpha (0.1 % covers only
 * about 1.8 decades: raise maxBuckets with the accuracy). When a sign's range would exceed
 * maxBuckets, its lowest-magnitude buckets are merged into the lowest kept one: quantiles whose
 * value lies in the kept range (the large magnitudes, the tail that latency and drift care
 * about) keep the guarantee; quantiles that fall in the collapsed part are reported as the
 * collapsed bucket's value, i.e. too large in magnitude, with no error bound. Subtraction still
 * removes the exact weight (collapsed weight is taken back from the collapsed bucket), but
 * positions lost to a collapse are not restored.
 *
 * Weights: add() takes a positive finite weight (1 by default); fractional weights are fine.
 * Subtraction of fractional weights can leave float residue such as 1e-17: a bucket left with at
 * most 1e-12 of its previous weight is cleared to 0, and so is anything that would go negative.
 */

export interface LogHistogramOptions {
  /** Maximum buckets per sign before the lowest magnitudes collapse (default 2048, at least 2). */
  maxBuckets?: number;
  /** Values with |x - center| up to this count as the center itself (default 1e-9; at least 2.3e-308, below 1e300). */
  minIndexable?: number;
  /**
   * The point the log buckets are laid around (default 0, finite). Buckets over (x - center) make
   * the relative error relative to the distance from the center: with the center inside the data,
   * a bucket is a small share of the spread, whatever the data's location (293 +- 0.3, epoch
   * seconds, 101325 Pa). Only sketches with the same center merge bucket by bucket
   * (rebinnedLike moves a sketch onto another center).
   */
  center?: number;
  /**
   * The bucket mapping, shared with other sketches of the same relativeAccuracy (a pane's feature
   * sketches share one): fewer objects, and cache lines, touched per value added. Default: its own.
   */
  mapping?: CubicLogMapping;
  /**
   * The bucket arrays start as one-byte counts, widened at the first bucket past 255 (see
   * BucketStore.counts): for the sums of panes a gateway keeps per window, whose buckets seldom
   * reach 256 in a 1m or 5m window (bench gateway at 300 models x 30 features: the windows' arrays
   * were a third of its live bytes). Default false: two-byte counts, as a worker's panes, whose
   * busy buckets would widen.
   */
  byteCounts?: boolean;
  /**
   * Where the bucket arrays come from (CountsArena): for the long-lived sums a gateway keeps per
   * window. Not part of `options` (a sketch made like this one, a copy or a rebinned pane, is
   * short-lived and its arrays would not go back to the arena). Default: a buffer per array.
   */
  arena?: CountsArena;
}

const DEFAULT_MAX_BUCKETS = 2048;
const DEFAULT_MIN_INDEXABLE = 1e-9;
/** Keeps bucket indexes within +-2^30 (small integers for V8, int32 in the byte format). */
const MIN_RELATIVE_ACCURACY = 1e-6;
const MAX_MAX_BUCKETS = 1 << 24;
const RESIDUE_FRACTION = 1e-12;

const FORMAT_MAGIC = 0x484c5744; // 'DWLH' read as a little-endian uint32
/** Version 1: center 0, no origin weight (what every sketch wrote before centers). Version 2 adds both. */
const FORMAT_VERSION = 1;
const FORMAT_VERSION_CENTERED = 2;
const MAPPING_CUBIC = 1;
const HEADER_BYTES = 56;
/** Version 2 appends f64 center and f64 origin weight to the version-1 header. */
const HEADER_BYTES_CENTERED = 72;
const STORE_HEADER_BYTES = 13;
const STORE_EMPTY = 0;
const STORE_VARINT = 1;
const STORE_FLOAT64 = 2;
/**
 * Integer weights as (gap, weight) varint pairs for the weighted buckets alone: a pane of one
 * partition spreads a few hundred values over a thousand buckets of a heavy-tailed feature, so
 * its bytes, and the gateway's work to read them, follow the values instead of the range.
 */
const STORE_SPARSE = 3;
const MAX_SAFE_COUNT = Number.MAX_SAFE_INTEGER;

export class LogHistogram implements QuantileSummary {
  readonly maxBuckets: number;
  readonly minIndexable: number;
  readonly center: number;
  private readonly mapping: CubicLogMapping;
  /** See LogHistogramOptions.byteCounts. */
  private readonly byteCounts: boolean;
  private readonly positive: BucketStore;
  private readonly negative: BucketStore;
  private zeroWeight = 0;
  /**
   * Weight of values exactly 0 when the center is not 0. Zero is the one atom that features share
   * across sketches of any center (mostly-zero features, sparse inputs): kept exact, it stays
   * exactly 0 when sketches of different centers are compared or rebinned.
   */
  private originWeight = 0;
  private totalWeight = 0;
  private valueSum = 0;
  /** Bumped at every change of the weights: tailBucketBounds's answers hold while it stays. */
  private changes = 0;
  /** tailBucketBounds's answers, one per q asked (at most TAIL_BOUNDS_KEPT); null until asked. */
  private tailBounds: TailBounds[] | null = null;

  constructor(relativeAccuracy = 0.01, options: LogHistogramOptions = {}) {
    const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    const minIndexable = options.minIndexable ?? DEFAULT_MIN_INDEXABLE;
    const center = options.center ?? 0;
    checkSketchSettings(relativeAccuracy, maxBuckets, minIndexable, center);
    this.maxBuckets = maxBuckets;
    this.minIndexable = minIndexable;
    // -0 and 0 are one center (Object.is would tell them apart in comparisons)
    this.center = center === 0 ? 0 : center;
    const mapping = options.mapping;
    if (mapping !== undefined && mapping.relativeAccuracy !== relativeAccuracy) {
      throw new RangeError(`LogHistogram: options.mapping has relativeAccuracy ${mapping.relativeAccuracy}, the sketch ${relativeAccuracy}`);
    }
    this.mapping = mapping ?? new CubicLogMapping(relativeAccuracy);
    this.byteCounts = options.byteCounts === true;
    const arena = options.arena ?? null;
    this.positive = new BucketStore(maxBuckets, this.byteCounts, arena);
    this.negative = new BucketStore(maxBuckets, this.byteCounts, arena);
  }

  /**
   * Moves the bucket arrays of sketches that are not to change (a reference profile's, held as long
   * as the profile is known) into one buffer cut to their size: one ArrayBuffer for a profile's
   * ~60 arrays instead of one each (at 300 models x 30 features, ~18,000 buffers fewer for each full
   * collection's sweep to walk). A sketch changed afterwards grows into arrays of its own, as any
   * sketch does; nothing is given back or compacted.
   */
  static packArrays(sketches: readonly LogHistogram[]): void {
    if (sketches.length === 0) return;
    const arena = new CountsArena();
    // the regions the arrays take, exactly (a sorted copy's arrays, a captured reference's, stay as they are)
    arena.reserve(sketches.reduce((bytes, sketch) => bytes + sketch.positive.countsRegionBytes + sketch.negative.countsRegionBytes, 0));
    for (const sketch of sketches) sketch.moveArraysInto(arena);
  }

  /** Its arrays copied into regions of `arena` (a sketch that is not to change: see LogHistogram.packArrays). */
  moveArraysInto(arena: CountsArena): void {
    this.positive.moveCountsInto(arena);
    this.negative.moveCountsInto(arena);
  }

  /** During a compaction of the arena the sketch was made with (LogHistogramOptions.arena): its arrays moved into the new slab. */
  moveIntoArena(): void {
    this.positive.moveIntoArena();
    this.negative.moveIntoArena();
  }

  /** Bytes of the bucket arrays, as allocated (room to grow included): for memory accounting. */
  get bucketCapacityBytes(): number {
    return this.negative.capacityBytes + this.positive.capacityBytes;
  }

  /** Total weight added minus weight subtracted. */
  get count(): number {
    return this.totalWeight;
  }

  /** Sum of value * weight (additive, so it survives merge and subtract). */
  get sum(): number {
    return this.valueSum;
  }

  /** Weight of values with |x - center| <= minIndexable (counted as the center). */
  get zeroCount(): number {
    return this.zeroWeight;
  }

  /** Weight of values exactly 0 held apart from the buckets (only when the center is not 0). */
  get originCount(): number {
    return this.originWeight;
  }

  /**
   * The bucket mapping: immutable (its bit-reading scratch is used within a call), so sketches of
   * the same accuracy share one (a window's feature sketch takes its first pane's: one mapping,
   * ~420 bytes with its views, per window and feature otherwise).
   */
  get bucketMapping(): CubicLogMapping {
    return this.mapping;
  }

  /** Options that build an empty sketch with this one's settings (same buckets, same center). */
  get options(): Required<Omit<LogHistogramOptions, 'arena'>> {
    return { maxBuckets: this.maxBuckets, minIndexable: this.minIndexable, center: this.center, mapping: this.mapping, byteCounts: this.byteCounts };
  }

  /** Whether `other` has the same buckets (accuracy, zero threshold, center): merge and subtract need it. */
  sameBuckets(other: BucketSettings): boolean {
    return sameBucketSettings(this, other);
  }

  get isEmpty(): boolean {
    return this.totalWeight <= 0;
  }

  /** sum / count; NaN when empty. */
  mean(): number {
    return this.totalWeight > 0 ? this.valueSum / this.totalWeight : NaN;
  }

  /**
   * The mapping's, which holds the same (the constructor checks): a double field of the sketch's
   * own was a heap number, 6,068 of them for 9,728 sketches at 60 models (heap snapshot) for
   * V8's marking to visit.
   */
  get relativeAccuracy(): number {
    return this.mapping.relativeAccuracy;
  }

  /** The bucket span factor gamma = (1 + alpha) / (1 - alpha). */
  get gamma(): number {
    return this.mapping.gamma;
  }

  /**
   * Adds `x` with `weight`. Hot path: no allocation unless the bucket range grows.
   * NaN and +-Infinity are ignored (the event validator rejects them before they get here);
   * a weight that is not a positive finite number throws.
   */
  add(x: number, weight = 1): void {
    if (!(weight > 0 && weight < Infinity)) {
      throw new RangeError(`LogHistogram.add: weight must be a positive finite number, got ${String(weight)}`);
    }
    const d = x - this.center;
    // one call of the mapping and one of a store, whichever the sign: with a call site for each
    // sign, V8 inlined the store's add into one of them and not always the mapping into either
    let store: BucketStore;
    let distance: number;
    if (d > this.minIndexable) {
      if (d === Infinity) return;
      store = this.positive;
      distance = d;
    } else if (d < -this.minIndexable) {
      if (d === -Infinity) return;
      store = this.negative;
      distance = -d;
    } else {
      if (d !== d) return; // NaN
      this.zeroWeight += weight;
      this.totalWeight += weight;
      this.valueSum += x * weight;
      this.changes++;
      return;
    }
    if (x === 0) this.originWeight += weight;
    else store.add(this.mapping.index(distance), weight);
    this.totalWeight += weight;
    this.valueSum += x * weight;
    this.changes++;
  }

  /** Adds every value of `other` (same relativeAccuracy, minIndexable and center: see rebinnedLike). */
  merge(other: LogHistogram): this {
    this.checkCompatible(other, 'merge');
    this.changes++;
    this.positive.merge(other.positive);
    this.negative.merge(other.negative);
    this.zeroWeight += other.zeroWeight;
    this.originWeight += other.originWeight;
    this.totalWeight += other.totalWeight;
    this.valueSum += other.valueSum;
    return this;
  }

  /**
   * Removes the values of `other`, which must have been merged (or added) into this sketch:
   * the exact inverse of merge for integer weights (float residue is cleared, see above).
   * Subtracting values that are not there clears the affected buckets to 0 instead of going
   * negative, and `count` then no longer equals the sum of the buckets: a caller error.
   */
  subtract(other: LogHistogram): this {
    this.checkCompatible(other, 'subtract');
    this.changes++;
    this.positive.subtract(other.positive);
    this.negative.subtract(other.negative);
    this.zeroWeight = subtractClamped(this.zeroWeight, other.zeroWeight);
    this.originWeight = subtractClamped(this.originWeight, other.originWeight);
    this.totalWeight = subtractClamped(this.totalWeight, other.totalWeight);
    this.valueSum = this.totalWeight === 0 ? 0 : this.valueSum - other.valueSum;
    return this;
  }

  /**
   * How `later` differs from `earlier`, two states of one sketch on the same buckets (a pane state
   * and the state that replaces it): see SketchDelta. Its arrays from `scratch` when given.
   */
  static delta(earlier: LogHistogram, later: LogHistogram, scratch?: BucketScratch): SketchDelta {
    later.checkCompatible(earlier, 'delta');
    return {
      buckets: later,
      positive: bucketDelta(earlier.positive, later.positive, scratch),
      negative: bucketDelta(earlier.negative, later.negative, scratch),
      earlierZero: earlier.zeroWeight,
      earlierOrigin: earlier.originWeight,
      earlierTotal: earlier.totalWeight,
      earlierSum: earlier.valueSum,
      laterZero: later.zeroWeight,
      laterOrigin: later.originWeight,
      laterTotal: later.totalWeight,
      laterSum: later.valueSum,
    };
  }

  /**
   * Whether applyDelta(delta) gives what subtract(earlier) then merge(later) would: a sketch on the
   * delta's buckets that holds values (an empty one takes the later state whole) and whose stores
   * take the delta (BucketStore.acceptsDelta: nothing collapsed, the range within maxBuckets).
   */
  acceptsDelta(delta: SketchDelta): boolean {
    return !this.isEmpty && this.sameBuckets(delta.buckets) && this.positive.acceptsDelta(delta.positive) && this.negative.acceptsDelta(delta.negative);
  }

  /**
   * subtract(earlier) then merge(later) as one change that touches the buckets that changed alone,
   * where acceptsDelta says it gives the same (a RangeError otherwise: the caller checks first).
   */
  applyDelta(delta: SketchDelta): this {
    if (!this.takeDelta(delta)) throw new RangeError('LogHistogram.applyDelta: this sketch does not take the delta (see acceptsDelta)');
    return this;
  }

  /**
   * applyDelta where acceptsDelta says so (true), else nothing changed (false): one check for a
   * caller that falls back to subtract and merge (a window replacing a state, every feature).
   */
  takeDelta(delta: SketchDelta): boolean {
    if (!this.acceptsDelta(delta)) return false;
    this.changes++;
    this.positive.applyDelta(delta.positive);
    this.negative.applyDelta(delta.negative);
    // the scalars exactly as subtract then merge leave them
    this.zeroWeight = subtractClamped(this.zeroWeight, delta.earlierZero) + delta.laterZero;
    this.originWeight = subtractClamped(this.originWeight, delta.earlierOrigin) + delta.laterOrigin;
    const withoutEarlier = subtractClamped(this.totalWeight, delta.earlierTotal);
    this.valueSum = (withoutEarlier === 0 ? 0 : this.valueSum - delta.earlierSum) + delta.laterSum;
    this.totalWeight = withoutEarlier + delta.laterTotal;
    return true;
  }

  /**
   * Sizes an empty sketch's bucket stores like `other`'s (see BucketStore.reserveLike): the
   * same figures, fewer allocations as it fills. No-op once the sketch holds a value.
   */
  reserveLike(other: LogHistogram): this {
    if (this.totalWeight === 0) {
      this.positive.reserveLike(other.positive);
      this.negative.reserveLike(other.negative);
    }
    return this;
  }

  /**
   * Sizes an empty sketch's bucket stores for merging `sources` into it, each in turn: each store's
   * array over the buckets they hold between them (BucketStore.reserveRange), made once. Sources on
   * other buckets (merged rebinned) are left out. No-op once the sketch holds a value.
   */
  reserveForMerging(sources: readonly LogHistogram[]): this {
    if (this.totalWeight !== 0) return this;
    let positiveLow = Infinity;
    let positiveHigh = -Infinity;
    let negativeLow = Infinity;
    let negativeHigh = -Infinity;
    for (const source of sources) {
      if (!this.sameBuckets(source)) continue;
      const { positive, negative } = source;
      if (!positive.isEmpty) {
        positiveLow = Math.min(positiveLow, positive.low);
        positiveHigh = Math.max(positiveHigh, positive.high);
      }
      if (!negative.isEmpty) {
        negativeLow = Math.min(negativeLow, negative.low);
        negativeHigh = Math.max(negativeHigh, negative.high);
      }
    }
    this.positive.reserveRange(positiveLow, positiveHigh);
    this.negative.reserveRange(negativeLow, negativeHigh);
    return this;
  }

  /**
   * How each bucket store keeps its weights (BucketStore.form), their arrays' bytes as allocated,
   * and the bytes a bucket's weight takes in the wider of the two (see BucketStore.counts): for
   * memory accounting.
   */
  storeForms(): { negative: StoreForm; positive: StoreForm; bytes: number; bytesPerWeight: number } {
    // a sorted store's weights are its sparseWeights, not its (empty) counts
    const weightBytes = (store: BucketStore): number => (store.form === 'sorted' ? store.sparseWeights : store.counts).BYTES_PER_ELEMENT;
    const bytesPerWeight = Math.max(weightBytes(this.negative), weightBytes(this.positive));
    return { negative: this.negative.form, positive: this.positive.form, bytes: this.negative.capacityBytes + this.positive.capacityBytes, bytesPerWeight };
  }

  /** An empty sketch with the same buckets (accuracy, range and center): a template for rebinnedLike. */
  emptyLike(): LogHistogram {
    return new LogHistogram(this.relativeAccuracy, this.options);
  }

  clone(): LogHistogram {
    const copy = new LogHistogram(this.relativeAccuracy, this.options);
    copy.positive.copyFrom(this.positive);
    copy.negative.copyFrom(this.negative);
    copy.zeroWeight = this.zeroWeight;
    copy.originWeight = this.originWeight;
    copy.totalWeight = this.totalWeight;
    copy.valueSum = this.valueSum;
    return copy;
  }

  /** Empties the sketch, keeping its arrays for reuse. */
  clear(): this {
    this.changes++;
    this.positive.clear();
    this.negative.clear();
    this.zeroWeight = 0;
    this.originWeight = 0;
    this.totalWeight = 0;
    this.valueSum = 0;
    return this;
  }

  /**
   * `other`'s values on the buckets of `like` (its accuracy, zero threshold and center): every
   * bucket's weight goes, whole, to the bucket of `like` that holds its representative; exact zeros
   * stay exact. A deterministic function of `other`, so subtracting the rebinned sketch removes
   * exactly what merging it added. Each value moves by at most alpha |x - other.center| (to its
   * representative) plus one bucket of `like` (2 alpha / (1 - alpha) |x - like.center|). `other`
   * itself when it already has like's buckets. `scratch`: where the arrays come from, for a result
   * used only until the scratch is reset (BucketScratch); default: arrays of its own.
   */
  static rebinnedLike(other: LogHistogram, like: LogHistogram, scratch?: BucketScratch): LogHistogram {
    if (like.sameBuckets(other)) return other;
    const moved = new LogHistogram(like.relativeAccuracy, like.options);
    // What moved.add(value, weight) per bucket gives, with each store sized once for its whole
    // range: added one by one, a store's range grew bucket by bucket and, near maxBuckets (heavy
    // tails), shifted its whole array at each step (~300 ns per bucket, the gateway's largest cost).
    const room = other.positive.nonEmpty() + other.negative.nonEmpty() + 2;
    // working arrays, only [0, room) of them used: the scratch's own, reused from call to call
    const { positiveIndexes, positiveWeights, negativeIndexes, negativeWeights, values, weights } = scratch === undefined ? newRebinArrays(room) : scratch.rebinArraysFor(room);
    // the source's buckets into arrays, not through a callback: a callback shared by many call
    // sites gets each bucket's value and weight as boxed numbers (48 KB of garbage per 30-feature
    // pane message in the gateway, most of what it allocated rebinning)
    const arrays: BucketArrays = { values, weights, count: 0, total: 0, largest: 0 };
    other.ascendingBuckets(arrays);
    const buckets = arrays.count;
    let positives = 0;
    let negatives = 0;
    const center = moved.center;
    const minIndexable = moved.minIndexable;
    const mapping = moved.mapping;
    let originWeight = 0;
    let zeroWeight = 0;
    let totalWeight = 0;
    for (let k = 0; k < buckets; k++) {
      const value = values[k];
      const weight = weights[k];
      const d = value - center;
      if (d > minIndexable) {
        if (d === Infinity) continue;
        if (value === 0) originWeight += weight;
        else {
          positiveIndexes[positives] = mapping.index(d);
          positiveWeights[positives++] = weight;
        }
      } else if (d < -minIndexable) {
        if (d === -Infinity) continue;
        if (value === 0) originWeight += weight;
        else {
          negativeIndexes[negatives] = mapping.index(-d);
          negativeWeights[negatives++] = weight;
        }
      } else {
        zeroWeight += weight;
      }
      totalWeight += weight;
    }
    moved.originWeight = originWeight;
    moved.zeroWeight = zeroWeight;
    moved.totalWeight = totalWeight;
    moved.positive.addAll(positiveIndexes, positiveWeights, 0, positives, scratch);
    moved.negative.addAll(negativeIndexes, negativeWeights, 0, negatives, scratch);
    // representatives carry no sum: keep the exact one
    moved.valueSum = other.valueSum;
    return moved;
  }

  /**
   * Value v such that about q * count values are <= v: the representative of the bucket holding
   * the order statistic of rank floor(q * (count - 1)) (0-based), so within alpha of that
   * value. NaN when empty; RangeError when q is not in [0, 1].
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`LogHistogram.quantile: q must be in [0, 1], got ${String(q)}`);
    if (this.totalWeight <= 0) return NaN;
    const rank = q * (this.totalWeight - 1);
    // The gateway reads several quantiles of every window on each evaluation: without an origin
    // bucket to place between values, walk the weights alone and map only the answer's index to
    // its value (the same buckets in the same order as visitAscending, so the same answer).
    if (this.originWeight === 0) return this.quantileByWeights(rank);
    let cumulative = 0;
    let answer = NaN;
    let last = NaN;
    this.visitAscending((value, weight) => {
      cumulative += weight;
      last = value;
      if (cumulative > rank) {
        answer = value;
        return false;
      }
      return true;
    });
    // NaN only when float sums fall a hair short of count: the top bucket holds the answer.
    return answer === answer ? answer : last;
  }

  /** quantile() for a sketch without origin weight: negative buckets, the zero bucket, positive buckets. */
  private quantileByWeights(rank: number): number {
    this.densify();
    let cumulative = 0;
    let last = NaN;
    const negative = this.negative;
    for (let step = negative.walkSteps - 1; step >= 0; step--) {
      const index = negative.indexAtStep(step);
      const weight = negative.weightAtStep(step, index);
      if (weight === 0) continue;
      cumulative += weight;
      if (cumulative > rank) return this.center - this.mapping.value(index);
      last = this.center - this.mapping.value(index);
    }
    if (this.zeroWeight !== 0) {
      cumulative += this.zeroWeight;
      if (cumulative > rank) return this.center;
      last = this.center;
    }
    const positive = this.positive;
    let lastPositive = NaN;
    for (let step = 0, steps = positive.walkSteps; step < steps; step++) {
      const index = positive.indexAtStep(step);
      const weight = positive.weightAtStep(step, index);
      if (weight === 0) continue;
      cumulative += weight;
      if (cumulative > rank) return this.center + this.mapping.value(index);
      lastPositive = index;
    }
    // float sums a hair short of the count: the top bucket holds the answer
    return lastPositive === lastPositive ? this.center + this.mapping.value(lastPositive) : last;
  }

  /**
   * Estimated weight of values <= x. Buckets entirely below x count fully; the bucket holding
   * x counts in proportion to x's position in it on a log scale. The true count of values
   * <= x / gamma (for x > 0; x * gamma for x < 0) is a lower bound of the estimate and the
   * true count of values <= x * gamma (x / gamma for x < 0) an upper bound.
   */
  rank(x: number): number {
    if (x !== x) return NaN;
    const d = x - this.center;
    let below = x >= 0 ? this.originWeight : 0;
    this.forEachBucketRange((lower, upper, weight) => {
      if (upper <= d) below += weight;
      else if (lower < d) below += weight * fractionBelow(lower, upper, d);
    });
    return below;
  }

  /**
   * quantile(q) and quantile(1 - q), each found by walking in from its own end of the sketch only
   * as far as needed (the same answers as quantile): cheap for tail quantiles (q near 0), where
   * quantile(1 - q) walks every bucket. NaN when empty; RangeError when q is not in [0, 0.5].
   */
  tailQuantiles(q: number): [number, number] {
    if (!(q >= 0 && q <= 0.5)) throw new RangeError(`LogHistogram.tailQuantiles: q must be in [0, 0.5], got ${String(q)}`);
    const n = this.totalWeight;
    if (n <= 0) return [NaN, NaN];
    const low = this.quantile(q);
    // quantile(1 - q) is the bucket where the ascending sum first exceeds r = (1 - q)(n - 1): walking
    // down, the first bucket whose weight and all above it reach n - r
    const fromTop = n - (1 - q) * (n - 1);
    let above = 0;
    let high = NaN;
    let last = NaN;
    this.visitDescending((value, weight) => {
      above += weight;
      last = value;
      if (above >= fromTop) {
        high = value;
        return false;
      }
      return true;
    });
    return [low, high === high ? high : last];
  }

  /**
   * The range beyond which a value is out of the q-tails, as data quality reads a reference: the
   * lower bound of the bucket holding quantile(q) and the upper bound of the bucket holding
   * quantile(1 - q) (tailQuantiles, then bucketRange); [NaN, NaN] when empty. Kept until the sketch
   * changes: a reference never does, and every metrics build asked it again for the same two q's
   * of every feature (28 % of what a 300-model gateway allocated, bench gateway under V8's sampling
   * heap profiler). RangeError when q is not in [0, 0.5].
   */
  tailBucketBounds(q: number): readonly [number, number] {
    const kept = this.tailBounds;
    if (kept !== null) {
      for (let k = 0; k < kept.length; k++) if (kept[k].q === q && kept[k].changes === this.changes) return kept[k].bounds;
    }
    const [lowQuantile, highQuantile] = this.tailQuantiles(q);
    const bounds: readonly [number, number] =
      Number.isNaN(lowQuantile) || Number.isNaN(highQuantile) ? [NaN, NaN] : [this.bucketRange(lowQuantile)[0], this.bucketRange(highQuantile)[1]];
    const entry: TailBounds = { q, changes: this.changes, bounds };
    if (kept === null) this.tailBounds = [entry];
    else {
      const at = kept.findIndex((other) => other.q === q);
      if (at >= 0) kept[at] = entry;
      else if (kept.length < TAIL_BOUNDS_KEPT) kept.push(entry);
      else kept[0] = entry;
    }
    return bounds;
  }

  /**
   * The values the bucket holding `x` covers, [lower, upper] (a value exactly 0 off a non-zero
   * center is its own atom [0, 0]; values within minIndexable of the center share the center's).
   * A value moved onto this sketch's buckets (rebinnedLike) lands beyond `x`'s bucket exactly when
   * it lies outside this range.
   */
  bucketRange(x: number): [number, number] {
    const d = x - this.center;
    if (x === 0 && this.center !== 0 && (d > this.minIndexable || d < -this.minIndexable)) return [0, 0];
    if (d > this.minIndexable) {
      const index = this.mapping.index(d);
      return [this.center + this.mapping.lowerBound(index), this.center + this.mapping.upperBound(index)];
    }
    if (d < -this.minIndexable) {
      const index = this.mapping.index(-d);
      return [this.center - this.mapping.upperBound(index), this.center - this.mapping.lowerBound(index)];
    }
    return [this.center - this.minIndexable, this.center + this.minIndexable];
  }

  /**
   * Weight of the buckets whose representative lies below `low` or above `high` (the same as a
   * walk of forEachBucket comparing each value). Counted in bucket-index space from each end of
   * the stores inwards, as far as the bound's bucket only: a range check costs a sum over the
   * tails' slots and one representative per bound, not a representative per bucket.
   */
  weightOutside(low: number, high: number): number {
    if (!(low <= high)) return this.weightBelow(low) + this.weightAbove(Math.max(low, high));
    return this.weightBelow(low) + this.weightAbove(high);
  }

  /** Weight of the buckets whose representative is < x. */
  private weightBelow(x: number): number {
    if (x !== x) return 0;
    const d = x - this.center;
    let below = this.originWeight !== 0 && 0 < x ? this.originWeight : 0;
    if (this.center < x) below += this.zeroWeight;
    // negative side: value center - m(i) < x  <=>  m(i) > -d
    const negative = this.negative;
    if (!negative.isEmpty) {
      if (-d <= this.minIndexable) below += sumSlots(negative, negative.low, negative.high);
      else {
        const j = this.mapping.index(-d);
        below += sumSlots(negative, j + 1, negative.high);
        if (this.mapping.value(j) > -d) below += negative.weightAt(j);
      }
    }
    // positive side: value center + m(i) < x  <=>  m(i) < d
    const positive = this.positive;
    if (!positive.isEmpty && d > this.minIndexable) {
      const j = this.mapping.index(d);
      below += sumSlots(positive, positive.low, j - 1);
      if (this.mapping.value(j) < d) below += positive.weightAt(j);
    }
    return below;
  }

  /** Weight of the buckets whose representative is > x. */
  private weightAbove(x: number): number {
    if (x !== x) return 0;
    const d = x - this.center;
    let above = this.originWeight !== 0 && 0 > x ? this.originWeight : 0;
    if (this.center > x) above += this.zeroWeight;
    // positive side: value center + m(i) > x  <=>  m(i) > d
    const positive = this.positive;
    if (!positive.isEmpty) {
      if (d <= this.minIndexable) above += sumSlots(positive, positive.low, positive.high);
      else {
        const j = this.mapping.index(d);
        above += sumSlots(positive, j + 1, positive.high);
        if (this.mapping.value(j) > d) above += positive.weightAt(j);
      }
    }
    // negative side: value center - m(i) > x  <=>  m(i) < -d
    const negative = this.negative;
    if (!negative.isEmpty && -d > this.minIndexable) {
      const j = this.mapping.index(-d);
      above += sumSlots(negative, negative.low, j - 1);
      if (this.mapping.value(j) < -d) above += negative.weightAt(j);
    }
    return above;
  }

  /**
   * The buckets forEachBucket visits, in its order, as arrays: a callback shared by many callers
   * gets each bucket's value and weight boxed, and the drift statistics walk every bucket of a
   * window (thousands on a heavy-tailed feature) at each evaluation. Written into `into` when
   * given (its arrays replaced by larger ones when the buckets do not fit: see BucketArrays).
   */
  bucketArrays(into?: BucketArrays): BucketArrays {
    const room = this.positive.nonEmpty() + this.negative.nonEmpty() + 2;
    if (into === undefined) {
      const arrays: BucketArrays = { values: new Float64Array(room), weights: new Float64Array(room), count: 0, total: 0, largest: 0 };
      this.ascendingBuckets(arrays);
      return arrays;
    }
    if (into.values.length < room || into.weights.length < room) {
      // with room to spare: a window's bucket count creeps up as it fills
      const grown = Math.max(room + (room >> 1), 64);
      into.values = new Float64Array(grown);
      into.weights = new Float64Array(grown);
    }
    this.ascendingBuckets(into);
    return into;
  }

  forEachBucket(visit: (value: number, weight: number) => void): void {
    this.visitAscending((value, weight) => {
      visit(value, weight);
      return true;
    });
  }

  /**
   * Every non-empty bucket ascending (value = center +- representative offset; the exact zeros at
   * their place), written into `into`'s `values` (representatives) and `weights` (room for the
   * non-empty buckets of both stores and 2 more), with their count, total and largest run (see
   * BucketArrays): taken as they are by the drift statistics, whose own pass over the arrays for
   * them was 3 % of the gateway's thread (bench gateway at 300 models x 30 features x 16
   * partitions, perf): summaryBuckets of a 1,398-bucket window 19.6 -> 16.2 us, a 30-feature drift
   * evaluation 0.93-0.98 of its time (scratch A/B of both builds in one process). Representatives
   * of buckets near a far center can round to the same double: they come out equal, never descending.
   */
  private ascendingBuckets(into: BucketArrays): void {
    this.densify();
    const values = into.values;
    const weights = into.weights;
    let count = 0;
    let total = 0;
    // the largest weight on one value: equal representatives are one run
    let largest = 0;
    let run = 0;
    let previous = NaN;
    const mapping = this.mapping;
    const center = this.center;
    let origin = this.originWeight;
    const negative = this.negative;
    // representatives from the mapping's table (value: bit for bit what the bucket's bounds give)
    let steps = negative.walkSteps;
    for (let step = steps - 1; step >= 0; step--) {
      const index = negative.indexAtStep(step);
      const weight = negative.weightAtStep(step, index);
      if (weight === 0) continue;
      const value = center - mapping.value(index);
      if (origin !== 0 && value > 0) {
        values[count] = 0;
        weights[count++] = origin;
        total += origin;
        run = previous === 0 ? run + origin : origin;
        if (run > largest) largest = run;
        previous = 0;
        origin = 0;
      }
      values[count] = value;
      weights[count++] = weight;
      total += weight;
      run = value === previous ? run + weight : weight;
      if (run > largest) largest = run;
      previous = value;
    }
    if (origin !== 0 && center > 0) {
      values[count] = 0;
      weights[count++] = origin;
      total += origin;
      run = previous === 0 ? run + origin : origin;
      if (run > largest) largest = run;
      previous = 0;
      origin = 0;
    }
    const zero = this.zeroWeight;
    if (zero !== 0) {
      values[count] = center;
      weights[count++] = zero;
      total += zero;
      run = center === previous ? run + zero : zero;
      if (run > largest) largest = run;
      previous = center;
    }
    const positive = this.positive;
    steps = positive.walkSteps;
    for (let step = 0; step < steps; step++) {
      const index = positive.indexAtStep(step);
      const weight = positive.weightAtStep(step, index);
      if (weight === 0) continue;
      const value = center + mapping.value(index);
      if (origin !== 0 && value > 0) {
        values[count] = 0;
        weights[count++] = origin;
        total += origin;
        run = previous === 0 ? run + origin : origin;
        if (run > largest) largest = run;
        previous = 0;
        origin = 0;
      }
      values[count] = value;
      weights[count++] = weight;
      total += weight;
      run = value === previous ? run + weight : weight;
      if (run > largest) largest = run;
      previous = value;
    }
    if (origin !== 0) {
      values[count] = 0;
      weights[count++] = origin;
      total += origin;
      run = previous === 0 ? run + origin : origin;
      if (run > largest) largest = run;
    }
    into.count = count;
    into.total = total;
    into.largest = largest;
  }

  /** Every non-empty bucket ascending (see ascendingBuckets), until `visit` returns false. */
  private visitAscending(visit: (value: number, weight: number) => boolean): void {
    const { values, weights, count } = this.bucketArrays();
    for (let k = 0; k < count; k++) if (!visit(values[k], weights[k])) return;
  }

  /** visitAscending in the other direction: every non-empty bucket descending, until `visit` returns false. */
  private visitDescending(visit: (value: number, weight: number) => boolean): void {
    this.densify();
    const mapping = this.mapping;
    const center = this.center;
    let origin = this.originWeight;
    const positive = this.positive;
    // over the positions of the weights alone where the store keeps them (see ascendingBuckets)
    let steps = positive.walkSteps;
    for (let step = steps - 1; step >= 0; step--) {
      const index = positive.indexAtStep(step);
      const weight = positive.weightAtStep(step, index);
      if (weight === 0) continue;
      const value = center + mapping.value(index);
      if (origin !== 0 && value < 0) {
        if (!visit(0, origin)) return;
        origin = 0;
      }
      if (!visit(value, weight)) return;
    }
    if (origin !== 0 && center < 0) {
      if (!visit(0, origin)) return;
      origin = 0;
    }
    if (this.zeroWeight !== 0 && !visit(center, this.zeroWeight)) return;
    const negative = this.negative;
    steps = negative.walkSteps;
    for (let step = 0; step < steps; step++) {
      const index = negative.indexAtStep(step);
      const weight = negative.weightAtStep(step, index);
      if (weight === 0) continue;
      const value = center - mapping.value(index);
      if (origin !== 0 && value < 0) {
        if (!visit(0, origin)) return;
        origin = 0;
      }
      if (!visit(value, weight)) return;
    }
    if (origin !== 0) visit(0, origin);
  }

  /**
   * Weight per bin for ascending `edges` e0 < e1 < ... < e(k-1): k + 1 bins
   * (-inf, e0), [e0, e1), ..., [e(k-1), +inf). A bucket that straddles an edge is split in
   * proportion to the edge's position in it on a log scale (the zero bucket counts as exactly 0),
   * so each bin's weight is only known to within the buckets that touch its edges: values within
   * a factor gamma of an edge can land on either side. Writes into `out` when given
   * (length k + 1), else allocates.
   */
  countsBetweenEdges(edges: readonly number[], out?: Float64Array): Float64Array {
    const edgeCount = edges.length;
    for (let i = 0; i < edgeCount; i++) {
      const edge = edges[i];
      if (typeof edge !== 'number' || !Number.isFinite(edge) || (i > 0 && !(edge > edges[i - 1]))) {
        throw new RangeError(
          `LogHistogram.countsBetweenEdges: edges must be finite and strictly ascending; edges[${i}] = ${String(edge)}` +
            (i > 0 ? ` after ${String(edges[i - 1])}` : ''),
        );
      }
    }
    let bins: Float64Array;
    if (out === undefined) bins = new Float64Array(edgeCount + 1);
    else if (out.length !== edgeCount + 1) {
      throw new RangeError(`LogHistogram.countsBetweenEdges: out must have edges.length + 1 = ${edgeCount + 1} slots, has ${out.length}`);
    } else {
      bins = out;
      bins.fill(0);
    }
    // buckets are ranges of x - center: the edges go there too (x - c is monotone in x). Each bin
    // takes the buckets between its edges whole and the shares of those its edges cut (as a walk
    // of every bucket, forEachBucketRange, split them), summed slot by slot: the walk computed
    // every bucket's bounds, ~4 % of a gateway's thread at 300 models x 30 features (PSI's bins).
    // (sumSlots reads a store still a table as an array: no densify here)
    const center = this.center;
    const from = new BucketCut();
    const to = new BucketCut();
    from.first(this.negative);
    for (let bin = 0; bin <= edgeCount; bin++) {
      if (bin < edgeCount) this.cutAt(edges[bin] - center, to);
      else to.end();
      bins[bin] += this.weightBetween(from, to);
      from.copy(to);
    }
    if (this.originWeight !== 0) {
      let originBin = 0;
      while (originBin < edgeCount && edges[originBin] <= 0) originBin++;
      bins[originBin] += this.originWeight;
    }
    return bins;
  }

  /**
   * Compact little-endian bytes; fromBytes(toBytes()) gives back the same buckets, count, sum and
   * options exactly. Layout: 56-byte header (magic 'DWLH', u8 version, u8 mapping, u16 0,
   * f64 relativeAccuracy, f64 minIndexable, u32 maxBuckets, u32 0, f64 count, f64 sum,
   * f64 zeroCount), then the negative and the positive store, each: u8 encoding (0 empty,
   * 1 unsigned LEB128 varints, used when every weight is an integer, 2 float64, 3 sparse varints),
   * i32 lowest index, i32 collapsed index (-2^30 for none), u32 bucket count n, then for 1 and 2 n
   * weights for indexes low .. low + n - 1 (zeros inside the range included: a varint zero is one
   * byte), for 3 (integer weights, written when shorter than 1) the count m of weighted buckets and
   * m pairs (gap: empty buckets since the previous weighted one, weight). Readers before
   * encoding 3 refuse it with "unknown encoding 3": gateways are upgraded before workers.
   */
  toBytes(): Uint8Array {
    const layout = this.bytesLayout();
    const bytes = new Uint8Array(layout.size);
    this.writeBytes(bytes, new DataView(bytes.buffer), layout);
    return bytes;
  }

  /**
   * toBytes() of each sketch, written into one buffer: views of it, one per sketch. Each typed array
   * above 64 bytes costs V8 ~1.5 µs to make and collect; the gateway writes the sketches of a pane
   * message's moved features (up to one per feature) together, and keeps them together.
   */
  static toBytesMany(sketches: readonly LogHistogram[]): Uint8Array[] {
    // the buckets of every store still a table, sorted, in one array too
    let entryInts = 0;
    for (const sketch of sketches) entryInts += sketch.tableEntryInts();
    const entries = entryInts === 0 ? null : new Int32Array(entryInts);
    const layouts: SketchLayout[] = [];
    let total = 0;
    let entriesAt = 0;
    for (const sketch of sketches) {
      const layout = sketch.bytesLayout(entries, entriesAt);
      entriesAt += sketch.tableEntryInts();
      layouts.push(layout);
      total += layout.size;
    }
    const buffer = new Uint8Array(total);
    const out: Uint8Array[] = [];
    let at = 0;
    for (let k = 0; k < sketches.length; k++) {
      const size = layouts[k].size;
      const bytes = buffer.subarray(at, at + size);
      sketches[k].writeBytes(bytes, new DataView(buffer.buffer, buffer.byteOffset + at, size), layouts[k]);
      out.push(bytes);
      at += size;
    }
    return out;
  }

  /** Int32s the sorted buckets of this sketch's table stores take when written (an index and a count each). */
  private tableEntryInts(): number {
    return 2 * ((this.negative.isTable ? this.negative.nonEmpty() : 0) + (this.positive.isTable ? this.positive.nonEmpty() : 0));
  }

  /**
   * What toBytes writes: each store's encoding and, for a store still a table, its buckets in order
   * (into `entries` from `entriesAt`, tableEntryInts() of them; an array of their own when null).
   */
  private bytesLayout(entries: Int32Array | null = null, entriesAt = 0): SketchLayout {
    // a store still a table is written from its weighted buckets in order, and stays a table
    const negatives = this.negative.isTable ? this.negative.nonEmpty() : 0;
    const positives = this.positive.isTable ? this.positive.nonEmpty() : 0;
    let buffer = entries;
    if (buffer === null && negatives + positives > 0) buffer = new Int32Array(2 * (negatives + positives));
    // a sorted store is written from its own arrays
    const negativeEntries = this.negative.form === 'sorted' ? sortedEntries(this.negative) : buffer === null ? null : entriesInto(this.negative, buffer, entriesAt, negatives);
    const positiveEntries = this.positive.form === 'sorted' ? sortedEntries(this.positive) : buffer === null ? null : entriesInto(this.positive, buffer, entriesAt + 2 * negatives, positives);
    const negative = storeLayoutOf(this.negative, negativeEntries);
    const positive = storeLayoutOf(this.positive, positiveEntries);
    const centered = this.center !== 0 || this.originWeight !== 0;
    const headerBytes = centered ? HEADER_BYTES_CENTERED : HEADER_BYTES;
    const size = headerBytes + 2 * STORE_HEADER_BYTES + negative.weightBytes + positive.weightBytes;
    return { size, centered, headerBytes, negative, positive, negativeEntries, positiveEntries };
  }

  /** Writes toBytes() into `bytes` (`layout.size` long) through `view`, a view of the same bytes. */
  private writeBytes(bytes: Uint8Array, view: DataView, layout: SketchLayout): void {
    const { centered, headerBytes, size } = layout;
    view.setUint32(0, FORMAT_MAGIC, true);
    view.setUint8(4, centered ? FORMAT_VERSION_CENTERED : FORMAT_VERSION);
    view.setUint8(5, MAPPING_CUBIC);
    view.setFloat64(8, this.relativeAccuracy, true);
    view.setFloat64(16, this.minIndexable, true);
    view.setUint32(24, this.maxBuckets, true);
    view.setFloat64(32, this.totalWeight, true);
    view.setFloat64(40, this.valueSum, true);
    view.setFloat64(48, this.zeroWeight, true);
    if (centered) {
      view.setFloat64(56, this.center, true);
      view.setFloat64(64, this.originWeight, true);
    }
    let offset = writeStore(view, bytes, headerBytes, this.negative, layout.negative, layout.negativeEntries);
    offset = writeStore(view, bytes, offset, this.positive, layout.positive, layout.positiveEntries);
    if (offset !== size) throw new Error(`LogHistogram.toBytes: wrote ${offset} bytes, expected ${size} (bug)`);
  }

  /** The bucket index routeOf found for its last positive or negative value. */
  private routedIndex = 0;

  /** Where add() puts a finite value x (routeSide), a store's bucket index left in routedIndex. */
  private routeOf(x: number): number {
    const side = routeSide(x, this.center, this.minIndexable);
    if (side === ROUTE_POSITIVE) this.routedIndex = this.mapping.index(x - this.center);
    else if (side === ROUTE_NEGATIVE) this.routedIndex = this.mapping.index(this.center - x);
    return side;
  }

  /**
   * Whether this sketch is what adding `values`, each `counts` times, to an empty sketch of its
   * settings gives (its sum aside: fromListedValues takes it as given): every bucket's weight, the
   * zero and origin weights and the count, nothing collapsed. A worker sends a feature's sketch as
   * its listed values (FeatureWire.r) where this holds: checked in place, without building the
   * sketch they give and serializing it (that was ~160 us per pane message of 30 features).
   */
  holdsListedValues(values: ArrayLike<number>, counts: ArrayLike<number>): boolean {
    const n = values.length;
    if (n !== counts.length || this.positive.collapsedInto !== NO_INDEX || this.negative.collapsedInto !== NO_INDEX) return false;
    let total = 0;
    let zero = 0;
    let origin = 0;
    // per value its store (ROUTE_*) and bucket index
    const sides: number[] = [];
    const indexes: number[] = [];
    for (let k = 0; k < n; k++) {
      const weight = counts[k];
      if (!(weight > 0 && weight < Infinity) || !Number.isFinite(values[k])) return false;
      total += weight;
      const side = this.routeOf(values[k]);
      if (side === ROUTE_ZERO) zero += weight;
      else if (side === ROUTE_ORIGIN) origin += weight;
      sides.push(side);
      indexes.push(side === ROUTE_POSITIVE || side === ROUTE_NEGATIVE ? this.routedIndex : 0);
    }
    if (total !== this.totalWeight || zero !== this.zeroWeight || origin !== this.originWeight) return false;
    let positives = 0;
    let negatives = 0;
    for (let k = 0; k < n; k++) {
      const side = sides[k];
      const index = indexes[k];
      if (side !== ROUTE_POSITIVE && side !== ROUTE_NEGATIVE) continue;
      let summedBefore = false;
      for (let j = 0; j < k && !summedBefore; j++) summedBefore = sides[j] === side && indexes[j] === index;
      if (summedBefore) continue;
      let weight = 0;
      for (let j = k; j < n; j++) if (sides[j] === side && indexes[j] === index) weight += counts[j];
      if ((side === ROUTE_POSITIVE ? this.positive : this.negative).weightAt(index) !== weight) return false;
      if (side === ROUTE_POSITIVE) positives++;
      else negatives++;
    }
    return this.positive.nonEmpty() === positives && this.negative.nonEmpty() === negatives;
  }

  /**
   * The sketch of `values`, each counted `counts` times: what adding them to an empty sketch of
   * these settings gives, with `sum` as its sum of values (added up in another order, a sum may
   * differ in its last bits: the sender's is kept). For a pane's feature whose exact counts list
   * every value it holds, the sketch is these counts and need not be sent (FeatureWire.r): its
   * stores' sorted arrays are written on `scratch`, as a sparse store's bytes are read
   * (fromBytes), at most one index per value. RangeError where checkListedValues gives one.
   */
  static fromListedValues(values: ArrayLike<number>, counts: ArrayLike<number>, sum: number, settings: ListedSketchSettings, scratch?: BucketScratch): LogHistogram {
    LogHistogram.checkListedValues(values, counts, sum, settings, scratch);
    const histogram = new LogHistogram(settings.relativeAccuracy, {
      minIndexable: settings.minIndexable,
      maxBuckets: settings.maxBuckets,
      center: settings.center,
      mapping: scratch?.mappingFor(settings.relativeAccuracy),
    });
    const n = values.length;
    const positive = newInts(n, scratch);
    const positiveWeights = newWeights(n, scratch);
    const negative = newInts(n, scratch);
    const negativeWeights = newWeights(n, scratch);
    let positives = 0;
    let negatives = 0;
    for (let k = 0; k < n; k++) {
      const weight = counts[k];
      histogram.totalWeight += weight;
      const side = histogram.routeOf(values[k]);
      if (side === ROUTE_ZERO) histogram.zeroWeight += weight;
      else if (side === ROUTE_ORIGIN) histogram.originWeight += weight;
      else if (side === ROUTE_POSITIVE) positives = insertSorted(positive, positiveWeights, 0, positives, histogram.routedIndex, weight);
      else negatives = insertSorted(negative, negativeWeights, 0, negatives, histogram.routedIndex, weight);
    }
    histogram.positive.loadSorted(positive, positiveWeights, positives);
    histogram.negative.loadSorted(negative, negativeWeights, negatives);
    histogram.valueSum = histogram.totalWeight === 0 ? 0 : sum;
    return histogram;
  }

  /**
   * What fromListedValues refuses, found without building the sketch: settings the constructor
   * refuses, a sum that is not finite, a count that is not a positive finite number, a value that
   * is not finite, or values spanning more than maxBuckets buckets of a sign (the sender's sketch
   * would have collapsed them: it sends its bytes then). A reader that builds the sketch only when
   * it is needed (a pane state's feature: FeatureSummary) checks here first, so that a malformed
   * message is refused before anything changes.
   */
  static checkListedValues(values: ArrayLike<number>, counts: ArrayLike<number>, sum: number, settings: ListedSketchSettings, scratch?: BucketScratch): void {
    const { relativeAccuracy, maxBuckets, minIndexable, center } = settings;
    checkSketchSettings(relativeAccuracy, maxBuckets, minIndexable, center);
    if (values.length !== counts.length) throw new RangeError(`LogHistogram.fromListedValues: ${values.length} values, ${counts.length} counts`);
    if (!Number.isFinite(sum)) throw new RangeError(`LogHistogram.fromListedValues: bad sum ${sum}`);
    // the nearest and farthest distance from the center per sign: the mapping's index grows with
    // the distance, so the span of the buckets a sign's values take is that of these two
    let nearestPositive = Infinity;
    let farthestPositive = -Infinity;
    let nearestNegative = Infinity;
    let farthestNegative = -Infinity;
    for (let k = 0; k < values.length; k++) {
      const x = values[k];
      const weight = counts[k];
      if (!(weight > 0 && weight < Infinity)) throw new RangeError(`LogHistogram.fromListedValues: count ${k} must be a positive finite number, got ${String(weight)}`);
      if (!Number.isFinite(x)) throw new RangeError(`LogHistogram.fromListedValues: value ${k} must be finite, got ${String(x)}`);
      const side = routeSide(x, center, minIndexable);
      if (side === ROUTE_POSITIVE) {
        const distance = x - center;
        if (distance < nearestPositive) nearestPositive = distance;
        if (distance > farthestPositive) farthestPositive = distance;
      } else if (side === ROUTE_NEGATIVE) {
        const distance = center - x;
        if (distance < nearestNegative) nearestNegative = distance;
        if (distance > farthestNegative) farthestNegative = distance;
      }
    }
    if (farthestPositive <= nearestPositive && farthestNegative <= nearestNegative) return;
    const mapping = scratch?.mappingFor(relativeAccuracy) ?? new CubicLogMapping(relativeAccuracy);
    checkSpan(mapping, nearestPositive, farthestPositive, maxBuckets);
    checkSpan(mapping, nearestNegative, farthestNegative, maxBuckets);
  }

  /**
   * LogHistogram.delta(fromListedValues(earlier), fromListedValues(later)), read off the values
   * whose counts changed (`change`: those of later minus those of earlier, each value once, as
   * ExactValueCounts.change gives them) without building either sketch: a partition's pane state
   * that replaces its earlier one at sparse traffic changes a few values of the dozen each lists.
   * Both must have passed checkListedValues; null when they are not on the same buckets (accuracy,
   * zero threshold, center), as the sketches would not be. The delta's arrays come from `scratch`.
   */
  static listedDelta(earlier: ListedValues, later: ListedValues, change: { readonly values: readonly number[]; readonly counts: readonly number[] }, scratch?: BucketScratch): SketchDelta | null {
    if (!sameBucketSettings(earlier, later)) return null;
    const center = later.center;
    const minIndexable = later.minIndexable;
    const n = change.values.length;
    // room for every change on each side (a few): positives at [at, at + n), negatives after them
    const intsAt = scratch === undefined ? -1 : scratch.reserveInts(2 * n);
    const indexes = intsAt < 0 ? new Int32Array(2 * n) : (scratch as BucketScratch).intsArray;
    const indexesAt = Math.max(intsAt, 0);
    const weightsAt = scratch === undefined ? -1 : scratch.reserveWeights(2 * n);
    const diffs = weightsAt < 0 ? new Float64Array(2 * n) : (scratch as BucketScratch).weightsArray;
    const diffsAt = Math.max(weightsAt, 0);
    let positives = 0;
    let negatives = 0;
    let mapping: CubicLogMapping | undefined;
    for (let k = 0; k < n; k++) {
      const x = change.values[k];
      const side = routeSide(x, center, minIndexable);
      if (side !== ROUTE_POSITIVE && side !== ROUTE_NEGATIVE) continue;
      mapping ??= scratch?.mappingFor(later.relativeAccuracy) ?? new CubicLogMapping(later.relativeAccuracy);
      if (side === ROUTE_POSITIVE) positives = insertSortedAt(indexes, diffs, indexesAt, diffsAt, positives, mapping.index(x - center), change.counts[k]);
      else negatives = insertSortedAt(indexes, diffs, indexesAt + n, diffsAt + n, negatives, mapping.index(center - x), change.counts[k]);
    }
    const before = outsideWeights(earlier);
    const after = outsideWeights(later);
    return {
      buckets: later,
      positive: deltaOfSorted(indexes, indexesAt, diffs, diffsAt, positives),
      negative: deltaOfSorted(indexes, indexesAt + n, diffs, diffsAt + n, negatives),
      earlierZero: before.zero,
      earlierOrigin: before.origin,
      earlierTotal: before.total,
      earlierSum: before.total === 0 ? 0 : earlier.sum,
      laterZero: after.zero,
      laterOrigin: after.origin,
      laterTotal: after.total,
      laterSum: after.total === 0 ? 0 : later.sum,
    };
  }

  /**
   * Reads toBytes() output; RangeError naming the problem for bad, truncated or foreign bytes.
   * `scratch`: where the bucket arrays come from, for a sketch used only until the scratch is reset
   * (see BucketScratch); default: arrays of its own.
   */
  static fromBytes(bytes: Uint8Array, scratch?: BucketScratch): LogHistogram {
    if (!(bytes instanceof Uint8Array)) throw new RangeError('LogHistogram.fromBytes: expected a Uint8Array');
    if (bytes.length < HEADER_BYTES) {
      throw new RangeError(`LogHistogram.fromBytes: truncated: ${bytes.length} bytes, the header alone is ${HEADER_BYTES}`);
    }
    // offsets are the sketch's own, read at `base` in a view of the whole buffer: a message's sketches
    // share one (a DataView per sketch was 2 % of the gateway's pane apply)
    const base = bytes.byteOffset;
    const view = scratch === undefined ? new DataView(bytes.buffer) : scratch.viewOf(bytes.buffer);
    if (view.getUint32(base, true) !== FORMAT_MAGIC) throw new RangeError('LogHistogram.fromBytes: not a LogHistogram (bad magic bytes)');
    const version = view.getUint8(base + 4);
    if (version !== FORMAT_VERSION && version !== FORMAT_VERSION_CENTERED) {
      throw new RangeError(
        `LogHistogram.fromBytes: unsupported format version ${version} (this build reads ${FORMAT_VERSION} and ${FORMAT_VERSION_CENTERED})`,
      );
    }
    const headerBytes = version === FORMAT_VERSION_CENTERED ? HEADER_BYTES_CENTERED : HEADER_BYTES;
    if (bytes.length < headerBytes) {
      throw new RangeError(`LogHistogram.fromBytes: truncated: ${bytes.length} bytes, the version-${version} header alone is ${headerBytes}`);
    }
    const center = headerBytes === HEADER_BYTES_CENTERED ? view.getFloat64(base + 56, true) : 0;
    const originCount = headerBytes === HEADER_BYTES_CENTERED ? view.getFloat64(base + 64, true) : 0;
    const mappingKind = view.getUint8(base + 5);
    if (mappingKind !== MAPPING_CUBIC) throw new RangeError(`LogHistogram.fromBytes: unknown mapping kind ${mappingKind}`);
    let histogram: LogHistogram;
    try {
      const relativeAccuracy = view.getFloat64(base + 8, true);
      histogram = new LogHistogram(relativeAccuracy, {
        minIndexable: view.getFloat64(base + 16, true),
        maxBuckets: view.getUint32(base + 24, true),
        center,
        mapping: scratch?.mappingFor(relativeAccuracy),
      });
    } catch (error) {
      throw new RangeError(`LogHistogram.fromBytes: bad header: ${(error as Error).message}`);
    }
    const count = view.getFloat64(base + 32, true);
    const sum = view.getFloat64(base + 40, true);
    const zeroCount = view.getFloat64(base + 48, true);
    if (!(count >= 0 && count < Infinity)) throw new RangeError(`LogHistogram.fromBytes: bad count ${count}`);
    if (!Number.isFinite(sum)) throw new RangeError(`LogHistogram.fromBytes: bad sum ${sum}`);
    if (!(zeroCount >= 0 && zeroCount < Infinity)) throw new RangeError(`LogHistogram.fromBytes: bad zero count ${zeroCount}`);
    if (!(originCount >= 0 && originCount < Infinity)) throw new RangeError(`LogHistogram.fromBytes: bad origin count ${originCount}`);
    if (originCount > 0 && center === 0) throw new RangeError('LogHistogram.fromBytes: an origin count with center 0 (zeros belong in the zero count)');
    let offset = readStore(view, base, bytes, headerBytes, histogram.negative, 'negative', scratch);
    offset = readStore(view, base, bytes, offset, histogram.positive, 'positive', scratch);
    if (offset !== bytes.length) {
      throw new RangeError(`LogHistogram.fromBytes: ${bytes.length - offset} unexpected bytes after the data (at offset ${offset})`);
    }
    histogram.totalWeight = count;
    histogram.valueSum = sum;
    histogram.zeroWeight = zeroCount;
    histogram.originWeight = originCount;
    return histogram;
  }

  /**
   * For a sketch of integers only: each bucket that exactly one integer falls in (as add() places
   * values), as that integer and the bucket's weight (all of it is that value); buckets that several
   * integers fall in are left out. Values at the center (within minIndexable) and exact zeros count
   * as the center's integer (when it is one) and 0.
   */
  singleIntegerBuckets(): Array<[number, number]> {
    this.densify();
    const out: Array<[number, number]> = [];
    const { center, mapping, minIndexable } = this;
    const visit = (store: BucketStore, side: 1 | -1): void => {
      for (let step = 0, steps = store.walkSteps; step < steps; step++) {
        const index = store.indexAtStep(step);
        const weight = store.weightAtStep(step, index);
        if (weight === 0) continue;
        // the integers whose distance from the center is within the bucket's bounds, edges included
        const near = center + side * mapping.lowerBound(index);
        const far = center + side * mapping.upperBound(index);
        const from = Math.ceil(Math.min(near, far));
        const to = Math.floor(Math.max(near, far));
        if (to - from > 2) continue; // several integers
        let found = NaN;
        let falling = 0;
        for (let k = from; k <= to; k++) {
          const distance = side * (k - center);
          if (k !== 0 && distance > minIndexable && mapping.index(distance) === index) {
            found = k;
            falling++;
          }
        }
        if (falling === 1) out.push([found, weight]);
      }
    };
    visit(this.negative, -1);
    if (this.zeroWeight !== 0 && center === Math.floor(center) && minIndexable < 0.5) out.push([center, this.zeroWeight]);
    visit(this.positive, 1);
    if (this.originWeight !== 0) out.push([0, this.originWeight]);
    return out;
  }

  /**
   * Where an edge at `offset` (x - center) cuts the ascending buckets (forEachBucketRange's order):
   * the first bucket not wholly below it, and the share of that bucket below it (fractionBelow of
   * its signed range, as the walk splits it). Written into `cut`.
   */
  private cutAt(offset: number, cut: BucketCut): void {
    const negative = this.negative;
    // a negative bucket i spans [-upper(i), -lower(i)]: wholly below the edge once lower(i) >= -offset
    if (!negative.isEmpty && offset < 0 && -offset >= MIN_NORMAL) {
      const index = Math.min(this.bucketHolding(-offset), negative.high);
      if (index >= negative.low) {
        cut.at(NEGATIVE_SIDE, index, fractionBelow(-this.mapping.upperBound(index), -this.mapping.lowerBound(index), offset));
        return;
      }
    }
    // the exact zeros at 0: below an edge above 0, else above it
    if (offset <= 0) {
      cut.at(ZERO_SIDE, 0, 0);
      return;
    }
    // a positive bucket i spans [lower(i), upper(i)]: wholly below the edge once upper(i) <= offset
    const positive = this.positive;
    if (positive.isEmpty) {
      cut.end();
      return;
    }
    let index = offset < MIN_NORMAL ? positive.low : this.bucketHolding(offset);
    let share = 0;
    if (this.mapping.upperBound(index) <= offset) index++;
    else share = fractionBelow(this.mapping.lowerBound(index), this.mapping.upperBound(index), offset);
    if (index > positive.high) cut.end();
    else if (index < positive.low) cut.at(POSITIVE_SIDE, positive.low, 0);
    else cut.at(POSITIVE_SIDE, index, share);
  }

  /** The index of the bucket whose bounds hold a positive normal `x` (lower < x <= upper), by those bounds themselves. */
  private bucketHolding(x: number): number {
    const mapping = this.mapping;
    let index = mapping.index(x);
    // the mapping's index and its bounds are approximations of one curve: where they disagree by
    // a bucket at a bound, the bounds decide (as the walk the cuts stand for compared them)
    while (mapping.lowerBound(index) >= x) index--;
    while (mapping.upperBound(index) < x) index++;
    return index;
  }

  /** The weight of the buckets from the cut `from` to the cut `to` (not before it): the part of `from`'s bucket above it, those between whole, the part of `to`'s below it. */
  private weightBetween(from: BucketCut, to: BucketCut): number {
    if (from.side === to.side && from.index === to.index) return from.side === END_SIDE ? 0 : this.cutBucketWeight(to) * (to.share - from.share);
    let weight = from.side === END_SIDE ? 0 : this.cutBucketWeight(from) * (1 - from.share);
    if (to.side !== END_SIDE) weight += this.cutBucketWeight(to) * to.share;
    // whole buckets after `from`'s and before `to`'s, side by side
    const negative = this.negative;
    if (from.side === NEGATIVE_SIDE) weight += sumSlots(negative, to.side === NEGATIVE_SIDE ? to.index + 1 : negative.low, from.index - 1);
    if (from.side === NEGATIVE_SIDE && to.side > ZERO_SIDE) weight += this.zeroWeight;
    const positive = this.positive;
    if (to.side >= POSITIVE_SIDE && from.side <= POSITIVE_SIDE) {
      weight += sumSlots(positive, from.side === POSITIVE_SIDE ? from.index + 1 : positive.low, to.side === POSITIVE_SIDE ? to.index - 1 : positive.high);
    }
    return weight;
  }

  private cutBucketWeight(cut: BucketCut): number {
    if (cut.side === ZERO_SIDE) return this.zeroWeight;
    return (cut.side === NEGATIVE_SIDE ? this.negative : this.positive).weightAt(cut.index);
  }

  /** Visits every non-empty bucket ascending as its signed range [lower, upper] of x - center and weight (exact zeros not included). */
  private forEachBucketRange(visit: (lower: number, upper: number, weight: number) => void): void {
    this.densify();
    const mapping = this.mapping;
    const negative = this.negative;
    for (let step = negative.walkSteps - 1; step >= 0; step--) {
      const index = negative.indexAtStep(step);
      const weight = negative.weightAtStep(step, index);
      if (weight !== 0) visit(-mapping.upperBound(index), -mapping.lowerBound(index), weight);
    }
    if (this.zeroWeight !== 0) visit(0, 0, this.zeroWeight);
    const positive = this.positive;
    for (let step = 0, steps = positive.walkSteps; step < steps; step++) {
      const index = positive.indexAtStep(step);
      const weight = positive.weightAtStep(step, index);
      if (weight !== 0) visit(mapping.lowerBound(index), mapping.upperBound(index), weight);
    }
  }

  /**
   * Both stores readable by the walks over a range: a store still a table of few buckets becomes an
   * array here (a sketch built by add is read, when at all, after its adds; a worker's pane is only
   * serialized, which reads the table as it is); a sorted copy (a reference's) is walked as it is.
   */
  private densify(): void {
    this.negative.leaveTable();
    this.positive.leaveTable();
  }

  private checkCompatible(other: LogHistogram, operation: string): void {
    if (!(other instanceof LogHistogram)) throw new TypeError(`LogHistogram.${operation}: expected a LogHistogram`);
    if (!this.sameBuckets(other)) {
      throw new RangeError(
        `LogHistogram.${operation}: sketches differ (relativeAccuracy ${this.relativeAccuracy} vs ${other.relativeAccuracy}, ` +
          `minIndexable ${this.minIndexable} vs ${other.minIndexable}, center ${this.center} vs ${other.center}); ` +
          'only sketches built with the same settings combine (LogHistogram.rebinnedLike moves one onto the other\'s buckets)',
      );
    }
  }
}

/** Sum of a store's weights at indexes from..to (clamped to the store's range). */
function sumSlots(store: BucketStore, from: number, to: number): number {
  store.leaveTable();
  const sorted = store.sparseIndexes;
  if (sorted !== null) {
    let sum = 0;
    for (let k = lowerBound(sorted, store.sparseLength, from); k < store.sparseLength && sorted[k] <= to; k++) sum += store.sparseWeights[k];
    return sum;
  }
  const start = Math.max(from, store.low) - store.offset;
  const end = Math.min(to, store.high) - store.offset;
  let total = 0;
  for (let i = start; i <= end; i++) total += store.counts[i];
  return total;
}

function subtractClamped(before: number, removed: number): number {
  const after = before - removed;
  return after <= before * RESIDUE_FRACTION ? 0 : after;
}

/** A tailBucketBounds answer, and the sketch's change count it holds for. */
interface TailBounds {
  readonly q: number;
  readonly changes: number;
  readonly bounds: readonly [number, number];
}

/** tailBucketBounds answers a sketch keeps (data quality asks two q's: 0 and 0.001). */
const TAIL_BOUNDS_KEPT = 4;

/**
 * How a later state of a sketch differs from an earlier one (LogHistogram.delta): per store the
 * buckets that changed (BucketDelta), and the changes of the scalar weights. A window applies it
 * (applyDelta) instead of subtracting the earlier state and merging the later one.
 */
export interface SketchDelta {
  /** The buckets the delta is on (sameBuckets decides who takes it): its later sketch, or listed state. */
  readonly buckets: BucketSettings;
  readonly positive: BucketDelta;
  readonly negative: BucketDelta;
  /**
   * The weights outside the buckets and the sum of both states, as fields (two objects per feature
   * and replaced state were a share of what the gateway allocated applying it).
   */
  readonly earlierZero: number;
  readonly earlierOrigin: number;
  readonly earlierTotal: number;
  readonly earlierSum: number;
  readonly laterZero: number;
  readonly laterOrigin: number;
  readonly laterTotal: number;
  readonly laterSum: number;
}

/** Smallest positive normal double: the mapping indexes normal values only. */
const MIN_NORMAL = 2.2250738585072014e-308;
/** The parts of a sketch's buckets in ascending order (countsBetweenEdges): negative buckets, the exact zeros, positive buckets, past the last. */
const NEGATIVE_SIDE = 0;
const ZERO_SIDE = 1;
const POSITIVE_SIDE = 2;
const END_SIDE = 3;

/** Where an edge cuts a sketch's ascending buckets (LogHistogram.cutAt): a bucket, and the share of it below the edge. */
class BucketCut {
  side = NEGATIVE_SIDE;
  index = 0;
  share = 0;

  at(side: number, index: number, share: number): void {
    this.side = side;
    this.index = index;
    this.share = share;
  }

  /** Before every bucket: the first negative one (the highest index), or the zeros. */
  first(negative: BucketStore): void {
    if (negative.isEmpty) this.at(ZERO_SIDE, 0, 0);
    else this.at(NEGATIVE_SIDE, negative.high, 0);
  }

  /** Past every bucket. */
  end(): void {
    this.at(END_SIDE, 0, 0);
  }

  copy(other: BucketCut): void {
    this.at(other.side, other.index, other.share);
  }
}

/** Share of a bucket [lower, upper] (same sign, lower < x < upper) below x, on a log scale. */
function fractionBelow(lower: number, upper: number, x: number): number {
  if (lower === upper) return x > lower ? 1 : 0;
  if (x <= lower) return 0;
  if (x >= upper) return 1;
  if (upper === Infinity) return 0.5;
  // For negative buckets lower/x and lower/upper are magnitude ratios > 1; both logs flip sign
  // together, so the same formula serves both signs.
  return Math.log(lower / x) / Math.log(lower / upper);
}

/** A table store's weighted buckets, ascending: what its serialization reads. */
interface TableEntries {
  indexes: Int32Array;
  /** Counts (a table's weights are whole numbers an Int32 holds), or a sorted store's weights. */
  weights: Int32Array | Counts;
}

/** A sorted store's weighted buckets as toBytes writes them (views of its arrays; null for none). */
function sortedEntries(store: BucketStore): TableEntries | null {
  const n = store.sparseLength;
  if (n === 0) return null;
  return { indexes: (store.sparseIndexes as Int32Array).subarray(0, n), weights: store.sparseWeights.subarray(0, n) };
}


/**
 * A table store's `count` weighted buckets, ascending, in buffer[at, at + 2 count): indexes, then
 * their counts; null for none. One array holds them for both stores of a sketch, or for every
 * sketch written together (toBytesMany): each typed array above 64 bytes costs ~1.5 µs to make
 * and collect, and a worker writes every feature sketch of a pane at each flush.
 */
function entriesInto(store: BucketStore, buffer: Int32Array, at: number, count: number): TableEntries | null {
  if (count === 0) return null;
  const indexes = buffer.subarray(at, at + count);
  const weights = buffer.subarray(at + count, at + 2 * count);
  store.sortedTableInto(indexes, weights);
  return { indexes, weights };
}

/**
 * The sizes of a store's weights in each encoding, taken one weighted bucket at a time in
 * ascending position (its slot in the range): one pass decides the encoding and measures it
 * (three passes over the whole range before, and a fourth to count the weighted buckets).
 */
class StoreMeasure {
  /** Every bucket of the range is one byte as a varint (an empty one is a 0): the weighted ones add theirs. */
  varintBytes: number;
  /** (gap, weight) pairs, without the count of pairs in front. */
  pairBytes = 0;
  weighted = 0;
  /** Whether every weight is an integer a varint holds exactly (else they go as float64). */
  integral = true;
  private previous = -1;

  constructor(readonly span: number) {
    this.varintBytes = span;
  }

  weight(position: number, weight: number): void {
    if (!(Number.isInteger(weight) && weight >= 0 && weight <= MAX_SAFE_COUNT)) {
      this.integral = false;
      return;
    }
    const length = weight < 128 ? 1 : varintLength(weight);
    const gap = position - this.previous - 1;
    this.varintBytes += length - 1;
    this.pairBytes += (gap < 128 ? 1 : varintLength(gap)) + length;
    this.previous = position;
    this.weighted++;
  }

  /** The encoding toBytes writes the store in, and its weights' byte length. */
  layout(): StoreLayout {
    if (!this.integral) return { encoding: STORE_FLOAT64, weightBytes: 8 * this.span, weighted: this.weighted };
    const sparseBytes = varintLength(this.weighted) + this.pairBytes;
    return sparseBytes < this.varintBytes
      ? { encoding: STORE_SPARSE, weightBytes: sparseBytes, weighted: this.weighted }
      : { encoding: STORE_VARINT, weightBytes: this.varintBytes, weighted: this.weighted };
  }
}

/** What toBytes writes for a sketch (LogHistogram.bytesLayout). */
interface SketchLayout {
  size: number;
  centered: boolean;
  headerBytes: number;
  negative: StoreLayout;
  positive: StoreLayout;
  negativeEntries: TableEntries | null;
  positiveEntries: TableEntries | null;
}

interface StoreLayout {
  encoding: number;
  weightBytes: number;
  /** Buckets with a weight (for the sparse encoding's count). */
  weighted: number;
}

/** How toBytes writes a store (see StoreMeasure). */
function storeLayoutOf(store: BucketStore, entries: TableEntries | null): StoreLayout {
  if (store.isEmpty) return { encoding: STORE_EMPTY, weightBytes: 0, weighted: 0 };
  const measure = new StoreMeasure(store.high - store.low + 1);
  if (entries !== null) {
    const { indexes, weights } = entries;
    for (let k = 0; k < indexes.length && measure.integral; k++) measure.weight(indexes[k] - store.low, weights[k]);
    return measure.layout();
  }
  const counts = store.counts;
  const first = store.low - store.offset;
  const nonZero = store.nonZero;
  if (nonZero !== null) {
    for (let k = 0; k < nonZero.length && measure.integral; k++) measure.weight(nonZero[k] - first, counts[nonZero[k]]);
    return measure.layout();
  }
  for (let i = first, end = store.high - store.offset; i <= end && measure.integral; i++) {
    const weight = counts[i];
    if (weight !== 0) measure.weight(i - first, weight);
  }
  return measure.layout();
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

function writeStore(view: DataView, bytes: Uint8Array, offset: number, store: BucketStore, layout: StoreLayout, entries: TableEntries | null): number {
  const encoding = layout.encoding;
  view.setUint8(offset, encoding);
  if (encoding === STORE_EMPTY) {
    view.setInt32(offset + 1, 0, true);
    view.setInt32(offset + 5, NO_INDEX, true);
    view.setUint32(offset + 9, 0, true);
    return offset + STORE_HEADER_BYTES;
  }
  const n = store.high - store.low + 1;
  view.setInt32(offset + 1, store.low, true);
  view.setInt32(offset + 5, store.collapsedInto, true);
  view.setUint32(offset + 9, n, true);
  offset += STORE_HEADER_BYTES;
  if (entries !== null) return writeTableWeights(view, bytes, offset, store.low, n, encoding, entries);
  const first = store.low - store.offset;
  if (encoding === STORE_FLOAT64) {
    for (let i = 0; i < n; i++) view.setFloat64(offset + 8 * i, store.counts[first + i], true);
    return offset + 8 * n;
  }
  if (encoding === STORE_SPARSE) {
    const nonZero = store.nonZero;
    if (nonZero !== null) {
      offset = writeVarint(bytes, offset, nonZero.length);
      let previous = -1;
      for (let k = 0; k < nonZero.length; k++) {
        const i = nonZero[k] - first;
        offset = writeVarint(bytes, offset, i - previous - 1);
        offset = writeVarint(bytes, offset, store.counts[nonZero[k]]);
        previous = i;
      }
      return offset;
    }
    offset = writeVarint(bytes, offset, layout.weighted);
    let previous = -1;
    for (let i = 0; i < n; i++) {
      const weight = store.counts[first + i];
      if (weight === 0) continue;
      offset = writeVarint(bytes, offset, i - previous - 1);
      offset = writeVarint(bytes, offset, weight);
      previous = i;
    }
    return offset;
  }
  for (let i = 0; i < n; i++) offset = writeVarint(bytes, offset, store.counts[first + i]);
  return offset;
}

/** writeStore's weights for a table store: the same bytes a dense store of those weights writes. */
function writeTableWeights(view: DataView, bytes: Uint8Array, offset: number, low: number, n: number, encoding: number, entries: TableEntries): number {
  const { indexes, weights } = entries;
  if (encoding === STORE_SPARSE) {
    offset = writeVarint(bytes, offset, indexes.length);
    let previous = low - 1;
    for (let k = 0; k < indexes.length; k++) {
      offset = writeVarint(bytes, offset, indexes[k] - previous - 1);
      offset = writeVarint(bytes, offset, weights[k]);
      previous = indexes[k];
    }
    return offset;
  }
  let k = 0;
  for (let i = 0; i < n; i++) {
    const weight = indexes[k] === low + i ? weights[k++] : 0;
    if (encoding === STORE_FLOAT64) view.setFloat64(offset + 8 * i, weight, true);
    else offset = writeVarint(bytes, offset, weight);
  }
  return encoding === STORE_FLOAT64 ? offset + 8 * n : offset;
}

/** Writes a non-negative integer as an unsigned LEB128 varint; returns the offset after it. */
function writeVarint(bytes: Uint8Array, offset: number, value: number): number {
  if (value < 128) {
    // most weights and gaps: one byte
    bytes[offset] = value;
    return offset + 1;
  }
  while (value >= 128) {
    bytes[offset++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  bytes[offset++] = value;
  return offset;
}

/** Where a store read from bytes starts, for its errors. */
function storeAt(name: string, start: number): string {
  return `LogHistogram.fromBytes: ${name} store at offset ${start}`;
}

/** `view`: of the buffer `bytes` lie in, at `base`. */
function readStore(view: DataView, base: number, bytes: Uint8Array, offset: number, store: BucketStore, name: string, scratch?: BucketScratch): number {
  // `where` is built only for an error: a pane of 30 features reads 60 stores, twice per message in the gateway
  const start = offset;
  if (offset + STORE_HEADER_BYTES > bytes.length) {
    throw new RangeError(`${storeAt(name, start)}: truncated: needs a ${STORE_HEADER_BYTES}-byte store header, ${bytes.length - offset} bytes left`);
  }
  const encoding = view.getUint8(base + offset);
  const low = view.getInt32(base + offset + 1, true);
  const collapsedInto = view.getInt32(base + offset + 5, true);
  const n = view.getUint32(base + offset + 9, true);
  offset += STORE_HEADER_BYTES;
  if (encoding === STORE_EMPTY) {
    if (n !== 0) throw new RangeError(`${storeAt(name, start)}: empty store claims ${n} buckets`);
    return offset;
  }
  if (encoding !== STORE_VARINT && encoding !== STORE_FLOAT64 && encoding !== STORE_SPARSE) {
    throw new RangeError(`${storeAt(name, start)}: unknown encoding ${encoding}${encoding > STORE_SPARSE ? ' (written by a newer driftwatch?)' : ''}`);
  }
  if (n === 0 || n > store.maxBuckets) throw new RangeError(`${storeAt(name, start)}: bucket count ${n} is not in [1, maxBuckets = ${store.maxBuckets}]`);
  if (low < NO_INDEX + 1 || low + n - 1 > -NO_INDEX) throw new RangeError(`${storeAt(name, start)}: bucket index range starting at ${low} is out of bounds`);
  if (collapsedInto !== NO_INDEX && (collapsedInto < low || collapsedInto >= low + n)) {
    throw new RangeError(`${storeAt(name, start)}: collapsed index ${collapsedInto} is outside the store's range`);
  }
  if (encoding === STORE_SPARSE) return readSparseWeights(bytes, offset, low, n, collapsedInto, store, name, start, scratch);
  const weights = newWeights(n, scratch);
  if (encoding === STORE_FLOAT64) {
    if (offset + 8 * n > bytes.length) throw new RangeError(`${storeAt(name, start)}: truncated: needs ${8 * n} bytes of weights, ${bytes.length - offset} left`);
    for (let i = 0; i < n; i++) weights[i] = view.getFloat64(base + offset + 8 * i, true);
    offset += 8 * n;
  } else {
    for (let i = 0; i < n; i++) {
      let value = 0;
      let scale = 1;
      for (;;) {
        if (offset >= bytes.length) throw new RangeError(`${storeAt(name, start)}: truncated inside weight ${i} of ${n}`);
        const byte = bytes[offset++];
        value += (byte & 127) * scale;
        if (byte < 128) break;
        scale *= 128;
        if (scale > 2 ** 56) throw new RangeError(`${storeAt(name, start)}: weight ${i} is an over-long varint`);
      }
      weights[i] = value;
    }
  }
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    const weight = weights[i];
    if (!(weight >= 0 && weight < Infinity)) throw new RangeError(`${storeAt(name, start)}: weight ${i} is ${weight}, not a finite non-negative number`);
    if (weight !== 0) weighted++;
  }
  store.load(low, weights, collapsedInto, weighted <= n * SPARSE_SHARE ? weightedSlots(weights, weighted, scratch) : null);
  return offset;
}

/**
 * Reads a varint at `reader.offset` (moving it on); `what` (with ` k of n` after it when k >= 0)
 * names it in errors, built only for one: formatting it for every bucket of every store read was
 * a third of decoding a pane state.
 */
function readVarint(bytes: Uint8Array, reader: { offset: number }, name: string, start: number, what: string, k = -1, n = 0): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (reader.offset >= bytes.length) throw new RangeError(`${storeAt(name, start)}: truncated inside ${what}${k >= 0 ? ` ${k} of ${n}` : ''}`);
    const byte = bytes[reader.offset++];
    value += (byte & 127) * scale;
    if (byte < 128) return value;
    scale *= 128;
    if (scale > 2 ** 56) throw new RangeError(`${storeAt(name, start)}: ${what}${k >= 0 ? ` ${k} of ${n}` : ''} is an over-long varint`);
  }
}

/**
 * The STORE_SPARSE part of readStore: (gap, weight) pairs; returns the offset after them. Weights
 * that fill at most SPARSE_SHARE of their range (and none collapsed) are kept sorted as read
 * (BucketStore.loadSorted), else spread over an array of the range.
 */
function readSparseWeights(bytes: Uint8Array, offset: number, low: number, n: number, collapsedInto: number, store: BucketStore, name: string, start: number, scratch: BucketScratch | undefined): number {
  const reader = { offset };
  const weighted = readVarint(bytes, reader, name, start, 'the count of weighted buckets');
  if (weighted === 0 || weighted > n) throw new RangeError(`${storeAt(name, start)}: ${weighted} weighted buckets in a range of ${n}`);
  const sorted = collapsedInto === NO_INDEX && weighted <= n * SPARSE_SHARE;
  // sorted: bucket indexes and their weights; else positions in the range and an array over it
  const slots = newInts(weighted, scratch);
  const weights = sorted ? newWeights(weighted, scratch) : newWeights(n, scratch);
  let position = -1;
  for (let k = 0; k < weighted; k++) {
    position += readVarint(bytes, reader, name, start, 'the gap before weighted bucket', k, weighted) + 1;
    if (position >= n) throw new RangeError(`${storeAt(name, start)}: weighted bucket ${k} of ${weighted} lies at ${position}, past the range of ${n}`);
    const weight = readVarint(bytes, reader, name, start, 'weight', k, weighted);
    if (weight === 0) throw new RangeError(`${storeAt(name, start)}: weighted bucket ${k} of ${weighted} has weight 0`);
    if (sorted) {
      slots[k] = low + position;
      weights[k] = weight;
    } else {
      weights[position] = weight;
      slots[k] = position;
    }
  }
  if (sorted) store.loadSorted(slots, weights, weighted);
  else store.load(low, weights, collapsedInto, null);
  return reader.offset;
}

/** The positions in `weights` holding a weight (`weighted` of them), ascending. */
function weightedSlots(weights: Float64Array, weighted: number, scratch: BucketScratch | undefined): Int32Array {
  const slots = newInts(weighted, scratch);
  let k = 0;
  for (let i = 0; i < weights.length; i++) if (weights[i] !== 0) slots[k++] = i;
  return slots;
}

/** The constructor's checks of a sketch's settings (RangeError naming the one that is wrong). */
function checkSketchSettings(relativeAccuracy: number, maxBuckets: number, minIndexable: number, center: number): void {
  if (typeof relativeAccuracy !== 'number' || !(relativeAccuracy >= MIN_RELATIVE_ACCURACY && relativeAccuracy < 1)) {
    throw new RangeError(`LogHistogram: relativeAccuracy must be a number in [${MIN_RELATIVE_ACCURACY}, 1), got ${String(relativeAccuracy)}`);
  }
  if (!Number.isInteger(maxBuckets) || maxBuckets < 2 || maxBuckets > MAX_MAX_BUCKETS) {
    throw new RangeError(`LogHistogram: options.maxBuckets must be an integer in [2, ${MAX_MAX_BUCKETS}], got ${String(maxBuckets)}`);
  }
  if (typeof minIndexable !== 'number' || !(minIndexable >= 2.3e-308 && minIndexable < 1e300)) {
    throw new RangeError(`LogHistogram: options.minIndexable must be a number in [2.3e-308, 1e300), got ${String(minIndexable)}`);
  }
  if (typeof center !== 'number' || !Number.isFinite(center)) {
    throw new RangeError(`LogHistogram: options.center must be a finite number, got ${String(center)}`);
  }
}

/**
 * Which of a sketch's parts add() puts a finite value x in (ROUTE_*): the zero weight within
 * minIndexable of the center, the origin weight for an exact 0 away from it, else the positive or
 * negative store (at the mapping's index of |x - center|). The listed-values paths route values by
 * it; add() keeps its own copy of the rule, inlined on the hot path.
 */
function routeSide(x: number, center: number, minIndexable: number): number {
  const d = x - center;
  if (d <= minIndexable && d >= -minIndexable) return ROUTE_ZERO;
  if (x === 0) return ROUTE_ORIGIN;
  return d > 0 ? ROUTE_POSITIVE : ROUTE_NEGATIVE;
}

/** Where LogHistogram.routeOf puts a value. */
const ROUTE_ZERO = 0;
const ROUTE_ORIGIN = 1;
const ROUTE_POSITIVE = 2;
const ROUTE_NEGATIVE = 3;

/** What decides a sketch's buckets (LogHistogram.sameBuckets): its accuracy, zero threshold and center. */
export interface BucketSettings {
  readonly relativeAccuracy: number;
  readonly minIndexable: number;
  readonly center: number;
}

/** The settings of a sketch rebuilt from its listed values (LogHistogram.fromListedValues). */
export interface ListedSketchSettings extends BucketSettings {
  readonly maxBuckets: number;
}

/** A sketch given as its listed values, each counted its count, and its sum (see LogHistogram.fromListedValues). */
export interface ListedValues extends ListedSketchSettings {
  readonly values: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
}

/** Adds `weight` at `index` to the first `length` ascending (index, weight) pairs from `at`; returns their new length. */
function insertSorted(indexes: Int32Array, weights: Float64Array, at: number, length: number, index: number, weight: number): number {
  return insertSortedAt(indexes, weights, at, at, length, index, weight);
}

/** insertSorted with the indexes from `indexesAt` and the weights from `weightsAt`. */
function insertSortedAt(indexes: Int32Array, weights: Float64Array, indexesAt: number, weightsAt: number, length: number, index: number, weight: number): number {
  let k = length;
  while (k > 0 && indexes[indexesAt + k - 1] > index) k--;
  if (k > 0 && indexes[indexesAt + k - 1] === index) {
    weights[weightsAt + k - 1] += weight;
    return length;
  }
  for (let j = length; j > k; j--) {
    indexes[indexesAt + j] = indexes[indexesAt + j - 1];
    weights[weightsAt + j] = weights[weightsAt + j - 1];
  }
  indexes[indexesAt + k] = index;
  weights[weightsAt + k] = weight;
  return length + 1;
}

/**
 * The BucketDelta of `length` ascending (index, change) pairs in place: those whose changes
 * cancelled dropped (bucketDelta lists no bucket whose weight is unchanged), the gains' range noted.
 */
function deltaOfSorted(indexes: Int32Array, indexesAt: number, diffs: Float64Array, diffsAt: number, length: number): BucketDelta {
  let kept = 0;
  let lowestGain = EMPTY_LOW;
  let highestGain = EMPTY_HIGH;
  for (let k = 0; k < length; k++) {
    const diff = diffs[diffsAt + k];
    if (diff === 0) continue;
    const index = indexes[indexesAt + k];
    if (diff > 0) {
      if (index < lowestGain) lowestGain = index;
      highestGain = index;
    }
    indexes[indexesAt + kept] = index;
    diffs[diffsAt + kept++] = diff;
  }
  return { indexes, indexesAt, diffs, diffsAt, length: kept, lowestGain, highestGain };
}

/** RangeError where the buckets from distance `nearest` to `farthest` from the center (a sign's values) are more than maxBuckets. */
function checkSpan(mapping: CubicLogMapping, nearest: number, farthest: number, maxBuckets: number): void {
  if (farthest <= nearest) return;
  const span = mapping.index(farthest) - mapping.index(nearest) + 1;
  if (span > maxBuckets) throw new RangeError(`LogHistogram.fromListedValues: the values span ${span} buckets of a sign, more than maxBuckets ${maxBuckets}`);
}

/** A listed state's weights outside the buckets, and its count (as fromListedValues sums them). */
function outsideWeights(listed: ListedValues): { zero: number; origin: number; total: number } {
  let zero = 0;
  let origin = 0;
  let total = 0;
  const center = listed.center;
  for (let k = 0; k < listed.values.length; k++) {
    const weight = listed.counts[k];
    total += weight;
    const side = routeSide(listed.values[k], center, listed.minIndexable);
    if (side === ROUTE_ZERO) zero += weight;
    else if (side === ROUTE_ORIGIN) origin += weight;
  }
  return { zero, origin, total };
}

/** Whether two sketches' buckets are the same (LogHistogram.sameBuckets), on their settings alone (=== takes -0 for 0). */
function sameBucketSettings(a: BucketSettings, b: BucketSettings): boolean {
  return a.relativeAccuracy === b.relativeAccuracy && a.minIndexable === b.minIndexable && a.center === b.center;
}
