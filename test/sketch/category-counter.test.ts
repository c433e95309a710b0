import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CategoryCounter, OTHER_CATEGORY } from '../../src/sketch/index.ts';

function counterOf(categories: readonly string[], cap = 50): CategoryCounter {
  const counter = new CategoryCounter(cap);
  for (const category of categories) counter.add(category);
  return counter;
}

describe('CategoryCounter', () => {
  it('counts per category and sorts entries heaviest first, ties by name', () => {
    const counter = counterOf(['cat', 'dog', 'cat', 'bird', 'dog', 'cat', 'ant']);
    counter.add('bird', 0.5);
    expect(counter.get('cat')).toBe(3);
    expect(counter.get('fish')).toBe(0);
    expect(counter.total).toBe(7.5);
    expect(counter.entries()).toEqual([['cat', 3], ['dog', 2], ['bird', 1.5], ['ant', 1]]);
  });

  it(`sends categories beyond the cap to '${OTHER_CATEGORY}'`, () => {
    const counter = counterOf(['a', 'b', 'c', 'a', 'd', 'e', 'c'], 3);
    expect(counter.size).toBe(3);
    expect(counter.get('a')).toBe(2);
    expect(counter.get('c')).toBe(2);
    expect(counter.get('d')).toBe(0);
    expect(counter.get(OTHER_CATEGORY)).toBe(2);
    expect(counter.otherCount).toBe(2);
    expect(counter.total).toBe(7);
    expect(counter.entries()).toEqual([[OTHER_CATEGORY, 2], ['a', 2], ['c', 2], ['b', 1]]);
    // the same pairs in no promised order
    expect(counter.unorderedEntries().sort(([a], [b]) => (a < b ? -1 : 1))).toEqual([[OTHER_CATEGORY, 2], ['a', 2], ['b', 1], ['c', 2]]);
    // The reserved name itself never takes a slot.
    const reserved = counterOf([OTHER_CATEGORY, 'x'], 1);
    expect(reserved.entries()).toEqual([[OTHER_CATEGORY, 1], ['x', 1]]);
  });

  it('merges within the cap exactly and keeps the heaviest when over it', () => {
    const a = counterOf(['x', 'x', 'x', 'y', 'z'], 3);
    const b = counterOf(['w', 'w', 'y', 'v'], 3);
    const merged = a.clone().merge(b);
    expect(merged.size).toBe(3);
    expect(merged.total).toBe(9);
    expect(merged.entries()).toEqual([['x', 3], [OTHER_CATEGORY, 2], ['w', 2], ['y', 2]]);
    const small = counterOf(['p'], 3).merge(counterOf(['q', 'p'], 3));
    expect(small.entries()).toEqual([['p', 2], ['q', 1]]);
  });

  it('preserves totals under merge in any order, and within the cap the result is the same (property)', () => {
    const categories = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', OTHER_CATEGORY), { maxLength: 40 });
    fc.assert(
      fc.property(categories, categories, categories, fc.integer({ min: 1, max: 8 }), (x, y, z, cap) => {
        const left = counterOf(x, cap).merge(counterOf(y, cap)).merge(counterOf(z, cap));
        const right = counterOf(z, cap).merge(counterOf(y, cap).merge(counterOf(x, cap)));
        expect(left.total).toBe(x.length + y.length + z.length);
        expect(right.total).toBe(left.total);
        for (const counter of [left, right]) {
          expect(counter.size).toBeLessThanOrEqual(cap);
          expect(counter.entries().reduce((sum, [, weight]) => sum + weight, 0)).toBe(counter.total);
        }
        if (cap >= 7) expect(new Map(left.entries())).toEqual(new Map(right.entries()));
      }),
      { numRuns: 300 },
    );
  });

  it('subtract inverts merge: totals always, keys too when nothing was folded (property)', () => {
    const categories = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 40 });
    fc.assert(
      fc.property(categories, categories, fc.integer({ min: 1, max: 8 }), (x, y, cap) => {
        const base = counterOf(x, cap);
        const restored = base.clone().merge(counterOf(y, cap)).subtract(counterOf(y, cap));
        expect(restored.total).toBe(base.total);
        expect(restored.entries().reduce((sum, [, weight]) => sum + weight, 0)).toBe(base.total);
        if (cap >= 6) expect(restored.entries()).toEqual(base.entries());
        const emptied = counterOf(y, cap).subtract(counterOf(y, cap));
        expect(emptied.total).toBe(0);
        expect(emptied.entries()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('frees the slots of categories that reach 0', () => {
    const window = counterOf(['a', 'b'], 2);
    const oldPane = counterOf(['a'], 2);
    window.subtract(oldPane);
    expect(window.entries()).toEqual([['b', 1]]);
    window.add('c');
    expect(window.get('c')).toBe(1);
    expect(window.otherCount).toBe(0);
  });

  it('takes weight of folded categories back from other', () => {
    const window = counterOf(['a', 'a', 'b', 'b'], 2);
    const pane = counterOf(['c'], 2);
    window.merge(pane);
    expect(window.otherCount).toBe(1);
    window.subtract(pane);
    expect(window.otherCount).toBe(0);
    expect(window.entries()).toEqual([['a', 2], ['b', 2]]);
  });

  it('round-trips exactly through toJSON / JSON text / fromJSON', () => {
    const counter = counterOf(['z', 'y', 'z', 'x', 'w'], 3);
    counter.add('y', 0.1);
    counter.add('y', 0.2);
    const json = counter.toJSON();
    expect(json).toEqual({ cap: 3, keys: ['z', 'y', 'x', OTHER_CATEGORY], counts: [2, 1 + 0.1 + 0.2, 1, 1] });
    const copy = CategoryCounter.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(copy.toJSON()).toEqual(json);
    expect(copy.entries()).toEqual(counter.entries());
    expect(copy.total).toBe(counter.total);
    expect(CategoryCounter.fromJSON(new CategoryCounter(4).toJSON()).total).toBe(0);
  });

  it('rejects bad arguments and bad JSON with what was wrong', () => {
    expect(() => new CategoryCounter(0)).toThrow(/maxCategories must be a positive integer, got 0/);
    expect(() => new CategoryCounter(2.5)).toThrow(RangeError);
    expect(() => counterOf([]).add('a', -1)).toThrow(/weight must be a positive finite number, got -1/);
    expect(() => CategoryCounter.fromJSON(null)).toThrow(/expected an object/);
    expect(() => CategoryCounter.fromJSON({ cap: 0, keys: [], counts: [] })).toThrow(/cap must be a positive integer/);
    expect(() => CategoryCounter.fromJSON({ cap: 2, keys: ['a'], counts: [] })).toThrow(/keys has 1 entries but counts has 0/);
    expect(() => CategoryCounter.fromJSON({ cap: 2, keys: ['a', 'a'], counts: [1, 1] })).toThrow(/category 'a' appears twice/);
    expect(() => CategoryCounter.fromJSON({ cap: 1, keys: ['a', 'b'], counts: [1, 1] })).toThrow(/more than cap = 1 categories/);
    expect(() => CategoryCounter.fromJSON({ cap: 2, keys: ['a'], counts: [-3] })).toThrow(/counts\[0\] \(for 'a'\) must be a positive finite number, got -3/);
    expect(() => CategoryCounter.fromJSON({ cap: 2, keys: [7], counts: [1] })).toThrow(/keys\[0\] is not a string/);
  });
});
