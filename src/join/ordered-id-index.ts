/**
 * An insertion-ordered set of ids over typed arrays: the key half of the pending-prediction table
 * and of the early-label buffer.
 *
 * Each slot is one fixed-size record in a single ArrayBuffer (array of structs, not struct of
 * arrays): at 1M entries every lookup is a cache miss, and a record keeps the id's hash, its list
 * links and the owner's payload in one or two cache lines instead of one line per field.
 *   i32[0] hash   i32[1] arena offset   i32[2] tag (byte length | packed flag)   i32[3] prev   i32[4] next
 *   from i32[OWNER_I32_START] / f64[OWNER_F64_START] on: the owner's payload.
 * Plus an open-addressing bucket array (u32 slot + 1, 0 = empty; power of two, load <= 1/2;
 * linear probing with backward-shift deletion, so there are no tombstones) and the id bytes in one
 * arena.
 *
 * The arena is written in insertion order and compacted in insertion order, so the arena order is
 * always the list order: compaction can slide bytes left in place. Removed ids leave garbage that
 * is reclaimed when the arena is full and at least 1/8 of it is garbage; otherwise it grows by 1.5.
 * Slots grow by doubling up to `maxSlots` and are reused through a free list, so memory follows the
 * live size and never exceeds what `maxSlots` ids need.
 *
 * Incremental checkpoints (mark()): every slot remembers the checkpoint generation it was inserted
 * in (4 bytes a slot). After mark(), the entries inserted since are the newest ones (insertion is
 * always at the tail), and removing an entry inserted before the mark journals its id, so that a
 * checkpoint delta is "remove these ids, append those entries", O(change) and not O(size). The
 * journal is bounded by the size at the mark: an entry is journaled at most once, since a
 * re-inserted id is an entry of the new generation.
 */
import { decodeId, tagLength, tagScope, type IdKey } from './id-key.ts';
import { SnapshotWriter } from './snapshot-bytes.ts';

/** First i32 of a record available to the owner. */
export const OWNER_I32_START = 5;
/** First f64 of a record available to the owner (bytes 24..). */
export const OWNER_F64_START = 3;

const HASH = 0;
const ID_START = 1;
const TAG = 2;
const PREV = 3;
const NEXT = 4;

const EMPTY = 0;
const MIN_SLOTS = 16;
const ARENA_GROWTH = 1.5;

function bucketCountFor(slots: number): number {
  let count = 16;
  while (count < slots * 2) count *= 2;
  return count;
}

export class OrderedIdIndex {
  readonly maxSlots: number;
  /** Record size in bytes (a multiple of 8, at least 24). */
  readonly recordBytes: number;
  /** Record stride in f64 / i32 units. */
  readonly f64Stride: number;
  readonly i32Stride: number;
  /** Slots allocated. */
  slotCapacity: number;
  size = 0;
  /** Oldest live slot, -1 when empty. */
  head = -1;
  /** Newest live slot, -1 when empty. */
  tail = -1;
  /** Record views; replaced when the index grows, so owners re-read them after insert(). */
  f64: Float64Array;
  i32: Int32Array;

  private buckets: Uint32Array;
  private mask: number;
  /** Free slots chained through NEXT. */
  private freeHead = -1;
  /** Slots [0, highWater) have been handed out at least once. */
  private highWater = 0;
  private arena: Uint8Array;
  private arenaEnd = 0;
  private liveBytes = 0;
  /** Generation (see mark()) in which each slot's entry was inserted. */
  private generations: Uint32Array;
  private generation = 0;
  /** Ids removed since mark() that were inserted before it, as [u16 tag][u16 scope][id bytes]; null until the first mark(). */
  private removedJournal: SnapshotWriter | null = null;
  /** Entries in the removed journal. */
  removedSinceMark = 0;

  constructor(maxSlots: number, recordBytes: number, initialSlots = 1024) {
    if (!Number.isInteger(maxSlots) || maxSlots < 1 || maxSlots > 0x7fffffff) {
      throw new RangeError(`capacity must be a positive integer, got ${String(maxSlots)}`);
    }
    if (!Number.isInteger(recordBytes) || recordBytes < 24 || recordBytes % 8 !== 0) {
      throw new RangeError(`recordBytes must be a multiple of 8 >= 24, got ${String(recordBytes)}`);
    }
    this.maxSlots = maxSlots;
    this.recordBytes = recordBytes;
    this.f64Stride = recordBytes / 8;
    this.i32Stride = recordBytes / 4;
    this.slotCapacity = Math.min(maxSlots, Math.max(MIN_SLOTS, initialSlots));
    const records = new ArrayBuffer(this.slotCapacity * recordBytes);
    this.f64 = new Float64Array(records);
    this.i32 = new Int32Array(records);
    this.buckets = new Uint32Array(bucketCountFor(this.slotCapacity));
    this.mask = this.buckets.length - 1;
    this.arena = new Uint8Array(this.slotCapacity * 24);
    this.generations = new Uint32Array(this.slotCapacity);
  }

