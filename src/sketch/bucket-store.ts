import { CubicLogMapping } from './cubic-log-mapping.ts';
import { countsOver, regionBytesOf } from './counts-arena.ts';
import type { CountsArena } from './counts-arena.ts';
import type { Counts } from './types.ts';

/**
 * Bucket weights for a contiguous range of integer bucket indexes. While few buckets hold a
 * weight, a store built by add() keeps them in a small hash table (index -> count, see
 * `BucketStore.table`), and a copy (a reference captured from a window) keeps them sorted while
 * that is the smaller (see `BucketStore.sparseIndexes`); otherwise (more than 150 buckets, or an
 * array over the range no larger than the table, or at the first operation other than add, a count
 * or a serialization; for a sorted copy, at its first change) in an
 * array of counts (see `BucketStore.counts`) that covers only the range in use and grows
 * (grownCapacity) as it widens. At most
 * `maxBuckets` indexes are kept:
 * when a new index would widen the range beyond that, the lowest indexes are collapsed into
 * the lowest kept one (so the high-magnitude end, the tail, stays exact).
 *
 * Weights are plain sums, so stores are additive: merge adds, subtract removes.
 * Internal to the sketch module; LogHistogram is the public face.
 */

/** Marks "no bucket": bucket indexes stay far inside +-2^30 (see LogHistogram's accuracy bound). */
export const NO_INDEX = -0x40000000;
/** An empty store's range [EMPTY_LOW, EMPTY_HIGH] (low > high), and a delta's with no gain (BucketDelta). */
export const EMPTY_LOW = 0x3fffffff;
export const EMPTY_HIGH = -0x40000000;
const INITIAL_CAPACITY = 64;
/**
 * The array of every store before it holds a weight: one shared empty array instead of one each
 * (a pane message decoded in the gateway makes ~200 stores, most of them filled by load()). Being
 * empty, nothing can be written into it.
 */
const NO_WEIGHTS = new Float64Array(0);
/** A store's weights over its range (see BucketStore.counts; defined in types.ts, which the arena shares). */
export type { Counts };
/**
 * The counts of a store before its range needs an array (see BucketStore.counts): the narrowest
 * counts it starts with, so that the array it grows into starts as those.
 */
const NO_COUNTS = new Uint16Array(0);
/** NO_COUNTS of a store that starts with one-byte counts. */
const NO_BYTE_COUNTS = new Uint8Array(0);
/** Four-byte counts as a `like` argument (widenWith widens into NO_COUNTS, this or NO_WEIGHTS's kind). */
const NO_WIDE_COUNTS = new Uint32Array(0);

/** A zeroed array of `length` weights of the kind `like` holds. */
function countsLike(like: Counts, length: number): Counts {
  return countsOver(like, new ArrayBuffer(length * like.BYTES_PER_ELEMENT), 0, length);
}

/**
 * A sorted store's two arrays (see BucketStore.sparseIndexes), `length` indexes and as many weights
 * of the kind `like` holds, in one buffer: a copy kept sorted (a reference captured from a window)
 * is long-lived, and every buffer is an object of its own that each full collection's array-buffer
 * sweep walks (~30 ms of each of its pauses at 300 models x 30 features, 172k buffers, of which 18k
 * were references' index arrays beside their weight arrays).
 */
function sortedArraysLike(like: Counts, length: number): { indexes: Int32Array; weights: Counts } {
  // the weights start 8-byte aligned (float64 weights need it)
  const weightsAt = Math.ceil((length * SORTED_INDEX_BYTES) / 8) * 8;
  const buffer = new ArrayBuffer(weightsAt + length * like.BYTES_PER_ELEMENT);
  return { indexes: new Int32Array(buffer, 0, length), weights: countsOver(like, buffer, weightsAt, length) };
}
/** The table of every store before its first add (see BucketStore.table). */
const NO_TABLE = new Int32Array(0);
/** A table slot without a bucket: no bucket index can be NO_INDEX. */
const EMPTY_KEY = NO_INDEX;
const FIRST_TABLE_SLOTS = 16;
/** Every slot of a table free (EMPTY_KEY at each index position, count 0). */
function emptyTable(table: Int32Array): void {
  for (let at = 0; at < table.length; at += 2) {
    table[at] = EMPTY_KEY;
    table[at + 1] = 0;
  }
}

/** Fibonacci hashing: consecutive bucket indexes (the usual case) spread over the table. */
const HASH_MULTIPLIER = 0x9e3779b1 | 0;
/**
 * The slot a bucket index hashes to in a table of `slots`: the top bits of its Fibonacci hash, as a
 * fraction of the table (any size, not only powers of two: a table grows by half, not double).
 */
function homeSlot(index: number, slots: number): number {
  // the hash's top 16 bits times the table's size (at most MAX_TABLE_SLOTS < 2^16), in integers
  return ((Math.imul(index, HASH_MULTIPLIER) >>> 16) * slots) >>> 16;
}
/**
 * The size a full table grows to: by half while small (few rehashes as a store fills), by a quarter
 * from 81 slots on, where a worker's quiet panes end (200 heavy-tailed values: ~120 and ~80 buckets
 * per sign). Grown by half throughout, such a pane's tables took 305 slots per feature, by a quarter
 * 288; doubling, 384.
 */
function grownTableSlots(slots: number): number {
  return slots === 0 ? FIRST_TABLE_SLOTS : Math.ceil((slots < 81 ? 1.5 : 1.25) * slots);
}
/**
 * A table that would grow beyond this many slots becomes an array instead (grown: 16, 24, 36, 54,
 * 81, 102, 128, 160, 200 slots, so at most 150 buckets in 1.6 KB). Finding a bucket in a table costs
 * a hash and a probe where an array costs an offset: ~5-12 ns more per add (bench: 200 sketches,
 * 200 to 1,667 values each). A store with more buckets than that is a busy one, where the adds'
 * time matters and an array is the cheaper; tables are for the many quiet panes, where memory does.
 */
const MAX_TABLE_SLOTS = 200; // below 256: sortedTableInto keys a bucket by its slot in 8 bits
/** Bytes a table holds per slot (an Int32 index and an Int32 count). */
const TABLE_BYTES_PER_SLOT = 8;
/** Largest count a table slot holds: a weight that would take one beyond it makes the store dense. */
const MAX_TABLE_COUNT = 0x7fffffff;
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
 * Views into one typed array, handed out until reset; a new array, twice as long, once it is used
 * up (the old stays alive while views into it do), up to `maxLength`: beyond it a call gets arrays
 * of its own. Without the cap the array grew to what the largest call ever took and stayed: 16.8 MB
 * in a steady-state gateway (a fold decodes several coarse states in one call). The weights' cap,
 * 4 MB, holds what one pane message of 30 heavy-tailed features takes (its state and the one it
 * replaces, decoded, and the moved sketches): at 1 MB, 23 arrays of their own per message.
 */
