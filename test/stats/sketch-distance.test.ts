import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ks2Samp, ksStatisticOfSorted, wassersteinDistance } from '../../src/stats/distribution.ts';
import {
  ksFromBuckets,
  ksFromSummaries,
  quantileEdgesFromSummary,
  summaryBuckets,
  summaryBucketsRoom,
  summaryMeanAndStd,
  wassersteinFromSummaries,
  wassersteinNormedFromSummaries,
  walkBuckets,
} from '../../src/stats/sketch-distance.ts';
import { ExactLogSketch, normalSampler, seededRandom } from './helpers/exact-log-sketch.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import type { BucketArrays, QuantileSummary } from '../../src/sketch/types.ts';

type Shape = 'normal' | 'lognormal' | 'uniform' | 'discrete' | 'bimodal' | 'exponential';

/** A random sample of a given shape, location and scale. */
function draw(shape: Shape, n: number, location: number, scale: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const normal = normalSampler(random);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x: number;
    switch (shape) {
      case 'normal': x = normal(); break;
      case 'lognormal': x = Math.exp(normal()); break;
      case 'uniform': x = random() * 2 - 1; break;
      case 'discrete': x = Math.floor(random() * 6); break;
      case 'bimodal': x = normal() + (random() < 0.3 ? 4 : 0); break;
      case 'exponential': x = -Math.log(1 - random()); break;
    }
    out[i] = location + scale * x;
  }
  return out;
}