  /**
   * Starts a new checkpoint generation: entries inserted from now on are "since the mark", and
   * removals of older entries are journaled (journaling starts with the first mark).
   */
  mark(): void {
    this.generation = (this.generation + 1) >>> 0;
    if (this.removedJournal === null) this.removedJournal = new SnapshotWriter(256);
    else this.removedJournal.pos = 0;
    this.removedSinceMark = 0;
  }

  /** Whether the entry of a live slot was inserted since the last mark(). */
  insertedSinceMark(slot: number): boolean {
    return this.generations[slot] === this.generation;
  }

  /** The oldest live slot inserted since the last mark() (the newer ones follow it), or -1. */
  firstSinceMark(): number {
    let first = -1;
    for (let slot = this.tail; slot !== -1 && this.generations[slot] === this.generation; slot = this.i32[slot * this.i32Stride + PREV]) first = slot;
    return first;
  }

  /** The removed journal's bytes ([u16 tag][u16 scope][id bytes] each, removedSinceMark of them); empty before the first mark(). */
  removedIds(): Uint8Array {
    return this.removedJournal === null ? new Uint8Array(0) : this.removedJournal.bytes.subarray(0, this.removedJournal.pos);
  }

  /** Slot holding the key's id, or -1. */
  find(key: IdKey): number {
    const hash = key.hash | 0;
    const tag = key.tag;
    const buckets = this.buckets;
    const mask = this.mask;
    const i32 = this.i32;
    const stride = this.i32Stride;
    let b = hash & mask;
    for (;;) {
      const entry = buckets[b];
      if (entry === EMPTY) return -1;
      const slot = entry - 1;
      const r = slot * stride;
      if (i32[r + HASH] === hash && i32[r + TAG] === tag && this.sameBytes(i32[r + ID_START], key)) return slot;
      b = (b + 1) & mask;
    }
  }

  private sameBytes(start: number, key: IdKey): boolean {
    const arena = this.arena;
    const bytes = key.bytes;
    for (let i = 0, n = key.length; i < n; i++) if (arena[start + i] !== bytes[i]) return false;
    return true;
  }

  /**
   * Appends the key's id as the newest entry and returns its slot. The caller guarantees the id is
   * absent and size < maxSlots. Afterwards the record views may have been replaced.
   */
  insert(key: IdKey): number {
    if (this.size >= this.maxSlots) throw new Error(`OrderedIdIndex is full (${this.maxSlots}): evict before inserting`);
    let slot: number;
    if (this.freeHead !== -1) {
      slot = this.freeHead;
      this.freeHead = this.i32[slot * this.i32Stride + NEXT];
    } else {
      if (this.highWater === this.slotCapacity) this.growSlots();
      slot = this.highWater++;
    }
    const length = key.length;
    this.reserveArena(length);
    const start = this.arenaEnd;
    const arena = this.arena;
    const bytes = key.bytes;
    for (let i = 0; i < length; i++) arena[start + i] = bytes[i];
    this.arenaEnd = start + length;
    this.liveBytes += length;

    const i32 = this.i32;
    const stride = this.i32Stride;
    const r = slot * stride;
    i32[r + HASH] = key.hash;
    i32[r + ID_START] = start;
    i32[r + TAG] = key.tag;
    i32[r + PREV] = this.tail;
    i32[r + NEXT] = -1;
    this.generations[slot] = this.generation;
    if (this.tail === -1) this.head = slot;
    else i32[this.tail * stride + NEXT] = slot;
    this.tail = slot;
    this.size++;

    const mask = this.mask;
    let b = key.hash & mask;
    while (this.buckets[b] !== EMPTY) b = (b + 1) & mask;
    this.buckets[b] = slot + 1;
    return slot;
  }

