/** Little-endian byte writer/reader for snapshots (the join table's, the partition checkpoint's frame), with bounds-checked reads. */
import { decodeWtf8, encodeWtf8, checkWtf8 } from './id-key.ts';

export class SnapshotWriter {
  private buffer: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initialBytes: number) {
    this.buffer = new Uint8Array(Math.max(64, initialBytes));
    this.view = new DataView(this.buffer.buffer);
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buffer.length) return;
    const next = new Uint8Array(Math.max(this.pos + extra, this.buffer.length * 2));
    next.set(this.buffer.subarray(0, this.pos));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.buffer[this.pos++] = value;
  }
  u16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, value, true);
    this.pos += 2;
  }
  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
  }
  f64(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }
  /** A string as u32 byte length + WTF-8 bytes. */
  str(value: string): void {
    const bytes = encodeWtf8(value);
    this.u32(bytes.length);
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  /** Appends raw bytes. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  /** Reserves `length` raw bytes and returns their offset in `bytes` (valid until the next write). */
  reserve(length: number): number {
    this.ensure(length);
    const at = this.pos;
    this.pos += length;
    return at;
  }

  /** The current buffer (replaced when it grows). */
  get bytes(): Uint8Array {
    return this.buffer;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.pos);
  }
}

/** Thrown for any snapshot that cannot be restored; the message says what and where. */
export class JoinSnapshotError extends Error {
  constructor(message: string) {
    super(`join table snapshot is invalid: ${message}`);
    this.name = 'JoinSnapshotError';
  }
}

export class SnapshotReader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  pos = 0;
  readonly end: number;

  constructor(bytes: Uint8Array, end: number) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.end = end;
  }

  need(length: number, what: string): void {
    if (this.pos + length > this.end) {
      throw new JoinSnapshotError(`truncated: ${what} needs ${length} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++];
  }
  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }
  f64(what: string): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }
  str(what: string, maxBytes: number): string {
    const length = this.u32(`${what} length`);
    if (length > maxBytes) throw new JoinSnapshotError(`${what} is ${length} bytes at offset ${this.pos - 4}, limit ${maxBytes}`);
    this.need(length, what);
    const problem = checkWtf8(this.bytes, this.pos, length);
    if (problem !== null) throw new JoinSnapshotError(`${what} at offset ${this.pos} is not valid text: ${problem}`);
    const value = decodeWtf8(this.bytes, this.pos, length);
    this.pos += length;
    return value;
  }
  skip(length: number, what: string): number {
    this.need(length, what);
    const at = this.pos;
    this.pos += length;
    return at;
  }
}

// ---------------------------------------------------------------------------------------------
// Framing: magic, format version and checksum around a body, for any snapshot kept in storage.

/** FNV-1a (32 bit) of bytes[0, end): catches flipped bytes and truncation of a stored snapshot. */
export function snapshotChecksum(bytes: Uint8Array, end = bytes.length): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** Bytes of the frame around a body: u32 magic, u16 version, u16 0 before it; u32 checksum after. */
export const FRAME_HEADER_BYTES = 8;
export const FRAME_BYTES = FRAME_HEADER_BYTES + 4;

/** `body` framed: u32 magic, u16 version, u16 0, body, u32 FNV-1a of everything before it (little-endian). */
export function frameSnapshot(magic: number, version: number, body: Uint8Array): Uint8Array {
  const w = new SnapshotWriter(body.length + FRAME_BYTES);
  w.u32(magic);
  w.u16(version);
  w.u16(0);
  const at = w.reserve(body.length);
  w.bytes.set(body, at);
  w.u32(snapshotChecksum(w.bytes, w.pos));
  return w.finish();
}

/** True when `bytes` start with `magic`: a framed snapshot of that kind (maybe damaged), not something older. */
export function hasSnapshotMagic(bytes: Uint8Array, magic: number): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === magic;
}

/**
 * The version and body of a framed snapshot. `fail` makes the error to throw, from a sentence
 * saying what is wrong: too short, another magic, a version this build does not read, or a
 * checksum mismatch (flipped bytes or a truncated copy).
 */
export function openSnapshotFrame(
  bytes: Uint8Array,
  magic: number,
  versions: readonly number[],
  fail: (problem: string) => Error,
): { version: number; body: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) throw fail(`expected bytes, got ${typeof bytes}`);
  if (bytes.length < FRAME_BYTES) throw fail(`only ${bytes.length} bytes, too short for the ${FRAME_BYTES}-byte frame`);
  if (!hasSnapshotMagic(bytes, magic)) throw fail('bad magic: not this kind of snapshot');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (!versions.includes(version)) throw fail(`unsupported format version ${version} (this build reads ${versions.join(', ')})`);
  const bodyEnd = bytes.length - 4;
  const stored = view.getUint32(bodyEnd, true);
  const actual = snapshotChecksum(bytes, bodyEnd);
  if (stored !== actual) {
    throw fail(`checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}): corrupted or truncated`);
  }
  return { version, body: bytes.subarray(FRAME_HEADER_BYTES, bodyEnd) };
}
