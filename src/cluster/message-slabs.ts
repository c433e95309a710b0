/**
 * Copies of received messages' bytes, written into a few large byte arrays (slabs) used over and
 * over, for a consumer whose handler is done with a message's bytes when it returns.
 *
 * Why: the NATS client hands each message as a view of the socket read it came in (an ArrayBuffer
 * of up to 64 KB, outside V8's heap). A gateway reads ~10 MB of pane messages a second at 300
 * models x 30 features over 16 partitions, and a pull's read-ahead (512 messages) waits long
 * enough for those reads to outlive the young generation. They then die in the old one, and V8
 * starts a full collection of the heap whenever the memory outside it has grown by 64 MB since the
 * last: every 4 s, each ~200 ms of marking on the gateway's thread and a final pause of ~45 ms, the
 * REST tail (`node --trace-incremental-marking`: "external memory pressure" started 8 of the 10 in
 * `bench gateway`'s 40 s at 300 x 16). Copied on arrival, a read is let go as soon as the client has
 * parsed it, dies young, and its memory is given back by the next scavenge.
 *
 * A slab is handed out again once every copy in it was released: the slab being written starts
 * over from its first byte whenever its copies are all released (a consumer that keeps up reuses
 * one slab), a full one goes back to the free list. A copy never released (a message dropped
 * without a word) keeps its slab out of use, to be collected as any array: wasteful, never wrong.
 * A message larger than a quarter of a slab is not copied (null): the caller keeps its own bytes.
 */
import { Buffer } from 'node:buffer';

/** Slab size: a pull's read-ahead of typical pane messages (a few KB each) fits in one or two. */
const DEFAULT_SLAB_BYTES = 1 << 20;
/** Free slabs kept for reuse; more are left to the collector. */
const DEFAULT_MAX_FREE_SLABS = 8;

interface Slab {
  readonly bytes: Uint8Array;
  /** Bytes written from the start. */
  used: number;
  /** Copies in it not released yet. */
  live: number;
}

/** One message's bytes in a slab, until `release`. */
export class SlabCopy {
  private slab: Slab | null;

  constructor(
    private readonly owner: MessageSlabs,
    slab: Slab,
    /** The copy: a Buffer, as the client hands a message's bytes (its slice() a view, see src/contract/bytes.ts). */
    readonly bytes: Buffer,
  ) {
    this.slab = slab;
  }

  /** Gives the copy's room back: `bytes` may be overwritten from now on. Once only; later calls do nothing. */
  release(): void {
    const slab = this.slab;
    if (slab === null) return;
    this.slab = null;
    this.owner.released(slab);
  }
}

export interface MessageSlabsOptions {
  /** Bytes per slab (default 1 MiB); messages over a quarter of it are not copied. */
  slabBytes?: number;
  /** Free slabs kept for reuse (default 8). */
  maxFreeSlabs?: number;
}

export class MessageSlabs {
  readonly slabBytes: number;
  /** Largest message copied (a quarter of a slab). */
  readonly largestCopied: number;
  private readonly maxFreeSlabs: number;
  private current: Slab | null = null;
  private readonly free: Slab[] = [];
  /** Copies made, messages too large to copy, slabs made and slabs taken again (for tests and the benchmark). */
  copies = 0;
  tooLarge = 0;
  slabsMade = 0;
  slabsReused = 0;

  constructor(options: MessageSlabsOptions = {}) {
    const slabBytes = options.slabBytes ?? DEFAULT_SLAB_BYTES;
    const maxFreeSlabs = options.maxFreeSlabs ?? DEFAULT_MAX_FREE_SLABS;
    if (!Number.isInteger(slabBytes) || slabBytes < 64) throw new RangeError(`MessageSlabs: slabBytes must be a whole number >= 64, got ${String(slabBytes)}`);
    if (!Number.isInteger(maxFreeSlabs) || maxFreeSlabs < 0) throw new RangeError(`MessageSlabs: maxFreeSlabs must be a whole number >= 0, got ${String(maxFreeSlabs)}`);
    this.slabBytes = slabBytes;
    this.largestCopied = slabBytes >> 2;
    this.maxFreeSlabs = maxFreeSlabs;
  }

  /** A copy of `bytes` in a slab, or null when it is larger than `largestCopied`. */
  copy(bytes: Uint8Array): SlabCopy | null {
    const length = bytes.length;
    if (length > this.largestCopied) {
      this.tooLarge++;
      return null;
    }
    let slab = this.current;
    if (slab === null || slab.used + length > this.slabBytes) {
      if (slab !== null && slab.live === 0) this.giveBack(slab);
      slab = this.current = this.take();
    }
    const at = slab.used;
    slab.bytes.set(bytes, at);
    slab.used = at + length;
    slab.live++;
    this.copies++;
    return new SlabCopy(this, slab, Buffer.from(slab.bytes.buffer, slab.bytes.byteOffset + at, length));
  }

  /** Slabs held for reuse (for tests). */
  get freeSlabs(): number {
    return this.free.length;
  }

  /** Bytes of the slabs this holds (the one written and the free ones): a fixed cost, whatever the traffic. */
  get heldBytes(): number {
    return (this.current === null ? 0 : this.slabBytes) + this.free.length * this.slabBytes;
  }

  /** SlabCopy.release: the last copy of a slab released makes it free (the current one starts over). */
  released(slab: Slab): void {
    if (--slab.live > 0) return;
    if (slab === this.current) slab.used = 0;
    else this.giveBack(slab);
  }

  private take(): Slab {
    const reused = this.free.pop();
    if (reused !== undefined) {
      this.slabsReused++;
      reused.used = 0;
      return reused;
    }
    this.slabsMade++;
    return { bytes: new Uint8Array(this.slabBytes), used: 0, live: 0 };
  }

  private giveBack(slab: Slab): void {
    if (this.free.length < this.maxFreeSlabs) this.free.push(slab);
  }
}
