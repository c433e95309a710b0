/**
 * A copy of `bytes[start, end)` in an array of its own, whatever class the view is.
 *
 * `Uint8Array#slice` copies, but `Buffer#slice` makes a view (like `subarray`), and the NATS client
 * hands every message as a Buffer view of the socket read it came in (up to 64 KB, shared with the
 * messages beside it). Something meant to outlive its message and "copied" with `slice` kept that
 * whole read alive: a reader's cache of short strings held up to 5,120 such reads, one per string
 * it remembered (test/contract/bytes.test.ts).
 */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}
