/**
 * Additive first and second moments: count, sum and sum of squares of weighted values. Merge
 * adds, subtract removes, so sliding windows need no recomputation.
 *
 * Variance comes from sumSq/count - mean^2, which loses digits when the mean is large against the
 * spread (relative error about 1e-16 * mean^2 / variance): fine for model outputs and latencies
 * (mean 1e3, std 1 loses about 6 of 16 digits); centre the values first if that is not enough.
 */
export interface MomentsJSON {
  count: number;
  sum: number;
  sumSq: number;
}

export class Moments {
  count = 0;
  sum = 0;
  sumSq = 0;

  /** Adds x with weight (default 1). Caller passes finite numbers; no check on this hot path. */
  add(x: number, weight = 1): void {
    this.count += weight;
    this.sum += x * weight;
    this.sumSq += x * x * weight;
  }

  merge(other: Moments): this {
    this.count += other.count;
    this.sum += other.sum;
    this.sumSq += other.sumSq;
    return this;
  }

  /** Inverse of merge. When the count reaches 0 the sums are reset to exactly 0 (no float residue). */
  subtract(other: Moments): this {
    const count = this.count - other.count;
    if (count <= this.count * 1e-12) {
      this.clear();
      return this;
    }
    this.count = count;
    this.sum -= other.sum;
    this.sumSq -= other.sumSq;
    return this;
  }

  clear(): void {
    this.count = 0;
    this.sum = 0;
    this.sumSq = 0;
  }

  clone(): Moments {
    return new Moments().merge(this);
  }

  /** NaN when empty. */
  mean(): number {
    return this.count > 0 ? this.sum / this.count : NaN;
  }

  /** Population variance (divides by count), never negative; NaN when empty. */
  variance(): number {
    if (!(this.count > 0)) return NaN;
    const mean = this.sum / this.count;
    return Math.max(0, this.sumSq / this.count - mean * mean);
  }

  /** Sample variance (divides by count - 1); NaN when count <= 1. */
  sampleVariance(): number {
    if (!(this.count > 1)) return NaN;
    return (this.variance() * this.count) / (this.count - 1);
  }

  /** Population standard deviation; NaN when empty. */
  std(): number {
    return Math.sqrt(this.variance());
  }

  toJSON(): MomentsJSON {
    return { count: this.count, sum: this.sum, sumSq: this.sumSq };
  }

  static fromJSON(json: unknown): Moments {
    if (typeof json !== 'object' || json === null) throw new RangeError('Moments.fromJSON: expected an object {count, sum, sumSq}');
    const { count, sum, sumSq } = json as Record<string, unknown>;
    const moments = new Moments();
    for (const [name, value] of [['count', count], ['sum', sum], ['sumSq', sumSq]] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new RangeError(`Moments.fromJSON: ${name} must be a finite number, got ${String(value)}`);
      }
    }
    if ((count as number) < 0 || (sumSq as number) < 0) {
      throw new RangeError(`Moments.fromJSON: count and sumSq must be >= 0, got count ${String(count)}, sumSq ${String(sumSq)}`);
    }
    moments.count = count as number;
    moments.sum = sum as number;
    moments.sumSq = sumSq as number;
    return moments;
  }
}
