import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExactValueCounts } from '../../src/sketch/exact-values.ts';

/** Values listed once each with their counts (0 included: a wire list may hold one), as a pane state carries them. */
const listing = fc.uniqueArray(fc.tuple(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), fc.integer({ min: 0, max: 4 })), {
  maxLength: 12,
  selector: ([v]) => v,
  comparator: 'SameValueZero',
});

function counted(pairs: ReadonlyArray<[number, number]>): ExactValueCounts {
  return ExactValueCounts.ofDistinct(
    64,
    pairs.map(([v]) => v),
    pairs.map(([, c]) => c),
  );
}

function snapshot(exact: ExactValueCounts, sorted = false): { listed: Array<[number, number]>; other: number; fractionalOther: number; folded: number } {
  const { values, counts } = exact.listed();
  // sorted: -0 and 0 are one value (the first listed names it), as 0 + 0 is
  const listed = values.map((v, k): [number, number] => [sorted ? v + 0 : v, counts[k]]);
  if (sorted) listed.sort(([a], [b]) => a - b);
  return { listed, other: exact.other, fractionalOther: exact.fractionalOther, folded: exact.folded };
}

describe('counts per value of a state that replaces another (ExactValueCounts.change, applyChange)', () => {
  it('change a window as taking the earlier state away and adding the later one do, value for value', () => {
    fc.assert(
      fc.property(listing, listing, listing, (beside, earlierPairs, laterPairs) => {
        const earlier = counted(earlierPairs);
        const later = counted(laterPairs);
        const window = () => {
          // no cap: past one, values the change leaves alone stay where they are counted (listed or
          // in `other`) where taking away and adding moves them; the totals agree either way
          const sum = new ExactValueCounts(64);
          sum.merge(counted(beside));
          sum.merge(earlier);
          return sum;
        };
        const replaced = window();
        replaced.subtract(earlier);
        replaced.merge(later);
        const change = ExactValueCounts.change(earlier, later);
        if (change === null) throw new Error('lists within the bound pair');
        // only what changed: no value whose count is the same in both, and none twice
        for (let k = 0; k < change.values.length; k++) {
          expect(change.counts[k]).not.toBe(0);
          expect(change.values.indexOf(change.values[k])).toBe(k);
        }
        expect(change.values.length).toBe(change.counts.length);
        const changed = window();
        changed.applyChange(change);
        // the same counts; a value taken away whole and added again is listed last by those two, not here
        expect(snapshot(changed, true)).toEqual(snapshot(replaced, true));
      }),
      { numRuns: 600 },
    );
  });

  it('a value whose count falls to none leaves the list and the others keep their order', () => {
    const window = new ExactValueCounts(64);
    window.merge(counted([[1, 1], [2.5, 2], [3, 1], [4, 1]]));
    const change = ExactValueCounts.change(counted([[2.5, 2], [4, 1]]), counted([[4, 2]]));
    expect(change).toEqual({ values: [2.5, 4], counts: [-2, 1], other: 0, fractionalOther: 0 });
    window.applyChange(change as NonNullable<typeof change>);
    expect(snapshot(window).listed).toEqual([[1, 1], [3, 1], [4, 2]]);
  });
});

describe('counts listed from a state (ExactValueCounts.ofDistinct)', () => {
  it('hold what listing the values one by one holds, without the values counted 0, in lists of their own', () => {
    fc.assert(
      fc.property(listing, (pairs) => {
        const values = pairs.map(([v]) => v);
        const counts = pairs.map(([, c]) => c);
        const listed = ExactValueCounts.ofDistinct(64, values, counts);
        const oneByOne = new ExactValueCounts(64);
        oneByOne.listDistinct(values, counts);
        expect(snapshot(listed)).toEqual(snapshot(oneByOne));
        expect(listed.size).toBe(pairs.filter(([, c]) => c > 0).length);
        // the state's lists are read again (a sketch sent as its values is built from them): counting on leaves them alone
        const before = [values.slice(), counts.slice()];
        listed.add(12345.5);
        listed.merge(counted([[values[0] ?? 1, 3]]));
        expect([values, counts]).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });
});

describe('a sum listing many values (a window at SUM_VALUES_CAP)', () => {
  /**
   * What a sum lists, kept the plain way (a list searched value by value): the first sumCap values
   * merged in are listed, a value taken away comes off its listed count first and the rest off
   * `other`, a value at none leaves the list.
   */
  class PlainSum {
    values: number[] = [];
    tallies: number[] = [];
    other = 0;
    constructor(readonly sumCap: number) {}
    add(value: number, n: number, sign: 1 | -1): void {
      const i = this.values.indexOf(value);
      if (sign > 0) {
        if (i >= 0) this.tallies[i] += n;
        else if (this.values.length < this.sumCap) {
          this.values.push(value);
          this.tallies.push(n);
        } else this.other += n;
        return;
      }
      const fromList = i >= 0 ? Math.min(n, this.tallies[i]) : 0;
      if (i >= 0 && fromList === this.tallies[i]) {
        this.values.splice(i, 1);
        this.tallies.splice(i, 1);
      } else if (i >= 0) this.tallies[i] -= fromList;
      this.other -= n - fromList;
    }
  }

  // near values: -0 and 0, values apart by less than the signature's 2^-16, past 2^31, negative
  const value = fc.oneof(
    fc.integer({ min: -40, max: 40 }),
    fc.constantFrom(-0, 0, 0.5, 0.5 + 2 ** -20, 0.5 + 2 ** -18, 2 ** 31 + 0.25, 2 ** 40, -(2 ** 33), 1e300, -1e-300),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  );
  const pane = fc.uniqueArray(fc.tuple(value, fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 12, selector: ([v]) => v, comparator: 'SameValueZero' });

  it('lists, counts and drops values as a list searched value by value does, through merges, subtractions and changes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('merge', 'subtract', 'replace'), pane, fc.nat()), { minLength: 1, maxLength: 60 }), fc.constantFrom(24, 32, 64), (ops, sumCap) => {
        const sum = new ExactValueCounts(16, sumCap);
        const plain = new PlainSum(sumCap);
        const held: Array<Array<[number, number]>> = [];
        for (const [kind, pairs, pick] of ops) {
          if (kind === 'merge' || held.length === 0) {
            sum.merge(counted(pairs));
            for (const [v, n] of pairs) plain.add(v, n, 1);
            held.push(pairs);
            continue;
          }
          const at = pick % held.length;
          const earlier = held[at];
          if (kind === 'subtract') {
            sum.subtract(counted(earlier));
            for (const [v, n] of earlier) plain.add(v, n, -1);
            held.splice(at, 1);
            continue;
          }
          const change = ExactValueCounts.change(counted(earlier), counted(pairs));
          if (change === null) throw new Error('lists within the bound pair');
          sum.applyChange(change);
          for (let k = 0; k < change.values.length; k++) plain.add(change.values[k], Math.abs(change.counts[k]), change.counts[k] > 0 ? 1 : -1);
          held[at] = pairs;
        }
        const { values, counts } = sum.listed();
        expect(values.map((v) => v + 0)).toEqual(plain.values.map((v) => v + 0));
        expect(counts).toEqual(plain.tallies);
        expect(sum.other).toBe(plain.other);
      }),
      { numRuns: 400 },
    );
  });
});
