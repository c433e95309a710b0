import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Buffer } from 'node:buffer';
import { decode, encode } from '@msgpack/msgpack';
import type { PaneInputWire, PaneOutcomeWire } from '../contract/pane-wire.ts';
import { UNSUPPORTED } from '../contract/msgpack-reader.ts';
import { copyBytes } from '../contract/bytes.ts';
import type { MsgpackReader } from '../contract/msgpack-reader.ts';

/**
 * A pane state the gateway holds but seldom reads (a final state folded over partitions, a coarse
 * pane), packed into one byte array: every sketch's bytes deflated on their own, the rest of the
 * state MessagePack. A held state is read only when it leaves a window or a range is summed from
 * history (a rolling reference, a capture), while it is held for up to twice the longest window:
 * kept as wire objects, the states of one model x feature took ~440 KB (bench gateway
 * --memory-only), each sketch ~2-3 KB of varint buckets that are mostly zeros (200-1,200 values
 * over a span of ~2,700 buckets on heavy-tailed features) plus a few hundred bytes of object
 * headers per feature. Each sketch is deflated by itself, not the state as a whole, so what it
 * saves does not depend on features resembling each other (they do in the bench's generator).
 *
 * Lossless: unpackPaneState(packPaneState(s)) has the same fields and byte-for-byte the same
 * sketches, so a window or reference summed from packed states counts exactly what it did from
 * the wire objects.
 */

/** First byte of a packed sketch: stored as it was (deflate would not shrink it) or deflated. */
const SKETCH_RAW = 0;
const SKETCH_DEFLATED = 1;
/** Below this a sketch (an empty or one-value one: a 56-72 byte header and a few buckets) is kept raw. */
const DEFLATE_FROM_BYTES = 128;
/**
 * A 512-byte window and the smallest hash table: a sketch is a few KB, and zlib's defaults (32 KB,
 * 128 KB of state set up per call) made deflating one cost ~140 us instead of ~40, for 2 % fewer bytes
 * (bench sketches of 1,200 heavy-tailed values: 2,742 B -> 474 / 486 B). Packed states live in memory
 * only, so the setting can change between versions.
 */
const DEFLATE_OPTIONS = { windowBits: 9, memLevel: 2 } as const;

function packSketch(bytes: Uint8Array, deflate: boolean): Uint8Array {
  if (deflate && bytes.length >= DEFLATE_FROM_BYTES) {
    const deflated = deflateRawSync(bytes, DEFLATE_OPTIONS);
    if (deflated.length < bytes.length) {
      const out = new Uint8Array(deflated.length + 1);
      out[0] = SKETCH_DEFLATED;
      out.set(deflated, 1);
      return out;
    }
  }
  const out = new Uint8Array(bytes.length + 1);
  out[0] = SKETCH_RAW;
  out.set(bytes, 1);
  return out;
}

function unpackSketch(packed: Uint8Array): Uint8Array {
  const body = packed.subarray(1);
  if (packed[0] === SKETCH_RAW) return body;
  if (packed[0] === SKETCH_DEFLATED) return inflateRawSync(body, { windowBits: DEFLATE_OPTIONS.windowBits });
  throw new RangeError(`packed pane state: a sketch starts with ${packed[0]}, neither raw (${SKETCH_RAW}) nor deflated (${SKETCH_DEFLATED})`);
}

/**
 * `value` with every byte array (in a pane's wire state, every byte array is a sketch) replaced by
 * `map` of it. A wire state's arrays hold numbers and strings only (a sketch is always an object's
 * field: pane-wire.ts), so they are shared, not copied: copying each value list element by element
 * was most of packing and unpacking an older partition state at sparse traffic.
 */