class ViewPool<T extends Float64Array | Int32Array> {
  private array: T;
  private used = 0;

  constructor(
    private readonly make: (length: number) => T,
    /**
     * A view of `length` elements of `buffer` from element `at`: the typed array's own constructor,
     * not subarray (which looks up the species constructor: a third of take's time, and take was
     * ~7 % of the gateway's pane apply in a profile of bench pane-apply --partitions 16).
     */
    private readonly view: (buffer: ArrayBufferLike, at: number, length: number) => T,
    private readonly minLength: number,
    private readonly maxLength: number,
  ) {
    this.array = make(0);
  }

  take(n: number): T {
    const at = this.reserve(n);
    return at < 0 ? this.make(n) : this.view(this.array.buffer, at, n);
  }

  /**
   * Room for `n` elements in the array handed out from, without a view: where they start in
   * `current` (read after this call: a used-up array is replaced); -1 beyond `maxLength` (the
   * caller makes an array of its own).
   */
  reserve(n: number): number {
    if (this.used + n > this.array.length) {
      const length = Math.max(2 * this.array.length, n, this.minLength);
      if (length > this.maxLength) return -1;
      this.array = this.make(length);
      this.used = 0;
    }
    const at = this.used;
    this.used += n;
    return at;
  }

  /** The array `reserve` reserved in. */
  get current(): T {
    return this.array;
  }

  reset(): void {
    this.used = 0;
  }

  /** Bytes of the array handed out from. */
  get capacityBytes(): number {
    return this.array.byteLength;
  }
}

/** Accuracies a scratch keeps a shared mapping for; bytes claiming more are read with mappings of their own. */
const MAX_SCRATCH_MAPPINGS = 8;

/**
 * Zeroed bucket arrays for sketches read only for the length of one call (a pane state the
 * gateway decodes to add to its windows and forgets): views into one array that is reused from
 * call to call, instead of a new array per store. Decoding a 30-feature pane allocated 60 arrays
 * of a few KB each, and at 300 models the gateway spent more time allocating and collecting them
 * than reading their weights. Whoever resets it must know that no store read into it is still in
 * use: a store grows out of it into an array of its own, but one that stays is overwritten.
 */
export class BucketScratch {
  private readonly weights = new ViewPool(
    (length) => new Float64Array(length),
    (buffer, at, length) => new Float64Array(buffer, at * Float64Array.BYTES_PER_ELEMENT, length),
    1 << 16,
    1 << 19,
  );
  private readonly ints = new ViewPool(
    (length) => new Int32Array(length),
    (buffer, at, length) => new Int32Array(buffer, at * Int32Array.BYTES_PER_ELEMENT, length),
    1 << 14,
    1 << 16,
  );
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

  private view: DataView | null = null;

  /**
   * A DataView of the whole of `buffer`, the same one while the sketches read are from one buffer
   * (a decoded message's byte arrays all lie in it). Kept until a sketch from another buffer is read.
   */
  viewOf(buffer: ArrayBufferLike): DataView {
    const view = this.view;
    if (view !== null && view.buffer === buffer) return view;
    return (this.view = new DataView(buffer));
  }

  /** A zeroed view of `n` weights. */
  take(n: number): Float64Array {
    return this.weights.take(n).fill(0);
  }

  /** A view of `n` integers (bucket indexes, slots), not zeroed: the caller writes each before reading it. */
  takeInts(n: number): Int32Array {
    return this.ints.take(n);
  }

  /** Room for `n` bucket indexes, as ViewPool.reserve: their start in `intsArray`, -1 for none. */
  reserveInts(n: number): number {
    return this.ints.reserve(n);
  }

  get intsArray(): Int32Array {
    return this.ints.current;
  }

  /** Room for `n` weights (not zeroed), as ViewPool.reserve: their start in `weightsArray`, -1 for none. */
  reserveWeights(n: number): number {
    return this.weights.reserve(n);
  }

  get weightsArray(): Float64Array {
    return this.weights.current;
  }

  private rebinArrays: RebinArrays | null = null;

  /**
   * Working arrays for one rebinning (LogHistogram.rebinnedLike) or one delta (bucketDelta), of at
   * least `room` entries: the same arrays at every call, not views taken from the pool (the six of
   * them, per feature and pane message, were a fifth of what the gateway allocated applying it).
   * Dead once the call returns.
   */
  rebinArraysFor(room: number): RebinArrays {
    const current = this.rebinArrays;
    if (current !== null && current.values.length >= room) return current;
    const length = Math.max(room, 2 * (current?.values.length ?? 256));
    return (this.rebinArrays = newRebinArrays(length));
  }

  /**
   * Bytes the scratch holds for good: its pools and working arrays. A fixed cost of the process (one
   * scratch per window store), not of its models: at most 4 MB + 256 KB of pools and the rebinning arrays.
   */
  get capacityBytes(): number {
    const rebin = this.rebinArrays;
    const rebinBytes = rebin === null ? 0 : rebin.positiveIndexes.byteLength + rebin.positiveWeights.byteLength + rebin.negativeIndexes.byteLength + rebin.negativeWeights.byteLength + rebin.values.byteLength + rebin.weights.byteLength;
    return this.weights.capacityBytes + this.ints.capacityBytes + rebinBytes;
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
 * copyFrom makes a sorted copy of a store whose weights fill at most this share of its range, and
 * at most the share where its arrays (a 4-byte index and a weight each) are smaller than the
 * range's array: float64 weights, 12 bytes per weight against 8 per bucket, at this half; counts of
 * 2 bytes, 6 against 2, at a third. A reference captured from a young window (600 heavy-tailed
 * values over ~1,500 buckets per sign) took 3.7 instead of 7.9 KB per model x feature x window of
 * the gateway with float64 weights (bench gateway's live run).
 */
const SORTED_COPY_SHARE = 1 / 2;
/** Bytes of a sorted entry's index (see SORTED_COPY_SHARE). */
const SORTED_INDEX_BYTES = 4;
/** The first position in sorted[0, length) whose value is >= x (length when none). */
export function lowerBound(sorted: Int32Array, length: number, x: number): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < x) low = middle + 1;
    else high = middle;
  }
  return low;
}

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

/**
 * How a later state of a store differs from an earlier one (a pane's state its worker republished
 * with a second more of values, which replaces the earlier in every window holding it): the
 * buckets whose weight changed, ascending, with the change. Applied to a window (applyDelta) it
 * touches those buckets alone, where subtracting the earlier state and merging the later walked
 * both states' buckets once per window and trimmed and widened the window's range in between.
 */
