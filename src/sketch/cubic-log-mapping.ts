/**
 * Maps positive values to integer bucket indexes so that every bucket spans at most a factor
 * gamma = (1 + alpha) / (1 - alpha): the bucket's representative value is then within alpha
 * (relative) of every value the bucket holds.
 *
 * The exact mapping would be ceil(ln(x) / ln(gamma)). Math.log is fast in V8, but cheaper still
 * is DDSketch's "cubically interpolated" log2: read the exponent e and the significand
 * 1 + s (s in [0, 1)) from the float's bits and approximate log2(1 + s) by the cubic
 * P(s) = A s^3 + B s^2 + C s, which is monotone, exact at s = 0 and s = 1 (so it is continuous
 * across octaves), and whose slope keeps (1 + s) P'(s) >= 10/7 on [0, 1] (minimum at s = 0 and
 * s = 2/3). Hence d ln(x) / d(e + P(s)) <= 0.7, so buckets of width ln(gamma) / 0.7 in
 * approximate-log2 units span at most ln(gamma) in true log: the accuracy guarantee holds
 * exactly, at the cost of about 1 % more buckets than the exact log mapping (0.7 vs ln 2).
 */

const A = 6 / 35;
const B = -3 / 5;
const C = 10 / 7;
/** max over s in [0,1] of 1 / ((1 + s) P'(s)): turns a log-width into an approximate-log2 width. */
const CORRECTING_FACTOR = 0.7;

/** Which 32-bit word of a float64 holds the sign, exponent and high significand bits. */
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW_WORD = 1 - HIGH_WORD;
const TWO_POW_MINUS_20 = 2 ** -20;
const TWO_POW_MINUS_52 = 2 ** -52;

/** Bucket bounds precomputed for indexes in [-BOUND_TABLE_REACH, BOUND_TABLE_REACH). */
const BOUND_TABLE_REACH = 4096;
/**
 * The accuracies whose bounds are precomputed: driftwatch's feature (0.005) and latency/output
 * (0.01) sketches. Walking a sketch's buckets (rebinning, quantiles, the drift statistics) needs two
 * bounds per bucket, each a cube root and a square root: a third of the gateway's CPU at 100
 * models x 30 features (bench gateway profile) before these tables.
 */
const TABULATED_ACCURACIES = [0.005, 0.01];

export class CubicLogMapping {
  readonly relativeAccuracy: number;
  readonly gamma: number;
  /** Buckets per unit of approximate log2 (per octave). */
  readonly multiplier: number;
  // Scratch views to read a float's bits without allocating; per instance, not module state.
  private readonly bitsF64 = new Float64Array(1);
  private readonly bitsU32 = new Uint32Array(this.bitsF64.buffer);

  /** upperBound(i) at [i + BOUND_TABLE_REACH], for a tabulated accuracy (shared, never written after it is built). */
  private readonly bounds: Float64Array | null;
  /** value(i) at [i + BOUND_TABLE_REACH], with the tabulated bounds (shared, never written after it is built). */
  private readonly values: Float64Array | null;

  /** `bounds`: a bound table to use instead of the tabulated one (an empty one computes every bound: for tests and for building the tables). */
  constructor(relativeAccuracy: number, bounds?: Float64Array) {
    this.relativeAccuracy = relativeAccuracy;
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.multiplier = CORRECTING_FACTOR / Math.log(this.gamma);
    this.bounds = bounds ?? BOUND_TABLES.get(relativeAccuracy) ?? null;
    this.values = bounds === undefined ? (VALUE_TABLES.get(relativeAccuracy) ?? null) : null;
  }

  /**
   * Bucket index of a positive, finite, normal value (callers route zero, negatives and
   * non-finite values elsewhere). Bucket i holds values x with approxLog2(x) * multiplier in
   * (i - 1, i].
   */
  index(x: number): number {
    this.bitsF64[0] = x;
    const high = this.bitsU32[HIGH_WORD];
    const exponent = (high >>> 20) - 1023;
    const s = (high & 0xfffff) * TWO_POW_MINUS_20 + this.bitsU32[LOW_WORD] * TWO_POW_MINUS_52;
    // `| 0` keeps indexes small integers (and turns -0 into 0) so V8 keeps integer fields.
    return Math.ceil((((A * s + B) * s + C) * s + exponent) * this.multiplier) | 0;
  }

