import { CubicLogMapping } from './cubic-log-mapping.ts';

/**
 * Bucket weights for a contiguous range of integer bucket indexes, in a Float64Array that
 * covers only the range in use and grows (grownCapacity) as it widens. At most `maxBuckets` indexes are kept:
 * when a new index would widen the range beyond that, the lowest indexes are collapsed into
 * the lowest kept one (so the high-magnitude end, the tail, stays exact).
 *
 * Weights are plain sums, so stores are additive: merge adds, subtract removes.
 * Internal to the sketch module; LogHistogram is the public face.
 */

/** Marks "no bucket": bucket indexes stay far inside +-2^30 (see LogHistogram's accuracy bound). */
export const NO_INDEX = -0x40000000;
const EMPTY_LOW = 0x3fffffff;
const EMPTY_HIGH = -0x40000000;
const INITIAL_CAPACITY = 64;
/**
 * The array of every store before it holds a weight: one shared empty array instead of one each
 * (a pane message decoded in the gateway makes ~200 stores, most of them filled by load()). Being
 * empty, nothing can be written into it.
 */
const NO_WEIGHTS = new Float64Array(0);
/**
 * An array that must grow is made twice the range it must hold while that range is small (few
 * reallocations as a new sketch fills), and 1.25 times from LARGE_SPAN on: a window's sketch of a
 * heavy-tailed feature spans a thousand buckets or more, and doubling left a third of its bytes
 * unused (bench gateway --memory-only: window aggregates 91 -> 85 KB per model x feature).
 */
const LARGE_SPAN = 512;
function grownCapacity(span: number): number {
  return span < LARGE_SPAN ? 2 * span : Math.ceil(1.25 * span);
}
/**
 * A weight left after subtraction that is at most this fraction of the weight before it is
 * float residue (e.g. 0.1 + 0.2 - 0.2), not data, and is cleared to 0.
 */
const RESIDUE_FRACTION = 1e-12;

function subtractClamped(before: number, removed: number): number {
  const after = before - removed;
  return after <= before * RESIDUE_FRACTION ? 0 : after;
}

/**
 * Zeroed bucket arrays for sketches read only for the length of one call (a pane state the
 * gateway decodes to add to its windows and forgets): views into one array that is reused from
 * call to call, instead of a new array per store. Decoding a 30-feature pane allocated 60 arrays
 * of a few KB each, and at 300 models the gateway spent more time allocating and collecting them
 * than reading their weights. Whoever resets it must know that no store read into it is still in
 * use: a store grows out of it into an array of its own, but one that stays is overwritten.
 */
/** Views into one typed array, handed out until reset; a new array once it is used up (the old stays alive while views into it do). */
class ViewPool<T extends Float64Array | Int32Array> {
  private array: T;
  private used = 0;

  constructor(
    private readonly make: (length: number) => T,
    private readonly minLength: number,
  ) {
    this.array = make(0);
  }

  take(n: number): T {
    if (this.used + n > this.array.length) {
      this.array = this.make(Math.max(2 * this.array.length, n, this.minLength));
      this.used = 0;
    }
    const view = this.array.subarray(this.used, this.used + n) as T;
    this.used += n;
    return view;
  }

  reset(): void {
    this.used = 0;
  }
}

/** Accuracies a scratch keeps a shared mapping for; bytes claiming more are read with mappings of their own. */
const MAX_SCRATCH_MAPPINGS = 8;

export class BucketScratch {
  private readonly weights = new ViewPool((length) => new Float64Array(length), 1 << 16);
  private readonly ints = new ViewPool((length) => new Int32Array(length), 1 << 14);
  /** One bucket mapping per accuracy for the sketches read into this scratch (a mapping per sketch was 2 % of the gateway's CPU). */
  private readonly mappings = new Map<number, CubicLogMapping>();