export interface BucketDelta {
  /** The changed indexes, at [indexesAt, indexesAt + length): a scratch's array, not a view of it (see bucketDelta). */
  readonly indexes: Int32Array;
  readonly indexesAt: number;
  /** Their changes, at [diffsAt, diffsAt + length). */
  readonly diffs: Float64Array;
  readonly diffsAt: number;
  readonly length: number;
  /** Lowest and highest index whose weight grew (lowestGain > highestGain: none did). */
  readonly lowestGain: number;
  readonly highestGain: number;
}

/** `later` minus `earlier`, bucket by bucket (see BucketDelta); its arrays from `scratch` when given. */
export function bucketDelta(earlier: BucketStore, later: BucketStore, scratch?: BucketScratch): BucketDelta {
  const beforeRoom = earlier.weightedBound;
  const afterRoom = later.weightedBound;
  // both states' buckets, read once here: the scratch's working arrays (the same at every call),
  // not views taken from its pool (four per store and pane message, the largest part of what the
  // gateway allocated applying one: bench gateway at 300 models, V8's sampling heap profiler)
  const working = scratch?.rebinArraysFor(Math.max(beforeRoom, afterRoom));
  const beforeIndexes = working?.positiveIndexes ?? new Int32Array(beforeRoom);
  const beforeWeights = working?.positiveWeights ?? new Float64Array(beforeRoom);
  const afterIndexes = working?.negativeIndexes ?? new Int32Array(afterRoom);
  const afterWeights = working?.negativeWeights ?? new Float64Array(afterRoom);
  const before = earlier.weightedInto(beforeIndexes, beforeWeights);
  const after = later.weightedInto(afterIndexes, afterWeights);
  // room in the scratch's arrays themselves, not views of them: a view per array, four per feature
  // and pane message, was a fifth of what the gateway allocated replacing a state (bench pane-apply,
  // V8's sampling heap profiler with collected objects)
  const room = before + after;
  const intsAt = scratch === undefined ? -1 : scratch.reserveInts(room);
  const indexes = intsAt < 0 ? new Int32Array(room) : (scratch as BucketScratch).intsArray;
  const indexesAt = Math.max(intsAt, 0);
  const weightsAt = scratch === undefined ? -1 : scratch.reserveWeights(room);
  const diffs = weightsAt < 0 ? new Float64Array(room) : (scratch as BucketScratch).weightsArray;
  const diffsAt = Math.max(weightsAt, 0);
  let length = 0;
  let lowestGain = EMPTY_LOW;
  let highestGain = EMPTY_HIGH;
  let b = 0;
  let a = 0;
  while (b < before || a < after) {
    let index: number;
    let diff: number;
    if (a === after || (b < before && beforeIndexes[b] < afterIndexes[a])) {
      index = beforeIndexes[b];
      diff = -beforeWeights[b++];
    } else if (b === before || afterIndexes[a] < beforeIndexes[b]) {
      index = afterIndexes[a];
      diff = afterWeights[a++];
    } else {
      index = afterIndexes[a];
      diff = afterWeights[a++] - beforeWeights[b++];
      if (diff === 0) continue;
    }
    if (diff > 0) {
      if (index < lowestGain) lowestGain = index;
      highestGain = index;
    }
    indexes[indexesAt + length] = index;
    diffs[diffsAt + length++] = diff;
  }
  return { indexes, indexesAt, diffs, diffsAt, length, lowestGain, highestGain };
}

/** See BucketStore.form. */
export type StoreForm = 'empty' | 'table' | 'sorted' | 'array';

export class BucketStore {
  readonly maxBuckets: number;
  /**
   * The weights over the range in use. Counts while every weight is a whole number, which is what
   * events give: a Uint16Array (2 bytes a bucket) while each is below 2^16, a Uint32Array below
   * 2^32; a store made with byteCounts starts as a Uint8Array (1 byte a bucket) while each is below
   * 2^8. A window's array spans ~1,200-1,500 buckets per sign on heavy-tailed features, mostly
   * zeros, and as float64 weights those arrays were two thirds of a gateway's heap (bench gateway,
   * 100 models: 205 of 315 MB). A weight the counts cannot hold (a bucket of a window past 255 or
   * 65,535; a fraction; past 2^32 - 1, a 1d window of a constant feature at 50k events/s) widens the
   * store for good, to wider counts or float64 weights (see put). Arrays read from bytes or
   * taken from a scratch are Float64Arrays. Starts as NO_COUNTS (nothing can be written into it)
   * until a range needs an array of its own.
   */
  counts: Counts = NO_COUNTS;
  /** Bucket index stored at counts[0]. */
  offset = 0;
  /** Lowest and highest index in use; low > high when empty. */
  low = EMPTY_LOW;
  high = EMPTY_HIGH;
  /** Index that holds the weight of collapsed lower indexes, or NO_INDEX if none collapsed. */
  collapsedInto = NO_INDEX;
  /**
   * Slots of `counts` holding a weight, ascending, for a store whose range is mostly empty, filled
   * by addAll or read from dense bytes (sparse bytes are read sorted: loadSorted); null otherwise,
   * and from the first change on. Merging or subtracting such a store into a window's then touches
   * its weights alone, not every bucket of its range.
   */
  nonZero: Int32Array | null = null;
  /**
   * While few buckets hold a weight (the pane of one worker: 200 values of a heavy-tailed feature
   * spread over ~1,000 buckets per sign, 16 KB dense), the store is a hash table of their indexes
   * and integer weights (counts), interleaved: slot s holds its index at 2s (EMPTY_KEY when free)
   * and its count at 2s + 1 (open addressing, linear probing, at most 3/4 full), and `counts`
   * stays empty: 8 bytes per slot. null once the store is dense, which it becomes (densify) when a
   * dense array over its range would be no larger than the grown table, when its range would
   * exceed maxBuckets (so collapsing works as it always did), at a weight that is not a whole
   * number, or at any operation but add, the counts, weightAt, clear and serialization.
   */
  private table: Int32Array | null = NO_TABLE;
  /** Buckets the table holds. */
  private tableSize = 0;
  /**
   * The sorted form of a copy (copyFrom) or of a store read from sparse bytes (loadSorted: a
   * partition's pane the gateway decodes) whose weights fill little of its range: their indexes
   * ascending in sparseIndexes[0, sparseLength), their weights at the same positions of
   * sparseWeights, and `counts` stays empty; null otherwise. Read as it is by the counts, weightAt,
   * weightedInto, copyFrom, merging or subtracting it into another store, serialization and the
   * walks of LogHistogram; any change makes it an array first (densify). Windows, which change
   * every second, do not take it: kept sorted while young, their updates walked and moved their
   * entries, 2.7x the time of an array's (a model's first 40 s of bench gateway's traffic: 1.06-1.39
   * against 0.76-0.88 ms per pane message), and REST p99 at 300 models rose by 3-27 ms in six
   * alternated runs, for memory a long-running gateway holds anyway (see README, Memory).
   */
  sparseIndexes: Int32Array | null = null;
  sparseWeights: Counts = NO_WEIGHTS;
  sparseLength = 0;