  /** Smallest value (exclusive) of bucket `index`. */
  lowerBound(index: number): number {
    return this.upperBound(index - 1);
  }

  /** Largest value (inclusive) of bucket `index`. */
  upperBound(index: number): number {
    const bounds = this.bounds;
    if (bounds !== null) {
      const slot = index + BOUND_TABLE_REACH;
      if (slot >= 0 && slot < bounds.length) return bounds[slot];
    }
    return this.approxPow2(index / this.multiplier);
  }

  /**
   * Representative of bucket `index`: the value whose relative distance to both bounds is the
   * same, (hi - lo) / (hi + lo) <= (gamma - 1) / (gamma + 1) = alpha.
   */
  value(index: number): number {
    const values = this.values;
    if (values !== null) {
      const slot = index + BOUND_TABLE_REACH;
      if (slot >= 0 && slot < values.length) return values[slot];
    }
    return this.valueBetween(this.lowerBound(index), this.upperBound(index));
  }

  /** The representative of a bucket from its bounds (as lowerBound and upperBound give them): what value(index) gives. */
  valueBetween(lower: number, upper: number): number {
    // The top bucket's upper bound can lie beyond the largest double: cap it there.
    const hi = Math.min(upper, Number.MAX_VALUE);
    // 2*lo*hi/(lo+hi) written so that it does not overflow near 1e308.
    return lower * (2 / (1 + lower / hi));
  }

  /**
   * Inverse of e + P(s): the cubic is solved with Cardano's formula (one real root in [0,1)).
   * upperBound(i) is approxPow2(i / multiplier), read from the bound table where there is one.
   */
  approxPow2(approxLog2: number): number {
    const exponent = Math.floor(approxLog2);
    const fraction = approxLog2 - exponent;
    const d0 = B * B - 3 * A * C;
    const d1 = 2 * B * B * B - 9 * A * B * C - 27 * A * A * fraction;
    const p = Math.cbrt((d1 - Math.sqrt(d1 * d1 - 4 * d0 * d0 * d0)) / 2);
    const significandMinusOne = -(B + p + d0 / p) / (3 * A);
    return (1 + significandMinusOne) * 2 ** exponent;
  }
}

/** upperBound of every index in the table's reach, computed as upperBound computes it (so bit for bit the same). */
function boundTable(relativeAccuracy: number): Float64Array {
  const mapping = new CubicLogMapping(relativeAccuracy, new Float64Array(0));
  const table = new Float64Array(2 * BOUND_TABLE_REACH);
  for (let slot = 0; slot < table.length; slot++) table[slot] = mapping.approxPow2((slot - BOUND_TABLE_REACH) / mapping.multiplier);
  return table;
}

/** Built once when the module loads, read-only after: a constant, as a CRC table is. */
const BOUND_TABLES: ReadonlyMap<number, Float64Array> = new Map(TABULATED_ACCURACIES.map((accuracy) => [accuracy, boundTable(accuracy)]));

/**
 * value of every index in the bound tables' reach, computed as value computes it from those bounds
 * (so bit for bit the same). The drift statistics walk a window's buckets and its reference's at
 * each evaluation, a representative per bucket: two bound reads and a division each, 3 % of the
 * gateway's thread at 300 models x 30 features (bench gateway profile).
 */
function valueTable(relativeAccuracy: number): Float64Array {
  const mapping = new CubicLogMapping(relativeAccuracy, BOUND_TABLES.get(relativeAccuracy));
  const table = new Float64Array(2 * BOUND_TABLE_REACH);
  for (let slot = 0; slot < table.length; slot++) table[slot] = mapping.value(slot - BOUND_TABLE_REACH);
  return table;
}

/** Built once when the module loads, after BOUND_TABLES, read-only after. */
const VALUE_TABLES: ReadonlyMap<number, Float64Array> = new Map(TABULATED_ACCURACIES.map((accuracy) => [accuracy, valueTable(accuracy)]));
