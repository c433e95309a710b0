import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BucketScratch, BucketStore, bucketDelta } from '../../src/sketch/bucket-store.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';

/**
 * A copy of a store whose weights fill little of its range (a reference captured from a young
 * window) keeps them sorted. Checked against a model of what a store must hold, a map from bucket
 * index to weight with subtract's clamping: the copy itself, every way it is read, and every change
 * made to it or with it (merged into another store, subtracted from one, changed by a delta).
 */

const RESIDUE_FRACTION = 1e-12;
function subtractClamped(before: number, removed: number): number {
  const after = before - removed;
  return after <= before * RESIDUE_FRACTION ? 0 : after;
}

type Model = Map<number, number>;

function modelAdd(model: Model, index: number, diff: number): void {
  const before = model.get(index);
  if (diff > 0) model.set(index, (before ?? 0) + diff);
  else if (before !== undefined) {
    const after = subtractClamped(before, -diff);
    if (after === 0) model.delete(index);
    else model.set(index, after);
  }
}

function entriesOf(store: BucketStore): Array<[number, number]> {
  const indexes = new Int32Array(store.weightedBound);
  const weights = new Float64Array(store.weightedBound);
  const n = store.weightedInto(indexes, weights);
  return Array.from({ length: n }, (_, k) => [indexes[k], weights[k]]);
}

function expectHolds(store: BucketStore, model: Model): void {
  const expected = [...model.entries()].sort((a, b) => a[0] - b[0]);
  expect(entriesOf(store)).toEqual(expected);
  expect(store.nonEmpty()).toBe(expected.length);
  expect(store.isEmpty).toBe(expected.length === 0);
  if (expected.length > 0) {
    expect(store.low).toBe(expected[0][0]);
    expect(store.high).toBe(expected[expected.length - 1][0]);
  }
  expect(store.total()).toBeCloseTo(expected.reduce((sum, [, w]) => sum + w, 0), 9);
  for (const [index, weight] of expected) expect(store.weightAt(index)).toBe(weight);
  if (expected.length > 0) expect(store.weightAt(expected[0][0] - 1)).toBe(0);
}

/** A pane's store: buckets spread over a wide range (few weighted), in the form `form` takes. */
function paneStore(buckets: ReadonlyArray<[number, number]>, form: 'table' | 'dense' | 'sorted'): BucketStore {
  const store = new BucketStore(8192);
  for (const [index, weight] of buckets) store.add(index, weight);
  if (form === 'dense') store.densify();
  if (form === 'sorted') {
    // a copy of an array (a table is copied as the table it is)
    store.densify();
    const copy = new BucketStore(8192);
    copy.copyFrom(store);
    return copy;
  }
  return store;
}

function modelOf(store: BucketStore): Model {
  return new Map(entriesOf(store));
}

const bucket = fc.tuple(fc.integer({ min: 1000, max: 5000 }), fc.integer({ min: 1, max: 4 }));
const pane = fc.record({
  buckets: fc.array(bucket, { minLength: 1, maxLength: 120 }),
  form: fc.constantFrom('table' as const, 'dense' as const, 'sorted' as const),
});

