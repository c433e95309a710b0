import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogHistogram } from '../../src/sketch/index.ts';
import { CubicLogMapping } from '../../src/sketch/cubic-log-mapping.ts';
import { BucketScratch } from '../../src/sketch/bucket-store.ts';
import { distributions, seededNormal, seededUniform } from './distributions.ts';

const QUANTILES = [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function histogramOf(values: readonly number[], relativeAccuracy = 0.01, maxBuckets?: number): LogHistogram {
  const histogram = new LogHistogram(relativeAccuracy, maxBuckets === undefined ? {} : { maxBuckets });
  for (const value of values) histogram.add(value);
  return histogram;
}

function bucketsOf(histogram: LogHistogram): Array<[number, number]> {
  const buckets: Array<[number, number]> = [];
  histogram.forEachBucket((value, weight) => buckets.push([value, weight]));
  return buckets;
}

/** The order statistic quantile(q) promises to be within alpha of. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

function countAtMost(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** |estimate - exact| within alpha relative (values up to minIndexable count as 0: absolute error at most it). */
function expectWithinAccuracy(estimate: number, exact: number, histogram: LogHistogram, context: string): void {
  const allowed = Math.abs(exact) <= histogram.minIndexable ? histogram.minIndexable : histogram.relativeAccuracy * Math.abs(exact) * (1 + 1e-9);
  if (!(Math.abs(estimate - exact) <= allowed)) {
    throw new Error(`${context}: estimate ${estimate} vs exact ${exact}, error ${Math.abs(estimate - exact)} > allowed ${allowed}`);
  }
}

describe('CubicLogMapping', () => {
  it('keeps every bucket within a factor gamma, so the representative is within alpha of every member', () => {
    for (const alpha of [0.001, 0.01, 0.02, 0.05, 0.2]) {
      const mapping = new CubicLogMapping(alpha);
      const uniform = seededUniform(7);
      const failures: string[] = [];
      let worstError = 0;
      for (let i = 0; i < 20000; i++) {
        const x = Math.exp((uniform() - 0.5) * 1400);
        const index = mapping.index(x);
        const lower = mapping.lowerBound(index);
        const upper = mapping.upperBound(index);
        if (!(lower < x * (1 + 1e-12) && x <= upper * (1 + 1e-12))) failures.push(`${x} outside (${lower}, ${upper}]`);
        if (!(upper / lower <= mapping.gamma * (1 + 1e-12))) failures.push(`bucket ${index} spans ${upper / lower}`);
        worstError = Math.max(worstError, Math.abs(mapping.value(index) - x) / x);
      }
      expect(failures).toEqual([]);
      expect(worstError).toBeLessThanOrEqual(alpha * (1 + 1e-9));
      // The bound is tight: some value sits near a bucket edge.
      expect(worstError).toBeGreaterThan(alpha * 0.99);
    }
  });

  it('reads the tabulated accuracies\' bounds from its table bit for bit as it computes them, inside the table and past it', () => {
    for (const alpha of [0.005, 0.01]) {
      const tabulated = new CubicLogMapping(alpha);
      const computed = new CubicLogMapping(alpha, new Float64Array(0));
      const mismatches: string[] = [];
      for (let index = -5000; index <= 5000; index++) {
        if (!Object.is(tabulated.upperBound(index), computed.upperBound(index))) mismatches.push(`upperBound(${index})`);
        if (!Object.is(tabulated.lowerBound(index), computed.lowerBound(index))) mismatches.push(`lowerBound(${index})`);
        if (!Object.is(tabulated.value(index), computed.value(index))) mismatches.push(`value(${index})`);
      }
      expect(mismatches).toEqual([]);
      // inside the table and past it, a value's bucket is the one whose bounds hold it
      for (const x of [1e-12, 1e-3, 1, 7.5, 1e6, 1e40, 1e200]) {
        const index = tabulated.index(x);
        expect(tabulated.lowerBound(index)).toBeLessThan(x * (1 + 1e-12));
        expect(tabulated.upperBound(index) * (1 + 1e-12)).toBeGreaterThanOrEqual(x);
      }
    }
  });

  it('uses about 35 buckets per octave at 1 % (the exact log mapping needs 34.7)', () => {
    const mapping = new CubicLogMapping(0.01);
    expect(mapping.index(1024) - mapping.index(1)).toBe(350);
  });
});

describe('LogHistogram quantiles', () => {
  for (const distribution of distributions) {
    it(`stay within 1 % of the exact order statistic: ${distribution.name}`, () => {
      const values = distribution.sample(20000, 11);
      const histogram = histogramOf(values);
      const sorted = [...values].sort((a, b) => a - b);
      expect(histogram.count).toBe(values.length);
      for (const q of QUANTILES) {
        expectWithinAccuracy(histogram.quantile(q), exactQuantile(sorted, q), histogram, `${distribution.name} q=${q}`);
      }
    });
  }

  it('hold a tighter accuracy when asked (0.1 %) on lognormal data', () => {
    const z = seededNormal(3);
    const values = Array.from({ length: 20000 }, () => Math.exp(3 * z()));
    // 0.1 % buckets are 10x narrower: this range (about 1e-9 .. 1e9) needs more than the default 2048.
    const histogram = new LogHistogram(0.001, { maxBuckets: 40000 });
    for (const value of values) histogram.add(value);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of QUANTILES) expectWithinAccuracy(histogram.quantile(q), exactQuantile(sorted, q), histogram, `q=${q}`);
  });

  it('hold for arbitrary finite inputs (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, q) => {
          const histogram = histogramOf(values);
          // the guarantee holds while no bucket collapsed: magnitudes within maxBuckets buckets of
          // each other, per sign (about 17 decades at 1 %); beyond, collapse is documented and tested apart
          for (const sign of [1, -1]) {
            const magnitudes = values.filter((v) => v * sign > histogram.minIndexable).map((v) => Math.abs(v));
            if (magnitudes.length > 1) {
              fc.pre(Math.log(Math.max(...magnitudes) / Math.min(...magnitudes)) / Math.log(histogram.gamma) < histogram.maxBuckets - 2);
            }
          }
          const sorted = [...values].sort((a, b) => a - b);
          expectWithinAccuracy(histogram.quantile(q), exactQuantile(sorted, q), histogram, `q=${q}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the known values for a small set and NaN when empty', () => {
    const histogram = histogramOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(histogram.quantile(0.5)).toBeCloseTo(5, 1);
    expect(Math.abs(histogram.quantile(0.5) - 5)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(histogram.quantile(1) - 10)).toBeLessThanOrEqual(0.1);
    expect(histogram.sum).toBe(55);
    expect(histogram.mean()).toBe(5.5);
    const empty = new LogHistogram();
    expect(empty.quantile(0.5)).toBeNaN();
    expect(empty.rank(3)).toBe(0);
    expect(empty.mean()).toBeNaN();
  });

  it('ignores NaN and infinities and counts |x| < minIndexable as zero', () => {
    const histogram = new LogHistogram();
    histogram.add(NaN);
    histogram.add(Infinity);
    histogram.add(-Infinity);
    expect(histogram.count).toBe(0);
    histogram.add(1e-12);
    histogram.add(-0);
    histogram.add(-1e-10);
    expect(histogram.zeroCount).toBe(3);
    expect(histogram.quantile(0.5)).toBe(0);
  });

  it('handles the extremes of the double range', () => {
    const histogram = new LogHistogram(0.01, { minIndexable: 1e-300 });
    histogram.add(Number.MAX_VALUE);
    histogram.add(1e-299);
    expect(Number.isFinite(histogram.quantile(1))).toBe(true);
    expectWithinAccuracy(histogram.quantile(1), Number.MAX_VALUE, histogram, 'max double');
  });

  it('weights values', () => {
    const histogram = new LogHistogram();
    histogram.add(10, 3);
    histogram.add(1000, 1);
    expect(histogram.count).toBe(4);
    expect(histogram.sum).toBe(1030);
    expect(Math.abs(histogram.quantile(0.5) - 10)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(histogram.quantile(1) - 1000)).toBeLessThanOrEqual(10);
  });
});

describe('LogHistogram quantile: the bucket of the order statistic', () => {
  /** The definition: walk the buckets in ascending order until the cumulative weight passes rank q (n - 1). */
  function byDefinition(histogram: LogHistogram, q: number): number {
    const rank = q * (histogram.count - 1);
    let cumulative = 0;
    let answer = NaN;
    let last = NaN;
    histogram.forEachBucket((value, weight) => {
      last = value;
      cumulative += weight;
      if (cumulative > rank && answer !== answer) answer = value;
    });
    return answer === answer ? answer : last;
  }

  it('is the representative the ascending walk finds, with any center, negatives, zeros and subtracted panes', () => {
    const value = fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constantFrom(0, 1, -1, 5));
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 200 }),
        fc.array(value, { maxLength: 50 }),
        fc.constantFrom(0, 3, -40.5),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
        (kept, removed, center, qs) => {
          const histogram = new LogHistogram(0.01, { center });
          for (const v of [...kept, ...removed]) histogram.add(v);
          const pane = new LogHistogram(0.01, { center });
          for (const v of removed) pane.add(v);
          histogram.subtract(pane);
          for (const q of [0, 1, 0.5, 0.99, ...qs]) expect(histogram.quantile(q), `q=${q}`).toBe(byDefinition(histogram, q));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('LogHistogram.rank', () => {
  it('lies between the exact counts at x / gamma and x * gamma', () => {
    for (const distribution of distributions) {
      const values = distribution.sample(5000, 5);
      const histogram = histogramOf(values);
      const sorted = [...values].sort((a, b) => a - b);
      const gamma = histogram.gamma * (1 + 1e-9);
      const probes = [...QUANTILES.map((q) => exactQuantile(sorted, q)), ...QUANTILES.map((q) => exactQuantile(sorted, q) * 1.003 + 0.01)];
      for (const x of probes) {
        if (Math.abs(x) < 1e-8) continue;
        const estimate = histogram.rank(x);
        const [narrow, wide] = x > 0 ? [x / gamma, x * gamma] : [x * gamma, x / gamma];
        const context = `${distribution.name} rank(${x}) = ${estimate}`;
        expect(estimate, context).toBeGreaterThanOrEqual(countAtMost(sorted, narrow) - 1e-6);
        expect(estimate, context).toBeLessThanOrEqual(countAtMost(sorted, wide) + 1e-6);
      }
      expect(histogram.rank(Infinity)).toBeCloseTo(values.length, 6);
      expect(histogram.rank(-Infinity)).toBe(0);
    }
  });

  it('counts zeros at 0 and is NaN for NaN', () => {
    const histogram = histogramOf([-2, 0, 0, 3]);
    expect(histogram.rank(0)).toBe(3);
    expect(histogram.rank(-1)).toBe(1);
    expect(histogram.rank(NaN)).toBeNaN();
  });
});

describe('LogHistogram.countsBetweenEdges', () => {
  it('sums to the count and matches exact bin counts up to the values near the edges', () => {
    const z = seededNormal(21);
    const values = Array.from({ length: 20000 }, () => z());
    const edges = [-1.5, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 1.5];
    const histogram = histogramOf(values);
    const bins = histogram.countsBetweenEdges(edges);
    expect(bins.length).toBe(edges.length + 1);
    expect(bins.reduce((a, b) => a + b, 0)).toBeCloseTo(values.length, 6);
    const sorted = [...values].sort((a, b) => a - b);
    const gamma = histogram.gamma;
    const countBelow = (x: number): number => countAtMost(sorted, x) - (sorted.includes(x) ? 1 : 0);
    for (let bin = 0; bin <= edges.length; bin++) {
      const exact = values.filter((v) => (bin === 0 || v >= edges[bin - 1]) && (bin === edges.length || v < edges[bin])).length;
      // Values within a factor gamma of either edge may land on the other side.
      let slack = 0;
      for (const edge of [edges[bin - 1], edges[bin]]) {
        if (edge === undefined) continue;
        const a = edge > 0 ? edge / gamma : edge * gamma;
        const b = edge > 0 ? edge * gamma : edge / gamma;
        slack += edge === 0 ? 0 : countBelow(Math.max(a, b)) - countBelow(Math.min(a, b));
      }
      expect(Math.abs(bins[bin] - exact), `bin ${bin}: sketch ${bins[bin]}, exact ${exact}`).toBeLessThanOrEqual(slack + 1e-6);
    }
    // With a 1 % sketch the bins are close in relative terms too.
    expect(bins[5]).toBeGreaterThan(0);
    const exactMiddle = values.filter((v) => v >= -0.5 && v < 0.5).length;
    expect(Math.abs(bins[3] + bins[4] + bins[5] + bins[6] - exactMiddle) / exactMiddle).toBeLessThan(0.01);
  });

  it('splits the buckets at the edges as rank() does, whatever the center, signs, weights, collapsed or sorted stores', () => {
    const value = fc.oneof(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.constantFrom(0, 1, -1, 293, 293.5, 1e-300, -1e-300), fc.integer({ min: -50, max: 50 }));
    const edge = fc.oneof(value, fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constantFrom(0, 293, 1e-320, -1e-320, 5e-324));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.oneof(fc.constant(1), fc.double({ min: 0.01, max: 100, noNaN: true }))), { maxLength: 200 }),
        fc.array(edge, { maxLength: 12 }),
        fc.constantFrom(0, 293, -7.5),
        fc.constantFrom(2048, 40),
        fc.constantFrom('as added', 'copied', 'subtracted'),
        (weighted, rawEdges, center, maxBuckets, form) => {
          let sketch = new LogHistogram(0.01, { center, maxBuckets });
          for (const [x, weight] of weighted) sketch.add(x, weight);
          if (form === 'copied') sketch = sketch.clone();
          if (form === 'subtracted' && weighted.length > 0) {
            const part = new LogHistogram(0.01, { center, maxBuckets });
            for (const [x, weight] of weighted.slice(0, weighted.length >> 1)) part.add(x, weight);
            sketch.subtract(part);
          }
          const edges = [...new Set(rawEdges.map((e) => (Object.is(e, -0) ? 0 : e)))].sort((a, b) => a - b);
          const bins = sketch.countsBetweenEdges(edges);
          // weight below an edge, from rank (<=): less the zeros at the edge (a bin starts at its edge)
          const below = (e: number): number => sketch.rank(e) - (e - center === 0 ? sketch.zeroCount : 0) - (e === 0 ? sketch.originCount : 0);
          const tolerance = 1e-9 * Math.max(1, sketch.count);
          let previous = 0;
          for (let k = 0; k <= edges.length; k++) {
            const next = k < edges.length ? below(edges[k]) : sketch.count;
            expect(Math.abs(bins[k] - (next - previous)), `bin ${k} of edges ${edges.join(', ')}`).toBeLessThanOrEqual(tolerance);
            previous = next;
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('writes into a given array and rejects bad edges', () => {
    const histogram = histogramOf([1, 2, 3, 10]);
    const out = new Float64Array(3).fill(99);
    expect(histogram.countsBetweenEdges([1.5, 5], out)).toBe(out);
    expect(Array.from(out)).toEqual([1, 2, 1]);
    expect(Array.from(histogram.countsBetweenEdges([]))).toEqual([4]);
    expect(() => histogram.countsBetweenEdges([2, 1])).toThrow(/strictly ascending; edges\[1\] = 1 after 2/);
    expect(() => histogram.countsBetweenEdges([0, NaN])).toThrow(RangeError);
    expect(() => histogram.countsBetweenEdges([1], new Float64Array(3))).toThrow(/out must have edges.length \+ 1 = 2 slots, has 3/);
  });
});

describe('LogHistogram merge and subtract', () => {
  const valuesArb = fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(0), fc.integer({ min: -50, max: 50 })), {
    maxLength: 200,
  });

  it('merge is commutative and associative: bucket counts exactly equal (property)', () => {
    fc.assert(
      fc.property(valuesArb, valuesArb, valuesArb, (a, b, c) => {
        const [ha, hb, hc] = [histogramOf(a), histogramOf(b), histogramOf(c)];
        const left = ha.clone().merge(hb).merge(hc);
        const right = ha.clone().merge(hb.clone().merge(hc));
        const swapped = hc.clone().merge(ha).merge(hb);
        const direct = histogramOf([...a, ...b, ...c]);
        expect(bucketsOf(left)).toEqual(bucketsOf(direct));
        expect(bucketsOf(right)).toEqual(bucketsOf(direct));
        expect(bucketsOf(swapped)).toEqual(bucketsOf(direct));
        expect(left.count).toBe(a.length + b.length + c.length);
        expect(right.count).toBe(left.count);
        expect(Math.abs(left.sum - direct.sum)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(direct.sum) + 1e6 * direct.count));
      }),
      { numRuns: 200 },
    );
  });

  it('subtract exactly inverts merge (property)', () => {
    fc.assert(
      fc.property(valuesArb, valuesArb, (a, b) => {
        const ha = histogramOf(a);
        const restored = ha.clone().merge(histogramOf(b)).subtract(histogramOf(b));
        expect(bucketsOf(restored)).toEqual(bucketsOf(ha));
        expect(restored.count).toBe(ha.count);
        expect(restored.zeroCount).toBe(ha.zeroCount);
        if (a.length === 0) expect(restored.sum).toBe(0);
        const emptied = histogramOf(b).subtract(histogramOf(b));
        expect(emptied.count).toBe(0);
        expect(bucketsOf(emptied)).toEqual([]);
        expect(emptied.quantile(0.5)).toBeNaN();
      }),
      { numRuns: 200 },
    );
  });

  it('clears float residue when fractional weights are subtracted', () => {
    const window = new LogHistogram();
    const pane = new LogHistogram();
    pane.add(5, 0.1);
    pane.add(5, 0.2);
    window.add(5, 0.7);
    window.merge(pane).subtract(pane).subtract(histogramOfWeighted(5, 0.7));
    expect(window.count).toBe(0);
    expect(bucketsOf(window)).toEqual([]);
  });

  it('maintains a sliding window by subtraction that equals a fresh merge of its panes', () => {
    const z = seededNormal(99);
    const panes = Array.from({ length: 30 }, (_, p) => histogramOf(Array.from({ length: 500 }, () => 100 + (p + 1) * z())));
    const window = new LogHistogram();
    const width = 6;
    for (let p = 0; p < panes.length; p++) {
      window.merge(panes[p]);
      if (p >= width) window.subtract(panes[p - width]);
      const fresh = new LogHistogram();
      for (let k = Math.max(0, p - width + 1); k <= p; k++) fresh.merge(panes[k]);
      expect(bucketsOf(window)).toEqual(bucketsOf(fresh));
      expect(window.count).toBe(fresh.count);
      expect(window.quantile(0.99)).toBe(fresh.quantile(0.99));
    }
  });

  it('refuses to combine sketches with different settings', () => {
    expect(() => new LogHistogram(0.01).merge(new LogHistogram(0.02))).toThrow(/relativeAccuracy 0.01 vs 0.02/);
    expect(() => new LogHistogram(0.01).subtract(new LogHistogram(0.01, { minIndexable: 1e-6 }))).toThrow(RangeError);
  });

  it('clone is independent and clear empties', () => {
    const histogram = histogramOf([1, 2, 3]);
    const copy = histogram.clone();
    copy.add(1000);
    expect(histogram.count).toBe(3);
    expect(copy.count).toBe(4);
    histogram.clear();
    expect(histogram.count).toBe(0);
    expect(histogram.sum).toBe(0);
    expect(bucketsOf(histogram)).toEqual([]);
    histogram.add(7);
    expect(Math.abs(histogram.quantile(0.5) - 7)).toBeLessThanOrEqual(0.07);
  });
});

function histogramOfWeighted(value: number, weight: number): LogHistogram {
  const histogram = new LogHistogram();
  histogram.add(value, weight);
  return histogram;
}

describe('LogHistogram collapse (maxBuckets)', () => {
  it('keeps at most maxBuckets per sign and the high-magnitude quantiles accurate', () => {
    const maxBuckets = 256;
    const z = seededNormal(5);
    const values = Array.from({ length: 20000 }, () => (z() > 1.5 ? -1 : 1) * Math.exp(2 * z()));
    const histogram = histogramOf(values, 0.01, maxBuckets);
    const sorted = [...values].sort((a, b) => a - b);
    expect(histogram.count).toBe(values.length);
    let positiveBuckets = 0;
    let negativeBuckets = 0;
    histogram.forEachBucket((value) => (value > 0 ? positiveBuckets++ : negativeBuckets++));
    expect(positiveBuckets).toBeLessThanOrEqual(maxBuckets);
    expect(negativeBuckets).toBeLessThanOrEqual(maxBuckets);
    // Range kept per sign: a factor gamma^(maxBuckets - 1) below the largest magnitude.
    const keptFactor = histogram.gamma ** (maxBuckets - 2);
    const largest = sorted[sorted.length - 1];
    const mostNegative = sorted[0];
    let checked = 0;
    for (const q of [0, 0.001, 0.01, 0.9, 0.95, 0.99, 0.999, 1]) {
      const exact = exactQuantile(sorted, q);
      const kept = exact > 0 ? exact >= largest / keptFactor : exact <= mostNegative / keptFactor;
      if (!kept) continue;
      checked++;
      expectWithinAccuracy(histogram.quantile(q), exact, histogram, `collapsed q=${q}`);
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    // The collapsed low end is reported too large in magnitude, never lost.
    expect(histogram.quantile(0.5)).toBeGreaterThan(exactQuantile(sorted, 0.5));
  });

  it('merging collapsed sketches gives the same buckets as adding everything to one (property)', () => {
    const wide = fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { maxLength: 150 });
    fc.assert(
      fc.property(wide, wide, wide, (a, b, c) => {
        const merged = histogramOf(a, 0.01, 32).merge(histogramOf(b, 0.01, 32)).merge(histogramOf(c, 0.01, 32));
        const direct = histogramOf([...c, ...a, ...b], 0.01, 32);
        expect(bucketsOf(merged)).toEqual(bucketsOf(direct));
        expect(merged.count).toBe(direct.count);
      }),
      { numRuns: 200 },
    );
  });

  it('subtract takes collapsed weight back from the collapsed bucket', () => {
    // 64 buckets span a factor of about 3.6: 1, 2, 3 and 1e6 collapse below 5e6.
    const base = histogramOf([1, 2, 3, 1e6, 5e6], 0.01, 64);
    expect(bucketsOf(base).length).toBe(2);
    const inRange = histogramOf([1e-3, 7, 4e6], 0.01, 64);
    const restored = base.clone().merge(inRange).subtract(inRange);
    expect(bucketsOf(restored)).toEqual(bucketsOf(base));
    expect(restored.count).toBe(5);
  });

  it('a merge that collapses further loses positions but never weight', () => {
    const base = histogramOf([1, 2, 3, 1e6, 5e6], 0.01, 64);
    const wider = histogramOf([2e7], 0.01, 64);
    const restored = base.clone().merge(wider).subtract(wider);
    expect(restored.count).toBe(5);
    expect(restored.rank(Infinity)).toBeCloseTo(5, 9);
    // 5e6 now shares the collapsed bucket at about 2e7 / 3.6: reported too large, not lost.
    expect(restored.quantile(1)).toBeGreaterThan(5e6);
    expect(restored.quantile(1)).toBeLessThan(2e7 / 3);
  });
});

describe('LogHistogram.rebinnedLike', () => {
  it('gives the same sketch with a scratch as without, whatever size came before (its working arrays are reused and grown)', () => {
    const like = new LogHistogram(0.01, { center: 3 });
    const sketchOf = (n: number, seed: number): LogHistogram => {
      const sketch = new LogHistogram(0.01, { center: -7 });
      let state = seed;
      for (let i = 0; i < n; i++) {
        state = (state * 1103515245 + 12345) >>> 0;
        sketch.add(Math.tan(Math.PI * (state / 4294967296 - 0.5)) * 50);
      }
      return sketch;
    };
    const scratch = new BucketScratch();
    // a few weighted buckets, then thousands (past the arrays' first size), then few again
    for (const [n, seed] of [[20, 1], [5000, 2], [30, 3], [8000, 4], [1, 5]] as const) {
      scratch.reset();
      const source = sketchOf(n, seed);
      const withScratch = LogHistogram.rebinnedLike(source, like, scratch);
      const without = LogHistogram.rebinnedLike(source, like);
      expect(bucketsOf(withScratch), `${n} values`).toEqual(bucketsOf(without));
      expect(withScratch.count).toBe(n);
    }
  });

  /** What rebinnedLike promises: every bucket of `other` added, as a value with its weight, to an empty sketch like `like`. */
  function addedBucketByBucket(other: LogHistogram, like: LogHistogram): LogHistogram {
    const moved = like.emptyLike();
    other.forEachBucket((value, weight) => moved.add(value, weight));
    return moved;
  }

  /** toBytes() output with its f64 sum (bytes 40-47 of the header) zeroed. */
  function withoutSum(bytes: Uint8Array): Uint8Array {
    const copy = bytes.slice();
    copy.fill(0, 40, 48);
    return copy;
  }

  it('gives the buckets, count and zeros that adding each bucket would, with any centers, heavy tails, exact zeros and collapses (property)', () => {
    const value = fc.oneof(
      fc.double({ min: -1e9, max: 1e9, noNaN: true }),
      fc.constant(0),
      fc.integer({ min: -50, max: 50 }).map((k) => Math.tan(k / 33)),
    );
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 0, maxLength: 300 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.constantFrom(0.005, 0.01, 0.02),
        fc.constantFrom(16, 64, 2048),
        (values, fromCenter, toCenter, alpha, maxBuckets) => {
          const other = new LogHistogram(alpha, { center: fromCenter, maxBuckets });
          for (const x of values) other.add(x);
          const like = new LogHistogram(alpha, { center: toCenter, maxBuckets });
          const moved = LogHistogram.rebinnedLike(other, like);
          const expected = addedBucketByBucket(other, like);
          expect(bucketsOf(moved)).toEqual(bucketsOf(expected));
          expect(moved.count).toBe(expected.count);
          expect(moved.zeroCount).toBe(expected.zeroCount);
          expect(moved.originCount).toBe(expected.originCount);
          expect(moved.sum).toBe(other.sum);
          // the same stores, byte for byte (ranges, collapsed index); the sum differs by design: rebinnedLike keeps the exact one
          // (the same center returns `other` itself, whose collapsed index, if any, is its own)
          if (moved !== other) expect(withoutSum(moved.toBytes())).toEqual(withoutSum(expected.toBytes()));
          // merged in and subtracted out of a window on like's buckets, it leaves nothing behind
          const window = like.emptyLike().merge(moved);
          window.subtract(moved);
          expect(window.count).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('LogHistogram read from bytes or rebinned (stores that keep the positions of their weights)', () => {
  it('merge into and subtract from a window exactly as the sketches they were written from (property)', () => {
    const pane = fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -40, max: 40 }).map((k) => Math.tan(k / 26))), { maxLength: 120 });
    fc.assert(
      fc.property(fc.array(pane, { minLength: 1, maxLength: 6 }), fc.constantFrom(24, 2048), fc.double({ min: -5, max: 5, noNaN: true }), (panes, maxBuckets, otherCenter) => {
        const sketches = panes.map((values) => {
          const sketch = new LogHistogram(0.005, { maxBuckets });
          for (const x of values) sketch.add(x);
          return sketch;
        });
        const like = new LogHistogram(0.005, { maxBuckets });
        // the same sketches three ways: as built, read back from bytes, and moved off another center and back
        const read = sketches.map((sketch) => LogHistogram.fromBytes(sketch.toBytes()));
        // written again, a sketch read from bytes (walking its weighted buckets alone) gives the same bytes
        read.forEach((sketch, i) => expect(sketch.toBytes()).toEqual(sketches[i].toBytes()));
        const moved = sketches.map((sketch) => {
          const elsewhere = new LogHistogram(0.005, { maxBuckets, center: otherCenter });
          sketch.forEachBucket((value, weight) => elsewhere.add(value, weight));
          return LogHistogram.rebinnedLike(elsewhere, like);
        });
        const movedBuilt = sketches.map((sketch) => {
          const elsewhere = new LogHistogram(0.005, { maxBuckets, center: otherCenter });
          sketch.forEachBucket((value, weight) => elsewhere.add(value, weight));
          const built = like.emptyLike();
          elsewhere.forEachBucket((value, weight) => built.add(value, weight));
          return built;
        });
        for (const [label, from, reference] of [['read', read, sketches], ['moved', moved, movedBuilt]] as const) {
          const window = like.emptyLike();
          const expected = like.emptyLike();
          from.forEach((sketch, i) => {
            window.merge(sketch);
            expected.merge(reference[i]);
            expect(bucketsOf(window), `${label}: after merging pane ${i}`).toEqual(bucketsOf(expected));
          });
          from.forEach((sketch, i) => {
            window.subtract(sketch);
            expected.subtract(reference[i]);
            expect(bucketsOf(window), `${label}: after subtracting pane ${i}`).toEqual(bucketsOf(expected));
          });
          expect(window.count).toBeCloseTo(0, 9);
          // a store read from bytes, then changed, no longer walks its old positions
          const changed = LogHistogram.fromBytes(sketches[0].toBytes());
          changed.add(1e5);
          changed.add(-3e-4);
          const changedExpected = sketches[0].clone();
          changedExpected.add(1e5);
          changedExpected.add(-3e-4);
          expect(bucketsOf(like.emptyLike().merge(changed))).toEqual(bucketsOf(like.emptyLike().merge(changedExpected)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('are walked over their weights alone, in either direction, with what the sketches they were written from give (property)', () => {
    const values = fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -40, max: 40 }).map((k) => Math.tan(k / 26))), { minLength: 1, maxLength: 150 });
    fc.assert(
      fc.property(values, fc.double({ min: -5, max: 5, noNaN: true }), (xs, center) => {
        const built = new LogHistogram(0.01, { center });
        for (const x of xs) built.add(x);
        const read = LogHistogram.fromBytes(built.toBytes());
        const ascending = (sketch: LogHistogram): Array<[number, number]> => {
          const out: Array<[number, number]> = [];
          sketch.forEachBucket((value, weight) => out.push([value, weight]));
          return out;
        };
        expect(ascending(read)).toEqual(ascending(built));
        for (const q of [0, 0.001, 0.01, 0.25, 0.5]) expect(read.tailQuantiles(q), `tails ${q}`).toEqual(built.tailQuantiles(q));
        for (const q of [0, 0.1, 0.5, 0.9, 0.999, 1]) expect(read.quantile(q), `quantile ${q}`).toBe(built.quantile(q));
        const [low, high] = built.tailQuantiles(0.1);
        expect(read.weightOutside(low, high)).toBe(built.weightOutside(low, high));
      }),
      { numRuns: 300 },
    );
  });
});

describe('LogHistogram bytes', () => {
  it('round-trips exactly (property), including fractional weights', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }))), {
          maxLength: 200,
        }),
        fc.constantFrom(0.01, 0.005, 0.05),
        (pairs, alpha) => {
          const histogram = new LogHistogram(alpha, { maxBuckets: 512 });
          for (const [value, weight] of pairs) histogram.add(value, weight);
          const bytes = histogram.toBytes();
          const copy = LogHistogram.fromBytes(bytes);
          expect(copy.toBytes()).toEqual(bytes);
          expect(bucketsOf(copy)).toEqual(bucketsOf(histogram));
          expect(copy.count).toBe(histogram.count);
          expect(copy.sum).toBe(histogram.sum);
          expect(copy.zeroCount).toBe(histogram.zeroCount);
          expect(copy.relativeAccuracy).toBe(alpha);
          expect(copy.maxBuckets).toBe(512);
          for (const q of [0, 0.5, 0.99]) expect(Object.is(copy.quantile(q), histogram.quantile(q))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is compact for 10k normal values and reads from a subarray', () => {
    const z = seededNormal(1);
    const histogram = histogramOf(Array.from({ length: 10000 }, () => z()));
    const bytes = histogram.toBytes();
    expect(bytes.length).toBeLessThan(2500);
    const framed = new Uint8Array(bytes.length + 10);
    framed.set(bytes, 5);
    const copy = LogHistogram.fromBytes(framed.subarray(5, 5 + bytes.length));
    expect(bucketsOf(copy)).toEqual(bucketsOf(histogram));
    const merged = copy.merge(histogram);
    expect(merged.count).toBe(20000);
  });

  it('rejects bad bytes with a message saying what is wrong', () => {
    const bytes = histogramOf([1, -2, 0, 300]).toBytes();
    expect(() => LogHistogram.fromBytes(bytes.subarray(0, 20))).toThrow(/truncated: 20 bytes, the header alone is 56/);
    expect(() => LogHistogram.fromBytes(bytes.subarray(0, bytes.length - 1))).toThrow(/positive store .*truncated/);
    const wrongVersion = bytes.slice();
    wrongVersion[4] = 9;
    expect(() => LogHistogram.fromBytes(wrongVersion)).toThrow(/unsupported format version 9/);
    const wrongMagic = bytes.slice();
    wrongMagic[0] = 0;
    expect(() => LogHistogram.fromBytes(wrongMagic)).toThrow(/bad magic/);
    const trailing = new Uint8Array(bytes.length + 3);
    trailing.set(bytes);
    expect(() => LogHistogram.fromBytes(trailing)).toThrow(/3 unexpected bytes after the data/);
    const badAccuracy = bytes.slice();
    new DataView(badAccuracy.buffer).setFloat64(8, 2, true);
    expect(() => LogHistogram.fromBytes(badAccuracy)).toThrow(/bad header: .*relativeAccuracy/);
    const negativeCount = bytes.slice();
    new DataView(negativeCount.buffer).setFloat64(32, -1, true);
    expect(() => LogHistogram.fromBytes(negativeCount)).toThrow(/bad count -1/);
    expect(() => LogHistogram.fromBytes('nope' as unknown as Uint8Array)).toThrow(/expected a Uint8Array/);
  });
});

describe('LogHistogram bytes of a sparse store (encoding 3)', () => {
  /** 200 heavy-tailed values around 50: a pane of one partition, its weights spread thin over a thousand buckets. */
  function thinSketch(): LogHistogram {
    const sketch = new LogHistogram(0.005, { center: 50 });
    for (let i = 0; i < 200; i++) sketch.add(50 + Math.tan(Math.PI * (((i * 2654435761) >>> 0) / 4294967296 - 0.5)));
    return sketch;
  }
  /** Byte offset of the negative store's header in a centered sketch (after the 72-byte header). */
  const NEGATIVE_STORE = 72;

  it('writes the weighted buckets alone, in fewer bytes than every bucket, and reads them back exactly', () => {
    const sketch = thinSketch();
    const bytes = sketch.toBytes();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(view.getUint8(NEGATIVE_STORE)).toBe(3);
    const span = view.getUint32(NEGATIVE_STORE + 9, true);
    let buckets = 0;
    sketch.forEachBucket(() => buckets++);
    expect(span).toBeGreaterThan(2 * (buckets / 2)); // the range is mostly empty
    // one byte per empty bucket is what the dense varints took
    expect(bytes.length).toBeLessThan(72 + 26 + span);
    const read = LogHistogram.fromBytes(bytes);
    expect(bucketsOf(read)).toEqual(bucketsOf(sketch));
    expect(read.toBytes()).toEqual(bytes);
    // a sketch whose every bucket holds values keeps the dense encoding (center 0: a 56-byte
    // header, the empty negative store's 13, then the positive store)
    const dense = new LogHistogram(0.005);
    for (let i = 0; i < 5000; i++) dense.add(1 + i / 5000);
    expect(new DataView(dense.toBytes().buffer).getUint8(56 + 13)).toBe(1);
  });

  it('rejects malformed sparse weights, saying which and where', () => {
    const bytes = thinSketch().toBytes();
    const weightsAt = NEGATIVE_STORE + 13;
    const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const span = view(bytes).getUint32(NEGATIVE_STORE + 9, true);
    // the count of weighted buckets: 0, or more than the range holds
    const zeroCount = bytes.slice();
    zeroCount[weightsAt] = 0;
    expect(() => LogHistogram.fromBytes(zeroCount)).toThrow(/negative store at offset 72: 0 weighted buckets in a range of/);
    expect(() => LogHistogram.fromBytes(bytes.subarray(0, weightsAt + 3))).toThrow(/negative store at offset 72: truncated inside/);
    // a gap that runs past the range: rewrite the store as one weighted bucket beyond it
    const pastRange = bytes.slice(0, weightsAt + 8);
    let at = weightsAt;
    pastRange[at++] = 1;
    let gap = span + 5;
    while (gap >= 128) {
      pastRange[at++] = (gap % 128) | 128;
      gap = Math.floor(gap / 128);
    }
    pastRange[at++] = gap;
    pastRange[at++] = 1;
    expect(() => LogHistogram.fromBytes(pastRange.subarray(0, at))).toThrow(/weighted bucket 0 of 1 lies at \d+, past the range of \d+/);
    const zeroWeight = bytes.slice(0, weightsAt + 3);
    zeroWeight.set([1, 0, 0], weightsAt);
    expect(() => LogHistogram.fromBytes(zeroWeight)).toThrow(/weighted bucket 0 of 1 has weight 0/);
    const unknown = bytes.slice();
    unknown[NEGATIVE_STORE] = 7;
    expect(() => LogHistogram.fromBytes(unknown)).toThrow(/unknown encoding 7 \(written by a newer driftwatch\?\)/);
  });
});

describe('LogHistogram argument checks', () => {
  it('rejects bad constructor arguments', () => {
    expect(() => new LogHistogram(0)).toThrow(/relativeAccuracy must be a number in \[0.000001, 1\), got 0/);
    expect(() => new LogHistogram(1)).toThrow(RangeError);
    expect(() => new LogHistogram(NaN)).toThrow(RangeError);
    expect(() => new LogHistogram(0.01, { maxBuckets: 1 })).toThrow(/maxBuckets must be an integer in \[2, /);
    expect(() => new LogHistogram(0.01, { maxBuckets: 10.5 })).toThrow(RangeError);
    expect(() => new LogHistogram(0.01, { minIndexable: 0 })).toThrow(/minIndexable/);
  });

  it('rejects bad weights and quantiles', () => {
    const histogram = histogramOf([1]);
    expect(() => histogram.add(1, 0)).toThrow(/weight must be a positive finite number, got 0/);
    expect(() => histogram.add(1, -1)).toThrow(RangeError);
    expect(() => histogram.add(1, NaN)).toThrow(RangeError);
    expect(() => histogram.quantile(1.5)).toThrow(/q must be in \[0, 1\], got 1.5/);
    expect(() => histogram.quantile(NaN)).toThrow(RangeError);
    expect(histogram.count).toBe(1);
  });
});

it('a uniform stream gives a flat rank curve', () => {
  const u = seededUniform(4);
  const histogram = histogramOf(Array.from({ length: 10000 }, () => 1 + 99 * u()));
  for (const x of [10, 25, 50, 75, 90]) {
    expect(Math.abs(histogram.rank(x) / 10000 - (x - 1) / 99)).toBeLessThan(0.015);
  }
});

describe('LogHistogram at the zero-bucket boundary', () => {
  it('counts a value equal to minIndexable as zero, within minIndexable', () => {
    const histogram = new LogHistogram();
    for (const x of [1e-9, 1e-9, 0]) histogram.add(x);
    expect(histogram.zeroCount).toBe(3);
    expect(Math.abs(histogram.quantile(0.5) - 1e-9)).toBeLessThanOrEqual(histogram.minIndexable);
    const indexed = new LogHistogram();
    indexed.add(1.0000001e-9);
    expect(indexed.zeroCount).toBe(0);
  });
});

describe('LogHistogram around a center (buckets over x - center)', () => {
  /** |estimate - exact| within alpha |exact - center|, plus the rounding of center + offset. */
  function expectWithinCenteredAccuracy(estimate: number, exact: number, histogram: LogHistogram, context: string): void {
    const allowed = histogram.relativeAccuracy * Math.abs(exact - histogram.center) * (1 + 1e-9) + 4 * Number.EPSILON * Math.abs(histogram.center);
    if (!(Math.abs(estimate - exact) <= allowed)) {
      throw new Error(`${context}: estimate ${estimate} vs exact ${exact}, allowed ${allowed}`);
    }
  }

  const affine = fc.record({
    location: fc.double({ min: -6, max: 9, noNaN: true }).map((e) => 10 ** e),
    negative: fc.boolean(),
    // spread relative to the location: from 1e-7 (a sensor at 293 +- 3e-5) to 10
    spread: fc.double({ min: -7, max: 1, noNaN: true }).map((e) => 10 ** e),
    n: fc.integer({ min: 1, max: 2000 }),
    centerAt: fc.double({ min: -2, max: 2, noNaN: true }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  });

  it('gives every quantile within alpha of its distance to the center, for any location and scale (property)', () => {
    fc.assert(
      fc.property(affine, ({ location, negative, spread, n, centerAt, seed }) => {
        const mean = negative ? -location : location;
        const sigma = location * spread;
        const normal = seededNormal(seed);
        const values = Array.from({ length: n }, () => mean + sigma * normal());
        const histogram = new LogHistogram(0.005, { center: mean + centerAt * sigma, minIndexable: 1e-300 });
        for (const v of values) histogram.add(v);
        const sorted = [...values].sort((a, b) => a - b);
        for (const q of QUANTILES) expectWithinCenteredAccuracy(histogram.quantile(q), exactQuantile(sorted, q), histogram, `q=${q}`);
        expect(histogram.count).toBe(n);
        // rank brackets as documented, in terms of distance to the center: never off by more than a bucket's values
        const probe = sorted[Math.floor(n / 2)];
        const rank = histogram.rank(probe);
        expect(rank).toBeGreaterThanOrEqual(countAtMost(sorted, probe - 2 * histogram.relativeAccuracy * Math.abs(probe - histogram.center) - 1e-300) - 1e-9);
        expect(rank).toBeLessThanOrEqual(countAtMost(sorted, probe + 2 * histogram.relativeAccuracy * Math.abs(probe - histogram.center)) + 1e-9);
      }),
      { numRuns: 200, seed: 20261130 },
    );
  });

  it('sees a 0.3-wide spread at 293 that the uncentered sketch lumps into a few buckets', () => {
    const normal = seededNormal(3);
    const values = Array.from({ length: 5000 }, () => 293 + 0.3 * normal());
    const plain = histogramOf(values);
    const centered = new LogHistogram(0.005, { center: values[0] });
    for (const v of values) centered.add(v);
    expect(bucketsOf(plain).length).toBeLessThanOrEqual(5);
    expect(bucketsOf(centered).length).toBeGreaterThan(500);
    const sorted = [...values].sort((a, b) => a - b);
    expect(Math.abs(centered.quantile(0.25) - exactQuantile(sorted, 0.25))).toBeLessThan(0.01);
  });

  it('keeps exact zeros apart from the buckets, in value order', () => {
    const histogram = new LogHistogram(0.01, { center: 5 });
    for (const v of [0, 0, 0, -1, 5, 6, 0.5]) histogram.add(v);
    expect(histogram.originCount).toBe(3);
    expect(histogram.zeroCount).toBe(1);
    const buckets = bucketsOf(histogram);
    expect(buckets.map(([value]) => value)).toEqual([...buckets.map(([value]) => value)].sort((a, b) => a - b));
    expect(buckets).toContainEqual([0, 3]);
    expect(buckets).toContainEqual([5, 1]);
    expect(histogram.rank(0)).toBeCloseTo(4, 9); // -1 and the three zeros
    expect(histogram.quantile(0.2)).toBe(0);
    expect(histogram.countsBetweenEdges([-0.5, 0.0005, 5.5])).toEqual(Float64Array.from([1, 3, 2, 1]));
  });

  it('merges only with the same center, naming it; rebinnedLike moves a sketch onto another center and back out exactly', () => {
    const a = new LogHistogram(0.005, { center: 100 });
    const b = new LogHistogram(0.005, { center: 101 });
    const normal = seededNormal(9);
    for (let i = 0; i < 1000; i++) {
      a.add(100 + normal());
      b.add(100 + normal());
    }
    b.add(0);
    expect(() => a.merge(b)).toThrow(/center 100 vs 101/);
    const before = bucketsOf(a);
    const moved = LogHistogram.rebinnedLike(b, a);
    expect(moved.center).toBe(100);
    expect(moved.count).toBe(b.count);
    expect(moved.sum).toBe(b.sum);
    expect(moved.originCount).toBe(1);
    a.merge(moved);
    expect(a.count).toBe(2001);
    a.subtract(LogHistogram.rebinnedLike(b, a));
    expect(bucketsOf(a)).toEqual(before);
    expect(LogHistogram.rebinnedLike(a, a)).toBe(a);
  });

  it('round-trips its center and exact zeros in format version 2; a center-0 sketch still writes version 1', () => {
    const centered = new LogHistogram(0.005, { center: 1.7e9, minIndexable: 1e-300 });
    for (const v of [1.7e9 + 0.25, 1.7e9 - 3, 0, 1.7e9]) centered.add(v);
    const bytes = centered.toBytes();
    expect(bytes[4]).toBe(2);
    const back = LogHistogram.fromBytes(bytes);
    expect(back.center).toBe(1.7e9);
    expect(back.minIndexable).toBe(1e-300);
    expect(back.originCount).toBe(1);
    expect(bucketsOf(back)).toEqual(bucketsOf(centered));
    expect(back.toBytes()).toEqual(bytes);

    const plain = histogramOf([1, 2, 3]);
    const v1 = plain.toBytes();
    expect(v1[4]).toBe(1);
    const old = LogHistogram.fromBytes(v1);
    expect(old.center).toBe(0);
    expect(bucketsOf(old)).toEqual(bucketsOf(plain));
  });

  it('refuses bad centered bytes with a reason', () => {
    const bytes = new LogHistogram(0.01, { center: 2 }).toBytes();
    expect(() => LogHistogram.fromBytes(bytes.slice(0, 60))).toThrow(/version-2 header alone is 72/);
    const view = new DataView(bytes.buffer);
    view.setFloat64(56, Infinity, true);
    expect(() => LogHistogram.fromBytes(bytes)).toThrow(/center must be a finite number/);
    expect(() => new LogHistogram(0.01, { center: NaN })).toThrow(/options.center must be a finite number, got NaN/);
  });
});

describe('bucket walks that share the bound of consecutive buckets', () => {
  it('give bit for bit the representative of each bucket: upperBound(i) is lowerBound(i + 1)', () => {
    fc.assert(
      fc.property(fc.constantFrom(0.001, 0.005, 0.01, 0.05), fc.integer({ min: -200_000, max: 200_000 }), (alpha, index) => {
        const mapping = new CubicLogMapping(alpha);
        expect(mapping.upperBound(index)).toBe(mapping.lowerBound(index + 1));
        expect(mapping.valueBetween(mapping.lowerBound(index), mapping.upperBound(index))).toBe(mapping.value(index));
      }),
      { numRuns: 2000 },
    );
  });

  it('read from the tables give bit for bit the representatives and bounds computed without them', () => {
    fc.assert(
      fc.property(fc.constantFrom(0.005, 0.01), fc.integer({ min: -4200, max: 4200 }), (alpha, index) => {
        const tabulated = new CubicLogMapping(alpha);
        const computed = new CubicLogMapping(alpha, new Float64Array(0));
        expect(tabulated.value(index)).toBe(computed.value(index));
        expect(tabulated.upperBound(index)).toBe(computed.upperBound(index));
      }),
      { numRuns: 3000 },
    );
  });

  it('visit every value a bucket-by-bucket walk gives, on both sides of a center', () => {
    const sketch = new LogHistogram(0.005, { center: 100.3 });
    for (let i = 0; i < 3000; i++) sketch.add(100 + 3 * Math.sin(i * 12.9898) * Math.cos(i * 78.233));
    const walked: number[] = [];
    sketch.forEachBucket((value) => walked.push(value));
    const mapping = new CubicLogMapping(0.005);
    // the same values, each from its own index: ascending, and each one a representative
    for (let i = 1; i < walked.length; i++) expect(walked[i]).toBeGreaterThanOrEqual(walked[i - 1]);
    for (const value of walked) {
      const d = value - 100.3;
      if (Math.abs(d) < 1e-9) continue;
      const index = mapping.index(Math.abs(d));
      const candidates = [index - 1, index, index + 1].map((k) => 100.3 + Math.sign(d) * mapping.value(k));
      expect(candidates).toContain(value);
    }
  });
});

describe('LogHistogram tails: tailQuantiles, bucketRange, weightOutside', () => {
  // centered sketches with values on both sides of the center, exact zeros off center, and a center of 0
  const value = fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(0), fc.integer({ min: -50, max: 50 }));
  const sketchOf = (values: readonly number[], center: number): LogHistogram => {
    const sketch = new LogHistogram(0.005, { center, minIndexable: 1e-300 });
    for (const v of values) sketch.add(v);
    return sketch;
  };

  it('tailQuantiles(q) gives exactly quantile(q) and quantile(1 - q)', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 300 }), fc.constantFrom(0, 3.5, -20), fc.constantFrom(0, 0.001, 0.01, 0.25, 0.5), (values, center, q) => {
        const sketch = sketchOf(values, center);
        expect(sketch.tailQuantiles(q)).toEqual([sketch.quantile(q), sketch.quantile(1 - q)]);
      }),
    );
    expect(new LogHistogram().tailQuantiles(0)).toEqual([NaN, NaN]);
    expect(() => new LogHistogram().tailQuantiles(0.6)).toThrow(/q must be in \[0, 0.5\], got 0.6/);
  });

  it('bucketRange(x) holds x, and a value lands in the same bucket as x exactly when it lies in the range', () => {
    fc.assert(
      fc.property(value, value, fc.constantFrom(0, 3.5, -20), (x, y, center) => {
        const sketch = sketchOf([x], center);
        const [lower, upper] = sketch.bucketRange(x);
        expect(lower <= x && x <= upper).toBe(true);
        const both = sketchOf([x, y], center);
        let buckets = 0;
        both.forEachBucket(() => buckets++);
        // strictly inside: one bucket; strictly outside: two (the bounds themselves are left out: either
        // side may own them; an exact 0 off a non-zero center is an atom of its own, in no bucket's range)
        const atom = (v: number) => v === 0 && center !== 0;
        if (y > lower && y < upper && atom(x) === atom(y)) expect(buckets).toBe(1);
        if (y < lower || y > upper) expect(buckets).toBe(2);
      }),
    );
  });

  it('weightOutside counts the buckets whose representative lies beyond the bounds, as a walk of every bucket would', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.constantFrom(0, 3.5, -20), value, value, (values, center, a, b) => {
        const sketch = sketchOf(values, center);
        const [low, high] = a <= b ? [a, b] : [b, a];
        let expected = 0;
        sketch.forEachBucket((v, w) => {
          if (v < low || v > high) expected += w;
        });
        expect(sketch.weightOutside(low, high)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('weightOutside agrees with the walk on a sketch whose low magnitudes collapsed (maxBuckets)', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 300 }), value, value, (values, a, b) => {
        const sketch = new LogHistogram(0.01, { maxBuckets: 16 });
        for (const v of values) sketch.add(v);
        const [low, high] = a <= b ? [a, b] : [b, a];
        let expected = 0;
        sketch.forEachBucket((v, w) => {
          if (v < low || v > high) expected += w;
        });
        expect(sketch.weightOutside(low, high)).toBe(expected);
      }),
    );
  });
});

describe('LogHistogram.tailBucketBounds', () => {
  /** What data quality read of a reference before the bounds were kept: tailQuantiles, then bucketRange. */
  function boundsOf(sketch: LogHistogram, q: number): [number, number] {
    const [low, high] = sketch.tailQuantiles(q);
    return [sketch.bucketRange(low)[0], sketch.bucketRange(high)[1]];
  }

  /** Wide enough that no bucket collapses (a collapsed sketch refuses a delta). */
  const wide = (): LogHistogram => new LogHistogram(0.005, { center: 10, maxBuckets: 16_384 });

  it('is the bucket range of the tail quantiles, and follows every change of the sketch', () => {
    const sketch = wide();
    expect(sketch.tailBucketBounds(0)).toEqual([NaN, NaN]);
    for (let i = 0; i < 600; i++) sketch.add(10 + Math.tan(Math.PI * ((i + 0.5) / 600 - 0.5)));
    for (const q of [0, 0.001, 0.01]) expect(sketch.tailBucketBounds(q)).toEqual(boundsOf(sketch, q));
    // asked again unchanged: the same answer, not computed again
    expect(sketch.tailBucketBounds(0.001)).toBe(sketch.tailBucketBounds(0.001));
    const changes: Array<[string, () => void]> = [
      ['add', () => sketch.add(1e6)],
      ['merge', () => {
        const low = wide();
        low.add(-1e7);
        sketch.merge(low);
      }],
      ['subtract', () => {
        const low = wide();
        low.add(-1e7);
        sketch.subtract(low);
      }],
      ['applyDelta', () => {
        const earlier = wide();
        earlier.add(1e6);
        const later = earlier.clone();
        later.add(2e6);
        sketch.applyDelta(LogHistogram.delta(earlier, later));
      }],
      ['clear', () => sketch.clear()],
    ];
    for (const [name, change] of changes) {
      const before = sketch.tailBucketBounds(0);
      change();
      const after = sketch.tailBucketBounds(0);
      expect(after, name).toEqual(sketch.isEmpty ? [NaN, NaN] : boundsOf(sketch, 0));
      if (name !== 'clear') expect(after, name).not.toEqual(before);
    }
  });
});