  /** The shared mapping of `relativeAccuracy` (undefined for a value no sketch could have: the sketch's own checks say why). */
  mappingFor(relativeAccuracy: number): CubicLogMapping | undefined {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) return undefined;
    let mapping = this.mappings.get(relativeAccuracy);
    if (mapping === undefined) {
      if (this.mappings.size >= MAX_SCRATCH_MAPPINGS) return undefined;
      mapping = new CubicLogMapping(relativeAccuracy);
      this.mappings.set(relativeAccuracy, mapping);
    }
    return mapping;
  }

  /** A zeroed view of `n` weights. */
  take(n: number): Float64Array {
    return this.weights.take(n).fill(0);
  }

  /** A view of `n` integers (bucket indexes, slots), not zeroed: the caller writes each before reading it. */
  takeInts(n: number): Int32Array {
    return this.ints.take(n);
  }

  private rebinArrays: RebinArrays | null = null;

  /**
   * Working arrays for one rebinning (LogHistogram.rebinnedLike), of at least `room` entries: the
   * same arrays at every call, not views taken from the pool (the six of them, per feature and
   * pane message, were a fifth of what the gateway allocated applying it). Dead once it returns.
   */
  rebinArraysFor(room: number): RebinArrays {
    const current = this.rebinArrays;
    if (current !== null && current.values.length >= room) return current;
    const length = Math.max(room, 2 * (current?.values.length ?? 256));
    return (this.rebinArrays = newRebinArrays(length));
  }

  /** Everything taken so far may be handed out again. */
  reset(): void {
    this.weights.reset();
    this.ints.reset();
  }
}

/** The working arrays of one rebinning (BucketScratch.rebinArraysFor). */
export interface RebinArrays {
  positiveIndexes: Int32Array;
  positiveWeights: Float64Array;
  negativeIndexes: Int32Array;
  negativeWeights: Float64Array;
  values: Float64Array;
  weights: Float64Array;
}

/** Working arrays for a rebinning of `room` buckets, of their own. */
export function newRebinArrays(room: number): RebinArrays {
  return {
    positiveIndexes: new Int32Array(room),
    positiveWeights: new Float64Array(room),
    negativeIndexes: new Int32Array(room),
    negativeWeights: new Float64Array(room),
    values: new Float64Array(room),
    weights: new Float64Array(room),
  };
}

/** Zeroed weights: from `scratch` when there is one (see BucketScratch), else an array of their own. */
export function newWeights(n: number, scratch: BucketScratch | undefined): Float64Array {
  return scratch === undefined ? new Float64Array(n) : scratch.take(n);
}

/** Integers (written before they are read): from `scratch` when there is one, else an array of their own. */
export function newInts(n: number, scratch: BucketScratch | undefined): Int32Array {
  return scratch === undefined ? new Int32Array(n) : scratch.takeInts(n);
}

/**
 * A store whose weights fill at most this share of its range keeps their positions (see nonZero),
 * whether it was read from bytes or filled by addAll.
 */
export const SPARSE_SHARE = 0.5;

/**
 * The distinct slots (index - offset) of indexes[from..to), which run in one direction (ascending
 * or descending, repeats allowed), in ascending order.
 */
function monotoneSlots(indexes: Int32Array, from: number, to: number, offset: number, scratch: BucketScratch | undefined): Int32Array {
  const slots = newInts(to - from, scratch);
  let distinct = 0;
  for (let k = from; k < to; k++) {
    const slot = indexes[k] - offset;
    if (distinct === 0 || slots[distinct - 1] !== slot) slots[distinct++] = slot;
  }
  const used = slots.subarray(0, distinct);
  if (distinct > 1 && used[0] > used[distinct - 1]) used.reverse();
  return used;
}

export class DenseBucketStore {
  readonly maxBuckets: number;
  /** Starts as NO_WEIGHTS (nothing can be written into it) until a range needs an array of its own. */
  counts: Float64Array = NO_WEIGHTS;
  /** Bucket index stored at counts[0]. */
  offset = 0;
  /** Lowest and highest index in use; low > high when empty. */
  low = EMPTY_LOW;
  high = EMPTY_HIGH;
  /** Index that holds the weight of collapsed lower indexes, or NO_INDEX if none collapsed. */
  collapsedInto = NO_INDEX;
  /**
   * Slots of `counts` holding a weight, ascending, for a store read from bytes whose range is mostly
   * empty (a pane of one partition: a few hundred values over a thousand buckets); null otherwise,
   * and from the first change on. Merging or subtracting such a store into a window's then touches
   * its weights alone, not every bucket of its range.
   */
  nonZero: Int32Array | null = null;

