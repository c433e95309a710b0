/**
 * A model's feature schema and the per-event buffer its events' features are decoded into.
 *
 * Events of one model send the same feature names, usually in the same order. The schema interns
 * each name once to a small index (its position in `names`), and remembers, for each position in
 * the `features` map, the bytes of the key last seen there and its index: the next event's key is
 * a byte comparison, with no string made, hashed or looked up. Values go straight into the
 * preallocated arrays of a FeatureBuffer, by their position in the event, with the schema index
 * of each. Panes then find a feature's summary by index (PaneInput.featureAt).
 *
 * The schema affects cost only, never results: the fast path (MsgpackReader.readEvent) takes only
 * the events whose features it can represent exactly (valid values, names it can intern, no
 * repeated key); every other event is decoded into a plain object and validated and applied by
 * name, as before. Indexes are local to one processor: the pane wire format and checkpoints carry
 * names, so gateways and restores never see them.
 */
import { WIRE_LIMITS } from './validate.ts';

/** Kinds of a buffered feature value. */
export const FEATURE_NUMBER = 1;
export const FEATURE_STRING = 2;
export const FEATURE_NULL = 3;
export type FeatureKind = typeof FEATURE_NUMBER | typeof FEATURE_STRING | typeof FEATURE_NULL;

/**
 * A name an object would not enumerate in insertion order ("0", "17": an array index goes first
 * in a `for...in`) or would not keep as an own property ("__proto__"). Names the validator refuses
 * (too long) are left to it as well, so that its message is the one the producer gets.
 */
function internable(name: string): boolean {
  if (name.length > WIRE_LIMITS.maxNameLength || name === '__proto__') return false;
  const first = name.charCodeAt(0);
  if (first >= 0x30 && first <= 0x39) {
    // canonical array index: digits without a leading zero (or "0" itself), below 2^32 - 1
    if (/^(?:0|[1-9][0-9]*)$/.test(name) && Number(name) < 4294967295) return false;
  }
  return true;
}

/** Bytes the key memory starts with; it doubles as keys come, and starts over when full. */
const FIRST_KEY_BYTES = 1024;
/** Most bytes the key memory holds by default: names churning at the positions start it over instead of growing it. */
const MAX_KEY_BYTES = 1 << 20;

export class FeatureSchema {
  /** Feature names by index. */
  readonly names: string[] = [];
  readonly #indexes = new Map<string, number>();
  /**
   * Per position in an event's `features` map, the key last seen there: its bytes at
   * `keyBytes[keyAt[p]]`, `keyLength[p]` of them (-1: none yet), and its index `keyIndexes[p]`.
   * All keys' bytes lie in one array, so the reader compares a key without loading an object per
   * position (read them once per event: rememberKey may replace the arrays).
   */
  keyBytes: Uint8Array;
  /** A view of keyBytes, to compare four bytes at a time. */
  keyView: DataView;
  keyAt = new Int32Array(0);
  keyLength = new Int32Array(0);
  keyIndexes = new Int32Array(0);
  #keyBytesUsed = 0;
  /** The event (`stamp`) each index last appeared in: a repeated key in one map is seen by this (see beginEvent). */
  readonly seenIn: Uint32Array;
  /** The current event's stamp (see beginEvent). */
  stamp = 0;

  /**
   * `maxNames`: names interned at most; events naming others take the by-name path. `maxKeyBytes`:
   * the most bytes of keys remembered (at least 256, a key's most).
   */
  constructor(
    readonly maxNames: number,
    readonly maxKeyBytes = MAX_KEY_BYTES,
  ) {
    if (!Number.isInteger(maxNames) || maxNames < 1) throw new RangeError(`FeatureSchema: maxNames must be a positive integer, got ${maxNames}`);
    if (!Number.isInteger(maxKeyBytes) || maxKeyBytes < 256) throw new RangeError(`FeatureSchema: maxKeyBytes must be an integer of at least 256, got ${maxKeyBytes}`);
    this.seenIn = new Uint32Array(maxNames);
    this.keyBytes = new Uint8Array(Math.min(FIRST_KEY_BYTES, maxKeyBytes));
    this.keyView = new DataView(this.keyBytes.buffer);
  }

  get size(): number {
    return this.names.length;
  }

  /** The index of `name`, interned now when new; -1 when the schema is full or the name is not internable. */
  indexOf(name: string): number {
    const known = this.#indexes.get(name);
    if (known !== undefined) return known;
    if (this.names.length >= this.maxNames || !internable(name)) return -1;
    const index = this.names.length;
    this.names.push(name);
    this.#indexes.set(name, index);
    return index;
  }

  /**
   * Starts a new event's `features` map of `size` keys: a new stamp (an index is repeated when
   * `seenIn[index] === stamp`; the reader marks each as it comes), and room for its positions.
   */
  beginEvent(size = 0): void {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.seenIn.fill(0);
      this.stamp = 1;
    }
    if (size > this.keyAt.length) this.growPositions(size);
  }

  /** Remembers that the key at `position` is `bytes[start, start + length)`, of index `index`. */
  rememberKey(position: number, bytes: Uint8Array, start: number, length: number, index: number): void {
    if (position >= this.keyAt.length) this.growPositions(position + 1);
    if (this.#keyBytesUsed + length > this.keyBytes.length) {
      const grownLength = Math.min(2 * this.keyBytes.length, this.maxKeyBytes);
      if (this.#keyBytesUsed + length <= grownLength) {
        const grown = new Uint8Array(grownLength);
        grown.set(this.keyBytes.subarray(0, this.#keyBytesUsed));
        this.keyBytes = grown;
        this.keyView = new DataView(grown.buffer);
      } else {
        // full of keys that changed at their positions: forget them all, the next events teach them again
        this.keyLength.fill(-1);
        this.#keyBytesUsed = 0;
      }
    }
    const at = this.#keyBytesUsed;
    this.keyBytes.set(bytes.subarray(start, start + length), at);
    this.#keyBytesUsed += length;
    this.keyAt[position] = at;
    this.keyLength[position] = length;
    this.keyIndexes[position] = index;
  }

  private growPositions(size: number): void {
    const length = Math.max(size, 2 * this.keyAt.length, 16);
    const keyAt = new Int32Array(length);
    const keyLength = new Int32Array(length).fill(-1);
    const keyIndexes = new Int32Array(length);
    keyAt.set(this.keyAt);
    keyLength.set(this.keyLength);
    keyIndexes.set(this.keyIndexes);
    this.keyAt = keyAt;
    this.keyLength = keyLength;
    this.keyIndexes = keyIndexes;
  }
}

/**
 * One event's features, by their position in the event: schema index, kind and value. Allocated
 * once per consumer with room for the most features an event may carry; `count` is 0 when the
 * event's features were not buffered (no schema yet, JSON, or an event left to the by-name path).
 */
export class FeatureBuffer {
  count = 0;
  readonly indexes: Int32Array;
  readonly kinds: Uint8Array;
  readonly numbers: Float64Array;
  readonly strings: string[];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`FeatureBuffer: capacity must be a positive integer, got ${capacity}`);
    this.indexes = new Int32Array(capacity);
    this.kinds = new Uint8Array(capacity);
    this.numbers = new Float64Array(capacity);
    this.strings = new Array<string>(capacity).fill('');
  }
}
