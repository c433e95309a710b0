/**
 * Byte arrays for the partition input states a model's windows hold (PaneStates.setBytes), taken
 * back when a later state of the same partition and pane has replaced one (ModelWindows.applyState)
 * and handed out again for the next state that fits.
 *
 * A worker republishes each open pane every second, so a gateway copies every arriving input state
 * (a few KB) into an array of its own and drops the one it replaces about a second later: at 300
 * models x 30 features over 16 partitions ~2,000 arrays, ~7 MB a second that outlive the young
 * generation, beside the ~10 MB of the messages themselves. Their memory is outside V8's heap, and V8 starts a full collection of the heap
 * whenever that memory has grown by 64 MB since the last one: every 2-3 s there, each ~300 ms of
 * marking on the gateway's thread (bench gateway, `--trace-incremental-marking`: every full
 * collection of the measured 40 s "external memory pressure"). Arrays used again are not new
 * outside memory.
 *
 * An array's capacity is a size class (four per doubling, so a state's array is at most 19 % longer
 * than the state), and a state is a view of its first bytes. A republished state is a second of
 * values longer than the one it replaces, often of the next class up: the arrays given back serve
 * other partitions' and panes' states, an early state's array a new pane's first states some
 * seconds later. So the pool keeps up to `maxBytes` of arrays (bench gateway at 300 models over 16
 * partitions: with 8 MB, 47k of the 84k arrays given back were dropped, 31 % of the states written
 * into arrays used again; with 32 MB, 61 %). Without the pool, as many dead arrays wait outside the
 * heap for V8's next full collection (up to 64 MB); beyond `maxBytes`, an array given back is left
 * to the collector.
 */

/** Smallest capacity handed out: a state shorter than this takes an array of this length. */
const SMALLEST_CLASS = 64;
/** Size classes per doubling of capacity. */
const CLASSES_PER_DOUBLING = 4;
/** States longer than this (a busy pane's tens of KB) get arrays of their own, never pooled. */
export const LARGEST_POOLED_BYTES = 1 << 20;

export class StateBytePool {
  /** Buffers given back, per size class, each of that class's capacity. */
  private readonly free: ArrayBuffer[][] = [];
  /** The buffers this pool made: only those are taken back (never another's, e.g. Node's shared pool for small Buffers). */
  private readonly ours = new WeakSet<ArrayBufferLike>();
  /** The buffers in `free` (one given back twice is pooled once: two states must never share it). */
  private readonly pooled = new WeakSet<ArrayBufferLike>();
  private pooledBytes = 0;
  /** Arrays handed out from the pool, and new ones made (for tests and the benchmark). */
  reused = 0;
  made = 0;

  constructor(readonly maxBytes = 32 << 20) {}

  /**
   * A byte array of `length` for a state to be written into: a view of the first `length` bytes of
   * a buffer of its size class, one given back or a new one.
   */
  take(length: number): Uint8Array {
    if (length > LARGEST_POOLED_BYTES) {
      this.made++;
      return new Uint8Array(length);
    }
    const sizeClass = classOf(length);
    let buffer = this.free[sizeClass]?.pop();
    if (buffer !== undefined) {
      this.pooled.delete(buffer);
      this.pooledBytes -= buffer.byteLength;
      this.reused++;
    } else {
      this.made++;
      buffer = new ArrayBuffer(capacityOf(sizeClass));
      this.ours.add(buffer);
    }
    return new Uint8Array(buffer, 0, length);
  }

  /**
   * Gives back an array `take` handed out, once nothing reads it any more (its state replaced and
   * the replacement applied): it may be handed out again at once. An array `take` did not make is
   * left alone.
   */
  give(state: Uint8Array): void {
    const buffer = state.buffer;
    if (!this.ours.has(buffer) || this.pooled.has(buffer) || this.pooledBytes + buffer.byteLength > this.maxBytes) return;
    (this.free[classOf(buffer.byteLength)] ??= []).push(buffer as ArrayBuffer);
    this.pooled.add(buffer);
    this.pooledBytes += buffer.byteLength;
  }

  /** Bytes of the arrays held for reuse. */
  get heldBytes(): number {
    return this.pooledBytes;
  }
}

/** The size class whose capacity is the smallest at least `length`. */
function classOf(length: number): number {
  if (length <= SMALLEST_CLASS) return 0;
  let sizeClass = Math.max(0, Math.floor(Math.log2(length / SMALLEST_CLASS) * CLASSES_PER_DOUBLING) - 1);
  while (capacityOf(sizeClass) < length) sizeClass++;
  return sizeClass;
}

/** The capacity of a size class: SMALLEST_CLASS x 2^(class / CLASSES_PER_DOUBLING), rounded up to 8 bytes. */
function capacityOf(sizeClass: number): number {
  return Math.ceil((SMALLEST_CLASS * 2 ** (sizeClass / CLASSES_PER_DOUBLING)) / 8) * 8;
}
