import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { BucketScratch, BucketStore, NO_INDEX, bucketDelta } from '../../src/sketch/bucket-store.ts';
import type { ExactValuesWire, PaneInputWire } from '../../src/contract/pane-wire.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, addInput, featureChanges, inputFromWire, inputToWire, replaceInput } from '../../src/window/pane.ts';

/** Every bucket of a sketch as [value, weight], and its scalars: two equal snapshots are the same sketch. */
function snapshot(sketch: LogHistogram): { buckets: Array<[number, number]>; count: number; sum: number; zero: number; origin: number } {
  const buckets: Array<[number, number]> = [];
  sketch.forEachBucket((value, weight) => buckets.push([value, weight]));
  return { buckets, count: sketch.count, sum: sketch.sum, zero: sketch.zeroCount, origin: sketch.originCount };
}

function sketchOf(values: readonly number[], center: number, maxBuckets = 2048): LogHistogram {
  const sketch = new LogHistogram(0.005, { center, maxBuckets });
  for (const value of values) sketch.add(value);
  return sketch;
}

/** Values around 100 with heavy tails (a Cauchy-like spread of a few decades), the origin and the center among them. */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e4, max: 1e4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 100, 100.0000000001, 99.5) },
);

describe('a sketch changed by the delta between two states of a pane', () => {
  it('equals the window the earlier state is subtracted from and the later one merged into, bucket for bucket', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 80 }),
        fc.array(value, { minLength: 1, maxLength: 60 }),
        fc.array(value, { maxLength: 30 }),
        fc.boolean(),
        (others, earlierValues, addedValues, republishedOther) => {
          // the later state is the earlier one with a second more of values, or (a worker restored
          // from an older checkpoint) a state with other values altogether
          const laterValues = republishedOther ? addedValues : [...earlierValues, ...addedValues];
          const earlier = sketchOf(earlierValues, 100);
          const later = sketchOf(laterValues, 100);
          const window = sketchOf(others, 100).merge(earlier);
          const expected = window.clone().subtract(earlier).merge(later);
          const delta = LogHistogram.delta(earlier, later, new BucketScratch());
          if (!window.acceptsDelta(delta)) return;
          window.applyDelta(delta);
          expect(snapshot(window)).toEqual(snapshot(expected));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('touches only the buckets a second of values changed, not the state\'s hundreds', () => {
    const earlierValues = Array.from({ length: 400 }, (_, i) => 100 + Math.tan(((i + 0.5) / 400 - 0.5) * Math.PI));
    const added = [100.5, 101.5, 1e3, -50];
    const earlier = sketchOf(earlierValues, 100);
    const later = sketchOf([...earlierValues, ...added], 100);
    const delta = LogHistogram.delta(earlier, later);
    let earlierBuckets = 0;
    earlier.forEachBucket(() => earlierBuckets++);
    expect(earlierBuckets).toBeGreaterThan(300);
    expect(delta.positive.length + delta.negative.length).toBeLessThanOrEqual(added.length);
    expect(delta.positive.length + delta.negative.length).toBeGreaterThan(0);
  });

  it('is not taken by an empty sketch, a sketch on other buckets or one whose lowest buckets collapsed', () => {
    const earlier = sketchOf([101, 102, 150], 100, 64);
    const later = sketchOf([101, 102, 150, 1e6], 100, 64);
    const delta = LogHistogram.delta(earlier, later);
    // empty: merging the later state whole is what subtract then merge gives, not the delta
    expect(new LogHistogram(0.005, { center: 100, maxBuckets: 64 }).acceptsDelta(delta)).toBe(false);
    expect(sketchOf([101], 0, 64).merge(sketchOf([], 0, 64)).acceptsDelta(delta)).toBe(false);
    // 64 buckets cover a factor of ~1.9: 1e6 away from 101 would collapse the lowest
    const window = sketchOf([101, 102, 150], 100, 64);
    expect(window.acceptsDelta(delta)).toBe(false);
    expect(() => window.applyDelta(delta)).toThrow(/does not take the delta/);
    expect(snapshot(window)).toEqual(snapshot(sketchOf([101, 102, 150], 100, 64)));
    // takeDelta says so instead of throwing, and changes nothing either
    expect(window.takeDelta(delta)).toBe(false);
    expect(snapshot(window)).toEqual(snapshot(sketchOf([101, 102, 150], 100, 64)));
    const taking = sketchOf([101, 102, 150, 120], 100);
    expect(taking.takeDelta(LogHistogram.delta(sketchOf([101, 102, 150], 100), sketchOf([101, 102, 150, 1e6], 100)))).toBe(true);
    expect(snapshot(taking)).toEqual(snapshot(sketchOf([101, 102, 150, 120, 1e6], 100)));
    // and sketches of different centers have no delta at all
    expect(() => LogHistogram.delta(sketchOf([1], 0), sketchOf([1], 5))).toThrow(/sketches differ/);
  });
});