const shapeArb = fc.constantFrom<Shape>('normal', 'lognormal', 'uniform', 'discrete', 'bimodal', 'exponential');
const pairArb = fc.record({
  refShape: shapeArb,
  curShape: shapeArb,
  n: fc.integer({ min: 5, max: 3000 }),
  m: fc.integer({ min: 5, max: 3000 }),
  refLocation: fc.double({ min: -50, max: 50, noNaN: true }),
  shift: fc.double({ min: -2, max: 2, noNaN: true }),
  scale: fc.double({ min: 0.01, max: 20, noNaN: true }),
  scaleRatio: fc.double({ min: 0.5, max: 2, noNaN: true }),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

describe('ksFromSummaries', () => {
  it('brackets the exact sample KS statistic: D_q <= D <= D_q + errorBound', () => {
    fc.assert(
      fc.property(pairArb, (p) => {
        const ref = draw(p.refShape, p.n, p.refLocation, p.scale, p.seed);
        const cur = draw(p.curShape, p.m, p.refLocation + p.shift * p.scale, p.scale * p.scaleRatio, p.seed + 1);
        const exact = ksStatisticOfSorted(Float64Array.from(ref).sort(), Float64Array.from(cur).sort());
        const sketched = ksFromSummaries(ExactLogSketch.of(ref), ExactLogSketch.of(cur));
        expect(sketched.statistic).toBeLessThanOrEqual(exact + 1e-12);
        expect(exact).toBeLessThanOrEqual(sketched.statistic + sketched.errorBound + 1e-12);
        expect(sketched.pValueAtUpperBound).toBeLessThanOrEqual(sketched.pValue + 1e-12);
      }),
      { numRuns: 150, seed: 20261126 },
    );
  });

  it('is tight for continuous data: a 2000 vs 2000 normal shift', () => {
    const ref = draw('normal', 2000, 100, 10, 1);
    const cur = draw('normal', 2000, 103, 10, 2);
    const exact = ks2Samp(ref, cur);
    const sketched = ksFromSummaries(ExactLogSketch.of(ref), ExactLogSketch.of(cur));
    // At alpha = 0.01 around 100 a bucket is ~2 wide: ~8 % of a N(100, 10) sample at the mode, per side.
    expect(sketched.errorBound).toBeLessThan(0.2);
    expect(Math.abs(sketched.statistic - exact.statistic)).toBeLessThanOrEqual(sketched.errorBound);
    expect(sketched.pValue).toBeLessThan(1e-6);
    expect(exact.pValue).toBeLessThan(1e-6);
    // Centered near the data, buckets are 2 alpha |x - c| wide: a small share of the spread (the
    // largest bucket of 2000 values holds about a dozen: the busiest of a few hundred small counts).
    const centered = (values: Float64Array, center: number) => {
      const sketch = new LogHistogram(0.005, { center });
      values.forEach((x) => sketch.add(x));
      return sketch;
    };
    const tight = ksFromSummaries(centered(ref, ref[0]), centered(cur, cur[0]));
    expect(tight.errorBound).toBeLessThan(0.03);
    expect(tight.errorBound).toBeLessThan(sketched.errorBound / 5);
    expect(Math.abs(tight.statistic - exact.statistic)).toBeLessThanOrEqual(tight.errorBound);
  });

  it('reproduces the exact KS on integer-valued data (each value its own bucket)', () => {
    const ref = [1, 2, 2, 3, 3, 3, 4, 5, 6, 7];
    const cur = [3, 4, 4, 5, 5, 6, 7, 8, 8, 9, 9];
    const exact = ks2Samp(ref, cur);
    const sketched = ksFromSummaries(ExactLogSketch.of(ref), ExactLogSketch.of(cur));
    expect(sketched.statistic).toBeCloseTo(exact.statistic, 12);
    expect(sketched.pValue).toBeCloseTo(exact.pValue, 12);
  });

  it('compares summaries of different buckets (accuracy, center) on their representatives: |D - D_q| <= errorBound', () => {
    fc.assert(
      fc.property(pairArb, fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), (p, refOffset, curOffset) => {
        const ref = draw(p.refShape, p.n, p.refLocation, p.scale, p.seed);
        const cur = draw(p.curShape, p.m, p.refLocation + p.shift * p.scale, p.scale * p.scaleRatio, p.seed + 1);
        const refSketch = new LogHistogram(0.005, { center: p.refLocation + refOffset * p.scale });
        const curSketch = new LogHistogram(0.01, { center: p.refLocation + curOffset * p.scale });
        ref.forEach((x) => refSketch.add(x));
        cur.forEach((x) => curSketch.add(x));
        const exact = ksStatisticOfSorted(Float64Array.from(ref).sort(), Float64Array.from(cur).sort());
        const sketched = ksFromSummaries(refSketch, curSketch);
        expect(Math.abs(sketched.statistic - exact)).toBeLessThanOrEqual(sketched.errorBound + 1e-12);
        const w = wassersteinFromSummaries(refSketch, curSketch);
        expect(Math.abs(w.statistic - wassersteinDistance(ref, cur))).toBeLessThanOrEqual(w.errorBound * (1 + 1e-9) + 1e-9);
      }),
      { numRuns: 150, seed: 20261130 },
    );
  });

  it('refuses a summary whose relative accuracy is not in [0, 1)', () => {
    expect(() => ksFromSummaries(ExactLogSketch.of([1, 2], 0.01), { ...ExactLogSketch.of([1, 2]), relativeAccuracy: 1, forEachBucket: () => {} } as never)).toThrow(
      /current relative accuracy must be in \[0, 1\), got 1/,
    );
  });

  it('gives NaN for an empty summary', () => {
    expect(ksFromSummaries(new ExactLogSketch(), ExactLogSketch.of([1])).statistic).toBeNaN();
  });
});

describe('wassersteinFromSummaries', () => {
  it('is within errorBound of the exact sample Wasserstein-1', () => {
    fc.assert(
      fc.property(pairArb, (p) => {
        const ref = draw(p.refShape, p.n, p.refLocation, p.scale, p.seed);
        const cur = draw(p.curShape, p.m, p.refLocation + p.shift * p.scale, p.scale * p.scaleRatio, p.seed + 1);
        const exact = wassersteinDistance(ref, cur);
        const sketched = wassersteinFromSummaries(ExactLogSketch.of(ref), ExactLogSketch.of(cur));
        expect(Math.abs(sketched.statistic - exact)).toBeLessThanOrEqual(sketched.errorBound * (1 + 1e-9) + 1e-9);
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it('normed by the reference std matches the raw-sample normed value within the bound', () => {
    const ref = draw('normal', 3000, 10, 3, 11);
    const cur = draw('normal', 3000, 11.5, 3, 12);
    const std = 3;
    const sketched = wassersteinNormedFromSummaries(ExactLogSketch.of(ref), ExactLogSketch.of(cur), std);
    const exact = wassersteinDistance(ref, cur) / std;
    expect(Math.abs(sketched.statistic - exact)).toBeLessThanOrEqual(sketched.errorBound);
    expect(sketched.statistic).toBeGreaterThan(0.4);
    expect(sketched.errorBound).toBeLessThan(0.08);
  });
});

describe('summary helpers', () => {
  it('summaryMeanAndStd is within alpha of the sample moments', () => {
    const sample = draw('normal', 5000, 50, 5, 3);
    const { mean, std } = summaryMeanAndStd(ExactLogSketch.of(sample));
    const exactMean = sample.reduce((s, x) => s + x, 0) / sample.length;
    expect(Math.abs(mean - exactMean)).toBeLessThan(0.01 * 55);
    expect(std).toBeGreaterThan(4.5);
    expect(std).toBeLessThan(5.5);
  });
  it('quantileEdgesFromSummary returns bins - 1 ascending edges', () => {
    const edges = quantileEdgesFromSummary(ExactLogSketch.of(draw('uniform', 10000, 10, 1, 5)), 4);
    expect(edges).toHaveLength(3);
    expect(edges[0]).toBeCloseTo(9.5, 0);
    expect(edges[1]).toBeCloseTo(10, 0);
    expect(edges[2]).toBeCloseTo(10.5, 0);
  });
});

describe('with the production LogHistogram (src/sketch/log-histogram.ts)', () => {
  it('KS and Wasserstein bounds hold', async () => {
    const { LogHistogram } = await import('../../src/sketch/log-histogram.ts');
    const build = (values: Float64Array) => {
      const sketch = new LogHistogram(0.01);
      for (const v of values) sketch.add(v);
      return sketch;
    };
    fc.assert(
      fc.property(pairArb, (p) => {
        const ref = draw(p.refShape, p.n, p.refLocation, p.scale, p.seed);
        const cur = draw(p.curShape, p.m, p.refLocation + p.shift * p.scale, p.scale * p.scaleRatio, p.seed + 1);
        const exactKs = ksStatisticOfSorted(Float64Array.from(ref).sort(), Float64Array.from(cur).sort());
        const ks = ksFromSummaries(build(ref), build(cur));
        expect(ks.statistic).toBeLessThanOrEqual(exactKs + 1e-12);
        expect(exactKs).toBeLessThanOrEqual(ks.statistic + ks.errorBound + 1e-12);
        const w = wassersteinFromSummaries(build(ref), build(cur));
        // + 2 * minIndexable (1e-9): values below it sit in the zero bucket
        expect(Math.abs(w.statistic - wassersteinDistance(ref, cur))).toBeLessThanOrEqual(w.errorBound * (1 + 1e-9) + 2e-9);
      }),
      { numRuns: 60, seed: 99 },
    );
  });
});

/** A sketch seen through forEachBucket alone (no bucketArrays): the callback path. */
function visitsOf(sketch: LogHistogram): QuantileSummary {
  return {
    count: sketch.count,
    relativeAccuracy: sketch.relativeAccuracy,
    center: sketch.center,
    quantile: (q: number) => sketch.quantile(q),
    rank: (x: number) => sketch.rank(x),
    forEachBucket: (visit: (value: number, weight: number) => void) => sketch.forEachBucket(visit),
  };
}

describe('summaryBuckets from a sketch\'s bucket arrays', () => {
  it('are the buckets forEachBucket visits, and KS and Wasserstein do not change with the path (property)', () => {
    const value = fc.oneof(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.constantFrom(0, -0, 1e-300, 3), fc.integer({ min: -30, max: 30 }).map((k) => Math.tan(k / 19) * 100));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 300 }), fc.array(value, { minLength: 1, maxLength: 300 }), fc.constantFrom(0, 3, -2.5), (a, b, center) => {
        const sketches = [a, b].map((values) => {
          const sketch = new LogHistogram(0.01, { center });
          for (const v of values) sketch.add(v);
          return sketch;
        });
        const plain = sketches.map(visitsOf);
        for (let side = 0; side < 2; side++) {
          const fromArrays = summaryBuckets(sketches[side]);
          const fromVisits = summaryBuckets(plain[side]);
          expect(Array.from(fromArrays.values)).toEqual(Array.from(fromVisits.values));
          expect(Array.from(fromArrays.weights)).toEqual(Array.from(fromVisits.weights));
          expect([fromArrays.total, fromArrays.largest]).toEqual([fromVisits.total, fromVisits.largest]);
        }
        expect(ksFromSummaries(sketches[0], sketches[1])).toEqual(ksFromSummaries(plain[0], plain[1]));
        expect(wassersteinFromSummaries(sketches[0], sketches[1])).toEqual(wassersteinFromSummaries(plain[0], plain[1]));
      }),
      { numRuns: 300 },
    );
  });

  it('count a run of equal values as one: a bucket whose representative is 0 beside the exact zeros', () => {
    // the center at minus a representative: the values next to 0 are in that bucket, and it lands on 0 too
    const probe = new LogHistogram(0.01);
    probe.add(5);
    const sketch = new LogHistogram(0.01, { center: -probe.bucketArrays().values[0] });
    for (const v of [0, 0, 1e-300, 3, -2]) sketch.add(v);
    const arrays = sketch.bucketArrays();
    expect(Array.from(arrays.values.subarray(0, arrays.count)).filter((v) => v === 0)).toHaveLength(2);
    expect([arrays.total, arrays.largest]).toEqual([5, 3]);
    expect(summaryBuckets(sketch, 'sketch', summaryBucketsRoom().current).largest).toBe(3);
  });

  it('take the figures a sketch gives with its arrays, and none a room\'s earlier writer left (property)', () => {
    // a far center: neighbouring buckets' representatives round to one double, and the largest
    // weight on one value is a run of several buckets
    const offset = fc.oneof(fc.double({ min: -50, max: 50, noNaN: true }), fc.constantFrom(0, 0.5, -0.5));
    fc.assert(
      fc.property(fc.array(offset, { minLength: 1, maxLength: 200 }), fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.constantFrom(1e17, -3e17, 7), (offsets, others, center) => {
        const sketch = new LogHistogram(0.01, { center });
        for (const d of offsets) sketch.add(center + d);
        // what the figures are by definition, from the arrays as written
        const arrays = sketch.bucketArrays();
        let total = 0;
        let largest = 0;
        for (let k = 0; k < arrays.count; k++) {
          total += arrays.weights[k];
          let run = 0;
          for (let j = 0; j < arrays.count; j++) if (arrays.values[j] === arrays.values[k]) run += arrays.weights[j];
          largest = Math.max(largest, run);
        }
        expect([arrays.total, arrays.largest]).toEqual([total, largest]);
        // one room, written by the sketch, then by a summary that gives arrays without figures
        const room = summaryBucketsRoom().current;
        const fromSketch = summaryBuckets(sketch, 'sketch', room);
        expect([fromSketch.total, fromSketch.largest]).toEqual([total, largest]);
        const other = new LogHistogram(0.01);
        for (const v of others) other.add(v);
        const withoutFigures = {
          ...visitsOf(other),
          bucketArrays: (into?: BucketArrays): BucketArrays => {
            const written = other.bucketArrays();
            const target = into ?? { values: new Float64Array(0), weights: new Float64Array(0), count: 0 };
            if (target.values.length < written.count) {
              target.values = new Float64Array(written.count);
              target.weights = new Float64Array(written.count);
            }
            target.values.set(written.values.subarray(0, written.count));
            target.weights.set(written.weights.subarray(0, written.count));
            target.count = written.count;
            return target;
          },
        };
        const fromOther = summaryBuckets(withoutFigures, 'other', room);
        expect([fromOther.total, fromOther.largest]).toEqual([other.count, summaryBuckets(other).largest]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('walkBuckets: KS and Wasserstein-1 from one walk of both sides', () => {
  /** Both statistics straight from their definitions, over the union of the representatives. */
  function byDefinition(a: { values: number[]; weights: number[] }, b: { values: number[]; weights: number[] }): { ks: number; wasserstein: number } {
    const total = (w: number[]) => w.reduce((s, x) => s + x, 0);
    const cdf = (side: { values: number[]; weights: number[] }, x: number) => {
      let below = 0;
      side.values.forEach((v, k) => (below += v <= x ? side.weights[k] : 0));
      return below / total(side.weights);
    };
    const points = [...new Set([...a.values, ...b.values])].sort((x, y) => x - y);
    let ks = 0;
    let wasserstein = 0;
    points.forEach((x, k) => {
      const gap = Math.abs(cdf(a, x) - cdf(b, x));
      ks = Math.max(ks, gap);
      if (k + 1 < points.length) wasserstein += gap * (points[k + 1] - x);
    });
    return { ks, wasserstein };
  }

  it('gives what each statistic is by definition, values shared between the sides or not, and what the two tests gave apart', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 1, max: 9 }), fc.boolean()), { minLength: 2, maxLength: 60 }), (cells) => {
        // integer representatives (shared ones tie across the sides), each on the reference side, the current, or both
        const a = { values: [] as number[], weights: [] as number[] };
        const b = { values: [] as number[], weights: [] as number[] };
        for (const [value, weight, toA] of [...cells].sort((x, y) => x[0] - y[0])) {
          const side = toA ? a : b;
          if (side.values.at(-1) === value) side.weights[side.weights.length - 1] += weight;
          else {
            side.values.push(value);
            side.weights.push(weight);
          }
        }
        if (a.values.length === 0 || b.values.length === 0) return;
        const buckets = (side: typeof a) => ({ values: side.values, weights: side.weights, total: side.weights.reduce((s, x) => s + x, 0), largest: Math.max(...side.weights) });
        const walk = walkBuckets(buckets(a), buckets(b), 0, 0);
        const expected = byDefinition(a, b);
        expect(walk.ks).toBeCloseTo(expected.ks, 12);
        expect(walk.wasserstein).toBeCloseTo(expected.wasserstein, 9);
        // the drift tests read it: ksFromBuckets and wassersteinFromBuckets give the same with it or without
        expect(ksFromBuckets(buckets(a), buckets(b), undefined, walk)).toEqual(ksFromBuckets(buckets(a), buckets(b)));
      }),
      { seed: 14, numRuns: 200 },
    );
  });
});
