import type { LogHistogram } from './log-histogram.ts';

/**
 * Exact counts per value of a numeric feature, for features with few distinct values (0/1 flags,
 * counts, ratings): a sketch's bucket representative of 1 is 0.99..., so binning a sketch on a
 * reference's exact edges puts every value one bin lower; counted per value, nothing moves.
 *
 * A pane counts at most `cap` distinct values. The first value beyond that makes the pane give up
 * for good: every value it holds or will see is counted in `other` (sticky), so a continuous
 * feature costs one number. Windows are sums of panes (merge) minus the panes that leave
 * (subtract): per-value counts and `other` are plain sums, so both directions are exact, and a
 * window's counts are exact per value exactly when its `other` is 0 (no pane in it gave up).
 */
export class ExactValueCounts {
  // Parallel arrays, not a Map: a pane holds at most `cap` values, and a linear scan of a few
  // doubles is several times cheaper than hashing one on every value a worker folds in.
  private readonly values: number[] = [];
  private readonly tallies: number[] = [];
  /** Values not counted one by one. */
  other = 0;

  constructor(readonly cap: number) {}

  /** Distinct values counted one by one. */
  get size(): number {
    return this.values.length;
  }

  /** Count per value counted one by one (a copy). */
  get counts(): Map<number, number> {
    const out = new Map<number, number>();
    for (let i = 0; i < this.values.length; i++) out.set(this.values[i], this.tallies[i]);
    return out;
  }

  /** Values counted in total (per value and in `other`). */
  get total(): number {
    let total = this.other;
    for (const n of this.tallies) total += n;
    return total;
  }

  /** Counts one value (pane side). Non-finite values are not counted, as the sketch does not count them. */
  add(value: number): void {
    if (this.other > 0) {
      if (Number.isFinite(value)) this.other++;
      return;
    }
    const values = this.values;
    for (let i = 0; i < values.length; i++) {
      if (values[i] === value) {
        this.tallies[i]++;
        return;
      }
    }
    if (!Number.isFinite(value)) return;
    if (values.length < this.cap) {
      values.push(value);
      this.tallies.push(1);
      return;
    }
    this.other = this.total + 1;
    this.values.length = 0;
    this.tallies.length = 0;
  }

  /** Adds `n` to a value's count (negative to take away); a value whose count reaches 0 is dropped. */
  addCount(value: number, n: number): void {
    const i = this.values.indexOf(value);
    if (i < 0) {
      if (n !== 0) {
        this.values.push(value);
        this.tallies.push(n);
      }
      return;
    }
    const next = this.tallies[i] + n;
    if (next !== 0) this.tallies[i] = next;
    else {
      // a value whose panes all left is dropped, so the window holds only what its panes hold
      this.values.splice(i, 1);
      this.tallies.splice(i, 1);
    }
  }

  merge(source: ExactValueCounts): void {
    this.addScaled(source, 1);
  }

  subtract(source: ExactValueCounts): void {
    this.addScaled(source, -1);
  }

  private addScaled(source: ExactValueCounts, sign: 1 | -1): void {
    this.other += sign * source.other;
    for (let i = 0; i < source.values.length; i++) this.addCount(source.values[i], sign * source.tallies[i]);
  }

  /** The exact counts, or null when some values were not counted one by one. */
  exact(): ReadonlyMap<number, number> | null {
    return this.other === 0 ? this.counts : null;
  }

  clone(): ExactValueCounts {
    const copy = new ExactValueCounts(this.cap);
    copy.merge(this);
    return copy;
  }
}

/**
 * `sketch` moved onto `like`'s buckets from `exact`, the counts per value of the same values, when
 * they hold every one of them (a feature of few distinct values: counts, ratings, flags): each
 * value lands in the bucket it would have had in a sketch centered on `like`. null otherwise.
 * rebinnedLike moves a bucket's whole weight to the bucket of its representative, which depends on
 * the source's center: a value of panes centered on different first values lands in two adjacent
 * buckets, and tests binned at that value (a reference's deciles sit on the values of a discrete
 * feature) saw drift where there was none: a Poisson(3) feature against a reference of the same
 * distribution gave PSI 1.05 and KS 0.18 on 18,000 values (0 and 0.001 on one center).
 */
export function rebinnedFromExact(sketch: LogHistogram, exact: ExactValueCounts | null, like: LogHistogram): LogHistogram | null {
  if (exact === null || exact.other > 0 || exact.size === 0 || exact.total !== sketch.count) return null;
  const moved = like.emptyLike();
  for (const [value, count] of exact.counts) if (count > 0) moved.add(value, count);
  return moved.count === sketch.count ? moved : null;
}
