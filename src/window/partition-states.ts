import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { PaneInputWire, PaneOutcomeWire } from '../contract/pane-wire.ts';
import { copyBytes } from '../contract/bytes.ts';
import { packPaneState, packStateBytesInto, packedStateLength } from './packed-state.ts';
import type { StateBytePool } from './state-byte-pool.ts';

/** A pane state as held: its wire objects, or packed into one byte array (packPaneState, packStateBytes). */
export type HeldState = PaneInputWire | PaneOutcomeWire | Uint8Array;

/**
 * Packed outcome states up to this long share their pane's byte array; a longer one (a busy
 * partition's) has its own: rewriting it with its neighbours at each replacement would cost more
 * than the ~180 bytes its own array costs.
 */
export const SHARED_STATE_MAX_BYTES = 4096;

const EMPTY = new Uint8Array(0);

/** Numbers per slot in `slots`: the partition, where its bytes start and end in `shared`, flags. */
const STRIDE = 4;
const FINAL = 1;
/** The state is held in `own` (wire objects, or bytes too long to share). */
const OWN = 2;

/**
 * How much longer than what it holds (a share) a shared array is made: the next states are written
 * into that room, and the array is rewritten only once it is full. Rewritten at every replacement,
 * an outcome message cost 0.040 -> 0.047 ms (bench pane-apply --labels: copying its pane's other
 * states, a few KB at 16 partitions, cold in cache); with a quarter more room, what it cost held
 * alone, for ~100 bytes more per state (bench gateway --memory-only, sparse with labels: 93.5 ->
 * 98.1 KB per model x feature x window).
 */
export const SHARED_HEADROOM = 1 / 4;

/**
 * A pane's shared states packed (pack) are deflated as one run: 16 partitions' outcome states
 * repeat each other's field names and layout, which deflate finds only with a window longer than a
 * state. Over the open outcome panes of bench gateway --memory-only's sparse shape with labels
 * (~6.6 KB per pane): a 512-byte window (the one pane sketches are deflated with) kept 81 % of the
 * bytes, 4 KB 27 % (~140 us to deflate a pane, ~25 us to inflate it), 32 KB 24 %.
 */
const PACK_OPTIONS = { windowBits: 12, memLevel: 4 } as const;

/**
 * The partitions' states of one pane (version, start, part) while they may still change, for the
 * windows of one model (windows.ts). At 16 partitions with labels an outcome pane stays open for
 * the label horizon (an hour): ~5,600 partition outcome states per model, most a few hundred
 * bytes. Held each as its own byte array, in a map keyed by a string naming partition, version,
 * start and part, each cost ~830 bytes, ~430 of them the array's object, buffer and backing store
 * and the map entry, key and record (bench gateway --memory-only, sparse with labels). Here a
 * pane's outcome states share one byte array, written end to end, and one table of numbers.
 *
 * A new state is written after the others, into the room left (SHARED_HEADROOM); once there is
 * none, the array is rewritten with the states held, without those replaced. Bytes written are
 * never written again: a view of a state taken before it was replaced reads what it read, as long
 * as it is kept.
 *
 * An input pane's states are held each in their own right: replaced every second while the pane is
 * open, they would have the array rewritten every few messages, and they are few (the pane is open
 * for the allowed lateness, a minute: ~100 partition input states per model at 16 partitions).
 */
export class PaneStates {
  private readonly slots: number[] = [];
  /** States not in `shared`, per partition. */
  private own: Map<number, HeldState> | null = null;
  private shared: Uint8Array = EMPTY;
  /** Bytes of `shared` written (states held, and those replaced since it was rewritten). */
  private used = 0;
  /** Bytes of `shared` the states held take. */
  private live = 0;
  /**
   * The shared states written end to end (`used` bytes, no room after them), deflated (pack): while
   * the states are as they were then, `shared` may be let go and read back from it. Null: none, or
   * the states changed since.
   */
  private packed: Uint8Array | null = null;
  /** pack found the states as they are no shorter deflated: held as they are until they change. */
  private incompressible = false;
  /**
   * When a state was last set here, in the model's event time (its newest pane's end, set by
   * ModelWindows): an outcome pane no label has changed for a while is packed.
   */
  changedAt = -Infinity;

  constructor(
    readonly version: string,
    readonly paneStart: number,
    readonly part: 'in' | 'out',
  ) {}

  /** The states held. */
  get size(): number {
    return this.slots.length / STRIDE;
  }

  partitionAt(slot: number): number {
    return this.slots[slot * STRIDE];
  }

