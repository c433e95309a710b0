/**
 * A minimal log-bucket QuantileSummary for the statistics tests, independent of
 * src/sketch/log-histogram.ts: exact mapping index = ceil(ln|x| / ln gamma), representative
 * 2 gamma^i / (gamma + 1), so every value is within alpha relative of its representative.
 */
import type { QuantileSummary } from '../../../src/sketch/types.ts';

const ZERO_THRESHOLD = 1e-12;

export class ExactLogSketch implements QuantileSummary {
  readonly relativeAccuracy: number;
  count = 0;
  private readonly logGamma: number;
  private readonly positive = new Map<number, number>();
  private readonly negative = new Map<number, number>();
  private zero = 0;

  constructor(relativeAccuracy = 0.01) {
    this.relativeAccuracy = relativeAccuracy;
    this.logGamma = Math.log((1 + relativeAccuracy) / (1 - relativeAccuracy));
  }

  static of(values: ArrayLike<number>, relativeAccuracy = 0.01): ExactLogSketch {
    const sketch = new ExactLogSketch(relativeAccuracy);
    for (let i = 0; i < values.length; i++) sketch.add(values[i]);
    return sketch;
  }

  add(x: number, weight = 1): void {
    this.count += weight;
    if (Math.abs(x) <= ZERO_THRESHOLD) {
      this.zero += weight;
      return;
    }
    const store = x > 0 ? this.positive : this.negative;
    const index = Math.ceil(Math.log(Math.abs(x)) / this.logGamma);
    store.set(index, (store.get(index) ?? 0) + weight);
  }

  representative(index: number): number {
    const gamma = Math.exp(this.logGamma);
    return (2 * Math.exp(index * this.logGamma)) / (gamma + 1);
  }

  forEachBucket(visit: (value: number, weight: number) => void): void {
    const negatives = [...this.negative.keys()].sort((a, b) => b - a);
    for (const i of negatives) visit(-this.representative(i), this.negative.get(i) ?? 0);
    if (this.zero > 0) visit(0, this.zero);
    const positives = [...this.positive.keys()].sort((a, b) => a - b);
    for (const i of positives) visit(this.representative(i), this.positive.get(i) ?? 0);
  }

  rank(x: number): number {
    let rank = 0;
    this.forEachBucket((value, weight) => {
      if (value <= x) rank += weight;
    });
    return rank;
  }

  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const target = q * (this.count - 1);
    let seen = 0;
    let result = NaN;
    this.forEachBucket((value, weight) => {
      if (Number.isNaN(result) && seen + weight > target) result = value;
      seen += weight;
    });
    return result;
  }
}

/** Deterministic PRNG (mulberry32) so property tests can draw many values cheaply. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normalSampler(random: () => number): () => number {
  return () => {
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