  /** Where the store's arrays come from and go back to (see CountsArena); null: each a buffer of its own. */
  private readonly arena: CountsArena | null;

  /**
   * `byteCounts`: the store's array starts as one-byte counts (see counts), for stores whose buckets
   * seldom reach 256: the sums of panes a gateway keeps per window (LogHistogramOptions.byteCounts).
   * `arena`: its arrays cut from the arena's slabs (the same sums: long-lived, see CountsArena).
   */
  constructor(maxBuckets: number, byteCounts = false, arena: CountsArena | null = null) {
    this.maxBuckets = maxBuckets;
    this.arena = arena;
    if (byteCounts) this.counts = NO_BYTE_COUNTS;
  }

  /** A zeroed array for at least `length` weights of `like`'s kind: from the arena where the store has one. */
  private newCounts(like: Counts, length: number): Counts {
    return this.arena === null ? countsLike(like, length) : this.arena.take(like, length);
  }

  /**
   * Its array copied into a region of `arena`, which the store does not keep (a sketch that is not
   * to change: see LogHistogram.packArrays). Arrays V8 keeps in its heap, and those larger than a region,
   * stay as they are.
   */
  moveCountsInto(arena: CountsArena): void {
    if (this.countsRegionBytes === 0) return;
    const moved = arena.take(this.counts, this.counts.length);
    moved.set(this.counts);
    this.counts = moved;
  }

  /** Bytes of the region moveCountsInto would copy its array into; 0 for an array it leaves as it is. */
  get countsRegionBytes(): number {
    return regionBytesOf(this.counts.byteLength);
  }

  /** During a compaction of the store's arena (CountsArena.beginCompaction): its array moved into the new slab. */
  moveIntoArena(): void {
    if (this.arena !== null) this.counts = this.arena.moveInto(this.counts);
  }

  /** Makes `next` the store's array; the one it replaces, which nothing reads after, is given back to the arena. */
  private replaceCounts(next: Counts): void {
    if (this.arena !== null && this.counts !== next) this.arena.give(this.counts);
    this.counts = next;
  }

  get isEmpty(): boolean {
    return this.low > this.high;
  }

  /** Buckets with a weight. */
  nonEmpty(): number {
    if (this.table !== null) return this.tableSize;
    if (this.sparseIndexes !== null) return this.sparseLength;
    if (this.nonZero !== null) return this.nonZero.length;
    let buckets = 0;
    const counts = this.counts;
    for (let i = this.low - this.offset, end = this.high - this.offset; i <= end; i++) if (counts[i] !== 0) buckets++;
    return buckets;
  }

  /** Hot path: one probe of the table, or one range check and one typed-array add unless the range must change. */
  add(index: number, weight: number): void {
    this.nonZero = null;
    if (this.table === null) {
      // an array over a range holding the bucket (the common case of a busy store), inline
      if (index >= this.low && index <= this.high && this.sparseIndexes === null) {
        const counts = this.counts;
        const slot = index - this.offset;
        this.put(counts, slot, counts[slot] + weight);
      } else this.addToArray(index, weight);
    } else if (!this.addToTableInPlace(index, weight) && !this.addToTable(index, weight)) {
      this.addToArray(index, weight);
    }
  }

  /**
   * add() of a bucket a table holds, or of a new one while the table has room and the range stays
   * within maxBuckets; false for anything else (left to addToTable). Apart from add, so that add
   * stays small enough for V8 to inline into LogHistogram.add with the mapping.
   */
  private addToTableInPlace(index: number, weight: number): boolean {
    const table = this.table!;
    const slots = table.length >> 1;
    if (slots === 0 || (weight | 0) !== weight) return false;
    for (let slot = homeSlot(index, slots); ; slot = slot + 1 === slots ? 0 : slot + 1) {
      const key = table[2 * slot];
      if (key === index) {
        const count = table[2 * slot + 1] + weight;
        if (count > MAX_TABLE_COUNT) return false;
        table[2 * slot + 1] = count;
        return true;
      }
      if (key === EMPTY_KEY) {
        if (4 * (this.tableSize + 1) > 3 * slots) return false;
        if (index < this.low) {
          if (this.high - index >= this.maxBuckets) return false;
          this.low = index;
          if (this.high < index) this.high = index; // the first bucket
        } else if (index > this.high) {
          if (index - this.low >= this.maxBuckets) return false;
          this.high = index;
        }
        table[2 * slot] = index;
        table[2 * slot + 1] = weight;
        this.tableSize++;
        return true;
      }
    }
  }

  private addToArray(index: number, weight: number): void {
    if (this.sparseIndexes !== null) this.densify();
    if (index < this.low || index > this.high) index = this.extendTo(index);
    const slot = index - this.offset;
    this.put(this.counts, slot, this.counts[slot] + weight);
  }

  /**
   * counts[slot] = weight, where `counts` is this.counts: the array to go on writing into, which is
   * a new one when the counts could not hold the weight (a typed array of integers wraps or
   * truncates what it is given: read back, it differs) and the store widened (see counts).
   */
  private put(counts: Counts, slot: number, weight: number): Counts {
    counts[slot] = weight;
    return counts[slot] === weight ? counts : this.widenWith(slot, weight);
  }

  /** The store's weights in the next kind that holds `weight`, from now on, with it at `slot` (see put). */
  private widenWith(slot: number, weight: number): Counts {
    const narrow = this.counts;
    let wide: Counts = narrow; // a float64 array differs only for NaN, which it holds as it is
    if (!(narrow instanceof Float64Array)) {
      const count = !(narrow instanceof Uint32Array) && Number.isInteger(weight) && weight >= 0;
      if (count && weight <= 0xffff && narrow instanceof Uint8Array) wide = this.newCounts(NO_COUNTS, narrow.length);
      else wide = this.newCounts(count && weight <= 0xffffffff ? NO_WIDE_COUNTS : NO_WEIGHTS, narrow.length);
      wide.set(narrow);
      this.replaceCounts(wide);
    }
    wide[slot] = weight;
    return wide;
  }

  weightAt(index: number): number {
    if (index < this.low || index > this.high) return 0;
    if (this.table !== null) {
      const slot = this.slotOf(index);
      return slot < 0 ? 0 : this.table[2 * slot + 1];
    }
    const sorted = this.sparseIndexes;
    if (sorted !== null) {
      const at = lowerBound(sorted, this.sparseLength, index);
      return at < this.sparseLength && sorted[at] === index ? this.sparseWeights[at] : 0;
    }
    return this.counts[index - this.offset];
  }

