import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Moments } from '../../src/sketch/index.ts';

function momentsOf(values: readonly number[]): Moments {
  const moments = new Moments();
  for (const value of values) moments.add(value);
  return moments;
}

describe('Moments', () => {
  it('gives mean, variance and std of a known set', () => {
    const moments = momentsOf([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(moments.count).toBe(8);
    expect(moments.mean()).toBe(5);
    expect(moments.variance()).toBe(4);
    expect(moments.std()).toBe(2);
    expect(moments.sampleVariance()).toBeCloseTo(32 / 7, 12);
  });

  it('is NaN when empty and never negative for constants', () => {
    expect(new Moments().mean()).toBeNaN();
    expect(new Moments().variance()).toBeNaN();
    expect(momentsOf([3]).sampleVariance()).toBeNaN();
    expect(momentsOf([0.1, 0.1, 0.1]).variance()).toBeGreaterThanOrEqual(0);
    // Cancellation: the variance of a constant comes out within a few ulps of mean^2, not exactly 0.
    const constant = momentsOf([1e3 + 0.1, 1e3 + 0.1, 1e3 + 0.1]);
    expect(constant.variance()).toBeLessThanOrEqual(4 * Number.EPSILON * constant.mean() ** 2);
  });

  it('weights values', () => {
    const moments = new Moments();
    moments.add(1, 3);
    moments.add(5, 1);
    expect(moments.count).toBe(4);
    expect(moments.mean()).toBe(2);
    expect(moments.variance()).toBe(3);
  });

  it('merge equals adding all; subtract inverts merge (property)', () => {
    const values = fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 50 });
    fc.assert(
      fc.property(values, values, (a, b) => {
        const merged = momentsOf(a).merge(momentsOf(b));
        expect(merged.toJSON()).toEqual(momentsOf([...a, ...b]).toJSON());
        expect(merged.subtract(momentsOf(b)).toJSON()).toEqual(momentsOf(a).toJSON());
      }),
    );
  });

  it('resets to exact zero when all weight is subtracted', () => {
    const pane = momentsOf([0.1, 0.7, 1e-3]);
    const window = momentsOf([0.3]).merge(pane);
    window.subtract(momentsOf([0.3])).subtract(pane);
    expect(window.toJSON()).toEqual({ count: 0, sum: 0, sumSq: 0 });
  });

  it('round-trips through JSON and rejects bad JSON', () => {
    const moments = momentsOf([0.1, 0.2, 0.3]);
    const copy = Moments.fromJSON(JSON.parse(JSON.stringify(moments)));
    expect(copy.toJSON()).toEqual(moments.toJSON());
    expect(copy.clone().toJSON()).toEqual(moments.toJSON());
    expect(() => Moments.fromJSON({ count: 1, sum: 'x', sumSq: 1 })).toThrow(/sum must be a finite number, got x/);
    expect(() => Moments.fromJSON({ count: -1, sum: 0, sumSq: 0 })).toThrow(/count and sumSq must be >= 0/);
    expect(() => Moments.fromJSON(5)).toThrow(/expected an object/);
  });
});
