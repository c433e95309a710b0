import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { BucketScratch } from '../../src/sketch/bucket-store.ts';

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
  });
});
