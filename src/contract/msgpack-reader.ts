/**
 * A MessagePack reader for the shapes the project's messages have (maps of strings, numbers, nil,
 * booleans, byte arrays, arrays and nested maps), written because @msgpack/msgpack's general
 * decoder was half of the worker's per-event cost (bench/decode.ts measures both) and most of the
 * gateway's cost of reading a pane message (a 30-feature pane state: 39 -> 16 us). Two things make
 * it cheaper:
 *  - short strings (keys, feature names, categories, model and version) come from a small
 *    direct-mapped cache keyed by their bytes, so the same "country" is decoded once, not per message
 *    (the cache keeps a copy of those bytes, never a view of the message: see copyBytes);
 *  - other strings are decoded natively by Buffer (latin1 when ASCII, else UTF-8).
 * Byte arrays are views into the bytes read, as the general decoder makes them. Anything outside
 * that subset (ext types such as timestamps, maps with non-string keys, a `__proto__` key, nesting
 * deeper than MAX_DEPTH, invalid UTF-8) makes `read` return UNSUPPORTED, and the caller falls back
 * to @msgpack/msgpack, which decides what the value is; so both paths produce the same objects and
 * the same rejections. One reader per consumer: it is not reentrant.
 */

import { copyBytes } from './bytes.ts';

export const UNSUPPORTED: unique symbol = Symbol('unsupported msgpack');

const CACHE_SIZE = 4096; // entries, power of two
const CACHE_MAX_LENGTH = 24; // bytes: longer strings (ids) are rarely repeated
const MAX_DEPTH = 8;
/** Map keys remembered by position (KEY_SLOTS of them, a power of two). */
export const KEY_SLOTS = 1024;

class Unsupported extends Error {}
/** Thrown inside a read for what the reader does not read; the read returns UNSUPPORTED. */
export const UNSUPPORTED_ERROR = new Unsupported('unsupported');

/** Whether `cached` holds the `length` bytes of `bytes` from `start` (which must lie within it). */
function sameBytes(cached: Uint8Array | undefined, length: number, bytes: Uint8Array, start: number): boolean {
  if (cached === undefined || cached.length !== length || start + length > bytes.length) return false;
  for (let i = 0; i < length; i++) if (cached[i] !== bytes[start + i]) return false;
  return true;
}

/** Whether a value starting with byte `b` is a number (fixint, float, int, uint). */
function startsNumber(b: number): boolean {
  return b <= 0x7f || b >= 0xe0 || (b >= 0xca && b <= 0xd3);
}

export class MsgpackReader {
  protected bytes: Uint8Array = new Uint8Array(0);
  protected pos = 0;
  /**
   * A DataView (numbers) and a Buffer (native text decoding) over the whole ArrayBuffer the
   * payload lies in, at `base`, kept while payloads come from the same ArrayBuffer: a NATS client
   * cuts the messages of one socket read from one chunk. Made per payload, the two cost more than
   * the rest of decoding a small event. The Buffer is made only when a string needs it, and only
   * for a payload that is not a Buffer already (as the NATS client's are: decoded in place, so
   * that no socket read is kept past the next payload's, while the strings all come from the cache).
   */
  protected view: DataView = new DataView(new ArrayBuffer(0));
  protected base = 0;
  private viewSource: ArrayBufferLike | null = null;
  private text: Buffer = Buffer.alloc(0);
  private textSource: ArrayBufferLike | null = null;

  protected begin(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.pos = 0;
    this.rangeKey = null;
    this.valueStart = this.valueEnd = -1;
    if (bytes.buffer !== this.viewSource) {
      this.viewSource = bytes.buffer;
      this.view = new DataView(bytes.buffer);
    }
    this.base = bytes.byteOffset;
  }
  private readonly cacheStrings: (string | undefined)[] = new Array(CACHE_SIZE);
  private readonly cacheBytes: (Uint8Array | undefined)[] = new Array(CACHE_SIZE);
  /**
   * Map keys by position (nesting depth and index): events of one producer repeat their keys in
   * the same order, so the key at a position is usually the one seen there last: a byte
   * comparison, no hashing and no decoding.
   */
  private readonly keyStrings: (string | undefined)[] = new Array(KEY_SLOTS);
  private readonly keyBytes: (Uint8Array | undefined)[] = new Array(KEY_SLOTS);

