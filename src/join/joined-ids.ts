/**
 * The joined-id memory of a join table: which (model, id) keys have already joined, kept until
 * their prediction leaves the label horizon, so that a copy of the prediction or of the label that
 * arrives after the join (after JetStream's duplicate window, or from a publisher without
 * `Nats-Msg-Id`) is recognised as a duplicate instead of being counted again.
 *
 * It keeps no id bytes: a key is its 64-bit fingerprint (the id key's two independent 32-bit
 * hashes, model scope included). Two distinct keys share a fingerprint with probability about
 * n / 2^64 per lookup (n = keys held): at 10^6 joined ids, one wrongly dropped prediction per
 * ~10^13 predictions.
 *
 * Fingerprints are grouped by the prediction's event time into buckets `bucketMs` wide (1/16 of
 * the horizon), each an open-addressing set of (hash, hash2) pairs in one Uint32Array (linear
 * probing, load <= 0.7, no deletions). A bucket is dropped whole once every time it can hold is
 * beyond the horizon, so expiry costs nothing per key and a key is kept between `horizonMs` and
 * `horizonMs + bucketMs` after its prediction time. A copy of a prediction carries the original's
 * `ts`, so a prediction looks in one bucket; a label does not know its prediction's time and looks
 * in every bucket (at most ~18 when event time moves forward), only after it found neither a
 * pending prediction nor an early label.
 *
 * Memory: 8 bytes per slot, 8/0.7 to 16 bytes per key with the doubling; `capacity` bounds the
 * keys held: beyond it the oldest bucket is dropped (its ids are then no longer recognised).
 */

const EMPTY_HI = 0;
const EMPTY_LO = 0;
const MIN_SLOTS = 64;
const MAX_LOAD = 0.7;
/** Buckets per horizon. */
export const JOINED_BUCKETS_PER_HORIZON = 16;

/** An insert-only set of 64-bit fingerprints. (0, 0) marks an empty slot, so it is stored as (0, 1). */
class FingerprintSet {
  keys: Uint32Array;
  size = 0;
  private mask: number;

  constructor(slots = MIN_SLOTS) {
    let n = MIN_SLOTS;
    while (n < slots) n *= 2;
    this.keys = new Uint32Array(n * 2);
    this.mask = n - 1;
  }

