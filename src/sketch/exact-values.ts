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
  readonly counts = new Map<number, number>();
  /** Values not counted one by one. */
  other = 0;

  constructor(readonly cap: number) {}

  /** Values counted in total (per value and in `other`). */
  get total(): number {
    let total = this.other;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  /** Counts one value (pane side). Non-finite values are not counted, as the sketch does not count them. */
  add(value: number): void {
    if (!Number.isFinite(value)) return;
    if (this.other > 0) {
      this.other++;
      return;
    }
    const n = this.counts.get(value);
    if (n !== undefined) this.counts.set(value, n + 1);
    else if (this.counts.size < this.cap) this.counts.set(value, 1);
    else {
      this.other = this.total + 1;
      this.counts.clear();
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
    for (const [value, n] of source.counts) {
      const next = (this.counts.get(value) ?? 0) + sign * n;
      // a value whose panes all left is dropped, so the map holds only what the window holds
      if (next === 0) this.counts.delete(value);
      else this.counts.set(value, next);
    }
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
