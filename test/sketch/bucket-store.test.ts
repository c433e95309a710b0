import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BucketScratch, BucketStore, NO_INDEX } from '../../src/sketch/bucket-store.ts';

/** Weights of every index in [low, high], as [index, weight] pairs with a weight. */
function weightsOf(store: BucketStore): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let index = store.low; index <= store.high; index++) if (store.weightAt(index) !== 0) out.push([index, store.weightAt(index)]);
  return out;
}

describe('BucketStore array growth', () => {
  it('moves a range that still fits within its array instead of making a new one', () => {
    // a window's sketch whose range slides (its lowest bucket leaves, a higher one arrives) at the
    // largest span it has had: each such step made a new, larger array (the gateway grew ~100k
    // bucket arrays a minute at 300 models), though the range never outgrew the one it had
    const store = new BucketStore(4096);
    store.load(0, new Float64Array(600).fill(1), NO_INDEX);
    const array = store.counts;
    const lowest = new BucketStore(4096);
    for (let step = 0; step < 50; step++) {
      lowest.clear();
      lowest.add(step, 1);
      store.subtract(lowest);
      store.add(600 + step, 1);
      expect(store.counts).toBe(array);
    }
    expect([store.low, store.high]).toEqual([50, 649]);
    expect(weightsOf(store)).toEqual(Array.from({ length: 600 }, (_, k) => [50 + k, 1]));
  });

  it('grows an array the range outgrows, with room to spare, and keeps every weight', () => {
    const store = new BucketStore(4096);
    store.load(0, new Float64Array(600).fill(2), NO_INDEX);
    store.add(600, 1);
    expect(store.counts.length).toBe(Math.ceil(1.25 * 601));
    const grown = store.counts;
    for (let index = 601; index < store.counts.length; index++) store.add(index, 1);
    expect(store.counts).toBe(grown);
    expect(weightsOf(store)).toEqual([...Array.from({ length: 600 }, (_, k): [number, number] => [k, 2]), ...Array.from({ length: grown.length - 600 }, (_, k): [number, number] => [600 + k, 1])]);
  });

  it('grows downwards too, and never past maxBuckets', () => {
    const store = new BucketStore(700);
    store.load(100, new Float64Array(600).fill(1), NO_INDEX);
    store.add(99, 1);
    expect(store.counts.length).toBe(700);
    store.add(0, 1);
    expect(store.counts.length).toBe(700);
    // 0 .. 699 spans 700 buckets: index 0 is kept, nothing collapsed
    expect([store.low, store.high, store.collapsedInto]).toEqual([0, 699, NO_INDEX]);
    expect(store.total()).toBe(602);
  });
});

describe('BucketScratch', () => {
  it('keeps at most 4 MB of weights however much one call takes, and hands out zeroed views', () => {
    // a fold decodes several coarse states in one call: the pool grew to what the largest call
    // took (16.8 MB in a steady-state gateway of three models) and kept it for good
    const scratch = new BucketScratch();
    const buffers = new Set<ArrayBufferLike>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 400; k++) {
        const view = scratch.take(4000);
        expect(view.length).toBe(4000);
        expect(view.every((w) => w === 0)).toBe(true);
        view.fill(k + 1);
        buffers.add(view.buffer);
      }
      scratch.reset();
    }
    const pooled = [...buffers].filter((buffer) => buffer.byteLength > 4000 * 8);
    expect(pooled.length).toBeGreaterThan(0);
    expect(Math.max(...pooled.map((buffer) => buffer.byteLength))).toBeLessThanOrEqual(4 << 20);
    expect(scratch.capacityBytes).toBeLessThanOrEqual((4 << 20) + (256 << 10));
    // beyond the cap, views of arrays of their own
    expect([...buffers].some((buffer) => buffer.byteLength === 4000 * 8)).toBe(true);
    // once reset, the pool's array is handed out again rather than a new one
    const first = scratch.take(10);
    scratch.reset();
    expect(scratch.take(10).buffer).toBe(first.buffer);
  });
});

describe('BucketStore weights as its range slides and grows', () => {
  it('holds exactly the weights added and not taken back, whatever moves its array made', () => {
    // a window's store: values arrive around a centre that drifts, and leave again; its array
    // moves within itself or grows as the range slides, and no weight may be left behind
    const op = fc.record({ take: fc.boolean(), index: fc.integer({ min: -40, max: 40 }), weight: fc.integer({ min: 1, max: 5 }) });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 200 }), fc.integer({ min: -3, max: 3 }), (ops, drift) => {
        const store = new BucketStore(4096);
        const expected = new Map<number, number>();
        const single = new BucketStore(4096);
        ops.forEach((o, step) => {
          const index = o.index + drift * step;
          if (o.take) {
            // take back what one earlier add put there (if any), as a window drops a pane
            const held = [...expected.keys()];
            if (held.length === 0) return;
            const at = held[Math.abs(index) % held.length];
            const weight = expected.get(at) as number;
            single.clear();
            single.add(at, weight);
            store.subtract(single);
            expected.delete(at);
          } else {
            store.add(index, o.weight);
            expected.set(index, (expected.get(index) ?? 0) + o.weight);
          }
        });
        const held = [...expected].filter(([, w]) => w !== 0).sort((a, b) => a[0] - b[0]);
        expect(weightsOf(store)).toEqual(held);
        // and beyond the range, nothing: the array's slots outside it hold no stale weight
        for (let i = 0; i < store.counts.length; i++) {
          const index = store.offset + i;
          if (index < store.low || index > store.high) expect(store.counts[i]).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
