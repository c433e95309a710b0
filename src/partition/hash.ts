/**
 * The partition function: FNV-1a, 32 bits, over the UTF-8 bytes of the event id, mod P.
 * It is part of the wire contract (a Python publisher computes the same value), so it must
 * stay byte-exact: see docs/wire-format.md for the definition and test vectors.
 */

const FNV_OFFSET_BASIS_32 = 0x811c9dc5;
const FNV_PRIME_32 = 0x01000193;

/** One FNV-1a step: xor the byte in, multiply by the prime modulo 2^32. */
function fnvStep(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, FNV_PRIME_32);
}

/**
 * FNV-1a 32-bit hash of the UTF-8 encoding of `id`, as an unsigned 32-bit integer.
 *
 * The UTF-8 bytes are produced on the fly from the UTF-16 code units, so an ASCII id (the
 * common case) costs one multiply per character and no allocation. Lone surrogates are
 * hashed as U+FFFD (EF BF BD), exactly what `Buffer.from(id, 'utf8')` and `TextEncoder` emit.
 */
export function fnv1a32(id: string): number {
  let hash = FNV_OFFSET_BASIS_32;
  const length = id.length;
  for (let i = 0; i < length; i++) {
    let code = id.charCodeAt(i);
    if (code < 0x80) {
      hash = fnvStep(hash, code);
      continue;
    }
    if (code < 0x800) {
      hash = fnvStep(hash, 0xc0 | (code >> 6));
      hash = fnvStep(hash, 0x80 | (code & 0x3f));
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      // A high surrogate followed by a low surrogate is one astral code point (4 bytes);
      // anything else is a lone surrogate, which UTF-8 encoders replace by U+FFFD.
      const next = i + 1 < length ? id.charCodeAt(i + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const codePoint = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        i++;
        hash = fnvStep(hash, 0xf0 | (codePoint >> 18));
        hash = fnvStep(hash, 0x80 | ((codePoint >> 12) & 0x3f));
        hash = fnvStep(hash, 0x80 | ((codePoint >> 6) & 0x3f));
        hash = fnvStep(hash, 0x80 | (codePoint & 0x3f));
        continue;
      }
      code = 0xfffd;
    }
    hash = fnvStep(hash, 0xe0 | (code >> 12));
    hash = fnvStep(hash, 0x80 | ((code >> 6) & 0x3f));
    hash = fnvStep(hash, 0x80 | (code & 0x3f));
  }
  return hash >>> 0;
}

/** FNV-1a-32 over raw bytes: the reference definition, used by tests and tools. */
export function fnv1a32Bytes(bytes: Uint8Array): number {
  let hash = FNV_OFFSET_BASIS_32;
  for (let i = 0; i < bytes.length; i++) hash = fnvStep(hash, bytes[i]);
  return hash >>> 0;
}

/** The partition of an event id: `fnv1a32(utf8(id)) mod partitions`, in [0, partitions). */
export function partitionOf(id: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${String(partitions)}`);
  }
  return fnv1a32(id) % partitions;
}