  finalAt(slot: number): boolean {
    return (this.slots[slot * STRIDE + 3] & FINAL) !== 0;
  }

  /** Whether a final state is held (takeFinal would take one). */
  hasFinal(): boolean {
    for (let i = 3; i < this.slots.length; i += STRIDE) if ((this.slots[i] & FINAL) !== 0) return true;
    return false;
  }

  /** The slot of `partition`'s state, -1 for none. */
  slotOf(partition: number): number {
    const slots = this.slots;
    for (let i = 0; i < slots.length; i += STRIDE) if (slots[i] === partition) return i / STRIDE;
    return -1;
  }

  /** The state in `slot`: bytes in the shared array are a view of it (see the class). */
  stateAt(slot: number): HeldState {
    const i = slot * STRIDE;
    if ((this.slots[i + 3] & OWN) !== 0) return (this.own as Map<number, HeldState>).get(this.slots[i]) as HeldState;
    return this.readable().subarray(this.slots[i + 1], this.slots[i + 2]);
  }

  /** Whether the state in `slot` lies in the shared array (stateAt gives a view: see the class). */
  sharedAt(slot: number): boolean {
    return (this.slots[slot * STRIDE + 3] & OWN) === 0;
  }

  /**
   * Holds `partition`'s state from its MessagePack (CheckedPaneMessage.stateBytes), packed raw
   * (packStateBytes); an input state in an array from `pool` when one is given.
   */
  setBytes(partition: number, stateBytes: Uint8Array, final: boolean, pool?: StateBytePool): void {
    const length = packedStateLength(stateBytes);
    this.writable();
    if (this.part === 'in' || length > SHARED_STATE_MAX_BYTES) {
      const packed = this.part === 'in' && pool !== undefined ? pool.take(length) : new Uint8Array(length);
      packStateBytesInto(stateBytes, packed, 0);
      this.setState(partition, packed, final);
      return;
    }
    const i = this.release(partition);
    const at = this.used + length <= this.shared.length ? this.used : this.rewrite(length);
    this.used = at + length;
    packStateBytesInto(stateBytes, this.shared, at);
    this.slots[i + 1] = at;
    this.slots[i + 2] = at + length;
    this.slots[i + 3] = final ? FINAL : 0;
    this.live += length;
  }

  /** Marks the state in `slot` final, as it is (a final state byte for byte the one held: see ModelWindows.applyState). */
  markFinal(slot: number): void {
    this.slots[slot * STRIDE + 3] |= FINAL;
  }

  /** Holds `partition`'s state as given (wire objects, or packed bytes), in its own right. */
  setState(partition: number, state: HeldState, final: boolean): void {
    this.writable();
    const i = this.release(partition);
    (this.own ??= new Map()).set(partition, state);
    this.slots[i + 3] = OWN | (final ? FINAL : 0);
  }

  /**
   * Takes out the final states: their partitions and states (stateAt's: a view, still whole, of a
   * shared one, which keeps the array it lay in alive while it is kept: see `shared`).
   */
  takeFinal(): Array<{ partition: number; state: HeldState; shared: boolean }> {
    this.writable();
    const taken: Array<{ partition: number; state: HeldState; shared: boolean }> = [];
    for (let slot = 0; slot < this.size; slot++) {
      if (this.finalAt(slot)) taken.push({ partition: this.partitionAt(slot), state: this.stateAt(slot), shared: this.sharedAt(slot) });
    }
    for (const { partition } of taken) this.remove(partition);
    if (this.live === 0) {
      this.shared = EMPTY;
      this.used = 0;
    } else if (this.used - this.live > this.live * SHARED_HEADROOM) this.rewrite(0);
    return taken;
  }

  /** Packs the states held as wire objects and not final (packPaneState, raw). */
  packObjects(): void {
    if (this.own === null) return;
    for (let slot = 0; slot < this.size; slot++) {
      const i = slot * STRIDE;
      if ((this.slots[i + 3] & (OWN | FINAL)) !== OWN) continue;
      const state = this.own.get(this.slots[i]) as HeldState;
      if (!(state instanceof Uint8Array)) this.own.set(this.slots[i], packPaneState(state, false));
    }
  }

  /** Bytes of the states held: packed ones' length (deflated while pack holds them so), wire objects' sketches (`wireBytes`). */
  heldBytes(wireBytes: (state: PaneInputWire | PaneOutcomeWire) => number): number {
    const packed = this.packedLength;
    let bytes = packed > 0 ? packed : this.live;
    for (const state of this.own?.values() ?? []) bytes += state instanceof Uint8Array ? state.byteLength : wireBytes(state);
    return bytes;
  }

