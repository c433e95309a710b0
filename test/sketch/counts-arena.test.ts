import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CountsArena, MAX_REGION_BYTES, SLAB_BYTES } from '../../src/sketch/counts-arena.ts';
import { BucketStore } from '../../src/sketch/bucket-store.ts';
import type { Counts } from '../../src/sketch/types.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';

const BYTES = new Uint8Array(0);

/** Weights of every index in [low, high] with one, as [index, weight] pairs. */
function weightsOf(store: BucketStore): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let index = store.low; index <= store.high; index++) if (store.weightAt(index) !== 0) out.push([index, store.weightAt(index)]);
  return out;
}

/** Whether two arrays' bytes overlap (views of one buffer). */
function overlap(a: Counts, b: Counts): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

describe('CountsArena', () => {
  it('cuts zeroed arrays of the kind asked for from shared slabs, none over another', () => {
    const arena = new CountsArena();
    const taken: Counts[] = [];
    for (let k = 0; k < 40; k++) {
      const like = k % 3 === 0 ? BYTES : k % 3 === 1 ? new Uint16Array(0) : new Float64Array(0);
      const array = arena.take(like, 100 + 37 * k);
      expect(array.constructor).toBe(like.constructor);
      expect(array.length).toBe(100 + 37 * k);
      expect(array.byteOffset % 8).toBe(0);
      expect(array.every((x) => x === 0)).toBe(true);
      array.fill(7);
      taken.push(array);
    }
    for (let i = 0; i < taken.length; i++) for (let j = i + 1; j < taken.length; j++) expect(overlap(taken[i], taken[j])).toBe(false);
    // 40 arrays of ~100 B - 12 KB in a handful of buffers, each a slab
    const buffers = new Set(taken.map((a) => a.buffer));
    expect(buffers.size).toBeLessThan(taken.length / 4);
    for (const buffer of buffers) expect(buffer.byteLength).toBe(SLAB_BYTES);
    expect(arena.bytes).toBe(buffers.size * SLAB_BYTES);
  });

  it('leaves arrays V8 keeps in its heap, and those larger than a region, to buffers of their own', () => {
    const arena = new CountsArena();
    const small = arena.take(BYTES, 64);
    const large = arena.take(BYTES, MAX_REGION_BYTES + 1);
    expect(small.buffer.byteLength).toBe(64);
    expect(large.buffer.byteLength).toBe(MAX_REGION_BYTES + 1);
    expect(arena.bytes).toBe(0);
    arena.give(small);
    arena.give(large);
    expect(arena.freeBytes).toBe(0);
  });

  it('counts what is given back as free, and only regions of its own', () => {
    const arena = new CountsArena();
    const a = arena.take(BYTES, 1000);
    const b = arena.take(new Uint16Array(0), 500);
    expect(arena.freeBytes).toBe(SLAB_BYTES - 2000);
    arena.give(a);
    expect(arena.freeBytes).toBe(SLAB_BYTES - 1000);
    // another arena's region and an array of its own are not this arena's to count
    arena.give(new CountsArena().take(BYTES, 1000));
    arena.give(new Uint8Array(1000));
    expect(arena.freeBytes).toBe(SLAB_BYTES - 1000);
    expect(b.length).toBe(500);
  });

  it('moves the arrays of the old slabs into one new slab in a compaction, keeping their weights', () => {
    const arena = new CountsArena();
    const kept: Counts[] = [];
    for (let k = 0; k < 60; k++) {
      const array = arena.take(BYTES, 1500);
      array.fill(k + 1);
      if (k % 3 === 0) kept.push(array);
      else arena.give(array);
    }
    expect(arena.wantsCompaction(1 / 8)).toBe(true);
    const own = new Uint8Array(300).fill(9);
    arena.beginCompaction();
    const moved = kept.map((array) => arena.moveInto(array));
    expect(arena.moveInto(own)).toBe(own);
    arena.endCompaction();
    moved.forEach((array, k) => {
      expect(array).not.toBe(kept[k]);
      expect(array.every((x) => x === 3 * k + 1)).toBe(true);
    });
    expect(new Set(moved.map((a) => a.buffer)).size).toBe(1);
    expect(arena.freeBytes).toBeLessThan(8192);
    expect(arena.wantsCompaction(1 / 8)).toBe(false);
    // a region cut after the compaction lies over none of the moved arrays
    const next = arena.take(BYTES, 4000);
    for (const array of moved) expect(overlap(array, next)).toBe(false);
  });
});