describe('a bucket store changed by a delta', () => {
  it('clamps a loss at 0 and trims the range as subtract does', () => {
    const window = new BucketStore(2048);
    window.load(10, Float64Array.from([1, 0, 2, 0, 3]), NO_INDEX);
    const earlier = new BucketStore(2048);
    earlier.load(10, Float64Array.from([1, 0, 0, 0, 5]), NO_INDEX);
    const later = new BucketStore(2048);
    later.add(20, 4);
    const delta = bucketDelta(earlier, later);
    expect(Array.from(delta.indexes.subarray(delta.indexesAt, delta.indexesAt + delta.length))).toEqual([10, 14, 20]);
    expect(Array.from(delta.diffs.subarray(delta.diffsAt, delta.diffsAt + delta.length))).toEqual([-1, -5, 4]);
    expect(window.acceptsDelta(delta)).toBe(true);
    window.applyDelta(delta);
    expect([window.low, window.high]).toEqual([12, 20]);
    expect([window.weightAt(12), window.weightAt(14), window.weightAt(20), window.total()]).toEqual([2, 0, 4, 6]);
  });
});

/** A state's wire form with each list of counts per value in ascending order of value. */
function valuesInOrder(wire: PaneInputWire): PaneInputWire {
  const sorted = (x: ExactValuesWire | null | undefined) => {
    if (x === null || x === undefined) return x;
    const order = x.v.map((_, k) => k).sort((a, b) => x.v[a] - x.v[b]);
    return { ...x, v: order.map((k) => x.v[k]), c: order.map((k) => x.c[k]) };
  };
  const features = Object.fromEntries(Object.entries(wire.features).map(([name, f]) => [name, { ...f, x: sorted(f.x) }]));
  return { ...wire, features, outputExact: sorted(wire.outputExact) };
}

