import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { MessageSlabs } from '../../src/cluster/message-slabs.ts';
import type { SlabCopy } from '../../src/cluster/message-slabs.ts';
import { mulberry32 } from '../../src/sketch/random.ts';

/** Byte `i` of message `n`. */
function byteOf(n: number, i: number): number {
  return (n * 31 + i * 7 + 1) & 0xff;
}

/** `length` bytes that tell message `n` from every other (and from a scribble). */
function message(n: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = byteOf(n, i);
  return bytes;
}

describe('MessageSlabs', () => {
  it('copies a message into a slab: a Buffer holding its bytes, not a view of them', () => {
    const slabs = new MessageSlabs({ slabBytes: 4096 });
    const original = message(1, 100);
    const copy = slabs.copy(original)!;
    expect(Buffer.isBuffer(copy.bytes)).toBe(true);
    expect([...copy.bytes]).toEqual([...original]);
    expect(copy.bytes.buffer).not.toBe(original.buffer);
    original.fill(0);
    expect(copy.bytes[0]).toBe(message(1, 100)[0]);
    expect(slabs.copies).toBe(1);
  });

  it('keeps every copy not released intact, whatever is copied and released around it (random operations)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = mulberry32(seed);
      const slabs = new MessageSlabs({ slabBytes: 2048, maxFreeSlabs: 2 });
      const held: Array<{ n: number; length: number; copy: SlabCopy }> = [];
      let n = 0;
      for (let step = 0; step < 4000; step++) {
        if (held.length === 0 || random() < 0.55) {
          const length = 1 + Math.floor(random() * 600);
          const copy = slabs.copy(message(++n, length));
          if (copy === null) {
            expect(length).toBeGreaterThan(512);
            continue;
          }
          held.push({ n, length, copy });
        } else {
          // mostly in the order they came, as a consumer releases them; now and then out of order
          const k = random() < 0.8 ? 0 : Math.floor(random() * held.length);
          const [gone] = held.splice(k, 1);
          gone.copy.release();
          // what a later copy may write over: the released room, scribbled at once
          gone.copy.bytes.fill(0xa5);
        }
        for (const { n: m, length, copy } of held) {
          if (copy.bytes[0] !== byteOf(m, 0) || copy.bytes[length - 1] !== byteOf(m, length - 1)) {
            throw new Error(`seed ${seed}, step ${step}: copy of message ${m} changed`);
          }
        }
      }
      for (const { n: m, length, copy } of held) expect([...copy.bytes], `message ${m}`).toEqual([...message(m, length)]);
      expect(slabs.slabsReused, `seed ${seed}`).toBeGreaterThan(0);
    }
  });

  it('writes from the first byte of its slab again once every copy in it is released: a consumer that keeps up uses one slab', () => {
    const slabs = new MessageSlabs({ slabBytes: 4096 });
    for (let n = 0; n < 1000; n++) {
      const a = slabs.copy(message(n, 700))!;
      const b = slabs.copy(message(n + 1, 300))!;
      expect(a.bytes.byteOffset).toBe(0);
      expect(b.bytes.byteOffset).toBe(700);
      a.release();
      b.release();
    }
    expect(slabs.slabsMade).toBe(1);
    expect(slabs.copies).toBe(2000);
    expect(slabs.heldBytes).toBe(4096);
  });

  it('takes a slab back once its last copy is released, not before, and keeps at most maxFreeSlabs of them', () => {
    const slabs = new MessageSlabs({ slabBytes: 1024, maxFreeSlabs: 1 });
    const first = [slabs.copy(message(1, 256))!, slabs.copy(message(2, 256))!, slabs.copy(message(3, 256))!, slabs.copy(message(4, 256))!];
    const second = slabs.copy(message(5, 256))!; // the first slab is full
    expect(second.bytes.buffer).not.toBe(first[0].bytes.buffer);
    expect(slabs.slabsMade).toBe(2);
    for (const copy of first.slice(0, 3)) copy.release();
    first[3].release();
    first[3].release(); // once only: the second release does nothing
    expect(slabs.freeSlabs).toBe(1);
    expect(slabs.heldBytes).toBe(2 * 1024); // the one written and the free one
    for (let n = 6; n <= 8; n++) slabs.copy(message(n, 256));
    const third = slabs.copy(message(9, 256))!; // the second slab is full: the first is taken again
    expect(third.bytes.buffer).toBe(first[0].bytes.buffer);
    expect(slabs.slabsReused).toBe(1);
    expect([...second.bytes]).toEqual([...message(5, 256)]);
  });

  it('a copy released twice does not free room another copy in its slab still holds', () => {
    const slabs = new MessageSlabs({ slabBytes: 1024 });
    const a = slabs.copy(message(1, 200))!;
    const b = slabs.copy(message(2, 200))!;
    a.release();
    a.release();
    const c = slabs.copy(message(3, 200))!;
    expect(c.bytes.byteOffset).toBe(400);
    expect([...b.bytes]).toEqual([...message(2, 200)]);
  });

  it('does not copy a message larger than a quarter of a slab: null, counted', () => {
    const slabs = new MessageSlabs({ slabBytes: 1024 });
    expect(slabs.largestCopied).toBe(256);
    expect(slabs.copy(message(1, 256))).not.toBeNull();
    expect(slabs.copy(message(2, 257))).toBeNull();
    expect(slabs.tooLarge).toBe(1);
    expect(slabs.copies).toBe(1);
  });

  it('refuses sizes that are not whole numbers in range, naming the option', () => {
    expect(() => new MessageSlabs({ slabBytes: 10 })).toThrow(/slabBytes must be a whole number >= 64, got 10/);
    expect(() => new MessageSlabs({ slabBytes: 1.5e3 + 0.5 })).toThrow(/slabBytes/);
    expect(() => new MessageSlabs({ maxFreeSlabs: -1 })).toThrow(/maxFreeSlabs must be a whole number >= 0, got -1/);
  });
});
