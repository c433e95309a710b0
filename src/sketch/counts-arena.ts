/**
 * Bucket arrays of long-lived stores (the sums a gateway keeps per window), cut from a few large
 * ArrayBuffers instead of each being a buffer of its own.
 *
 * Every ArrayBuffer with memory of its own is an object V8's array-buffer sweep walks at each full
 * collection; with one V8 thread collecting (a gateway on one core) that sweep is part of the
 * collection's final pause. At 300 models x 30 features x 16 partitions the windows' ~75,000
 * bucket arrays made it 20-30 ms of each 30-48 ms final pause (--trace-gc-nvp,
 * finish.sweep_array_buffers).
 *
 * Regions are cut one after the other and never cut twice: a region its store lets go (its array
 * grown, widened or dropped) is only counted as free. Once the free bytes are a share of what the
 * slabs hold, the owner moves every array it holds into fresh slabs (compact: one slab as large as
 * they are), and the old slabs go with the last array in them. No region is handed out while
 * another array may still be over it, so a store that kept an old array would read its own stale
 * weights, never another store's.
 */
import type { Counts } from './types.ts';

/** Bytes of a slab cut between compactions: room for the arrays of a window or two growing. */
export const SLAB_BYTES = 1 << 14;
/** Larger arrays (float weights of a wide store, a window past 16,384 one-byte buckets) get a buffer of their own. */
export const MAX_REGION_BYTES = SLAB_BYTES;
/** Arrays of at most this many bytes live in V8's heap (no buffer of their own): left to it. */
export const ON_HEAP_BYTES = 64;
/** A slab made by compact is rounded up to this, and has at least this much room left. */
const COMPACT_ROOM_BYTES = 1 << 12;

/** `bytes` rounded up to a multiple of 8 (float64 weights stay aligned): what a region of them takes. */
export function regionBytes(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}

/** Bytes of the region an array of `bytes` takes; 0 for one left to a buffer of its own (small enough for V8's heap, or larger than a region). */
export function regionBytesOf(bytes: number): number {
  return bytes <= ON_HEAP_BYTES || bytes > MAX_REGION_BYTES ? 0 : regionBytes(bytes);
}

/** `length` weights of the kind `like` holds, over `buffer` from `byteOffset` (the arena's regions, BucketStore's arrays). */
export function countsOver(like: Counts, buffer: ArrayBuffer, byteOffset: number, length: number): Counts {
  if (like instanceof Uint16Array) return new Uint16Array(buffer, byteOffset, length);
  if (like instanceof Uint8Array) return new Uint8Array(buffer, byteOffset, length);
  return like instanceof Uint32Array ? new Uint32Array(buffer, byteOffset, length) : new Float64Array(buffer, byteOffset, length);
}

export class CountsArena {
  /** The slab regions are cut from now; its first `used` bytes are cut. */
  private slab: ArrayBuffer | null = null;
  private used = 0;
  /** The slabs cut since the last compaction: a region of one is this arena's to count. */
  private slabs = new WeakSet<ArrayBuffer>();
  /** The slabs before the current compaction, while it runs (see beginCompaction). */
  private previous: WeakSet<ArrayBuffer> | null = null;
  /** Bytes of the slabs cut since the last compaction, and of the regions in them not given back. */
  private slabBytes = 0;
  private liveBytes = 0;

  /**
   * A zeroed array of `length` weights of the kind `like` holds: a region of a slab, or an array
   * of its own when it is small enough for V8's heap or larger than MAX_REGION_BYTES.
   */
  take(like: Counts, length: number): Counts {
    const bytes = length * like.BYTES_PER_ELEMENT;
    const size = regionBytesOf(bytes);
    if (size === 0) return countsOver(like, new ArrayBuffer(bytes), 0, length);
    if (this.slab === null || this.used + size > this.slab.byteLength) this.cutSlab(SLAB_BYTES);
    const view = countsOver(like, this.slab as ArrayBuffer, this.used, length);
    this.used += size;
    this.liveBytes += size;
    return view;
  }

  /** `array`, a region of this arena's, is no longer read or written by its store: its bytes count as free. */
  give(array: Counts): void {
    if (this.owns(array)) this.liveBytes -= regionBytes(array.byteLength);
  }

  /** Bytes cut and not held by a region taken and not given back (the rest of the current slab included). */
  get freeBytes(): number {
    return this.slabBytes - this.liveBytes;
  }

  /** Bytes of the slabs cut since the last compaction (what the arena holds while its arrays are all live). */
  get bytes(): number {
    return this.slabBytes;
  }

  /** Whether the free bytes are worth a compaction: over `share` of the slabs' bytes, and a slab's worth at least. */
  wantsCompaction(share: number): boolean {
    const free = this.freeBytes;
    return free > SLAB_BYTES && free > share * this.slabBytes;
  }

  /**
   * Starts a compaction: from now on regions are cut from one new slab as large as the live bytes
   * (and room); the owner moves each array it holds with `moveInto`, then calls endCompaction. An
   * array it does not move (a sketch dropped without giving its arrays back) stays where it is,
   * and its slab lives while it does.
   */
  beginCompaction(): void {
    this.previous = this.slabs;
    this.slabs = new WeakSet();
    const live = this.liveBytes;
    this.slabBytes = 0;
    this.liveBytes = 0;
    this.cutSlab(Math.ceil((live + COMPACT_ROOM_BYTES) / COMPACT_ROOM_BYTES) * COMPACT_ROOM_BYTES);
  }

  /** `array` copied into a region of the new slabs when it is a region of the old ones (the array to hold from now on); else `array`. */
  moveInto(array: Counts): Counts {
    if (this.previous === null || array.byteLength <= ON_HEAP_BYTES || !this.previous.has(array.buffer as ArrayBuffer)) return array;
    const moved = this.take(array, array.length);
    moved.set(array);
    return moved;
  }

  endCompaction(): void {
    this.previous = null;
  }

  /** Cuts the next slab `bytes` long (rounded up to 8), for arrays whose total is known (LogHistogram.packArrays). */
  reserve(bytes: number): void {
    if (bytes > 0) this.cutSlab(regionBytes(bytes));
  }

  /** Whether `array` is a region of the slabs cut since the last compaction. */
  owns(array: Counts): boolean {
    return array.byteLength > ON_HEAP_BYTES && this.slabs.has(array.buffer as ArrayBuffer);
  }

  private cutSlab(bytes: number): void {
    this.slab = new ArrayBuffer(bytes);
    this.slabs.add(this.slab);
    this.slabBytes += bytes;
    this.used = 0;
  }
}