describe('a window pane replaced by a later state of it (replaceInput)', () => {
  function paneWith(rows: Array<{ x: number | null; y: number; kind: string }>): PaneInput {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const row of rows) {
      pane.addPrediction(row.y, NaN, 0.5, 10, false, undefined);
      pane.addFeature('x', row.x);
      pane.addFeature('y', row.y);
      pane.addFeature('kind', row.kind);
    }
    return pane;
  }

  it('holds what subtracting the earlier state and adding the later one holds, every figure', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ x: fc.option(value, { freq: 8 }), y: value, kind: fc.constantFrom('a', 'b', 'c') }), { maxLength: 40 }),
        fc.array(fc.record({ x: fc.option(value, { freq: 8 }), y: value, kind: fc.constantFrom('a', 'b', 'c') }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.record({ x: fc.option(value, { freq: 8 }), y: value, kind: fc.constantFrom('a', 'b', 'c') }), { maxLength: 20 }),
        (otherRows, earlierRows, addedRows) => {
          // states as the gateway holds them: decoded from their wire form
          const earlier = inputFromWire(inputToWire(paneWith(earlierRows)), DEFAULT_PANE_LIMITS);
          const later = inputFromWire(inputToWire(paneWith([...earlierRows, ...addedRows])), DEFAULT_PANE_LIMITS);
          const other = inputFromWire(inputToWire(paneWith(otherRows)), DEFAULT_PANE_LIMITS);
          const byDelta = new PaneInput(DEFAULT_PANE_LIMITS);
          const bySubtracting = new PaneInput(DEFAULT_PANE_LIMITS);
          for (const window of [byDelta, bySubtracting]) {
            addInput(window, other, 1);
            addInput(window, earlier, 1);
          }
          replaceInput(byDelta, earlier, later, featureChanges(earlier, later, new BucketScratch()));
          addInput(bySubtracting, earlier, -1);
          addInput(bySubtracting, later, 1);
          // the same counts per value; listed in another order (the delta adds only the values that changed)
          expect(valuesInOrder(inputToWire(byDelta))).toEqual(valuesInOrder(inputToWire(bySubtracting)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('takes a feature away and adds it whole where no change pairs its counts (lists past the bound), its categories beside its sketch', () => {
    // a feature of numbers and strings both, whose states (as a foreign worker could send them)
    // list more values than ExactValueCounts.change pairs: its sketch by the delta, the rest whole
    const mixed = fc.oneof({ weight: 3, arbitrary: value }, { weight: 1, arbitrary: fc.constantFrom('u', 'v', 'w') });
    let byDeltaWithWholeCounts = 0;
    fc.assert(
      fc.property(fc.array(mixed, { maxLength: 30 }), fc.array(mixed, { minLength: 1, maxLength: 30 }), fc.array(mixed, { maxLength: 20 }), fc.integer({ min: 65, max: 90 }), (otherValues, earlierValues, addedValues, listed) => {
        const stateOf = (values: ReadonlyArray<number | string>, extra: number) => {
          const pane = new PaneInput(DEFAULT_PANE_LIMITS);
          for (const x of values) pane.addFeature('m', x);
          const wire = inputToWire(pane);
          const feature = wire.features.m;
          // its sketch as bytes: the lists put in below are not the values it holds (r would say they are)
          if (feature?.r !== undefined) {
            feature.n = pane.features.get('m')?.numeric?.toBytes() ?? null;
            delete feature.r;
          }
          if (feature?.n != null) feature.x = { v: Array.from({ length: listed + extra }, (_, k) => k + 0.5), c: Array.from({ length: listed + extra }, (_, k) => 1 + (k % 3)), o: 0, f: 0 };
          return inputFromWire(wire, DEFAULT_PANE_LIMITS);
        };
        const earlier = stateOf(earlierValues, 0);
        const later = stateOf([...earlierValues, ...addedValues], 2);
        const other = stateOf(otherValues, 1);
        const byDelta = new PaneInput(DEFAULT_PANE_LIMITS);
        const bySubtracting = new PaneInput(DEFAULT_PANE_LIMITS);
        for (const window of [byDelta, bySubtracting]) {
          addInput(window, other, 1);
          addInput(window, earlier, 1);
        }
        const changes = featureChanges(earlier, later, new BucketScratch());
        const change = changes.get('m');
        if (change !== undefined) {
          expect(change.exact).toBeNull();
          if (change.numeric !== null) byDeltaWithWholeCounts++;
        }
        replaceInput(byDelta, earlier, later, changes);
        addInput(bySubtracting, earlier, -1);
        addInput(bySubtracting, later, 1);
        expect(valuesInOrder(inputToWire(byDelta))).toEqual(valuesInOrder(inputToWire(bySubtracting)));
      }),
      { numRuns: 200 },
    );
    // the case this is about came up: a sketch by its delta, its counts per value whole
    expect(byDeltaWithWholeCounts).toBeGreaterThan(20);
  });

  it('in a window that lists few values (a capped sum), counts every value, lists none above its count and says what it could not list', () => {
    // discrete values, so that the lists fill and overflow the window's cap of 3; a pane may give
    // up (past its own cap) between the earlier state and the later, moving listed values to `other`
    const discrete = fc.integer({ min: 0, max: 24 });
    fc.assert(
      fc.property(
        fc.array(discrete, { maxLength: 40 }),
        fc.array(discrete, { minLength: 1, maxLength: 30, size: 'max' }),
        fc.array(discrete, { maxLength: 30, size: 'max' }),
        (otherValues, earlierValues, addedValues) => {
          const paneOf = (values: readonly number[]) => {
            const pane = new PaneInput(DEFAULT_PANE_LIMITS);
            for (const x of values) pane.addFeature('x', x);
            return inputFromWire(inputToWire(pane), DEFAULT_PANE_LIMITS);
          };
          const earlier = paneOf(earlierValues);
          const later = paneOf([...earlierValues, ...addedValues]);
          const window = new PaneInput(DEFAULT_PANE_LIMITS);
          window.exactSumCap = 3;
          addInput(window, paneOf(otherValues), 1);
          addInput(window, earlier, 1);
          replaceInput(window, earlier, later, featureChanges(earlier, later, new BucketScratch()));
          const truth = new Map<number, number>();
          for (const x of [...otherValues, ...earlierValues, ...addedValues]) truth.set(x, (truth.get(x) ?? 0) + 1);
          const exact = window.features.get('x')!.exact!;
          expect(exact.total).toBe(otherValues.length + earlierValues.length + addedValues.length);
          expect(exact.size).toBeLessThanOrEqual(3);
          for (const [x, n] of exact.counts) {
            expect(n).toBeGreaterThan(0);
            expect(n).toBeLessThanOrEqual(truth.get(x) ?? 0);
          }
          expect(exact.other).toBe(exact.total - [...exact.counts.values()].reduce((a, b) => a + b, 0));
          expect(exact.folded).toBeGreaterThanOrEqual(0);
          expect(exact.folded).toBeLessThanOrEqual(exact.other);
          expect(exact.fractionalOther).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
