import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { BucketScratch } from '../../src/sketch/bucket-store.ts';
import type { BucketDelta } from '../../src/sketch/bucket-store.ts';
import { ExactValueCounts } from '../../src/sketch/exact-values.ts';

/** Values around a center with heavy tails, the origin, the center and values within the zero threshold of it among them. */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e4, max: 1e4, noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 100, 100.0000000001, 99.5, 1, 2, 3, -1e-300, 1e-300) },
);

describe('a sketch rebuilt from its listed values (LogHistogram.fromListedValues)', () => {
  it('is byte for byte the sketch the values were added to, given its sum', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(value, { maxLength: 40, comparator: 'SameValueZero' }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 40, maxLength: 40 }),
        fc.constantFrom(0, 100, -3.5),
        fc.constantFrom(1e-300, 1e-9, 0.5),
        fc.boolean(),
        (values, repeats, center, minIndexable, onScratch) => {
          const counts = values.map((_, k) => repeats[k]);
          // room for every bucket: a sketch that collapses is sent as bytes (the refusal below)
          const added = new LogHistogram(0.005, { center, minIndexable, maxBuckets: 1 << 20 });
          // added in another order than listed: the sum is the sender's, the buckets are the same
          for (let k = values.length - 1; k >= 0; k--) for (let r = 0; r < counts[k]; r++) added.add(values[k]);
          const settings = { relativeAccuracy: 0.005, minIndexable, maxBuckets: 1 << 20, center };
          const rebuilt = LogHistogram.fromListedValues(values, counts, added.sum, settings, onScratch ? new BucketScratch() : undefined);
          expect(Buffer.from(rebuilt.toBytes()).equals(Buffer.from(added.toBytes()))).toBe(true);
          expect(rebuilt.count).toBe(added.count);
          expect(rebuilt.zeroCount).toBe(added.zeroCount);
          expect(rebuilt.originCount).toBe(added.originCount);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('is what a sender checks before sending its values for its sketch (holdsListedValues): yes for the sketch they give, no for any other', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(value, { minLength: 1, maxLength: 30, comparator: 'SameValueZero' }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 30, maxLength: 30 }),
        fc.constantFrom(0, 100, -3.5),
        value,
        (values, repeats, center, extra) => {
          const counts = values.map((_, k) => repeats[k]);
          const sketch = new LogHistogram(0.005, { center, maxBuckets: 1 << 20 });
          for (let k = 0; k < values.length; k++) sketch.add(values[k], counts[k]);
          expect(sketch.holdsListedValues(values, counts)).toBe(true);
          // a value more in the sketch than listed, or one count off, is another sketch
          const more = new LogHistogram(0.005, { center, maxBuckets: 1 << 20 });
          more.merge(sketch);
          more.add(extra);
          expect(more.holdsListedValues(values, counts)).toBe(false);
          expect(sketch.holdsListedValues(values, counts.map((c, k) => (k === counts.length - 1 ? c + 1 : c)).slice(0, values.length))).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
    // a sketch that collapsed buckets holds other weights than its values give
    const collapsed = new LogHistogram(0.005, { maxBuckets: 16 });
    collapsed.add(1);
    collapsed.add(1e6);
    expect(collapsed.holdsListedValues([1, 1e6], [1, 1])).toBe(false);
  });

  it('refuses values its sender would have collapsed, and bad counts or values, naming them', () => {
    const settings = { relativeAccuracy: 0.005, minIndexable: 1e-9, maxBuckets: 16, center: 0 };
    expect(() => LogHistogram.fromListedValues([1, 1e6], [1, 1], 1e6 + 1, settings)).toThrow(/span \d+ buckets of a sign, more than maxBuckets 16/);
    expect(() => LogHistogram.fromListedValues([1, 2], [1, 0], 3, settings)).toThrow(/count 1 must be a positive finite number, got 0/);
    expect(() => LogHistogram.fromListedValues([1, Number.NaN], [1, 1], 3, settings)).toThrow(/value 1 must be finite, got NaN/);
    expect(() => LogHistogram.fromListedValues([1, 2], [1], 3, settings)).toThrow(/2 values, 1 counts/);
    expect(() => LogHistogram.fromListedValues([1, 2], [1, 1], Number.POSITIVE_INFINITY, settings)).toThrow(/bad sum Infinity/);
    expect(() => LogHistogram.fromListedValues([1], [1], 1, { ...settings, relativeAccuracy: 1e-9 })).toThrow(/relativeAccuracy must be a number in/);
    expect(() => LogHistogram.fromListedValues([1], [1], 1, { ...settings, maxBuckets: 1 << 25 })).toThrow(/maxBuckets must be an integer in/);
  });

  it('is refused by checkListedValues wherever building it is, and only there (a reader checks first, builds when read)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(value, fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 1e12, -1e12)), { maxLength: 8 }),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, -1, 0.5)), { minLength: 8, maxLength: 8 }),
        fc.constantFrom(0, 100),
        fc.constantFrom(4, 64, 2048),
        fc.constantFrom(1e-300, 0.5),
        (values, someCounts, center, maxBuckets, minIndexable) => {
          const counts = values.map((_, k) => someCounts[k]);
          const settings = { relativeAccuracy: 0.005, minIndexable, maxBuckets, center };
          const outcome = (run: () => unknown): string => {
            try {
              run();
              return 'accepted';
            } catch (error) {
              return (error as Error).message;
            }
          };
          const built = outcome(() => LogHistogram.fromListedValues(values, counts, 1, settings));
          expect(outcome(() => LogHistogram.checkListedValues(values, counts, 1, settings))).toBe(built);
        },
      ),
      { numRuns: 400 },
    );
  });
});