function mapSketches(value: unknown, map: (bytes: Uint8Array) => Uint8Array): unknown {
  if (value instanceof Uint8Array) return map(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = mapSketches((value as Record<string, unknown>)[key], map);
  return out;
}

/**
 * `state` with every sketch copied out of the bytes it was read from, but those in `own` (made for
 * it already). A message's sketches are views of the bytes the NATS client read it in, a 64 KB
 * socket read shared with the messages beside it: a state held as objects would keep that whole
 * read alive. (They were copied with `slice`, which on a Buffer copies nothing: copyBytes.)
 */
export function detachedSketches<State extends PaneInputWire | PaneOutcomeWire>(state: State, own?: ReadonlySet<Uint8Array>): State {
  return mapSketches(state, (bytes) => (own?.has(bytes) === true ? bytes : copyBytes(bytes))) as State;
}

/**
 * First element of a state packed with its sketches raw, as [RAW_STATE, state]: the state is its
 * MessagePack, nothing rewritten (a state packed with deflated sketches is a map).
 */
const RAW_STATE = 0;

/**
 * Packs a state into one byte array. `deflate` false keeps every sketch raw: a fine state, read
 * three times in its 10 minutes (leaving the 1m and 5m windows, joining its coarse pane), whose
 * sketches are written sparse already (a 30-feature state of 200 heavy-tailed values: 10.3 KB as
 * MessagePack, 6.7 KB deflated, for ~2.5 ms of deflate and ~0.8 ms of inflate per read). Such a
 * state is the state's MessagePack as it is: no sketch copied behind a prefix byte, no object
 * rebuilt (a sparse partition state of 30 features, 12 events: 85 -> 64 -> 38 us packed, 55 -> 39 -> 37 us
 * unpacked, before / arrays shared / raw).
 */
export function packPaneState(state: PaneInputWire | PaneOutcomeWire, deflate = true): Uint8Array {
  const packed = deflate ? encode(mapSketches(state, (bytes) => packSketch(bytes, true))) : encode([RAW_STATE, state]);
  // the encoder's buffer has room to spare (a third more, measured): held for hours, it is copied to size
  return packed.byteLength === packed.buffer.byteLength ? packed : packed.slice();
}

/** MessagePack of [RAW_STATE, ...]: a fixarray of two, then the positive fixint RAW_STATE. */
const RAW_STATE_HEAD = [0x92, RAW_STATE] as const;

/**
 * What packPaneState(state, false) makes, from the state's MessagePack as a pane message carried
 * it (CheckedPaneMessage.stateBytes): a copy behind a two-byte head, no encoding.
 */
export function packStateBytes(stateBytes: Uint8Array): Uint8Array {
  const packed = new Uint8Array(packedStateLength(stateBytes));
  packStateBytesInto(stateBytes, packed, 0);
  return packed;
}

/**
 * Whether `packed` is what packStateBytes makes of `stateBytes`: the same MessagePack behind the
 * head (packed states of another form, or encoded from objects, may differ while holding the same).
 */
export function isPackedStateBytes(packed: Uint8Array, stateBytes: Uint8Array): boolean {
  const head = RAW_STATE_HEAD.length;
  if (packed.length !== stateBytes.length + head || packed[0] !== RAW_STATE_HEAD[0] || packed[1] !== RAW_STATE_HEAD[1]) return false;
  // memcmp: a pane state is a few KB
  return Buffer.compare(Buffer.from(packed.buffer, packed.byteOffset + head, stateBytes.length), Buffer.from(stateBytes.buffer, stateBytes.byteOffset, stateBytes.length)) === 0;
}

/** The length of what packStateBytes makes of `stateBytes`. */
export function packedStateLength(stateBytes: Uint8Array): number {
  return stateBytes.length + RAW_STATE_HEAD.length;
}

/** Writes what packStateBytes makes of `stateBytes` into `target` at `offset` (packedStateLength bytes). */
export function packStateBytesInto(stateBytes: Uint8Array, target: Uint8Array, offset: number): void {
  target[offset] = RAW_STATE_HEAD[0];
  target[offset + 1] = RAW_STATE_HEAD[1];
  target.set(stateBytes, offset + RAW_STATE_HEAD.length);
}

/**
 * The state packPaneState packed (its raw sketches are views of `packed`); RangeError for bytes it
 * did not write. `reader`: one kept by the caller, faster than the general decoder, which reads
 * what it does not.
 */
export function unpackPaneState<State extends PaneInputWire | PaneOutcomeWire>(packed: Uint8Array, reader?: MsgpackReader): State {
  let decoded = reader === undefined ? UNSUPPORTED : reader.read(packed);
  if (decoded === UNSUPPORTED) decoded = decode(packed);
  if (Array.isArray(decoded)) {
    if (decoded.length !== 2 || decoded[0] !== RAW_STATE) throw new RangeError(`packed pane state: an array of ${decoded.length} starting with ${String(decoded[0])}, not [${RAW_STATE}, state]`);
    return decoded[1] as State;
  }
  return mapSketches(decoded, unpackSketch) as State;
}