  /** The key whose top-level value's bytes `read` notes (valueStart, valueEnd); null: none. */
  private rangeKey: string | null = null;
  /**
   * After a `read` given a key, where the top-level map's value of that key lay in the bytes read,
   * [valueStart, valueEnd); -1 when the value was not a map holding it or the read was UNSUPPORTED.
   */
  valueStart = -1;
  valueEnd = -1;

  /**
   * The decoded value, or UNSUPPORTED (fall back to a general decoder). Throws nothing. `rangeOf`:
   * a key of the top-level map whose value's bytes to note (valueStart, valueEnd), so that a
   * caller can keep that part of the message as it came instead of encoding it again.
   */
  read(bytes: Uint8Array, rangeOf: string | null = null): unknown {
    this.begin(bytes);
    this.rangeKey = rangeOf;
    try {
      const value = this.value(0);
      if (this.pos === bytes.length) return value;
    } catch {
      // truncated input (RangeError from DataView) or an unsupported type
    }
    this.valueStart = this.valueEnd = -1;
    return UNSUPPORTED;
  }

  protected value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw UNSUPPORTED_ERROR;
    const bytes = this.bytes;
    if (this.pos >= bytes.length) throw UNSUPPORTED_ERROR;
    const b = bytes[this.pos++];
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return this.array(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return this.string(b & 0x1f);
    let v: number;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xca:
        v = this.float32(this.pos);
        this.pos += 4;
        return v;
      case 0xcb:
        v = this.float64(this.pos);
        this.pos += 8;
        return v;
      case 0xcc:
        return bytes[this.pos++];
      case 0xcd:
        v = this.uint16(this.pos);
        this.pos += 2;
        return v;
      case 0xce:
        v = this.uint32(this.pos);
        this.pos += 4;
        return v;
      case 0xcf:
        v = this.uint32(this.pos) * 4294967296 + this.uint32(this.pos + 4);
        this.pos += 8;
        return v;
      case 0xd0:
        v = (this.uint8(this.pos++) << 24) >> 24;
        return v;
      case 0xd1:
        v = (this.uint16(this.pos) << 16) >> 16;
        this.pos += 2;
        return v;
      case 0xd2:
        v = this.uint32(this.pos) | 0;
        this.pos += 4;
        return v;
      case 0xd3:
        v = (this.uint32(this.pos) | 0) * 4294967296 + this.uint32(this.pos + 4);
        this.pos += 8;
        return v;
      case 0xd9:
        return this.string(bytes[this.pos++]);
      case 0xda:
        v = this.uint16(this.pos);
        this.pos += 2;
        return this.string(v);
      case 0xdb:
        v = this.uint32(this.pos);
        this.pos += 4;
        return this.string(v);
      case 0xdc:
        v = this.uint16(this.pos);
        this.pos += 2;
        return this.array(v, depth);
      case 0xdd:
        v = this.uint32(this.pos);
        this.pos += 4;
        return this.array(v, depth);
      case 0xde:
        v = this.uint16(this.pos);
        this.pos += 2;
        return this.map(v, depth);
      case 0xdf:
        v = this.uint32(this.pos);
        this.pos += 4;
        return this.map(v, depth);
      case 0xc4:
        return this.bin(bytes[this.pos++]);
      case 0xc5:
        v = this.uint16(this.pos);
        this.pos += 2;
        return this.bin(v);
      case 0xc6:
        v = this.uint32(this.pos);
        this.pos += 4;
        return this.bin(v);
      default:
        // ext (timestamps), never-used 0xc1: the general decoder decides
        throw UNSUPPORTED_ERROR;
    }
  }

  /** A view, not a copy, as the general decoder's. */
  private bin(length: number): Uint8Array {
    const start = this.pos;
    if (length > this.bytes.length - start) throw UNSUPPORTED_ERROR;
    this.pos = start + length;
    return this.bytes.subarray(start, start + length);
  }

  private map(size: number, depth: number): Record<string, unknown> {
    if (size > this.bytes.length - this.pos) throw UNSUPPORTED_ERROR;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < size; i++) {
      const key = this.mapKey(depth, i);
      if (depth === 0 && key === this.rangeKey) {
        this.valueStart = this.pos;
        out[key] = this.value(depth + 1);
        this.valueEnd = this.pos;
      } else if (depth === 0 && key === 'id') out[key] = this.uniqueValue(depth + 1);
      else out[key] = this.value(depth + 1);
    }
    return out;
  }

  /**
   * An event's `id` (a prediction's, a label's): a string is decoded without the cache, where one
   * per event would push out the strings that repeat (and copy its bytes each time) when ids are
   * short enough to be cached (numeric ids, nanoids); any other value as `value` reads it.
   */
  protected uniqueValue(depth: number): unknown {
    const bytes = this.bytes;
    const b = bytes[this.pos];
    if ((b & 0xe0) === 0xa0) {
      this.pos++;
      return this.uncachedString(b & 0x1f);
    }
    if (b === 0xd9 && this.pos + 1 < bytes.length) {
      const length = bytes[this.pos + 1];
      this.pos += 2;
      return this.uncachedString(length);
    }
    return this.value(depth);
  }

  private uncachedString(length: number): string {
    const bytes = this.bytes;
    const start = this.pos;
    const end = start + length;
    if (end > bytes.length) throw UNSUPPORTED_ERROR;
    this.pos = end;
    let ascii = true;
    for (let i = start; i < end; i++) if (bytes[i] >= 0x80) ascii = false;
    return this.decodeText(start, end, ascii);
  }

  /** The `i`-th key of a map at `depth` (a string, never `__proto__`), from the keys cached by position. */
  protected mapKey(depth: number, i: number): string {
    const b = this.bytes[this.pos++];
    let length: number;
    if ((b & 0xe0) === 0xa0) length = b & 0x1f;
    else if (b === 0xd9) length = this.bytes[this.pos++];
    else throw UNSUPPORTED_ERROR; // non-string keys
    const key = this.key(length, (depth * 97 + i) & (KEY_SLOTS - 1));
    if (key === '__proto__') throw UNSUPPORTED_ERROR;
    return key;
  }

  protected key(length: number, slot: number): string {
    const bytes = this.bytes;
    const start = this.pos;
    const cached = this.keyBytes[slot];
    if (sameBytes(cached, length, bytes, start)) {
      this.pos = start + length;
      return this.keyStrings[slot] as string;
    }
    const key = this.string(length);
    this.keyBytes[slot] = copyBytes(bytes, start, start + length);
    this.keyStrings[slot] = key;
    return key;
  }

  private array(size: number, depth: number): unknown[] {
    if (size > this.bytes.length - this.pos) throw UNSUPPORTED_ERROR;
    if (size > 0 && startsNumber(this.bytes[this.pos])) return this.numbers(size, depth);
    const out = new Array<unknown>(size);
    for (let i = 0; i < size; i++) out[i] = this.value(depth + 1);
    return out;
  }

  /**
   * An array whose first element is a number, made where no other array is: V8 gives a new array
   * the element kind its allocation site has seen, and one site for every array made number lists
   * of boxed doubles (a 16-byte heap object each, to collect) once it had made a list of strings.
   * Anything else among the numbers is stored as it comes (the array is then a general one).
   */
  private numbers(size: number, depth: number): unknown[] {
    const out = new Array<unknown>(size);
    const bytes = this.bytes;
    const end = bytes.length;
    const view = this.view;
    const base = this.base;
    let pos = this.pos;
    for (let i = 0; i < size; i++) {
      // The number forms lists hold (a pane's exact values and counts) read here, not through
      // value(): a double returned from that call was boxed (a heap number per cell, to collect)
      // before it was stored unboxed here. bench pane-apply-compare 16 partitions, both ways: 0.905.
      // The bounds are checked as value()'s reads check them; past them, value() decides.
      const b = pos < end ? bytes[pos] : -1;
      if (b === 0xcb && pos + 9 <= end) {
        out[i] = view.getFloat64(base + pos + 1);
        pos += 9;
      } else if (b >= 0 && b <= 0x7f) {
        out[i] = b;
        pos++;
      } else if (b === 0xcc && pos + 2 <= end) {
        out[i] = bytes[pos + 1];
        pos += 2;
      } else {
        this.pos = pos;
        out[i] = this.value(depth + 1);
        pos = this.pos;
      }
    }
    this.pos = pos;
    return out;
  }

  protected string(length: number): string {
    const bytes = this.bytes;
    const start = this.pos;
    const end = start + length;
    if (end > bytes.length) throw UNSUPPORTED_ERROR;
    this.pos = end;
    if (length === 0) return '';
    let ascii = true;
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c >= 0x80) ascii = false;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    if (length <= CACHE_MAX_LENGTH) {
      const slot = (hash >>> 0) & (CACHE_SIZE - 1);
      if (sameBytes(this.cacheBytes[slot], length, bytes, start)) return this.cacheStrings[slot] as string;
      const text = this.decodeText(start, end, ascii);
      this.cacheBytes[slot] = copyBytes(bytes, start, end);
      this.cacheStrings[slot] = text;
      return text;
    }
    return this.decodeText(start, end, ascii);
  }

  // Big-endian reads of the payload. Reading past its end throws (the view reaches beyond the
  // payload, to the end of its ArrayBuffer): the caller turns that into UNSUPPORTED, and the
  // general decoder names the truncation.
  private uint8(at: number): number {
    if (at >= this.bytes.length) throw UNSUPPORTED_ERROR;
    return this.bytes[at];
  }

  protected uint16(at: number): number {
    if (at + 2 > this.bytes.length) throw UNSUPPORTED_ERROR;
    return this.view.getUint16(this.base + at);
  }

  private uint32(at: number): number {
    if (at + 4 > this.bytes.length) throw UNSUPPORTED_ERROR;
    return this.view.getUint32(this.base + at);
  }

  private float64(at: number): number {
    if (at + 8 > this.bytes.length) throw UNSUPPORTED_ERROR;
    return this.view.getFloat64(this.base + at);
  }

  private float32(at: number): number {
    if (at + 4 > this.bytes.length) throw UNSUPPORTED_ERROR;
    return this.view.getFloat32(this.base + at);
  }

  private decodeText(start: number, end: number, ascii: boolean): string {
    const bytes = this.bytes;
    let source: Buffer;
    let offset: number;
    if (bytes instanceof Buffer) {
      source = bytes;
      offset = 0;
    } else {
      if (bytes.buffer !== this.textSource) {
        this.textSource = bytes.buffer;
        this.text = Buffer.from(bytes.buffer);
      }
      source = this.text;
      offset = bytes.byteOffset;
    }
    if (ascii) return source.toString('latin1', offset + start, offset + end);
    const text = source.toString('utf8', offset + start, offset + end);
    // invalid UTF-8 decodes to U+FFFD here; let the strict general decoder judge it
    if (text.includes('\ufffd') && !validUtf8(this.bytes, start, end)) throw UNSUPPORTED_ERROR;
    return text;
  }
}

function validUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, end));
    return true;
  } catch {
    return false;
  }
}
