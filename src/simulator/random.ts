/**
 * A small seeded pseudo-random source for the simulator: mulberry32 for uniforms, Box–Muller for
 * normals. The simulator never touches Math.random, so one seed reproduces a whole traffic run.
 * Not cryptographic; 32 bits of state is plenty for synthetic traffic.
 */
export { mulberry32 } from '../sketch/random.ts';

export class SeededRandom {
  private state: number;
  /** Box–Muller makes normals in pairs; the second one is kept for the next call. */
  private spareNormal = 0;
  private hasSpareNormal = false;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`SeededRandom: seed must be a finite number, got ${seed}`);
    // Fold any finite number (negative, fractional, > 2^32) into 32 bits deterministically.
    this.state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** Uniform in [0, 1). mulberry32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal by Box–Muller. */
  normal(): number {
    if (this.hasSpareNormal) {
      this.hasSpareNormal = false;
      return this.spareNormal;
    }
    // 1 - next() is in (0, 1], so the log is finite.
    const u1 = 1 - this.next();
    const u2 = this.next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spareNormal = radius * Math.sin(angle);
    this.hasSpareNormal = true;
    return radius * Math.cos(angle);
  }

  /** Normal with the given mean and standard deviation. */
  gaussian(mean: number, std: number): number {
    return mean + std * this.normal();
  }

  /** Lognormal: exp(N(mu, sigma)); its median is exp(mu). */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Poisson by Knuth's product method: fine for the small means the simulator uses (< 30). */
  poisson(mean: number): number {
    const limit = Math.exp(-mean);
    let k = 0;
    let product = this.next();
    while (product > limit) {
      k++;
      product *= this.next();
    }
    return k;
  }

  /** Index drawn from cumulative weights (ascending, last = total). Linear scan: arrays are tiny. */
  pickCumulative(cumulative: ArrayLike<number>): number {
    const last = cumulative.length - 1;
    const u = this.next() * cumulative[last];
    for (let i = 0; i < last; i++) if (u < cumulative[i]) return i;
    return last;
  }

  /** Index drawn from probabilities that sum to 1 (the last index absorbs rounding). */
  pickProbability(probabilities: ArrayLike<number>): number {
    const u = this.next();
    const last = probabilities.length - 1;
    let acc = 0;
    for (let i = 0; i < last; i++) {
      acc += probabilities[i];
      if (u < acc) return i;
    }
    return last;
  }
}

/** Cumulative sums of non-negative weights, for `pickCumulative`. */
export function cumulativeWeights(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} must be a finite number >= 0, got ${w}`);
    sum += w;
    out[i] = sum;
  }
  if (!(sum > 0)) throw new RangeError('weights must not all be zero');
  return out;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}