describe('a sorted copy of a bucket store (a reference)', () => {
  it('holds what its source holds, sorted where that is the smaller, and changes as any store does (property)', () => {
    fc.assert(
      fc.property(
        fc.array(pane, { minLength: 2, maxLength: 8 }),
        fc.array(fc.tuple(fc.constantFrom('merge', 'subtract', 'replace'), fc.nat(), fc.nat(), fc.array(bucket, { maxLength: 12 })), { minLength: 1, maxLength: 30 }),
        (panes, operations) => {
          const stores = panes.map(({ buckets, form }) => paneStore(buckets, form));
          // the window starts as a copy of the first pane (sorted when few of its range's buckets hold a weight)
          const window = new BucketStore(8192);
          window.copyFrom(stores[0]);
          const model = modelOf(stores[0]);
          expectHolds(window, model);
          // where its arrays (a 4-byte index and a weight each) are the smaller, for at most half the
          // range (a table is copied as the table it is); weights of 2 bytes since counts are counts:
          // 6 bytes an entry against 2 a bucket (the half alone, as written before, expected a sorted
          // copy of 2 weights over 4 buckets, 12 bytes against 8)
          const span = window.high - window.low + 1;
          const weightBytes = stores[0].counts.BYTES_PER_ELEMENT;
          if (stores[0].form !== 'table' && model.size * 2 <= span && model.size * (4 + weightBytes) < span * weightBytes) expect(window.form).toBe('sorted');
          const merged: BucketStore[] = [stores[0]];
          for (const [operation, pick, other, added] of operations) {
            if (operation === 'merge' || merged.length === 0) {
              const source = stores[pick % stores.length];
              window.merge(source);
              for (const [index, weight] of entriesOf(source)) modelAdd(model, index, weight);
              merged.push(source);
            } else if (operation === 'subtract') {
              const [source] = merged.splice(pick % merged.length, 1);
              window.subtract(source);
              for (const [index, weight] of entriesOf(source)) modelAdd(model, index, -weight);
            } else {
              const at = pick % merged.length;
              const earlier = merged[at];
              const later = new BucketStore(8192);
              if (other % 3 === 0) later.copyFrom(stores[other % stores.length]);
              else {
                later.copyFrom(earlier);
                for (const [index, weight] of added) later.add(index, weight);
              }
              const delta = bucketDelta(earlier, later);
              if (!window.acceptsDelta(delta)) continue;
              window.applyDelta(delta);
              for (let k = 0; k < delta.length; k++) modelAdd(model, delta.indexes[delta.indexesAt + k], delta.diffs[delta.diffsAt + k]);
              merged[at] = later;
            }
            expectHolds(window, model);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is merged into and subtracted from a store of any form as the same weights on an array are', () => {
    const base: Array<[number, number]> = Array.from({ length: 300 }, (_, k) => [2000 + 3 * k, 1 + (k % 4)]);
    const few: Array<[number, number]> = Array.from({ length: 40 }, (_, k) => [1500 + 53 * k, 2]);
    for (const form of ['table', 'dense', 'sorted'] as const) {
      const target = paneStore(base, form);
      const model = modelOf(target);
      const sorted = paneStore(few, 'sorted');
      expect(sorted.form).toBe('sorted');
      target.merge(sorted);
      for (const [index, weight] of few) modelAdd(model, index, weight);
      expectHolds(target, model);
      target.subtract(sorted);
      for (const [index, weight] of few) modelAdd(model, index, -weight);
      expectHolds(target, model);
    }
  });

  it('becomes an array at its first change, and an emptied copy takes whatever comes next', () => {
    const copy = paneStore(Array.from({ length: 100 }, (_, k) => [1000 + 20 * k, 1] as [number, number]), 'sorted');
    expect(copy.form).toBe('sorted');
    // ~20 x fewer bytes than an array over its range
    expect(copy.capacityBytes).toBeLessThan((1981 * 8) / 10);
    const model = modelOf(copy);
    copy.add(1005, 3);
    modelAdd(model, 1005, 3);
    expect(copy.form).toBe('array');
    expectHolds(copy, model);
    copy.clear();
    copy.merge(paneStore([[7, 1], [9, 2]], 'dense'));
    expectHolds(copy, new Map([[7, 1], [9, 2]]));
  });
});

describe('a sketch whose stores are sorted (a reference captured from a young window)', () => {
  /** A young window of a heavy-tailed feature: a few hundred values over about a thousand buckets per sign. */
  function youngWindow(): LogHistogram {
    const window = new LogHistogram(0.005, { center: 10 });
    for (let i = 0; i < 400; i++) window.add(10 + 5 * Math.tan(Math.PI * ((i + 0.5) / 400 - 0.5)));
    window.add(10);
    window.add(0);
    // a reading makes a store's table an array
    window.quantile(0.5);
    return window;
  }

  /** Every reading of `sorted` equals that of `dense`, the same sketch on arrays. */
  function expectSameReadings(sorted: LogHistogram, dense: LogHistogram): void {
    for (const q of [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) expect(sorted.quantile(q)).toBe(dense.quantile(q));
    expect(sorted.tailQuantiles(0.01)).toEqual(dense.tailQuantiles(0.01));
    expect(sorted.tailBucketBounds(0.001)).toEqual(dense.tailBucketBounds(0.001));
    for (const x of [-1e4, -30, 0, 9.99, 10, 10.5, 12, 40, 1e5]) {
      expect(sorted.rank(x)).toBe(dense.rank(x));
      expect(sorted.weightOutside(x, x + 7)).toBe(dense.weightOutside(x, x + 7));
    }
    expect(Array.from(sorted.countsBetweenEdges([-100, 0, 5, 10, 15, 100]))).toEqual(Array.from(dense.countsBetweenEdges([-100, 0, 5, 10, 15, 100])));
    const a = sorted.bucketArrays();
    const b = dense.bucketArrays();
    expect(Array.from(a.values.subarray(0, a.count))).toEqual(Array.from(b.values.subarray(0, b.count)));
    expect(Array.from(a.weights.subarray(0, a.count))).toEqual(Array.from(b.weights.subarray(0, b.count)));
    // the same bytes on the wire, alone or written with others
    expect(Array.from(sorted.toBytes())).toEqual(Array.from(dense.toBytes()));
    expect(Array.from(LogHistogram.toBytesMany([sorted, dense])[0])).toEqual(Array.from(dense.toBytes()));
    // a window moved onto its buckets, and merged into an array, as from the dense one
    const target = new LogHistogram(0.005, { center: 10 });
    for (let i = 0; i < 3000; i++) target.add(10 + (i - 1500) * 0.01);
    const other = target.clone();
    expect(Array.from(target.merge(sorted).toBytes())).toEqual(Array.from(other.merge(dense).toBytes()));
  }

  it('answers every reading as the same sketch on arrays does, in half the bytes or less', () => {
    const dense = youngWindow();
    const sorted = dense.clone();
    expect(sorted.storeForms()).toMatchObject({ negative: 'sorted', positive: 'sorted' });
    expect(dense.storeForms()).toMatchObject({ negative: 'array', positive: 'array' });
    expect(sorted.storeForms().bytes).toBeLessThan(dense.storeForms().bytes / 2);
    expectSameReadings(sorted, dense);
    // reading never changed the form
    expect(sorted.storeForms()).toMatchObject({ negative: 'sorted', positive: 'sorted' });
  });

  it('is what a sketch read from bytes holds where its weights fill little of its range (a pane the gateway decodes)', () => {
    const dense = youngWindow();
    const bytes = dense.toBytes();
    for (const scratch of [undefined, new BucketScratch()]) {
      const decoded = LogHistogram.fromBytes(bytes, scratch);
      expect(decoded.storeForms()).toMatchObject({ negative: 'sorted', positive: 'sorted' });
      expectSameReadings(decoded, dense);
      // a delta between two decoded states, applied to a window, as between the states on arrays
      const later = dense.clone();
      for (const value of [10.01, 9.5, 250, -40]) later.add(value);
      const window = new LogHistogram(0.005, { center: 10 });
      for (let i = 0; i < 3000; i++) window.add(10 + (i - 1500) * 0.01);
      window.merge(dense);
      const expected = window.clone().subtract(dense).merge(later);
      const delta = LogHistogram.delta(decoded, LogHistogram.fromBytes(later.toBytes(), scratch), scratch);
      if (window.acceptsDelta(delta)) window.applyDelta(delta);
      else window.subtract(decoded).merge(LogHistogram.fromBytes(later.toBytes(), scratch));
      expect(Array.from(window.toBytes())).toEqual(Array.from(expected.toBytes()));
    }
    // weights over most of their range stay an array
    const full = new LogHistogram(0.005, { center: 10 });
    for (let k = 0; k < 3000; k++) {
      full.add(10 + 1.005 ** k * 1e-3);
      full.add(10 - 1.005 ** k * 1e-3);
    }
    expect(LogHistogram.fromBytes(full.toBytes()).storeForms()).toMatchObject({ positive: 'array', negative: 'array' });
  });

  it('is changed as the same sketch on arrays is', () => {
    const dense = youngWindow();
    const sorted = dense.clone();
    const second = new LogHistogram(0.005, { center: 10 });
    for (const value of [10.004, 9.9, 3e4, -2e3, 11.7]) second.add(value);
    sorted.merge(second);
    dense.merge(second);
    expect(Array.from(sorted.toBytes())).toEqual(Array.from(dense.toBytes()));
    sorted.subtract(second);
    dense.subtract(second);
    expect(Array.from(sorted.toBytes())).toEqual(Array.from(dense.toBytes()));
  });
});
