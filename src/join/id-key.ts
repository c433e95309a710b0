/**
 * Compact id keys for the join tables: an id string becomes a short byte string plus a 32-bit
 * hash, encoded into a reusable scratch buffer (no allocation per event).
 *
 * Two encodings, told apart by a flag in the stored "tag" (byte length | flag):
 * - a canonical lowercase UUID (36 chars, `8-4-4-4-12` hex) is packed into its 16 raw bytes:
 *   the common id shape costs 16 bytes instead of 36;
 * - anything else is stored as WTF-8 (UTF-8 that encodes a lone surrogate as its own 3-byte
 *   sequence instead of U+FFFD), so that two different JS strings never share an encoding.
 *
 * Why not `fnv1a32` from src/partition/hash.ts: the partition hash is FNV-1a mod P, so inside one
 * partition its low bits are constant when P is a power of two; used as a bucket index it would
 * fill 1/P of the buckets. We need the bytes anyway (to store them), so the hash is computed over
 * the stored bytes and finished with the murmur3 finalizer, which spreads every input bit over
 * the low bits the bucket mask keeps.
 */

/** Set in a tag when the bytes are a packed UUID rather than WTF-8. */
export const PACKED_UUID_FLAG = 0x8000;
/** The largest byte length a tag can carry (15 bits). */
export const MAX_ID_BYTES_LIMIT = 0x7fff;
const TAG_LENGTH_MASK = 0x7fff;
/** The largest scope (the join table's model code) a tag carries in its upper 16 bits. */
export const MAX_SCOPE = 0xffff;

const FNV_OFFSET_BASIS_32 = 0x811c9dc5;
const FNV_PRIME_32 = 0x01000193;

/**
 * FNV-1a over bytes[start, start+length) with the tag's flag and scope mixed in, then the murmur3
 * fmix32 finalizer.
 */
export function hashIdBytes(bytes: Uint8Array, start: number, length: number, tag: number): number {
  let h = FNV_OFFSET_BASIS_32 ^ (tag & ~TAG_LENGTH_MASK);
  for (let i = start, end = start + length; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME_32);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A second 32-bit hash of the same bytes and tag, independent of hashIdBytes (murmur3's per-block
 * mixing, one byte per block, then fmix32): with it a key's 64-bit fingerprint is what the
 * joined-id memory keeps instead of the id bytes.
 */
export function hashIdBytes2(bytes: Uint8Array, start: number, length: number, tag: number): number {
  let h = 0x9747b28c ^ (tag & ~TAG_LENGTH_MASK);
  for (let i = start, end = start + length; i < end; i++) {
    let k = Math.imul(bytes[i] + 0x100 * (i - start), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Scope (model code) carried by a tag. */
export function tagScope(tag: number): number {
  return tag >>> 16;
}

/** Byte length carried by a tag. */
export function tagLength(tag: number): number {
  return tag & TAG_LENGTH_MASK;
}

/** Lowercase hex digit values by char code, -1 elsewhere (uppercase ids stay distinct strings). */
const HEX_VALUE = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let d = 0; d < 10; d++) table[48 + d] = d;
  for (let d = 0; d < 6; d++) table[97 + d] = 10 + d;
  return table;
})();

/** Two hex digits at id[i], id[i+1] as a byte, or -1 (a negative result when either is not hex). */
function hexByte(id: string, i: number): number {
  const hi = id.charCodeAt(i);
  const lo = id.charCodeAt(i + 1);
  if ((hi | lo) >= 128) return -1;
  return (HEX_VALUE[hi] << 4) | HEX_VALUE[lo];
}

/** Packs a canonical lowercase UUID into out[0..16); false (out unspecified) for anything else. */
function packUuid(id: string, out: Uint8Array): boolean {
  if (id.charCodeAt(8) !== 45 || id.charCodeAt(13) !== 45 || id.charCodeAt(18) !== 45 || id.charCodeAt(23) !== 45) return false;
  // Byte k of the UUID starts at this char position ('-' at 8, 13, 18, 23 skipped).
  let bad = 0;
  for (let k = 0; k < 16; k++) {
    const pos = k < 4 ? 2 * k : k < 6 ? 2 * k + 1 : k < 8 ? 2 * k + 2 : k < 10 ? 2 * k + 3 : 2 * k + 4;
    const byte = hexByte(id, pos);
    bad |= byte;
    out[k] = byte;
  }
  return bad >= 0;
}

/**
 * Writes the WTF-8 encoding of `text` into out[0..] and returns the byte length, or -1 when it
 * would exceed `maxBytes` (out must have room for maxBytes + 4 bytes).
 */
export function encodeWtf8Into(text: string, out: Uint8Array, maxBytes: number): number {
  let pos = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    if (pos > maxBytes) return -1;
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      out[pos++] = code;
    } else if (code < 0x800) {
      out[pos++] = 0xc0 | (code >> 6);
      out[pos++] = 0x80 | (code & 0x3f);
    } else {
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < n) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          const cp = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
          out[pos++] = 0xf0 | (cp >> 18);
          out[pos++] = 0x80 | ((cp >> 12) & 0x3f);
          out[pos++] = 0x80 | ((cp >> 6) & 0x3f);
          out[pos++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
      }
      // BMP code point, or a lone surrogate encoded as itself (WTF-8) so encoding stays injective
      out[pos++] = 0xe0 | (code >> 12);
      out[pos++] = 0x80 | ((code >> 6) & 0x3f);
      out[pos++] = 0x80 | (code & 0x3f);
    }
  }
  return pos > maxBytes ? -1 : pos;
}

