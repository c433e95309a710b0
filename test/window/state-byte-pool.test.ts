import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LARGEST_POOLED_BYTES, StateBytePool } from '../../src/window/state-byte-pool.ts';

describe('StateBytePool', () => {
  it('hands out arrays of the length asked, at most a size class (19 %, 8-byte rounding) longer underneath', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), (length) => {
        const pool = new StateBytePool();
        const array = pool.take(length);
        expect(array.length).toBe(length);
        expect(array.byteOffset).toBe(0);
        expect(array.buffer.byteLength).toBeGreaterThanOrEqual(length);
        expect(array.buffer.byteLength).toBeLessThanOrEqual(Math.max(64, Math.ceil((length * 2 ** 0.25) / 8) * 8));
      }),
      { numRuns: 2000 },
    );
  });

  it('hands an array given back out again for a state of its size class, never for a longer one', () => {
    const pool = new StateBytePool();
    const first = pool.take(3000);
    first.fill(7);
    pool.give(first);
    expect(pool.heldBytes).toBe(first.buffer.byteLength);
    const longer = pool.take(first.buffer.byteLength + 1);
    expect(longer.buffer).not.toBe(first.buffer);
    const again = pool.take(3010);
    expect(again.buffer).toBe(first.buffer);
    expect(again.length).toBe(3010);
    expect(pool.heldBytes).toBe(0);
    expect({ reused: pool.reused, made: pool.made }).toEqual({ reused: 1, made: 2 });
  });

  it('takes back only arrays it made, each once, and holds at most maxBytes of them', () => {
    const pool = new StateBytePool(10_000);
    // of another origin: a plain array of a size class's length, and a small Buffer from Node's shared pool
    pool.give(new Uint8Array(4096));
    pool.give(Buffer.allocUnsafe(100));
    expect(pool.heldBytes).toBe(0);
    const a = pool.take(4000);
    pool.give(a);
    pool.give(a); // twice: pooled once, so two states never share it
    const b = pool.take(4000);
    const c = pool.take(4000);
    expect(b.buffer).toBe(a.buffer);
    expect(c.buffer).not.toBe(a.buffer);
    const many = Array.from({ length: 5 }, () => pool.take(4000));
    for (const array of many) pool.give(array);
    expect(pool.heldBytes).toBeLessThanOrEqual(10_000);
    expect(pool.heldBytes).toBeGreaterThan(0);
    // a state past the largest pooled size has an array of its own, never pooled
    const large = pool.take(LARGEST_POOLED_BYTES + 1);
    expect(large.buffer.byteLength).toBe(LARGEST_POOLED_BYTES + 1);
    const held = pool.heldBytes;
    pool.give(large);
    expect(pool.heldBytes).toBe(held);
  });
});