  total(): number {
    let total = 0;
    const table = this.table;
    if (table !== null) {
      for (let at = 1; at < table.length; at += 2) total += table[at];
      return total;
    }
    if (this.sparseIndexes !== null) {
      for (let k = 0; k < this.sparseLength; k++) total += this.sparseWeights[k];
      return total;
    }
    for (let i = this.low - this.offset, end = this.high - this.offset; i <= end; i++) total += this.counts[i];
    return total;
  }

  /**
   * Adds every bucket of `other`, highest index first: the first add fixes the final top of the
   * range, so a collapse (if any) happens once and lower buckets land in the collapsed bucket.
   * `other`'s own collapsed bucket is added at its index like any other (a later subtract of
   * `other` then takes it back from the same index).
   */
  merge(other: BucketStore): void {
    if (other.isEmpty) return;
    this.densify();
    this.nonZero = null;
    const newLow = Math.min(this.low, other.low);
    const newHigh = Math.max(this.high, other.high);
    if (newHigh - newLow + 1 <= this.maxBuckets) {
      // Common case, no collapse: one capacity check, then a tight loop over typed arrays.
      this.ensureCapacity(newLow, newHigh);
      this.low = newLow;
      this.high = newHigh;
      let counts = this.counts;
      const source = other.counts;
      const table = other.table;
      if (table !== null) {
        const offset = this.offset;
        for (let at = 0; at < table.length; at += 2) {
          if (table[at] === EMPTY_KEY) continue;
          const slot = table[at] - offset;
          counts = this.put(counts, slot, counts[slot] + table[at + 1]);
        }
        return;
      }
      const sorted = other.sparseIndexes;
      if (sorted !== null) {
        const offset = this.offset;
        const weights = other.sparseWeights;
        for (let k = 0; k < other.sparseLength; k++) {
          const slot = sorted[k] - offset;
          counts = this.put(counts, slot, counts[slot] + weights[k]);
        }
        return;
      }
      const shift = other.offset - this.offset;
      const nonZero = other.nonZero;
      if (nonZero !== null) {
        for (let k = 0; k < nonZero.length; k++) {
          const slot = nonZero[k] + shift;
          counts = this.put(counts, slot, counts[slot] + source[nonZero[k]]);
        }
        return;
      }
      for (let i = other.low - other.offset, end = other.high - other.offset; i <= end; i++) {
        const weight = source[i];
        if (weight !== 0) counts = this.put(counts, i + shift, counts[i + shift] + weight);
      }
      return;
    }
    if (other.table !== null) {
      const indexes = new Int32Array(other.tableSize);
      const counts = new Int32Array(other.tableSize);
      other.sortedTableInto(indexes, counts);
      for (let k = indexes.length - 1; k >= 0; k--) this.add(indexes[k], counts[k]);
      return;
    }
    if (other.sparseIndexes !== null) {
      for (let k = other.sparseLength - 1; k >= 0; k--) this.add(other.sparseIndexes[k], other.sparseWeights[k]);
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
    this.densify();
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
        this.replaceCounts(scratch === undefined ? this.newCounts(this.counts, newHigh - newLow + 1) : scratch.take(newHigh - newLow + 1));
        this.offset = newLow;
      } else {
        this.ensureCapacity(newLow, newHigh);
      }
      this.low = newLow;
      this.high = newHigh;
      let counts = this.counts;
      const offset = this.offset;
      for (let k = from; k < to; k++) {
        const slot = indexes[k] - offset;
        counts = this.put(counts, slot, counts[slot] + weights[k]);
      }
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
  subtract(other: BucketStore): void {
    if (other.isEmpty || this.isEmpty) return;
    this.densify();
    // a table's weights are few: subtracted from the dense array of the same buckets, as below
    if (other.table !== null) {
      this.subtractTable(other);
      return;
    }
    if (other.sparseIndexes !== null) {
      this.subtractSorted(other);
      return;
    }
    this.nonZero = null;
    let counts = this.counts;
    const source = other.counts;
    // Indexes below our collapsed bucket are taken from it; the rest from their own bucket.
    const collapsedInto = this.collapsedInto;
    let first = other.low;
    if (collapsedInto !== NO_INDEX && first < collapsedInto) {
      let collapsedWeight = 0;
      const end = Math.min(other.high, collapsedInto - 1);
      for (let index = first; index <= end; index++) collapsedWeight += source[index - other.offset];
      const slot = collapsedInto - this.offset;
      counts = this.put(counts, slot, subtractClamped(counts[slot], collapsedWeight));
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
        if (slot >= fromSlot && slot <= toSlot) counts = this.put(counts, slot + shift, subtractClamped(counts[slot + shift], source[slot]));
      }
    } else {
      for (let i = from - other.offset, end = to - other.offset; i <= end; i++) {
        const weight = source[i];
        if (weight !== 0) counts = this.put(counts, i + shift, subtractClamped(counts[i + shift], weight));
      }
    }
    this.trim();
  }

  clear(): void {
    this.nonZero = null;
    this.sparseLength = 0;
    if (this.table !== null) {
      if (this.tableSize > 0) {
        emptyTable(this.table);
        this.tableSize = 0;
      }
    } else if (!this.isEmpty) this.counts.fill(0, this.low - this.offset, this.high - this.offset + 1);
    this.low = EMPTY_LOW;
    this.high = EMPTY_HIGH;
    this.collapsedInto = NO_INDEX;
  }