  constructor(maxBuckets: number) {
    this.maxBuckets = maxBuckets;
  }

  get isEmpty(): boolean {
    return this.low > this.high;
  }

  /** Buckets with a weight. */
  nonEmpty(): number {
    if (this.nonZero !== null) return this.nonZero.length;
    let buckets = 0;
    const counts = this.counts;
    for (let i = this.low - this.offset, end = this.high - this.offset; i <= end; i++) if (counts[i] !== 0) buckets++;
    return buckets;
  }

  /** Hot path: one range check and one typed-array add unless the range must change. */
  add(index: number, weight: number): void {
    this.nonZero = null;
    if (index < this.low || index > this.high) index = this.extendTo(index);
    this.counts[index - this.offset] += weight;
  }

  weightAt(index: number): number {
    return index < this.low || index > this.high ? 0 : this.counts[index - this.offset];
  }

  total(): number {
    let total = 0;
    for (let i = this.low - this.offset, end = this.high - this.offset; i <= end; i++) total += this.counts[i];
    return total;
  }

  /**
   * Adds every bucket of `other`, highest index first: the first add fixes the final top of the
   * range, so a collapse (if any) happens once and lower buckets land in the collapsed bucket.
   * `other`'s own collapsed bucket is added at its index like any other (a later subtract of
   * `other` then takes it back from the same index).
   */
  merge(other: DenseBucketStore): void {
    if (other.isEmpty) return;
    this.nonZero = null;
    const newLow = Math.min(this.low, other.low);
    const newHigh = Math.max(this.high, other.high);
    if (newHigh - newLow + 1 <= this.maxBuckets) {
      // Common case, no collapse: one capacity check, then a tight loop over typed arrays.
      this.ensureCapacity(newLow, newHigh);
      this.low = newLow;
      this.high = newHigh;
      const counts = this.counts;
      const source = other.counts;
      const shift = other.offset - this.offset;
      const nonZero = other.nonZero;
      if (nonZero !== null) {
        for (let k = 0; k < nonZero.length; k++) counts[nonZero[k] + shift] += source[nonZero[k]];
        return;
      }
      for (let i = other.low - other.offset, end = other.high - other.offset; i <= end; i++) counts[i + shift] += source[i];
      return;
    }
    for (let index = other.high; index >= other.low; index--) {
      const weight = other.counts[index - other.offset];
      if (weight !== 0) this.add(index, weight);
    }
  }

  /**
   * Adds `weights[k]` at `indexes[k]` for k in [from, to): what add() per bucket gives, but the
   * array is sized once for the whole range instead of growing (and, at maxBuckets, shifting) as
   * indexes arrive one by one. Where the range would exceed maxBuckets, the buckets go in highest
   * first through add(), so the lowest collapse once, as merge does. `scratch`: where an empty
   * store's new array comes from (a store used until the scratch is reset; see BucketScratch).
   */
  addAll(indexes: Int32Array, weights: Float64Array, from: number, to: number, scratch?: BucketScratch): void {
    if (from >= to) return;
    this.nonZero = null;
    let newLow = this.low;
    let newHigh = this.high;
    for (let k = from; k < to; k++) {
      const index = indexes[k];
      if (index < newLow) newLow = index;
      if (index > newHigh) newHigh = index;
    }
    if (newHigh - newLow + 1 <= this.maxBuckets) {
      const wasEmpty = this.isEmpty;
      if (wasEmpty && this.counts.length < newHigh - newLow + 1) {
        this.counts = newWeights(newHigh - newLow + 1, scratch);
        this.offset = newLow;
      } else {
        this.ensureCapacity(newLow, newHigh);
      }
      this.low = newLow;
      this.high = newHigh;
      const counts = this.counts;
      const offset = this.offset;
      for (let k = from; k < to; k++) counts[indexes[k] - offset] += weights[k];
      if (wasEmpty && to - from <= (newHigh - newLow + 1) * SPARSE_SHARE) this.nonZero = monotoneSlots(indexes, from, to, offset, scratch);
      return;
    }
    const order = Array.from({ length: to - from }, (_, k) => from + k).sort((a, b) => indexes[b] - indexes[a]);
    for (const k of order) this.add(indexes[k], weights[k]);
  }

