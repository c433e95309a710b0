import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BucketScratch, BucketStore, NO_INDEX, bucketDelta } from '../../src/sketch/bucket-store.ts';

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

describe('BucketStore counts', () => {
  /** Every weight of the store, by index (its own reading, whatever its form). */
  const held = (store: BucketStore): Map<number, number> => {
    const out = new Map<number, number>();
    if (store.isEmpty) return out;
    for (let index = store.low; index <= store.high; index++) if (store.weightAt(index) !== 0) out.set(index, store.weightAt(index));
    return out;
  };
  const dense = (entries: Array<[number, number]>): BucketStore => {
    const store = new BucketStore(4096);
    for (const [index, weight] of entries) store.add(index, weight);
    store.densify();
    return store;
  };

  it('keeps whole weights in 2 bytes a bucket, as a window built from events has them, and in 4 past 65,535', () => {
    // a window's arrays span ~1,500 buckets per sign, mostly zeros: as float64 they were two
    // thirds of a gateway's heap
    const store = new BucketStore(4096);
    for (let i = 0; i < 3000; i++) store.add(i % 1500, 1 + (i % 3));
    expect(store.form).toBe('array');
    expect(store.counts).toBeInstanceOf(Uint16Array);
    expect(store.capacityBytes).toBe(2 * store.counts.length);
    const window = new BucketStore(4096);
    window.merge(store);
    window.merge(store);
    expect(window.counts).toBeInstanceOf(Uint16Array);
    expect(window.total()).toBe(2 * store.total());
    // a busy bucket: counts of four bytes from then on, every weight kept
    const before = new Map(Array.from({ length: 1500 }, (_, index): [number, number] => [index, window.weightAt(index)]));
    window.add(700, 65_535);
    expect(window.counts).toBeInstanceOf(Uint32Array);
    expect(window.capacityBytes).toBe(4 * window.counts.length);
    before.set(700, (before.get(700) as number) + 65_535);
    expect(held(window)).toEqual(before);
    window.add(-2000, 1); // grows: into counts of the same four bytes
    expect(window.counts).toBeInstanceOf(Uint32Array);
    expect(window.weightAt(-2000)).toBe(1);
    // a copy of it (a reference captured from a window) keeps counts too, sorted or not
    const sparse = dense(Array.from({ length: 100 }, (_, k): [number, number] => [20 * k, 5]));
    const copy = new BucketStore(4096);
    copy.copyFrom(sparse);
    expect(copy.form).toBe('sorted');
    expect(copy.sparseWeights).toBeInstanceOf(Uint16Array);
    expect(held(copy)).toEqual(held(sparse));
    // sorted only where that is the smaller: 6 bytes a weight against 2 a bucket of the range
    const twoFifths = dense(Array.from({ length: 400 }, (_, k): [number, number] => [(5 * k) >> 1, 5]));
    const arrayCopy = new BucketStore(4096);
    arrayCopy.copyFrom(twoFifths);
    expect(arrayCopy.form).toBe('array');
    expect(arrayCopy.capacityBytes).toBeLessThan(6 * 400);
    expect(held(arrayCopy)).toEqual(held(twoFifths));
  });

  it('keeps a sum made for byte counts in 1 byte a bucket while each is below 256, then widens, every weight kept', () => {
    // a gateway's 1m and 5m windows: ~1,500 buckets per sign, mostly holding a few events each
    const pane = dense(Array.from({ length: 1500 }, (_, index): [number, number] => [index, 1 + (index % 3)]));
    const window = new BucketStore(4096, true);
    window.merge(pane);
    window.merge(pane);
    expect(window.counts).toBeInstanceOf(Uint8Array);
    expect(window.capacityBytes).toBe(window.counts.length);
    expect(window.total()).toBe(2 * pane.total());
    const before = held(window);
    // up to 255 fits; one more is a bucket past a byte: two-byte counts from then on
    window.add(700, 255 - window.weightAt(700));
    expect(window.counts).toBeInstanceOf(Uint8Array);
    window.add(700, 1);
    expect(window.counts).toBeInstanceOf(Uint16Array);
    expect(window.capacityBytes).toBe(2 * window.counts.length);
    before.set(700, 256);
    expect(held(window)).toEqual(before);
    window.add(-2000, 1); // grows: into counts of the same two bytes
    expect(window.counts).toBeInstanceOf(Uint16Array);
    expect(window.weightAt(-2000)).toBe(1);
    // taken away again, it stays wide (widening is for good) and holds what is left
    window.subtract(dense([[700, 256]]));
    expect(window.weightAt(700)).toBe(0);
    expect(window.counts).toBeInstanceOf(Uint16Array);
    // straight past 2^16 or to a fraction, from a byte
    for (const [weight, kind] of [[70_000, Uint32Array], [2 ** 32, Float64Array], [0.5, Float64Array]] as const) {
      const sum = new BucketStore(4096, true);
      sum.merge(pane);
      expect(sum.counts).toBeInstanceOf(Uint8Array);
      sum.add(10, weight);
      expect(sum.counts, String(weight)).toBeInstanceOf(kind);
      expect(sum.weightAt(10), String(weight)).toBe(pane.weightAt(10) + weight);
      expect(sum.total(), String(weight)).toBe(pane.total() + weight);
    }
    // a store not made for it starts at two bytes, as a worker's pane
    const plain = new BucketStore(4096);
    plain.merge(pane);
    expect(plain.counts).toBeInstanceOf(Uint16Array);
    // a copy (a reference captured from such a window) keeps one byte a weight, sorted or not
    const sparse = new BucketStore(4096, true);
    sparse.merge(dense(Array.from({ length: 100 }, (_, k): [number, number] => [20 * k, 5])));
    const sortedCopy = new BucketStore(4096);
    sortedCopy.copyFrom(sparse);
    expect(sortedCopy.form).toBe('sorted');
    expect(sortedCopy.sparseWeights).toBeInstanceOf(Uint8Array);
    expect(held(sortedCopy)).toEqual(held(sparse));
    const arrayCopy = new BucketStore(4096);
    arrayCopy.copyFrom(window);
    expect(arrayCopy.form).toBe('array');
    expect(held(arrayCopy)).toEqual(held(window));
  });

  it('keeps a sorted copy in one buffer, whatever its weights, and it changes like any store', () => {
    for (const [kind, weight] of [['counts', 5], ['four-byte counts', 70_000], ['fractions', 0.5]] as const) {
      const source = dense(Array.from({ length: 101 }, (_, k): [number, number] => [20 * k - 700, weight + k]));
      const copies = [new BucketStore(4096), new BucketStore(4096)];
      copies[0].copyFrom(source); // from an array
      copies[1].copyFrom(copies[0]); // from a sorted copy
      for (const copy of copies) {
        expect(copy.form, kind).toBe('sorted');
        const indexes = copy.sparseIndexes as Int32Array;
        expect(copy.sparseWeights.buffer, kind).toBe(indexes.buffer);
        expect(copy.sparseWeights.constructor, kind).toBe(source.counts.constructor);
        expect(copy.sparseWeights.byteOffset % 8, kind).toBe(0);
        expect(copy.sparseWeights.byteOffset, kind).toBeGreaterThanOrEqual(indexes.byteLength);
        expect(held(copy), kind).toEqual(held(source));
        // not the source's arrays: changing the copy leaves the source as it was
        const before = held(source);
        copy.add(-700, 1);
        copy.add(3000, 2);
        expect(held(source), kind).toEqual(before);
        expect(copy.weightAt(-700), kind).toBe(weight + 1);
        expect(copy.weightAt(3000), kind).toBe(2);
        expect(copy.total(), kind).toBe(source.total() + 3);
      }
    }
  });

  it('widens to float64 weights, exactly, for a weight counts cannot hold, whichever way it arrives', () => {
    const beyond = 2 ** 32; // one past what a count holds: a 1d window of a constant feature at 50k events/s
    const cases: Array<[string, (store: BucketStore) => void, Map<number, number>, (typeof Uint32Array | typeof Float64Array)?]> = [
      ['add of a fraction', (s) => s.add(10, 0.25), new Map([[10, 3.25], [11, 1]])],
      ['add past 2^16 - 1', (s) => s.add(11, 65_535), new Map([[10, 3], [11, 65_536]]), Uint32Array],
      [
        'a table merged in with a count past 2^16 - 1',
        (s) => {
          const table = new BucketStore(4096);
          table.add(11, 70_000);
          s.merge(table);
        },
        new Map([[10, 3], [11, 70_001]]),
        Uint32Array,
      ],
      ['add past 2^32 - 1', (s) => { s.add(10, 2 ** 32 - 1); s.add(10, 1); }, new Map([[10, beyond + 3], [11, 1]])],
      ['merge of float weights', (s) => s.merge(dense([[10, 0.5], [12, 0.75]])), new Map([[10, 3.5], [11, 1], [12, 0.75]])],
      ['merge of a huge count', (s) => s.merge(dense([[11, beyond]])), new Map([[10, 3], [11, beyond + 1]])],
      ['subtract of a fraction', (s) => s.subtract(dense([[10, 0.5]])), new Map([[10, 2.5], [11, 1]])],
      ['a delta of a fraction', (s) => s.applyDelta(bucketDelta(dense([[10, 1]]), dense([[10, 1.5], [12, 2]]))), new Map([[10, 3.5], [11, 1], [12, 2]])],
      ['addAll of fractions', (s) => s.addAll(Int32Array.of(9, 10), Float64Array.of(0.5, 0.5), 0, 2), new Map([[9, 0.5], [10, 3.5], [11, 1]])],
      [
        'a sorted store of fractions merged in',
        (s) => {
          const sorted = new BucketStore(4096);
          sorted.loadSorted(Int32Array.of(10, 40), Float64Array.of(1.5, 2.5), 2);
          s.merge(sorted);
        },
        new Map([[10, 4.5], [11, 1], [40, 2.5]]),
      ],
    ];
    for (const [name, change, expected, kind = Float64Array] of cases) {
      const store = dense([[10, 3], [11, 1]]);
      expect(store.counts, name).toBeInstanceOf(Uint16Array);
      change(store);
      expect(held(store), name).toEqual(expected);
      expect(store.counts, name).toBeInstanceOf(kind);
      // and it stays wide: what it grows into holds the same weights
      store.add(store.high + 300, 0.5);
      expect(store.weightAt(store.high), name).toBe(0.5);
      expect(store.total(), name).toBeCloseTo([...expected.values()].reduce((a, b) => a + b, 0.5), 6);
    }
    // a table whose count is past 2^16 - 1 becomes an array that holds it
    const table = new BucketStore(4096);
    table.add(3, 1);
    table.add(5, 100_000);
    expect(table.form).toBe('table');
    table.densify();
    expect(held(table)).toEqual(new Map([[3, 1], [5, 100_000]]));
    // a copy of a wide store (its weights fill its range: copied as an array) keeps the fractions
    const wide = dense(Array.from({ length: 40 }, (_, k): [number, number] => [k, 1 + k / 4]));
    const copy = new BucketStore(4096);
    copy.add(3, 1); // an array of counts of its own before
    copy.densify();
    copy.copyFrom(wide);
    expect(copy.form).toBe('array');
    expect(held(copy)).toEqual(held(wide));
    // a sorted store of fractions that changes becomes a wide array, not truncated counts
    const sorted = new BucketStore(4096);
    sorted.loadSorted(Int32Array.of(5, 900), Float64Array.of(0.5, 1.75), 2);
    sorted.add(6, 1);
    expect(held(sorted)).toEqual(new Map([[5, 0.5], [6, 1], [900, 1.75]]));
  });

  it('holds exactly what was put in and taken out, counts or not (property)', () => {
    // dyadic fractions and counts near 2^32 among whole weights: every sum is exact in float64,
    // so the store must equal the map to the last bit whether or not it widened on the way
    const weight = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 1, max: 9 }) },
      { weight: 2, arbitrary: fc.integer({ min: 100, max: 70_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((k) => k / 8) },
      { weight: 1, arbitrary: fc.integer({ min: 2 ** 31, max: 2 ** 33 }) },
    );
    const op = fc.record({ kind: fc.constantFrom('add', 'merge', 'take'), index: fc.integer({ min: -50, max: 50 }), weight });
    fc.assert(
      // a store starting with byte counts (a gateway's window) or two-byte ones (a worker's pane)
      fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), fc.boolean(), (ops, byteCounts) => {
        const store = new BucketStore(4096, byteCounts);
        const expected = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'add') {
            store.add(o.index, o.weight);
            expected.set(o.index, (expected.get(o.index) ?? 0) + o.weight);
          } else if (o.kind === 'merge') {
            store.merge(dense([[o.index, o.weight], [o.index + 7, 1]]));
            expected.set(o.index, (expected.get(o.index) ?? 0) + o.weight);
            expected.set(o.index + 7, (expected.get(o.index + 7) ?? 0) + 1);
          } else {
            const at = [...expected.keys()][Math.abs(o.index) % Math.max(1, expected.size)];
            if (at === undefined) continue;
            store.subtract(dense([[at, expected.get(at) as number]]));
            expected.delete(at);
          }
        }
        expect(held(store)).toEqual(new Map([...expected].filter(([, w]) => w !== 0).sort((a, b) => a[0] - b[0])));
      }),
      { numRuns: 300 },
    );
  });
});