  copyFrom(other: BucketStore): void {
    this.clear();
    if (other.isEmpty) return;
    if (other.sparseIndexes !== null) {
      const length = other.sparseLength;
      const { indexes, weights } = sortedArraysLike(other.sparseWeights, length);
      indexes.set(other.sparseIndexes.subarray(0, length));
      weights.set(other.sparseWeights.subarray(0, length));
      this.loadSorted(indexes, weights, length);
      return;
    }
    if (other.table !== null) {
      this.sparseIndexes = null;
      this.sparseWeights = NO_WEIGHTS;
      this.table = other.table.slice();
      this.tableSize = other.tableSize;
      this.replaceCounts(NO_COUNTS);
      this.low = other.low;
      this.high = other.high;
      this.collapsedInto = other.collapsedInto;
      return;
    }
    const span = other.high - other.low + 1;
    const weighted = other.nonEmpty();
    const weightBytes = other.counts.BYTES_PER_ELEMENT;
    if (other.collapsedInto === NO_INDEX && weighted <= span * SORTED_COPY_SHARE && weighted * (SORTED_INDEX_BYTES + weightBytes) < span * weightBytes) {
      // a copy is seldom changed (a reference captured from a window): sorted wherever that is the smaller
      // counts as counts (a reference of 1,500 buckets per sign keeps 8 bytes a weight, not 12)
      const { indexes, weights } = sortedArraysLike(other.counts, weighted);
      this.loadSorted(indexes, weights, other.weightedInto(indexes, weights));
      return;
    }
    this.densify();
    // weights of the kind the original holds (counts as counts, float64 weights as those)
    if (this.counts.length < span || this.counts.constructor !== other.counts.constructor) this.replaceCounts(this.newCounts(other.counts, Math.max(span, Math.min(INITIAL_CAPACITY, this.maxBuckets))));
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
    this.table = null;
    this.sparseIndexes = null;
    this.sparseWeights = NO_WEIGHTS;
    if (weights.length === 0) return;
    this.replaceCounts(weights);
    this.offset = low;
    this.low = low;
    this.high = low + weights.length - 1;
    this.collapsedInto = collapsedInto;
    this.trim();
    // slots are relative to offset, which trimming leaves where it is
    if (!this.isEmpty) this.nonZero = nonZero;
  }

  /**
   * Takes `length` weights at `indexes` (ascending, each weight > 0) in the sorted form, as they are
   * (the arrays become the store's): a copy (copyFrom), or a store read from bytes whose weights
   * fill little of its range (a partition's pane, decoded by the gateway to be merged into its
   * windows), which then holds 12 bytes a weight and is never zeroed over its range, where an array
   * over the range was ~20 % of the gateway's CPU per pane message (zeroing it, then scattering the
   * weights into it).
   */
  loadSorted(indexes: Int32Array, weights: Counts, length: number): void {
    this.clear();
    this.table = null;
    this.tableSize = 0;
    this.replaceCounts(NO_COUNTS);
    this.offset = 0;
    if (length === 0) {
      this.sparseIndexes = null;
      this.sparseWeights = NO_WEIGHTS;
      return;
    }
    this.sparseIndexes = indexes;
    this.sparseWeights = weights;
    this.sparseLength = length;
    this.low = indexes[0];
    this.high = indexes[length - 1];
  }

  /**
   * Makes an empty store that has never held a weight as large as `other` is: a table of as many
   * slots, or an array of as many buckets. A worker's new pane sizes its feature sketches like the
   * producer's previous pane: one array per store instead of growing through six tables or five
   * arrays (each typed array above 64 bytes costs ~2 µs to allocate and collect, ~130 ns per value
   * of a fresh pane of 200 values). No-op for a store that holds or held a weight.
   */
  reserveLike(other: BucketStore): void {
    if (!this.isEmpty || this.table === null || this.table.length !== 0 || this.counts.length !== 0) return;
    if (other.table !== null) {
      if (other.table.length !== 0) emptyTable((this.table = new Int32Array(other.table.length)));
      return;
    }
    if (other.counts.length !== 0) {
      this.table = null;
      this.replaceCounts(this.newCounts(other.counts, other.counts.length));
    }
  }

  /**
   * Gives an empty store that has never held a weight an array over [low, high] alone (no room
   * beyond it): weights merged in within that range then never move or grow it. For a sum whose
   * parts' ranges are known before they are merged (LogHistogram.reserveForMerging): merged one by
   * one into an empty store, its array was made for the first part's range, with as much again of
   * room, then made again for each part that reached past that. No-op for any other store, or a
   * range wider than maxBuckets (merging collapses it).
   */
  reserveRange(low: number, high: number): void {
    if (!this.isEmpty || this.table === null || this.table.length !== 0 || this.counts.length !== 0) return;
    if (!(low <= high) || high - low + 1 > this.maxBuckets) return;
    this.table = null;
    this.replaceCounts(this.newCounts(this.counts, high - low + 1));
    this.offset = low;
  }

  /** How the store keeps its weights: nothing yet, a table, sorted, or an array over its range. */
  get form(): StoreForm {
    if (this.table !== null) return this.table.length === 0 ? 'empty' : 'table';
    if (this.sparseIndexes !== null) return 'sorted';
    return this.counts.length === 0 ? 'empty' : 'array';
  }

  /**
   * Steps of a walk up the store's weights (the walks of LogHistogram): its sorted entries, its
   * weighted slots (nonZero), or every bucket of its range. Step k's bucket is indexAtStep(k), its
   * weight weightAtStep(k, index) (0 for an empty bucket of a range). The store must not be a table
   * (leaveTable first).
   */
  get walkSteps(): number {
    if (this.sparseIndexes !== null) return this.sparseLength;
    return this.nonZero !== null ? this.nonZero.length : this.high - this.low + 1;
  }

  indexAtStep(step: number): number {
    const sorted = this.sparseIndexes;
    if (sorted !== null) return sorted[step];
    const slots = this.nonZero;
    return slots === null ? this.low + step : slots[step] + this.offset;
  }

  weightAtStep(step: number, index: number): number {
    return this.sparseIndexes !== null ? this.sparseWeights[step] : this.counts[index - this.offset];
  }

  /** Whether the store keeps its weights in a table (see `table`). */
  get isTable(): boolean {
    return this.table !== null;
  }

  /** Bytes of the weights' arrays as allocated (room to grow included): for memory accounting. */
  get capacityBytes(): number {
    return (
      this.counts.byteLength +
      (this.table === null ? 0 : this.table.byteLength) +
      (this.sparseIndexes === null ? 0 : this.sparseIndexes.byteLength + this.sparseWeights.byteLength)
    );
  }

  /**
   * Buckets weightedInto may write: at least nonEmpty(), found without walking a dense range.
   */
  get weightedBound(): number {
    if (this.isEmpty) return 0;
    if (this.table !== null) return this.tableSize;
    if (this.sparseIndexes !== null) return this.sparseLength;
    return this.nonZero !== null ? this.nonZero.length : this.high - this.low + 1;
  }

  /**
   * The weighted buckets in ascending order, their indexes into `indexes` and weights into
   * `weights` (room for weightedBound each), whatever the store's form; returns how many. A
   * typed array of integers holds them only where it holds the store's counts (an array of the
   * kind of its counts).
   */
  weightedInto(indexes: Int32Array, weights: Counts): number {
    if (this.isEmpty) return 0;
    if (this.table !== null) {
      this.sortedTableInto(indexes.subarray(0, this.tableSize), weights);
      return this.tableSize;
    }
    const sorted = this.sparseIndexes;
    if (sorted !== null) {
      // copied one by one, not set() from subarray views: two views per store and call were most of
      // what a replaced state's deltas allocated (bucketDelta reads a decoded state's sorted stores)
      const sortedWeights = this.sparseWeights;
      for (let k = 0, n = this.sparseLength; k < n; k++) {
        indexes[k] = sorted[k];
        weights[k] = sortedWeights[k];
      }
      return this.sparseLength;
    }
    const counts = this.counts;
    const offset = this.offset;
    let n = 0;
    const nonZero = this.nonZero;
    if (nonZero !== null) {
      for (let k = 0; k < nonZero.length; k++) {
        const weight = counts[nonZero[k]];
        if (weight === 0) continue;
        indexes[n] = nonZero[k] + offset;
        weights[n++] = weight;
      }
      return n;
    }
    for (let i = this.low - offset, end = this.high - offset; i <= end; i++) {
      const weight = counts[i];
      if (weight === 0) continue;
      indexes[n] = i + offset;
      weights[n++] = weight;
    }
    return n;
  }

