import type { PaneInputWire, PaneOutcomeWire } from '../contract/pane-wire.ts';
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
    return this.shared.subarray(this.slots[i + 1], this.slots[i + 2]);
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
    const i = this.release(partition);
    (this.own ??= new Map()).set(partition, state);
    this.slots[i + 3] = OWN | (final ? FINAL : 0);
  }

  /**
   * Takes out the final states: their partitions and states (stateAt's: a view, still whole, of a
   * shared one, which keeps the array it lay in alive while it is kept: see `shared`).
   */
  takeFinal(): Array<{ partition: number; state: HeldState; shared: boolean }> {
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

  /** Bytes of the states held: packed ones' length, wire objects' sketches (`wireBytes`). */
  heldBytes(wireBytes: (state: PaneInputWire | PaneOutcomeWire) => number): number {
    let bytes = this.live;
    for (const state of this.own?.values() ?? []) bytes += state instanceof Uint8Array ? state.byteLength : wireBytes(state);
    return bytes;
  }

  /** The length of the shared array (for tests: what the states' bytes really take). */
  get sharedCapacity(): number {
    return this.shared.length;
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
   * `extra` bytes after them and the headroom; returns where those go. States that lay end to end already (all but
   * the one replaced, most often) are copied as one run.
   */
  private rewrite(extra: number): number {
    const needed = this.live + extra;
    const from = this.shared;
    const next = needed === 0 ? EMPTY : new Uint8Array(needed + Math.ceil(needed * SHARED_HEADROOM));
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