  has(hi: number, lo: number): boolean {
    if (hi === EMPTY_HI && lo === EMPTY_LO) lo = 1;
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hi & mask; ; i = (i + 1) & mask) {
      const h = keys[2 * i];
      const l = keys[2 * i + 1];
      if (h === hi && l === lo) return true;
      if (h === EMPTY_HI && l === EMPTY_LO) return false;
    }
  }

  /** Adds the fingerprint; false when it was there already. */
  add(hi: number, lo: number): boolean {
    if (hi === EMPTY_HI && lo === EMPTY_LO) lo = 1;
    if ((this.size + 1) > (this.mask + 1) * MAX_LOAD) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hi & mask; ; i = (i + 1) & mask) {
      const h = keys[2 * i];
      const l = keys[2 * i + 1];
      if (h === hi && l === lo) return false;
      if (h === EMPTY_HI && l === EMPTY_LO) {
        keys[2 * i] = hi;
        keys[2 * i + 1] = lo;
        this.size++;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.keys;
    const slots = (this.mask + 1) * 2;
    this.keys = new Uint32Array(slots * 2);
    this.mask = slots - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== EMPTY_HI || old[i + 1] !== EMPTY_LO) this.add(old[i], old[i + 1]);
    }
  }

  get slotCount(): number {
    return this.mask + 1;
  }

  /** The fingerprints held as (slot, hi, lo) triples, in slot order: with slotCount, the exact layout. */
  layout(): Uint32Array {
    const out = new Uint32Array(this.size * 3);
    const keys = this.keys;
    let k = 0;
    for (let i = 0; i < keys.length / 2; i++) {
      if (keys[2 * i] !== EMPTY_HI || keys[2 * i + 1] !== EMPTY_LO) {
        out[k++] = i;
        out[k++] = keys[2 * i];
        out[k++] = keys[2 * i + 1];
      }
    }
    return out;
  }

  /**
   * A set with exactly this layout (from layout() and slotCount), so that a restored table goes
   * on exactly like the saved one; null when the layout is not one a set can have.
   */
  static fromLayout(slotCount: number, triples: Uint32Array): FingerprintSet | null {
    if (slotCount < MIN_SLOTS || (slotCount & (slotCount - 1)) !== 0) return null;
    const count = triples.length / 3;
    if (count > slotCount * MAX_LOAD) return null;
    const set = new FingerprintSet(slotCount);
    let previous = -1;
    for (let k = 0; k < count; k++) {
      const slot = triples[3 * k];
      const hi = triples[3 * k + 1];
      const lo = triples[3 * k + 2];
      if (slot <= previous || slot >= slotCount || (hi === EMPTY_HI && lo === EMPTY_LO)) return null;
      previous = slot;
      set.keys[2 * slot] = hi;
      set.keys[2 * slot + 1] = lo;
    }
    set.size = count;
    // every key must be found where it is (probe runs intact) and only once
    for (let k = 0; k < count; k++) {
      const hi = triples[3 * k + 1];
      const lo = triples[3 * k + 2];
      if (set.slotOf(hi, lo) !== triples[3 * k]) return null;
    }
    return set;
  }

  private slotOf(hi: number, lo: number): number {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hi & mask; ; i = (i + 1) & mask) {
      const h = keys[2 * i];
      const l = keys[2 * i + 1];
      if (h === hi && l === lo) return i;
      if (h === EMPTY_HI && l === EMPTY_LO) return -1;
    }
  }
}

export class JoinedIdSet {
  readonly horizonMs: number;
  readonly bucketMs: number;
  readonly capacity: number;
  /** Keys held. */
  size = 0;
  /** Keys given up before their time because the set was full. */
  dropped = 0;
  private readonly buckets = new Map<number, FingerprintSet>();
  private oldest = Infinity;
  /**
   * Keys added since mark() as (bucket, hi, lo) triples in f64s, and buckets removed since; null
   * until the first mark(). Bounded by the size: a removed bucket's journaled keys leave with it.
   */
  private addedJournal: number[] | null = null;
  private readonly removedSinceMark = new Set<number>();

  constructor(horizonMs: number, capacity: number) {
    this.horizonMs = horizonMs;
    this.bucketMs = Math.max(1, Math.ceil(horizonMs / JOINED_BUCKETS_PER_HORIZON));
    this.capacity = capacity;
  }

  /** Bucket number of a prediction time. */
  bucketOf(ts: number): number {
    return Math.floor(ts / this.bucketMs);
  }

  /** Remembers a key joined for a prediction at `ts`. */
  add(ts: number, hash: number, hash2: number): void {
    const b = this.bucketOf(ts);
    let set = this.buckets.get(b);
    if (set === undefined) {
      set = new FingerprintSet();
      this.buckets.set(b, set);
      if (b < this.oldest) this.oldest = b;
    }
    if (set.add(hash >>> 0, hash2 >>> 0)) {
      this.addedJournal?.push(b, hash >>> 0, hash2 >>> 0);
      this.size++;
      while (this.size > this.capacity) this.dropOldest();
    }
  }

  /** Whether a key joined for a prediction at `ts` (a copy of a prediction carries its original's ts). */
  hasAt(ts: number, hash: number, hash2: number): boolean {
    const set = this.buckets.get(this.bucketOf(ts));
    return set !== undefined && set.has(hash >>> 0, hash2 >>> 0);
  }

  /** Whether a key joined at any time still remembered (for a label, which does not know its prediction's ts). */
  hasAny(hash: number, hash2: number): boolean {
    if (this.size === 0) return false;
    for (const set of this.buckets.values()) if (set.has(hash >>> 0, hash2 >>> 0)) return true;
    return false;
  }