  /** The length of the shared array (for tests: what the states' bytes really take). */
  get sharedCapacity(): number {
    return this.shared.length;
  }

  /** The length of the shared states deflated, while held so (pack); 0 otherwise (for tests). */
  get packedLength(): number {
    return this.shared.length === 0 && this.packed !== null ? this.packed.length : 0;
  }

  /**
   * Holds the shared states deflated as one run, without the array they were in, until one is read
   * (stateAt inflates them, and keeps the deflated bytes while nothing changes) or set. For an
   * outcome pane no label has changed for a while (ModelWindows): open for the label horizon (an
   * hour), most of it with no new label once the labels' usual delay has passed, read again only
   * when it leaves a window and when it is folded. Views taken before stay whole (see the class).
   * Returns whether it deflated them now (letting go of the array again, as they were, costs nothing).
   */
  pack(): boolean {
    if (this.live === 0 || this.incompressible || this.shared.length === 0) return false;
    const deflating = this.packed === null;
    if (deflating) {
      // end to end with no room after them: what is deflated, and what is read back
      if (this.used !== this.live || this.shared.length !== this.live) this.rewrite(0, 0);
      const deflated = deflateRawSync(this.shared, PACK_OPTIONS);
      // deflate hands a view of an output chunk of 16 KB (zlib's default chunkSize)
      if (deflated.length >= this.live) {
        this.incompressible = true;
        return true;
      }
      this.packed = copyBytes(deflated);
    }
    this.shared = EMPTY;
    return deflating;
  }

  /** `shared`, inflated from `packed` if it was let go. */
  private readable(): Uint8Array {
    if (this.shared.length === 0 && this.packed !== null) {
      const inflated = inflateRawSync(this.packed, { windowBits: PACK_OPTIONS.windowBits });
      if (inflated.length !== this.used) throw new Error(`PaneStates: ${inflated.length} bytes inflated, ${this.used} packed (bug)`);
      this.shared = copyBytes(inflated);
    }
    return this.shared;
  }

  /** Before the states change: `shared` at hand, and what was packed of it no longer what it holds. */
  private writable(): void {
    this.readable();
    this.packed = null;
    this.incompressible = false;
  }

  /**
   * The slot's index in `slots` for a new state of `partition`: its present slot with what it held
   * let go (the slot keeps its place: states are merged in slot order), or a new one at the end.
   */
  private release(partition: number): number {
    const slot = this.slotOf(partition);
    if (slot < 0) {
      this.slots.push(partition, 0, 0, 0);
      return this.slots.length - STRIDE;
    }
    const i = slot * STRIDE;
    if ((this.slots[i + 3] & OWN) !== 0) (this.own as Map<number, HeldState>).delete(partition);
    else this.live -= this.slots[i + 2] - this.slots[i + 1];
    this.slots[i + 1] = 0;
    this.slots[i + 2] = 0;
    this.slots[i + 3] = 0;
    return i;
  }

  private remove(partition: number): void {
    const i = this.release(partition);
    this.slots.splice(i, STRIDE);
  }

  /**
   * The held shared states written end to end, in slot order, into a new array with room for
   * `extra` bytes after them and `headroom`; returns where those go. States that lay end to end
   * already (all but the one replaced, most often) are copied as one run.
   */
  private rewrite(extra: number, headroom = SHARED_HEADROOM): number {
    const needed = this.live + extra;
    const from = this.shared;
    const next = needed === 0 ? EMPTY : new Uint8Array(needed + Math.ceil(needed * headroom));
    const slots = this.slots;
    let at = 0;
    let runStart = 0;
    let runEnd = 0;
    for (let i = 0; i < slots.length; i += STRIDE) {
      if ((slots[i + 3] & OWN) !== 0) continue;
      const start = slots[i + 1];
      const end = slots[i + 2];
      if (start === end) continue;
      if (start !== runEnd) {
        if (runEnd > runStart) next.set(from.subarray(runStart, runEnd), at - (runEnd - runStart));
        runStart = start;
      }
      runEnd = end;
      slots[i + 1] = at;
      slots[i + 2] = at + end - start;
      at += end - start;
    }
    if (runEnd > runStart) next.set(from.subarray(runStart, runEnd), at - (runEnd - runStart));
    this.shared = next;
    this.used = at;
    return at;
  }
}