  /**
   * Whether applyDelta gives what subtracting the earlier state and merging the later one would:
   * nothing collapsed here (a collapsed bucket takes the weight of lower indexes, which a delta
   * does not know) and the range the gains widen it to within maxBuckets.
   */
  acceptsDelta(delta: BucketDelta): boolean {
    if (this.collapsedInto !== NO_INDEX) return false;
    if (delta.lowestGain > delta.highestGain) return true;
    return Math.max(this.high, delta.highestGain) - Math.min(this.low, delta.lowestGain) + 1 <= this.maxBuckets;
  }

  /**
   * Changes the weights by `delta` (a later state of a store merged here, minus the earlier one:
   * see bucketDelta): what subtract(earlier) then merge(later) gives where acceptsDelta says so,
   * touching the buckets that changed alone. A loss is clamped at 0 as subtract clamps it.
   */
  applyDelta(delta: BucketDelta): void {
    const n = delta.length;
    if (n === 0) return;
    this.densify();
    this.nonZero = null;
    if (delta.lowestGain <= delta.highestGain) {
      const newLow = Math.min(this.low, delta.lowestGain);
      const newHigh = Math.max(this.high, delta.highestGain);
      this.ensureCapacity(newLow, newHigh);
      this.low = newLow;
      this.high = newHigh;
    } else if (this.isEmpty) return;
    let counts = this.counts;
    const offset = this.offset;
    const low = this.low;
    const high = this.high;
    const { indexes, indexesAt, diffs, diffsAt } = delta;
    let lost = false;
    for (let k = 0; k < n; k++) {
      const index = indexes[indexesAt + k];
      const slot = index - offset;
      const diff = diffs[diffsAt + k];
      if (diff > 0) counts = this.put(counts, slot, counts[slot] + diff);
      else if (index >= low && index <= high) {
        counts = this.put(counts, slot, subtractClamped(counts[slot], -diff));
        lost = true;
      }
    }
    if (lost) this.trim();
  }

  /**
   * A table store's weighted buckets in ascending order: their indexes into `indexes` and their
   * counts into `weights` (room for nonEmpty() each). Sorted as one key per bucket, its position in
   * the range times 256 plus its slot (a table has fewer than 256 slots, a range at most 2^24
   * buckets: the key fits 32 bits), so no bucket is looked up again.
   */
  sortedTableInto(indexes: Int32Array, weights: Int32Array | Counts): void {
    const table = this.table;
    if (table === null) return;
    const low = this.low;
    const keys = new Uint32Array(indexes.buffer, indexes.byteOffset, indexes.length);
    let k = 0;
    for (let at = 0; at < table.length; at += 2) if (table[at] !== EMPTY_KEY) keys[k++] = (table[at] - low) * 256 + (at >> 1);
    keys.sort();
    for (k = 0; k < keys.length; k++) {
      const key = keys[k];
      weights[k] = table[2 * (key & 255) + 1];
      indexes[k] = low + (key >>> 8);
    }
  }

  /**
   * Makes the store dense (a no-op when it is): its table's weights into an array over its range,
   * with room to grow as ensureCapacity gives it. Every operation but the table's own calls it first.
   */
  densify(): void {
    if (this.sparseIndexes !== null) {
      this.leaveSorted();
      return;
    }
    this.leaveTable();
  }

  /**
   * A table store becomes an array (as densify); a sorted copy stays as it is: what the walks of
   * LogHistogram call first, which read arrays and sorted stores alike (walkSteps).
   */
  leaveTable(): void {
    const table = this.table;
    if (table === null) return;
    this.table = null;
    this.tableSize = 0;
    if (this.isEmpty) return;
    let counts = this.zeroedArrayOverRange();
    const offset = this.offset;
    for (let at = 0; at < table.length; at += 2) if (table[at] !== EMPTY_KEY) counts = this.put(counts, table[at] - offset, table[at + 1]);
  }

  /** An array of zeros over [low, high] for a store leaving its table or sorted form (whose weights it is to take). */
  private zeroedArrayOverRange(): Counts {
    const low = this.low;
    const high = this.high;
    this.low = EMPTY_LOW;
    this.high = EMPTY_HIGH;
    this.ensureCapacity(low, high);
    this.low = low;
    this.high = high;
    return this.counts;
  }

  /** A sorted store becomes an array over its range (see sparseIndexes). */
  private leaveSorted(): void {
    const indexes = this.sparseIndexes as Int32Array;
    const weights = this.sparseWeights;
    const n = this.sparseLength;
    this.sparseIndexes = null;
    this.sparseWeights = NO_WEIGHTS;
    this.sparseLength = 0;
    this.replaceCounts(NO_COUNTS);
    this.offset = 0;
    if (n === 0) return;
    let counts = this.zeroedArrayOverRange();
    const offset = this.offset;
    for (let k = 0; k < n; k++) counts = this.put(counts, indexes[k] - offset, weights[k]);
  }

  /** The table slot holding `index`, or -1. */
  private slotOf(index: number): number {
    const table = this.table!;
    const slots = table.length >> 1;
    if (slots === 0) return -1;
    for (let slot = homeSlot(index, slots); ; slot = slot + 1 === slots ? 0 : slot + 1) {
      const key = table[2 * slot];
      if (key === index) return slot;
      if (key === EMPTY_KEY) return -1;
    }
  }

