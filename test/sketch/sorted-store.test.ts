import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BucketScratch, BucketStore, bucketDelta } from '../../src/sketch/bucket-store.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';

/**
 * A store built by merging (a window's) keeps its weights sorted while few buckets of its range hold
 * one. Checked against a model of what the store must hold, a map from bucket index to weight with
 * subtract's clamping, through every operation a window does: merge a pane, subtract it, replace a
 * pane's state by its delta.
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
    const copy = new BucketStore(8192);
    copy.copyFrom(store);
    return copy;
  }
  return store;
}

const bucket = fc.tuple(fc.integer({ min: 1000, max: 5000 }), fc.integer({ min: 1, max: 4 }));
const pane = fc.record({
  buckets: fc.array(bucket, { minLength: 1, maxLength: 120 }),
  form: fc.constantFrom('table' as const, 'dense' as const, 'sorted' as const),
});

describe('a bucket store kept sorted (a young window)', () => {
  it('holds exactly what a map of its weights holds through merges, subtractions and deltas (property)', () => {
    fc.assert(
      fc.property(
        fc.array(pane, { minLength: 2, maxLength: 10 }),
        fc.array(fc.tuple(fc.constantFrom('merge', 'subtract', 'replace'), fc.nat(), fc.nat(), fc.array(bucket, { maxLength: 12 })), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (panes, operations, withScratch) => {
          const stores = panes.map(({ buckets, form }) => paneStore(buckets, form));
          const window = new BucketStore(8192);
          const model: Model = new Map();
          const merged: BucketStore[] = [];
          const scratch = withScratch ? new BucketScratch() : undefined;
          let sawSorted = false;
          for (const [operation, pick, other, added] of operations) {
            scratch?.reset();
            if (operation === 'merge' || merged.length === 0) {
              const source = stores[pick % stores.length];
              window.merge(source, scratch);
              for (const [index, weight] of entriesOf(source)) modelAdd(model, index, weight);
              merged.push(source);
            } else if (operation === 'subtract') {
              const [source] = merged.splice(pick % merged.length, 1);
              window.subtract(source, scratch);
              for (const [index, weight] of entriesOf(source)) modelAdd(model, index, -weight);
            } else {
              // a pane's later state: its earlier one with a few more values, or another pane's altogether
              const at = pick % merged.length;
              const earlier = merged[at];
              const later = new BucketStore(8192);
              if (other % 3 === 0) later.copyFrom(stores[other % stores.length]);
              else {
                later.copyFrom(earlier);
                for (const [index, weight] of added) later.add(index, weight);
              }
              const delta = bucketDelta(earlier, later, scratch);
              if (!window.acceptsDelta(delta)) continue;
              window.applyDelta(delta);
              for (let k = 0; k < delta.length; k++) modelAdd(model, delta.indexes[k], delta.diffs[k]);
              merged[at] = later;
            }
            sawSorted ||= window.isSorted;
            expectHolds(window, model);
          }
          // a window that starts with one pane of a few buckets over thousands starts sorted
          if (operations[0][0] === 'merge' && stores[operations[0][1] % stores.length].nonEmpty() * 4 <= stores[operations[0][1] % stores.length].high - stores[operations[0][1] % stores.length].low + 1) {
            expect(sawSorted).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('moves to an array over its range once its weights fill more than a quarter of it, and holds the same', () => {
    const window = new BucketStore(8192);
    const model: Model = new Map();
    const first = paneStore(Array.from({ length: 100 }, (_, k) => [1000 + 20 * k, 1] as [number, number]), 'dense');
    window.merge(first);
    for (const [index, weight] of entriesOf(first)) modelAdd(model, index, weight);
    expect(window.isSorted).toBe(true);
    // ~20 x fewer bytes than the range's array while sorted
    expect(window.capacityBytes).toBeLessThan(((1980 * 8) / 4));
    // fill the gaps: 100 weights over 1,981 buckets, then 600
    for (let step = 1; step <= 5; step++) {
      const more = paneStore(Array.from({ length: 100 }, (_, k) => [1000 + 20 * k + step, 2] as [number, number]), 'dense');
      window.merge(more);
      for (const [index, weight] of entriesOf(more)) modelAdd(model, index, weight);
      expectHolds(window, model);
    }
    expect(window.isSorted).toBe(false);
    // and an empty store that merges few weights again becomes sorted again
    window.clear();
    window.merge(first);
    expect(window.isSorted).toBe(true);
  });

  it('block moves for a few changes into many entries give what entry-by-entry merging gives', () => {
    // 1,000 weights over 8,000 buckets; deltas of 1-20 changes, half new buckets, anywhere in the range
    const base: Array<[number, number]> = Array.from({ length: 1000 }, (_, k) => [100 + 8 * k, 1 + (k % 3)]);
    const window = new BucketStore(8192);
    window.merge(paneStore(base, 'dense'));
    expect(window.isSorted).toBe(true);
    const model: Model = new Map(base);
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const changes = 1 + next(20);
      const indexes = new Set<number>();
      while (indexes.size < changes) indexes.add(100 + next(8000));
      const sorted = [...indexes].sort((a, b) => a - b);
      const diffs = sorted.map((index) => (model.has(index) && next(3) === 0 ? -1 : 1 + next(2)));
      const delta = {
        indexes: Int32Array.from(sorted),
        diffs: Float64Array.from(diffs),
        length: sorted.length,
        lowestGain: Math.min(...sorted.filter((_, k) => diffs[k] > 0), Infinity),
        highestGain: Math.max(...sorted.filter((_, k) => diffs[k] > 0), -Infinity),
      };
      window.applyDelta(delta);
      sorted.forEach((index, k) => modelAdd(model, index, diffs[k]));
    }
    expect(window.isSorted).toBe(true);
    expectHolds(window, model);
  });
});

describe('a sketch whose stores are sorted', () => {
  /** A young window of a heavy-tailed feature: a few hundred values over about a thousand buckets per sign. */
  function youngWindow(): { sorted: LogHistogram; dense: LogHistogram } {
    const values = Array.from({ length: 400 }, (_, i) => 10 + 5 * Math.tan(Math.PI * ((i + 0.5) / 400 - 0.5)));
    values.push(10, 0);
    const pane = new LogHistogram(0.005, { center: 10 });
    const dense = new LogHistogram(0.005, { center: 10 });
    for (const value of values) {
      pane.add(value);
      dense.add(value);
    }
    const sorted = new LogHistogram(0.005, { center: 10 }).merge(pane);
    // a reading makes a store's table an array (and leaves a sorted store as it is)
    dense.quantile(0.5);
    return { sorted, dense };
  }

  it('answers every reading as the same sketch on arrays does, in a third of the bytes or less', () => {
    const { sorted, dense } = youngWindow();
    expect(sorted.storeForms()).toMatchObject({ negative: 'sorted', positive: 'sorted' });
    expect(dense.storeForms()).toMatchObject({ negative: 'array', positive: 'array' });
    expect(sorted.storeForms().bytes).toBeLessThan(dense.storeForms().bytes / 3);
    for (const q of [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) expect(sorted.quantile(q)).toBe(dense.quantile(q));
    expect(sorted.tailQuantiles(0.01)).toEqual(dense.tailQuantiles(0.01));
    for (const x of [-1e4, -30, 0, 9.99, 10, 10.5, 12, 40, 1e5]) {
      expect(sorted.rank(x)).toBe(dense.rank(x));
      expect(sorted.weightOutside(x, x + 7)).toBe(dense.weightOutside(x, x + 7));
    }
    expect(Array.from(sorted.countsBetweenEdges([-100, 0, 5, 10, 15, 100]))).toEqual(Array.from(dense.countsBetweenEdges([-100, 0, 5, 10, 15, 100])));
    const a = sorted.bucketArrays();
    const b = dense.bucketArrays();
    expect(Array.from(a.values.subarray(0, a.count))).toEqual(Array.from(b.values.subarray(0, b.count)));
    expect(Array.from(a.weights.subarray(0, a.count))).toEqual(Array.from(b.weights.subarray(0, b.count)));
    // the same bytes on the wire, and read back the same sketch
    expect(Array.from(sorted.toBytes())).toEqual(Array.from(dense.toBytes()));
    expect(Array.from(LogHistogram.toBytesMany([sorted, dense])[0])).toEqual(Array.from(dense.toBytes()));
    // reading never changed the form
    expect(sorted.storeForms()).toMatchObject({ negative: 'sorted', positive: 'sorted' });
  });

  it('copies a reference sorted where that is smaller, and the copy reads the same', () => {
    const { dense } = youngWindow();
    const copy = dense.clone();
    expect(copy.storeForms()).toMatchObject({ negative: 'sorted', positive: 'sorted' });
    expect(copy.storeForms().bytes).toBeLessThan(dense.storeForms().bytes);
    for (const q of [0.05, 0.5, 0.95]) expect(copy.quantile(q)).toBe(dense.quantile(q));
    expect(Array.from(copy.toBytes())).toEqual(Array.from(dense.toBytes()));
  });
});