  /**
   * Drops the buckets whose every time is beyond the horizon (nowMs - ts > horizonMs). Cheap when
   * nothing is due: one comparison.
   */
  expire(nowMs: number): number {
    const cutoff = nowMs - this.horizonMs;
    let dropped = 0;
    while (this.oldest !== Infinity && (this.oldest + 1) * this.bucketMs <= cutoff) {
      dropped += this.removeBucket(this.oldest);
    }
    return dropped;
  }

  /** Bytes of typed arrays held. */
  memoryBytes(): number {
    let bytes = 0;
    for (const set of this.buckets.values()) bytes += set.keys.byteLength;
    return bytes;
  }

  /** Buckets oldest first, each with its slot count and (slot, hi, lo) triples (for snapshots and tests). */
  *bucketEntries(): IterableIterator<{ bucket: number; slotCount: number; triples: Uint32Array }> {
    const order = [...this.buckets.keys()].sort((a, b) => a - b);
    for (const bucket of order) {
      const set = this.buckets.get(bucket) as FingerprintSet;
      yield { bucket, slotCount: set.slotCount, triples: set.layout() };
    }
  }

  /** Restores one bucket (from a snapshot); false when its layout is impossible or the bucket exists. */
  restoreBucket(bucket: number, slotCount: number, triples: Uint32Array): boolean {
    if (this.buckets.has(bucket)) return false;
    const set = FingerprintSet.fromLayout(slotCount, triples);
    if (set === null) return false;
    this.buckets.set(bucket, set);
    if (bucket < this.oldest) this.oldest = bucket;
    this.size += set.size;
    return true;
  }

  /** Starts journaling changes for the next checkpoint delta (see delta()). */
  mark(): void {
    this.addedJournal = [];
    this.removedSinceMark.clear();
  }

  /**
   * The change since mark(): buckets removed since (to clear before the additions, since a bucket
   * may have been dropped and begun again), the buckets live now (any other is dropped), and the
   * keys added since as (bucket, hi, lo).
   */
  delta(): { removed: number[]; live: number[]; added: readonly number[] } {
    return { removed: [...this.removedSinceMark], live: [...this.buckets.keys()], added: this.addedJournal ?? [] };
  }

  /** Applies delta() to the state it was taken after; false when an added key is malformed. */
  applyDelta(removed: readonly number[], live: readonly number[], added: readonly number[]): boolean {
    const keep = new Set(live);
    for (const b of removed) this.removeBucket(b);
    for (const b of [...this.buckets.keys()]) if (!keep.has(b)) this.removeBucket(b);
    for (let i = 0; i + 2 < added.length; i += 3) {
      const b = added[i];
      if (!keep.has(b)) return false;
      let set = this.buckets.get(b);
      if (set === undefined) {
        set = new FingerprintSet();
        this.buckets.set(b, set);
        if (b < this.oldest) this.oldest = b;
      }
      if (set.add(added[i + 1], added[i + 2])) this.size++;
    }
    return true;
  }

  get bucketCount(): number {
    return this.buckets.size;
  }

  private dropOldest(): void {
    const count = this.removeBucket(this.oldest);
    this.dropped += count;
  }

  private removeBucket(bucket: number): number {
    const set = this.buckets.get(bucket);
    if (set === undefined) return 0;
    this.buckets.delete(bucket);
    if (this.addedJournal !== null) {
      this.removedSinceMark.add(bucket);
      const journal = this.addedJournal;
      let kept = 0;
      for (let i = 0; i < journal.length; i += 3) {
        if (journal[i] === bucket) continue;
        journal[kept++] = journal[i];
        journal[kept++] = journal[i + 1];
        journal[kept++] = journal[i + 2];
      }
      journal.length = kept;
    }
    let oldest = Infinity;
    for (const b of this.buckets.keys()) if (b < oldest) oldest = b;
    this.oldest = oldest;
    const count = set.size;
    this.size -= count;
    return count;
  }
}