  /**
   * add() while the store is a table, for what add's inline probe leaves (a full table, a range to
   * collapse, a weight that is not a count): false when the store became an array instead (the
   * caller then adds to the array), which it does for a weight that is not a count or would take
   * a count beyond a slot, or when a table with room for a new bucket would be larger than
   * MAX_TABLE_SLOTS or no smaller than the array.
   */
  private addToTable(index: number, weight: number): boolean {
    const slot = this.slotOf(index);
    if ((weight | 0) !== weight || (slot >= 0 && this.table![2 * slot + 1] + weight > MAX_TABLE_COUNT)) {
      this.densify();
      return false;
    }
    if (slot >= 0) {
      this.table![2 * slot + 1] += weight;
      return true;
    }
    const low = index < this.low ? index : this.low;
    const high = index > this.high ? index : this.high;
    const span = high - low + 1;
    if (span > this.maxBuckets) return this.addCollapsing(index, weight);
    const slots = this.table!.length >> 1;
    if (4 * (this.tableSize + 1) > 3 * slots) {
      // full (or not made yet): a larger table, unless the array would be no larger
      const grown = grownTableSlots(slots);
      const arrayLength = Math.max(span, Math.min(Math.max(grownCapacity(span), INITIAL_CAPACITY), this.maxBuckets));
      // arrays weighed at 8 bytes a bucket, as when they held float64 weights: at the 2 bytes of a
      // new store's counts, stores left their tables earlier and a worker's pane of 200 heavy-tailed
      // values took 4.7 KB per feature instead of 3.8 (its arrays grow with room to spare; tables do not)
      if (grown > MAX_TABLE_SLOTS || 8 * arrayLength <= TABLE_BYTES_PER_SLOT * grown) {
        this.densify();
        return false;
      }
      this.rehash(grown);
    }
    const free = this.freeSlotFor(index);
    this.table![2 * free] = index;
    this.table![2 * free + 1] = weight;
    this.tableSize++;
    this.low = low;
    this.high = high;
    return true;
  }

  /**
   * addToTable of an index that would take the range beyond maxBuckets: the lowest buckets collapse
   * into the lowest kept one, as the array's extendTo does (a feature whose values come close to
   * its center reaches the smallest indexes, and its range reaches maxBuckets with few buckets
   * weighted), then the weight goes in as into a range that fits.
   */
  private addCollapsing(index: number, weight: number): boolean {
    if (index < this.low) {
      // below what can be kept: into the lowest kept bucket
      const floor = this.high - this.maxBuckets + 1;
      this.collapsedInto = floor;
      return this.addToTable(floor, weight);
    }
    const floor = index - this.maxBuckets + 1;
    const table = this.table!;
    let collapsed = 0;
    for (let at = 0; at < table.length; at += 2) if (table[at] !== EMPTY_KEY && table[at] < floor) collapsed += table[at + 1];
    if (collapsed + this.weightAt(floor) > MAX_TABLE_COUNT) {
      this.densify();
      return false;
    }
    // the lowest bucket held a weight, so some did collapse: the range restarts at the floor
    this.rehash(table.length >> 1, floor);
    this.low = floor;
    this.high = Math.max(this.high, floor);
    this.collapsedInto = floor;
    if (!this.addToTable(floor, collapsed)) {
      this.addToArray(floor, collapsed);
      return false;
    }
    return this.addToTable(index, weight);
  }

  /** The free slot for `index` in the table (which has room and does not hold it). */
  private freeSlotFor(index: number): number {
    const table = this.table!;
    const slots = table.length >> 1;
    let slot = homeSlot(index, slots);
    while (table[2 * slot] !== EMPTY_KEY) slot = slot + 1 === slots ? 0 : slot + 1;
    return slot;
  }

  /** The table at `slots` slots, every bucket from `from` up moved over (the rest is dropped). */
  private rehash(slots: number, from = NO_INDEX): void {
    const old = this.table!;
    const table = new Int32Array(2 * slots);
    emptyTable(table);
    this.table = table;
    this.tableSize = 0;
    for (let at = 0; at < old.length; at += 2) {
      const key = old[at];
      if (key === EMPTY_KEY || key < from) continue;
      this.tableSize++;
      const to = this.freeSlotFor(key);
      table[2 * to] = key;
      table[2 * to + 1] = old[at + 1];
    }
  }

  /** subtract() of a table store from this dense one (see subtract). */
  private subtractTable(other: BucketStore): void {
    this.nonZero = null;
    // a table's counts are whole: what is left of a count or a weight is as whole as it was
    const counts = this.counts;
    const table = other.table!;
    // as subtract: what lies below our collapsed bucket is taken from it first, then the rest from their own
    const collapsedInto = this.collapsedInto;
    if (collapsedInto !== NO_INDEX && other.low < collapsedInto) {
      let collapsedWeight = 0;
      for (let at = 0; at < table.length; at += 2) if (table[at] !== EMPTY_KEY && table[at] < collapsedInto) collapsedWeight += table[at + 1];
      counts[collapsedInto - this.offset] = subtractClamped(counts[collapsedInto - this.offset], collapsedWeight);
    }
    const from = collapsedInto !== NO_INDEX && collapsedInto > this.low ? collapsedInto : this.low;
    for (let at = 0; at < table.length; at += 2) {
      const index = table[at];
      if (index !== EMPTY_KEY && index >= from && index <= this.high) counts[index - this.offset] = subtractClamped(counts[index - this.offset], table[at + 1]);
    }
    this.trim();
  }

  /** subtract() of a sorted store from this dense one (see subtract and subtractTable). */
  private subtractSorted(other: BucketStore): void {
    this.nonZero = null;
    let counts = this.counts;
    const offset = this.offset;
    const indexes = other.sparseIndexes as Int32Array;
    const weights = other.sparseWeights;
    const n = other.sparseLength;
    const collapsedInto = this.collapsedInto;
    let k = 0;
    if (collapsedInto !== NO_INDEX) {
      let collapsedWeight = 0;
      for (; k < n && indexes[k] < collapsedInto; k++) collapsedWeight += weights[k];
      if (collapsedWeight !== 0) counts = this.put(counts, collapsedInto - offset, subtractClamped(counts[collapsedInto - offset], collapsedWeight));
    }
    for (; k < n; k++) {
      const index = indexes[k];
      if (index >= this.low && index <= this.high) counts = this.put(counts, index - offset, subtractClamped(counts[index - offset], weights[k]));
    }
    this.trim();
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
        this.put(this.counts, floor - this.offset, this.counts[floor - this.offset] + collapsedWeight);
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
      // moved in place (no copy to allocate). Every weight outside the used range is 0 already (an
      // empty store's are all 0), so only the old range's slots the moved one leaves are cleared:
      // clearing the whole array at each move was a fifth of what the gateway wrote while its
      // windows widened (bench gateway, 300 models)
      if (!this.isEmpty) {
        this.counts.copyWithin(target, from, to);
        if (target > from) this.counts.fill(0, from, Math.min(to, target));
        else if (target < from) this.counts.fill(0, Math.max(from, target + (to - from)), to);
      }
    } else {
      const grown = this.newCounts(this.counts, capacity);
      if (!this.isEmpty) grown.set(this.counts.subarray(from, to), target);
      this.replaceCounts(grown);
    }
    this.offset = newOffset;
  }
}