  /** Removes a live slot (from the hash, the order list and the arena's live bytes). */
  remove(slot: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    const i32 = this.i32;
    const stride = this.i32Stride;
    const r = slot * stride;
    if (this.removedJournal !== null && this.generations[slot] !== this.generation) this.journalRemoval(slot);
    let hole = i32[r + HASH] & mask;
    while (buckets[hole] !== slot + 1) hole = (hole + 1) & mask;
    // Backward-shift deletion: pull later entries of the probe run into the hole unless their
    // home bucket lies cyclically after the hole (then they must stay where they are).
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const entry = buckets[j];
      if (entry === EMPTY) break;
      const home = i32[(entry - 1) * stride + HASH] & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        buckets[hole] = entry;
        hole = j;
      }
    }
    buckets[hole] = EMPTY;

    const prev = i32[r + PREV];
    const next = i32[r + NEXT];
    if (prev === -1) this.head = next;
    else i32[prev * stride + NEXT] = next;
    if (next === -1) this.tail = prev;
    else i32[next * stride + PREV] = prev;

    this.liveBytes -= tagLength(i32[r + TAG]);
    this.size--;
    i32[r + NEXT] = this.freeHead;
    this.freeHead = slot;
    if (this.size === 0) {
      // Nothing live: the whole arena is garbage, start writing at 0 again for free.
      this.arenaEnd = 0;
      this.liveBytes = 0;
    }
  }

  private journalRemoval(slot: number): void {
    const journal = this.removedJournal as SnapshotWriter;
    const tag = this.tagOf(slot);
    journal.u16(tag & 0xffff);
    journal.u16(tagScope(tag));
    const at = journal.reserve(tagLength(tag));
    this.copyIdBytes(slot, journal.bytes, at);
    this.removedSinceMark++;
  }

  /** The next newer slot in insertion order, or -1. */
  next(slot: number): number {
    return this.i32[slot * this.i32Stride + NEXT];
  }

  /** The id of a live slot, decoded (allocates: for snapshots, callbacks and tests). */
  idOf(slot: number): string {
    const r = slot * this.i32Stride;
    return decodeId(this.arena, this.i32[r + ID_START], this.i32[r + TAG]);
  }

  /** Tag (byte length | packed flag) of a live slot. */
  tagOf(slot: number): number {
    return this.i32[slot * this.i32Stride + TAG];
  }

  /** Copies the stored id bytes of a live slot into out at pos; returns the byte length. */
  copyIdBytes(slot: number, out: Uint8Array, pos: number): number {
    const r = slot * this.i32Stride;
    const start = this.i32[r + ID_START];
    const length = tagLength(this.i32[r + TAG]);
    for (let i = 0; i < length; i++) out[pos + i] = this.arena[start + i];
    return length;
  }

  /** Bytes of typed arrays held. */
  memoryBytes(): number {
    return this.buckets.byteLength + this.f64.byteLength + this.arena.byteLength + this.generations.byteLength + (this.removedJournal?.bytes.byteLength ?? 0);
  }

  /** Stored id bytes of live entries (for metrics and the bench). */
  get idBytes(): number {
    return this.liveBytes;
  }

  private growSlots(): void {
    const old = this.slotCapacity;
    if (old >= this.maxSlots) throw new Error('OrderedIdIndex: no free slot below capacity (internal error)');
    const capacity = Math.min(this.maxSlots, old * 2);
    const records = new ArrayBuffer(capacity * this.recordBytes);
    const f64 = new Float64Array(records);
    f64.set(this.f64);
    this.f64 = f64;
    this.i32 = new Int32Array(records);
    this.slotCapacity = capacity;
    const generations = new Uint32Array(capacity);
    generations.set(this.generations);
    this.generations = generations;

    const bucketCount = bucketCountFor(capacity);
    if (bucketCount !== this.buckets.length) {
      const buckets = new Uint32Array(bucketCount);
      const mask = bucketCount - 1;
      const i32 = this.i32;
      const stride = this.i32Stride;
      for (let slot = this.head; slot !== -1; slot = i32[slot * stride + NEXT]) {
        let b = i32[slot * stride + HASH] & mask;
        while (buckets[b] !== EMPTY) b = (b + 1) & mask;
        buckets[b] = slot + 1;
      }
      this.buckets = buckets;
      this.mask = mask;
    }
  }

  /** Makes room for `length` more bytes at arenaEnd: compact when worth it, else grow. */
  private reserveArena(length: number): void {
    if (this.arenaEnd + length <= this.arena.length) return;
    const garbage = this.arenaEnd - this.liveBytes;
    if (garbage >= length && garbage >= this.arena.length >>> 3) {
      this.compactInto(this.arena);
      return;
    }
    const target = new Uint8Array(Math.max(this.liveBytes + length + 64, Math.ceil(this.arena.length * ARENA_GROWTH)));
    if (garbage === 0) target.set(this.arena.subarray(0, this.arenaEnd)); // offsets unchanged: one memcpy
    else this.compactInto(target);
    this.arena = target;
  }

  /** Copies live ids in insertion order to the front of target (target may be the arena itself). */
  private compactInto(target: Uint8Array): void {
    const arena = this.arena;
    const i32 = this.i32;
    const stride = this.i32Stride;
    let pos = 0;
    for (let slot = this.head; slot !== -1; slot = i32[slot * stride + NEXT]) {
      const r = slot * stride;
      const start = i32[r + ID_START];
      const length = tagLength(i32[r + TAG]);
      // In place, pos <= start always holds (arena order is list order), so a left slide is safe.
      if (target === arena) {
        if (pos !== start) arena.copyWithin(pos, start, start + length);
      } else {
        for (let i = 0; i < length; i++) target[pos + i] = arena[start + i];
      }
      i32[r + ID_START] = pos;
      pos += length;
    }
    this.arenaEnd = pos;
  }
}