/** WTF-8 encoding of a string as a fresh array (for snapshots, not the hot path). */
export function encodeWtf8(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 3);
  const length = encodeWtf8Into(text, out, out.length);
  return out.subarray(0, length);
}

/** Decodes WTF-8 bytes[start, start+length) (as written by encodeWtf8Into) back to the string. */
export function decodeWtf8(bytes: Uint8Array, start: number, length: number): string {
  let text = '';
  const end = start + length;
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    let code: number;
    if (b0 < 0x80) {
      code = b0;
      i += 1;
    } else if (b0 < 0xe0) {
      code = ((b0 & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
      i += 2;
    } else if (b0 < 0xf0) {
      code = ((b0 & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
      i += 3;
    } else {
      code = ((b0 & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
      i += 4;
    }
    text += String.fromCodePoint(code);
  }
  return text;
}

/** Validates that bytes[start, start+length) is well-formed WTF-8; returns a problem or null. */
export function checkWtf8(bytes: Uint8Array, start: number, length: number): string | null {
  const end = start + length;
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    const need = b0 < 0x80 ? 1 : b0 >= 0xc2 && b0 < 0xe0 ? 2 : b0 >= 0xe0 && b0 < 0xf0 ? 3 : b0 >= 0xf0 && b0 < 0xf5 ? 4 : 0;
    if (need === 0) return `invalid lead byte 0x${b0.toString(16)} at offset ${i - start}`;
    if (i + need > end) return `truncated sequence at offset ${i - start}`;
    for (let k = 1; k < need; k++) {
      if ((bytes[i + k] & 0xc0) !== 0x80) return `invalid continuation byte at offset ${i - start + k}`;
    }
    i += need;
  }
  return null;
}

const HEX_DIGITS = '0123456789abcdef';

/** Turns a stored id (bytes + tag) back into the id string. */
export function decodeId(bytes: Uint8Array, start: number, tag: number): string {
  if ((tag & PACKED_UUID_FLAG) === 0) return decodeWtf8(bytes, start, tag & TAG_LENGTH_MASK);
  let text = '';
  for (let k = 0; k < 16; k++) {
    if (k === 4 || k === 6 || k === 8 || k === 10) text += '-';
    const b = bytes[start + k];
    text += HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
  }
  return text;
}

/**
 * A reusable encoded id: `set(id, scope)` fills `bytes[0..length)`, `tag` and `hash`. One instance is
 * shared by the tables of a partition, so a lookup in the pending table and then in the early
 * label buffer encodes the id once.
 *
 * The scope (the join table's code of the event's model) is part of the key: it sits in the tag's
 * upper 16 bits and in both hashes, so the same id under two models is two keys.
 */
export class IdKey {
  readonly bytes: Uint8Array;
  readonly maxBytes: number;
  length = 0;
  tag = 0;
  hash = 0;

  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 16 || maxBytes > MAX_ID_BYTES_LIMIT) {
      throw new RangeError(`maxIdBytes must be an integer in [16, ${MAX_ID_BYTES_LIMIT}], got ${String(maxBytes)}`);
    }
    this.maxBytes = maxBytes;
    this.bytes = new Uint8Array(maxBytes + 4);
  }

  /** Encodes `id` in `scope`; false when its encoding is longer than maxBytes (the key is then unusable). */
  set(id: string, scope = 0): boolean {
    let tag: number;
    if (id.length === 36 && packUuid(id, this.bytes)) {
      this.length = 16;
      tag = 16 | PACKED_UUID_FLAG;
    } else {
      const length = encodeWtf8Into(id, this.bytes, this.maxBytes);
      if (length < 0) return false;
      this.length = length;
      tag = length;
    }
    this.tag = (tag | (scope << 16)) | 0;
    this.hash = hashIdBytes(this.bytes, 0, this.length, this.tag);
    return true;
  }

  /** The same id bytes in another scope (rehashes; no re-encoding). */
  setScope(scope: number): void {
    this.tag = ((this.tag & 0xffff) | (scope << 16)) | 0;
    this.hash = hashIdBytes(this.bytes, 0, this.length, this.tag);
  }

  /** The scope of the key. */
  get scope(): number {
    return this.tag >>> 16;
  }

  /** The second hash of the key (see hashIdBytes2): with `hash`, its 64-bit fingerprint. */
  hash2(): number {
    return hashIdBytes2(this.bytes, 0, this.length, this.tag);
  }

  /**
   * Loads an already-encoded id (from a snapshot) in `scope`. The caller has checked
   * length <= maxBytes; `tag` is the stored 16-bit tag.
   */
  setEncoded(source: Uint8Array, start: number, tag: number, scope = 0): void {
    const length = tag & TAG_LENGTH_MASK;
    for (let i = 0; i < length; i++) this.bytes[i] = source[start + i];
    this.length = length;
    this.tag = ((tag & 0xffff) | (scope << 16)) | 0;
    this.hash = hashIdBytes(this.bytes, 0, length, this.tag);
  }
}
