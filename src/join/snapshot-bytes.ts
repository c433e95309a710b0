/** Little-endian byte writer/reader for the join table snapshot, with bounds-checked reads. */
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