  /**
   * Removes every bucket of `other`. Indexes below our collapsed bucket are taken from it (that
   * is where merge put them). Weight that is not there (subtracting what was never merged) is a
   * caller error: the bucket is cleared to 0 rather than going negative.
   */
  subtract(other: DenseBucketStore): void {
    if (other.isEmpty || this.isEmpty) return;
    this.nonZero = null;
    const counts = this.counts;
    const source = other.counts;
    // Indexes below our collapsed bucket are taken from it; the rest from their own bucket.
    const collapsedInto = this.collapsedInto;
    let first = other.low;
    if (collapsedInto !== NO_INDEX && first < collapsedInto) {
      let collapsedWeight = 0;
      const end = Math.min(other.high, collapsedInto - 1);
      for (let index = first; index <= end; index++) collapsedWeight += source[index - other.offset];
      const slot = collapsedInto - this.offset;
      counts[slot] = subtractClamped(counts[slot], collapsedWeight);
      first = end + 1;
    }
    const from = Math.max(first, this.low);
    const to = Math.min(other.high, this.high);
    const shift = other.offset - this.offset;
    const nonZero = other.nonZero;
    if (nonZero !== null) {
      const fromSlot = from - other.offset;
      const toSlot = to - other.offset;
      for (let k = 0; k < nonZero.length; k++) {
        const slot = nonZero[k];
        if (slot >= fromSlot && slot <= toSlot) counts[slot + shift] = subtractClamped(counts[slot + shift], source[slot]);
      }
    } else {
      for (let i = from - other.offset, end = to - other.offset; i <= end; i++) {
        const weight = source[i];
        if (weight !== 0) counts[i + shift] = subtractClamped(counts[i + shift], weight);
      }
    }
    this.trim();
  }

  clear(): void {
    this.nonZero = null;
    if (!this.isEmpty) this.counts.fill(0, this.low - this.offset, this.high - this.offset + 1);
    this.low = EMPTY_LOW;
    this.high = EMPTY_HIGH;
    this.collapsedInto = NO_INDEX;
  }

  copyFrom(other: DenseBucketStore): void {
    this.clear();
    if (other.isEmpty) return;
    const span = other.high - other.low + 1;
    if (this.counts.length < span) this.counts = new Float64Array(Math.max(span, Math.min(INITIAL_CAPACITY, this.maxBuckets)));
    this.offset = other.low;
    this.counts.set(other.counts.subarray(other.low - other.offset, other.high - other.offset + 1), 0);
    this.low = other.low;
    this.high = other.high;
    this.collapsedInto = other.collapsedInto;
  }

  /**
   * Replaces the contents with `weights` for indexes low .. low + weights.length - 1
   * (deserialization); trims zero ends. `nonZero`: the positions in `weights` that hold a weight,
   * ascending, when the caller has them (see the field).
   */
  load(low: number, weights: Float64Array, collapsedInto: number, nonZero: Int32Array | null = null): void {
    this.clear();
    if (weights.length === 0) return;
    this.counts = weights;
    this.offset = low;
    this.low = low;
    this.high = low + weights.length - 1;
    this.collapsedInto = collapsedInto;
    this.trim();
    // slots are relative to offset, which trimming leaves where it is
    if (!this.isEmpty) this.nonZero = nonZero;
  }