describe('BucketStore on an arena', () => {
  type Op = { kind: 'add' | 'take' | 'copy' | 'clear' | 'compact'; store: number; index: number; weight: number };
  const op = fc.record({
    kind: fc.constantFrom<Op['kind']>('add', 'add', 'add', 'take', 'copy', 'clear', 'compact'),
    store: fc.integer({ min: 0, max: 5 }),
    // mostly inside the stores' dense range, now and then far out (the array grows); never past
    // maxBuckets, so no bucket collapses and a map of weights says what each store must hold
    index: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: -150, max: 150 }) }, { weight: 1, arbitrary: fc.integer({ min: -1500, max: 1500 }) }),
    weight: fc.constantFrom(1, 3, 200, 70_000),
  });

  it('holds the weights added through growth, widening, copies and compactions', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 300 }), (ops) => {
        const arena = new CountsArena();
        const stores = Array.from({ length: 6 }, () => new BucketStore(4096, true, arena));
        const expected = Array.from({ length: 6 }, () => new Map<number, number>());
        const add = (k: number, index: number, weight: number): void => {
          stores[k].add(index, weight);
          expected[k].set(index, (expected[k].get(index) ?? 0) + weight);
        };
        // dense from the start (arrays, not tables): a far index then grows the array, a heavy bucket widens it
        for (let k = 0; k < 6; k++) for (let index = -400 - 60 * k; index <= 400; index++) add(k, index, 1);
        for (const { kind, store, index, weight } of ops) {
          const other = (store + 1) % 6;
          if (kind === 'add') add(store, index, weight);
          else if (kind === 'take') {
            const there = expected[store].get(index) ?? 0;
            if (there === 0) continue;
            const part = new BucketStore(4096);
            part.add(index, Math.min(there, weight));
            stores[store].subtract(part);
            if (there > weight) expected[store].set(index, there - weight);
            else expected[store].delete(index);
          } else if (kind === 'copy') {
            stores[store].copyFrom(stores[other]);
            expected[store] = new Map(expected[other]);
          } else if (kind === 'clear') {
            stores[store].clear();
            expected[store].clear();
          } else {
            arena.beginCompaction();
            for (const s of stores) s.moveIntoArena();
            arena.endCompaction();
            // every array cut from a slab is now in the new one
            for (const s of stores) if (s.counts.byteLength > 64 && s.counts.byteLength <= MAX_REGION_BYTES) expect(arena.owns(s.counts)).toBe(true);
          }
        }
        stores.forEach((s, k) => expect(weightsOf(s)).toEqual([...expected[k]].sort((a, b) => a[0] - b[0])));
        // no two stores' arrays lie over each other
        for (let i = 0; i < 6; i++) for (let j = i + 1; j < 6; j++) expect(overlap(stores[i].counts, stores[j].counts)).toBe(false);
        // what the arena counts as held is what the stores hold of it
        const held = stores.reduce((n, s) => n + (arena.owns(s.counts) ? Math.ceil(s.counts.byteLength / 8) * 8 : 0), 0);
        expect(arena.bytes - arena.freeBytes).toBe(held);
      }),
      { numRuns: 300 },
    );
  });

  it('gives a window sketch of many buckets no buffer of its own', () => {
    const arena = new CountsArena();
    const sketches = Array.from({ length: 30 }, (_, f) => new LogHistogram(0.01, { byteCounts: true, arena, center: f }));
    sketches.forEach((sketch, f) => {
      for (let k = 0; k < 2000; k++) sketch.add(f + Math.exp(((k * 7919) % 2000) / 200 - 5) * (k % 2 === 0 ? 1 : -1));
    });
    const plain = new LogHistogram(0.01, { byteCounts: true, center: 0 });
    for (let k = 0; k < 2000; k++) plain.add(Math.exp(((k * 7919) % 2000) / 200 - 5) * (k % 2 === 0 ? 1 : -1));
    // the same figures as a sketch of its own
    expect(sketches[0].quantile(0.9)).toBe(plain.quantile(0.9));
    expect(sketches[0].count).toBe(2000);
    // 60 stores of ~1,000 buckets each in a few slabs, not 60 buffers (and their grown-out arrays)
    expect(arena.bytes / SLAB_BYTES).toBeLessThan(12);
  });
});