/** A delta's changed buckets as [index, change] pairs. */
function changes(delta: BucketDelta): Array<[number, number]> {
  return Array.from({ length: delta.length }, (_, k) => [delta.indexes[delta.indexesAt + k], delta.diffs[delta.diffsAt + k]] as [number, number]);
}

describe("a sketch's delta read off the values whose counts changed (LogHistogram.listedDelta)", () => {
  const counted = fc.uniqueArray(fc.tuple(value, fc.integer({ min: 1, max: 4 })), { maxLength: 12, selector: ([v]) => v, comparator: 'SameValueZero' });

  it('is the delta of the two sketches the states list, bucket for bucket, and weighs the same outside the buckets', () => {
    fc.assert(
      fc.property(counted, counted, fc.constantFrom(0, 100, -3.5), fc.constantFrom(1e-300, 1e-9, 0.5), fc.boolean(), (earlierPairs, laterPairs, center, minIndexable, onScratch) => {
        const settings = { relativeAccuracy: 0.005, minIndexable, maxBuckets: 1 << 20, center };
        const listed = (pairs: Array<[number, number]>) => ({ ...settings, values: pairs.map(([v]) => v), counts: pairs.map(([, c]) => c), sum: pairs.reduce((s, [v, c]) => s + v * c, 0) });
        const earlier = listed(earlierPairs);
        const later = listed(laterPairs);
        const exact = (state: typeof earlier) => {
          const counts = new ExactValueCounts(64);
          counts.listDistinct(state.values, state.counts);
          return counts;
        };
        const change = ExactValueCounts.change(exact(earlier), exact(later));
        if (change === null) throw new Error('lists within the bound pair');
        const scratch = onScratch ? new BucketScratch() : undefined;
        const read = LogHistogram.listedDelta(earlier, later, change, scratch);
        const expected = LogHistogram.delta(
          LogHistogram.fromListedValues(earlier.values, earlier.counts, earlier.sum, settings),
          LogHistogram.fromListedValues(later.values, later.counts, later.sum, settings),
        );
        expect(read).not.toBeNull();
        const delta = read as NonNullable<typeof read>;
        for (const side of ['positive', 'negative'] as const) {
          expect(changes(delta[side])).toEqual(changes(expected[side]));
          expect([delta[side].lowestGain, delta[side].highestGain]).toEqual([expected[side].lowestGain, expected[side].highestGain]);
        }
        const { buckets: _read, positive: _rp, negative: _rn, ...scalars } = delta;
        const { buckets: _expected, positive: _ep, negative: _en, ...expectedScalars } = expected;
        expect(scalars).toEqual(expectedScalars);
        // a window holding the earlier state changes by it as taking that state away and adding the later one does
        const window = LogHistogram.fromListedValues([7, 1e3, ...earlier.values], [2, 1, ...earlier.counts], 1e3 + 14 + earlier.sum, settings);
        const replaced = LogHistogram.fromListedValues([7, 1e3, ...earlier.values], [2, 1, ...earlier.counts], 1e3 + 14 + earlier.sum, settings);
        replaced.subtract(LogHistogram.fromListedValues(earlier.values, earlier.counts, earlier.sum, settings));
        replaced.merge(LogHistogram.fromListedValues(later.values, later.counts, later.sum, settings));
        expect(window.takeDelta(delta)).toBe(true);
        expect(Buffer.from(window.toBytes()).equals(Buffer.from(replaced.toBytes()))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('is none for states on other buckets (another center, accuracy or zero threshold)', () => {
    const state = { relativeAccuracy: 0.005, minIndexable: 1e-300, maxBuckets: 2048, center: 3, values: [1, 2], counts: [1, 1], sum: 3 };
    const change = { values: [2], counts: [1] };
    expect(LogHistogram.listedDelta(state, { ...state, center: 4 }, change)).toBeNull();
    expect(LogHistogram.listedDelta(state, { ...state, relativeAccuracy: 0.01 }, change)).toBeNull();
    expect(LogHistogram.listedDelta(state, { ...state, minIndexable: 1e-9 }, change)).toBeNull();
    expect(LogHistogram.listedDelta(state, { ...state, maxBuckets: 4096 }, change)).not.toBeNull();
  });
});