  /** Shrinks [low, high] to the non-zero buckets after a subtraction. */
  private trim(): void {
    let low = this.low;
    let high = this.high;
    while (low <= high && this.counts[low - this.offset] === 0) low++;
    while (high >= low && this.counts[high - this.offset] === 0) high--;
    if (low > high) {
      this.low = EMPTY_LOW;
      this.high = EMPTY_HIGH;
      this.collapsedInto = NO_INDEX;
      return;
    }
    this.low = low;
    this.high = high;
    if (this.collapsedInto < low) this.collapsedInto = NO_INDEX;
  }

  /**
   * Slow path of add: makes room for `index`, collapsing the lowest buckets when the range
   * would exceed maxBuckets, and returns the index the weight must go to (a collapsed index
   * is moved up to the lowest kept one).
   */
  private extendTo(index: number): number {
    if (this.isEmpty) {
      this.ensureCapacity(index, index);
      this.low = index;
      this.high = index;
      return index;
    }
    if (index > this.high) {
      const floor = index - this.maxBuckets + 1;
      if (floor > this.low) {
        // Collapse [low, floor - 1] into floor, which becomes the lowest kept index.
        let collapsedWeight = 0;
        const end = Math.min(this.high, floor - 1);
        for (let i = this.low; i <= end; i++) {
          collapsedWeight += this.counts[i - this.offset];
          this.counts[i - this.offset] = 0;
        }
        if (this.high < floor) {
          // Nothing survives above the collapse point: the store restarts at [floor, index].
          this.low = EMPTY_LOW;
          this.high = EMPTY_HIGH;
        } else {
          this.low = floor;
        }
        this.ensureCapacity(floor, index);
        this.counts[floor - this.offset] += collapsedWeight;
        this.low = floor;
        this.collapsedInto = floor;
      } else {
        this.ensureCapacity(this.low, index);
      }
      this.high = index;
      return index;
    }
    // index < low
    const floor = this.high - this.maxBuckets + 1;
    if (index < floor) {
      index = floor;
      this.collapsedInto = floor;
    }
    this.ensureCapacity(index, this.high);
    this.low = index;
    return index;
  }

  /**
   * Makes counts cover [newLow, newHigh] (which contains the used range). The array grows to
   * grownCapacity(span) (at most maxBuckets) only when the span does not fit in it, else the range
   * moves within it: growing whenever grownCapacity(span) exceeded the array made a new array each
   * time a window's sliding range reached a span it had not had before (a quarter of the 352,000
   * arrays bench gateway grew in 25 s at 300 models; the rest are windows widening as they fill).
   * The free room goes mostly to
   * the side that grows: centring it instead left half the room on the side that did not grow, so
   * indexes arriving in order (a sketch rebinned bucket by bucket, a drifting feature) moved the
   * whole array every few adds (~290 ns per bucket to rebin a 736-bucket sketch, most of it here).
   */
  private ensureCapacity(newLow: number, newHigh: number): void {
    const length = this.counts.length;
    if (newLow >= this.offset && newHigh < this.offset + length) return;
    const span = newHigh - newLow + 1;
    const capacity = span <= length ? length : Math.max(span, Math.min(Math.max(grownCapacity(span), INITIAL_CAPACITY), this.maxBuckets));
    const free = capacity - span;
    const growsDown = !this.isEmpty && newLow < this.offset && newHigh < this.offset + length;
    const growsUp = !this.isEmpty && newHigh >= this.offset + length && newLow >= this.offset;
    const below = growsDown ? free - (free >> 2) : growsUp ? free >> 2 : free >> 1;
    const newOffset = newLow - below;
    const from = this.low - this.offset;
    const to = this.high - this.offset + 1;
    const target = this.low - newOffset;
    if (capacity === length) {
      // moved in place (no copy to allocate); everything outside the used range is 0
      if (this.isEmpty) this.counts.fill(0);
      else {
        this.counts.copyWithin(target, from, to);
        this.counts.fill(0, 0, target);
        this.counts.fill(0, target + (to - from));
      }
    } else {
      const grown = new Float64Array(capacity);
      if (!this.isEmpty) grown.set(this.counts.subarray(from, to), target);
      this.counts = grown;
    }
    this.offset = newOffset;
  }
}
