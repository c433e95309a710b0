import { LogHistogram } from './log-histogram.ts';
import type { BucketScratch } from './bucket-store.ts';

/**
 * Values a pane keeps counting one by one once it has given up (see ExactValueCounts): a value
 * tested against each of them costs a comparison per value folded in.
 */
export const KEPT_AFTER_CAP = 4;

/**
 * Values a sum of panes (a window, or a pane state a window store merged) lists one by one at most.
 * A pane lists up to EXACT_VALUES_CAP values (KEPT_AFTER_CAP once it gave up), and where those
 * differ pane by pane their union grew with the panes summed: a model of 20 events/s over 16
 * partitions sends panes of 12 values, each listed, so its 5m window listed 5,760 values per
 * feature and a 5-minute history state as many (`npm run bench -- gateway --memory-only`: 14.5× the
 * steady-state memory budget, 22 ms per pane message). Beyond this many a value merged in is counted in `other`; a
 * discrete feature (at most 15 values) stays well inside.
 */
export const SUM_VALUES_CAP = 32;

/** Values a state may list for ExactValueCounts.change to pair them (a pane lists at most its cap; a sum SUM_VALUES_CAP). */
const CHANGE_LIST_BOUND = 64;

/** How a pane's later state's counts per value differ from its earlier state's (ExactValueCounts.change). */
export interface ExactChange {
  /** Values whose counts changed, those with fewer first. */
  values: number[];
  /** Per value, by how much (never 0). */
  counts: number[];
  other: number;
  fractionalOther: number;
}

/**
 * Where `value` is in `values` (-1: not there), as indexOf finds it (values are listed once each;
 * -0 finds 0). A loop, not indexOf: a double passed to the builtin is boxed first, a heap number per
 * search (two thirds of what ExactValueCounts.change allocated).
 */
function indexOfValue(values: readonly number[], value: number): number {
  for (let i = 0; i < values.length; i++) if (values[i] === value) return i;
  return -1;
}

/**
 * Listed values from which a sum's search first asks its signature (ExactValueCounts.signature):
 * below, the scan alone is as cheap. A pane lists fewer (EXACT_VALUES_CAP); a window at
 * SUM_VALUES_CAP more.
 */
const SIGNATURE_FROM = 17;
/** Words of a signature's bits (256 bits: 32 values set at most an eighth of them). */
const SIGNATURE_WORDS = 8;
/** The signature's word that says it must be built again (a value left the list, or it was never built). */
const SIGNATURE_STALE = SIGNATURE_WORDS;

/**
 * The signature bit (0-255) of `value`: equal values (=== : -0 and 0 alike) have equal bits. From
 * the integer part and 16 bits of fraction, so values apart by less than 2^-16 share one (a scan
 * then tells them apart).
 */
function signatureBit(value: number): number {
  return Math.imul((value | 0) ^ Math.imul((value * 65536) | 0, 0x85ebca6b), 0x9e3779b1) >>> 24;
}

/** Sets `value`'s bit (signatureBit) in `signature`. */
function markInSignature(signature: Int32Array, value: number): void {
  const bit = signatureBit(value);
  signature[bit >>> 5] |= 1 << (bit & 31);
}

/**
 * Exact counts per value of a numeric feature, for features with few distinct values (0/1 flags,
 * counts, ratings): a sketch's bucket representative of 1 is 0.99..., so binning a sketch on a
 * reference's exact edges puts every value one bin lower; counted per value, nothing moves.
 *
 * A pane counts at most `cap` distinct values. The first value beyond that makes the pane give up
 * for good (sticky): from then on it counts one by one only the values it had already seen
 * repeated (at most KEPT_AFTER_CAP, the most frequent: a sentinel such as -1 or 999 among
 * continuous values, see movedOnto), and every other value in `other`; a continuous feature with
 * no repeated value (or the values its producer's previous pane kept: keptBefore) costs one number.
 * Windows are sums of panes (merge) minus the panes that leave (subtract), listing at most `sumCap`
 * values (addScaled): the total and `other` stay exact both ways, and a window's counts are exact
 * per value for every value exactly when its `other` is 0 (no pane in it gave up, nothing past the
 * cap); with `other` > 0 no value listed is counted above its true count.
 * Of `other`, the values that are not integers are counted too (fractionalOther, a sum as well):
 * a sketch of integers is moved onto other buckets value by value (movedOnto).
 */
export class ExactValueCounts {
  // Parallel arrays, not a Map: a pane holds at most `cap` values, and a linear scan of a few
  // doubles is several times cheaper than hashing one on every value a worker folds in.
  private readonly values: number[];
  private readonly tallies: number[];
  /**
   * For a list of SIGNATURE_FROM values or more (a window's sum, listing SUM_VALUES_CAP): a bit per
   * signatureBit of each value listed, so that most searches for a value not listed end without a
   * scan. A window's sum of a continuous feature lists 32 values, and each value a replaced state
   * changes (a few per feature, in every window) was searched among all 32: ExactValueCounts'
   * applyChange was 8 % of the gateway's pane apply (CPU profile of bench pane-apply, 20 models x
   * 16 partitions). Word SIGNATURE_STALE is non-zero when it must be built again: a value left the
   * list (its bit may be another's too), or the list changed other than through addValue. Null
   * until the list first reaches SIGNATURE_FROM.
   */
  private signature: Int32Array | null = null;
  /** Values not counted one by one. */
  other = 0;
  /** Of `other`, the values that are not integers (a sum, like `other`: see integral()). */
  fractionalOther = 0;
  /**
   * Of `other`, the values the states merged in listed that this sum could not (past `sumCap`):
   * while it is 0, the sum lists every value as the states it holds list them, and moving it onto
   * other buckets (movedOnto) equals moving them one by one. (A state's own `folded` is its own:
   * in this sum it is part of what that state did not list, as its `other` is.)
   */
  folded = 0;
  /**
   * Values the producer's previous pane went on counting one by one after giving up (a sentinel):
   * counted on after this pane gives up too once seen, even seen only once before (see giveUp).
   */
  keptBefore: readonly number[] | null = null;

  /**
   * @param cap distinct values a pane counts one by one before it gives up (add)
   * @param sumCap values a sum of panes lists (merge): SUM_VALUES_CAP for windows and the states a
   *   window store merges; unbounded (the default) for a pane, which lists at most `cap`
   */
  constructor(
    readonly cap: number,
    readonly sumCap = Number.POSITIVE_INFINITY,
    /** Values and their counts to start from, owned by these counts from now on (ofDistinct). */
    values: number[] = [],
    tallies: number[] = [],
  ) {
    this.values = values;
    this.tallies = tallies;
  }

  /**
   * Counts of values known to be distinct (a pane's wire form, whose codec refuses repeats), listed
   * in copies of the lists' length: pushed one by one into empty lists, each grew to 17 cells (V8's
   * first growth) for the ~6 values a state lists per feature, and the gateway decodes one or two
   * states per pane message it applies.
   */
  static ofDistinct(cap: number, values: readonly number[], counts: readonly number[]): ExactValueCounts {
    if (!counts.includes(0)) return new ExactValueCounts(cap, Number.POSITIVE_INFINITY, values.slice(), counts.slice());
    const exact = new ExactValueCounts(cap);
    exact.listDistinct(values, counts);
    return exact;
  }

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

  /**
   * The values counted one by one and their counts, in the order counts lists them (copies): what a
   * pane message carries, without the map `counts` makes (a copy per feature at every flush).
   */
  listed(): { values: number[]; counts: number[] } {
    return { values: this.values.slice(), counts: this.tallies.slice() };
  }

  /** Values counted in total (per value and in `other`). */
  get total(): number {
    let total = this.other;
    for (const n of this.tallies) total += n;
    return total;
  }

  /** Counts one value (pane side). Non-finite values are not counted, as the sketch does not count them. */
  add(value: number): void {
    const values = this.values;
    for (let i = 0; i < values.length; i++) {
      if (values[i] === value) {
        this.tallies[i]++;
        return;
      }
    }
    if (!Number.isFinite(value)) return;
    if (this.other > 0) {
      this.other++;
      if (value !== Math.floor(value)) this.fractionalOther++;
    } else if (values.length < this.cap) {
      values.push(value);
      this.tallies.push(1);
      this.signatureChanged();
    } else this.giveUp(value);
  }

  /** Whether every value counted (one by one or in `other`) is an integer: see movedOnto. */
  integral(): boolean {
    if (this.fractionalOther !== 0) return false;
    for (const value of this.values) if (value !== Math.floor(value)) return false;
    return true;
  }

  /**
   * A value beyond the cap (not counted one by one): the values seen repeated so far stay counted
   * one by one, and those the producer's previous pane kept if seen at all (`keptBefore`: a
   * sentinel of 5 % is seen once among a pane's first 17 distinct values as often as not), at most
   * KEPT_AFTER_CAP of them, the most frequent first; the others and this one go to `other`.
   */
  private giveUp(value: number): void {
    const before = this.keptBefore;
    const order = this.tallies.map((_, i) => i).filter((i) => this.tallies[i] >= 2 || (before !== null && before.includes(this.values[i])));
    order.sort((a, b) => this.tallies[b] - this.tallies[a]);
    const kept = order.slice(0, KEPT_AFTER_CAP);
    this.other = this.total + 1;
    if (value !== Math.floor(value)) this.fractionalOther++;
    for (let i = 0; i < this.values.length; i++) if (!kept.includes(i) && this.values[i] !== Math.floor(this.values[i])) this.fractionalOther += this.tallies[i];
    const values = kept.map((i) => this.values[i]);
    const tallies = kept.map((i) => this.tallies[i]);
    for (const n of tallies) this.other -= n;
    this.values.length = 0;
    this.tallies.length = 0;
    this.values.push(...values);
    this.tallies.push(...tallies);
    this.signatureChanged();
  }

  /**
   * Counts of values known to be distinct and not yet listed (a pane's wire form, whose codec
   * refuses repeats): listed without a search per value, so a list of 65,536 values (the wire's
   * bound) costs as many steps, not 2 billion comparisons.
   */
  listDistinct(values: readonly number[], counts: readonly number[]): void {
    for (let k = 0; k < values.length; k++) {
      if (counts[k] === 0) continue;
      this.values.push(values[k]);
      this.tallies.push(counts[k]);
    }
    this.signatureChanged();
  }

  merge(source: ExactValueCounts): void {
    this.addScaled(source, 1);
  }

  subtract(source: ExactValueCounts): void {
    this.addScaled(source, -1);
  }

  /**
   * A sum lists at most `sumCap` values: a value merged in beyond them is counted in `other`
   * (as a pane does past its cap). Taking a pane away takes each of its values from the value's
   * listed count first and what that lacks from `other` (where the value was counted when the list
   * was full), so the total and `other`'s integers stay exact and a listed count never exceeds the
   * value's true count (it may be lower: the rest is in `other`, moved by representative). That
   * holds as long as what is taken away is what was merged in: a pane, or a merged state the sum
   * was restated to first (ModelWindows.restateExact); a window is never taken away from another.
   */
  private addScaled(source: ExactValueCounts, sign: 1 | -1): void {
    this.other += sign * source.other;
    this.fractionalOther += sign * source.fractionalOther;
    // > 0: counts from the wire are checked, and a sum drops a value at 0
    for (let k = 0; k < source.values.length; k++) this.addValue(source.values[k], source.tallies[k], sign);
  }

  /** Where `value` is listed (-1: not listed), as indexOfValue finds it: through the signature for a long list. */
  private indexOf(value: number): number {
    const values = this.values;
    if (values.length < SIGNATURE_FROM) return indexOfValue(values, value);
    let signature = this.signature;
    if (signature === null || signature[SIGNATURE_STALE] !== 0) {
      if (signature === null) signature = this.signature = new Int32Array(SIGNATURE_WORDS + 1);
      else signature.fill(0);
      for (let k = 0; k < values.length; k++) markInSignature(signature, values[k]);
    }
    const bit = signatureBit(value);
    return (signature[bit >>> 5] & (1 << (bit & 31))) === 0 ? -1 : indexOfValue(values, value);
  }

  /** The list changed other than by a value added through addValue: its signature is built again at the next search. */
  private signatureChanged(): void {
    if (this.signature !== null) this.signature[SIGNATURE_STALE] = 1;
  }

  /** `n` (> 0) more (sign 1) or fewer (-1) of `value`, as addScaled counts each value of a state. */
  private addValue(value: number, n: number, sign: 1 | -1): void {
    const values = this.values;
    const tallies = this.tallies;
    const i = this.indexOf(value);
    let toOther = n;
    if (sign > 0) {
      if (i >= 0) {
        tallies[i] += n;
        toOther = 0;
      } else if (values.length < this.sumCap) {
        values.push(value);
        tallies.push(n);
        toOther = 0;
        const signature = this.signature;
        if (signature !== null && signature[SIGNATURE_STALE] === 0) markInSignature(signature, value);
      }
    } else if (i >= 0) {
      const fromList = Math.min(n, tallies[i]);
      toOther = n - fromList;
      if (fromList === tallies[i]) {
        // a value whose panes all left is dropped, so the sum holds only what its panes hold
        // moved down in place: splice returns an array of what it took out
        for (let k = i + 1; k < values.length; k++) {
          values[k - 1] = values[k];
          tallies[k - 1] = tallies[k];
        }
        values.pop();
        tallies.pop();
        this.signatureChanged();
      } else tallies[i] -= fromList;
    }
    if (toOther === 0) return;
    this.other += sign * toOther;
    this.folded += sign * toOther;
    if (value !== Math.floor(value)) this.fractionalOther += sign * toOther;
  }

  /**
   * How `later`, a state of a pane that replaces `earlier`, differs from it: the values whose counts
   * changed (at sparse traffic the second of values between two flushes, where the two states list
   * a dozen each). Null when either lists more than a pane may (a state from the wire may list up
   * to its bound): pairing them would cost a comparison per pair.
   */
  static change(earlier: ExactValueCounts, later: ExactValueCounts): ExactChange | null {
    if (earlier.values.length > CHANGE_LIST_BOUND || later.values.length > CHANGE_LIST_BOUND) return null;
    // room for every value of both, cut to those that changed: pushed one by one, each list grew
    // to 17 cells for the two or three values a second changes
    const room = earlier.values.length + later.values.length;
    const values = new Array<number>(room);
    const counts = new Array<number>(room);
    let at = 0;
    // fewer first: applyChange takes them away before it adds, as subtract then merge would
    for (let k = 0; k < earlier.values.length; k++) {
      const n = -ExactValueCounts.changedBy(earlier, k, later);
      if (n < 0) {
        values[at] = earlier.values[k];
        counts[at++] = n;
      }
    }
    for (let k = 0; k < later.values.length; k++) {
      const n = ExactValueCounts.changedBy(later, k, earlier);
      if (n > 0) {
        values[at] = later.values[k];
        counts[at++] = n;
      }
    }
    values.length = at;
    counts.length = at;
    return { values, counts, other: later.other - earlier.other, fractionalOther: later.fractionalOther - earlier.fractionalOther };
  }

  /** `of`'s count of its k-th value less `other`'s count of it (0 where it lists none). */
  private static changedBy(of: ExactValueCounts, k: number, other: ExactValueCounts): number {
    const i = indexOfValue(other.values, of.values[k]);
    return i >= 0 ? of.tallies[k] - other.tallies[i] : of.tallies[k];
  }

  /**
   * subtract(earlier) then merge(later) for the two states `change` was taken from: each value
   * whose count changed is added or taken away (from its listed count first, as subtract takes
   * it), the others are left as they are.
   */
  applyChange(change: ExactChange): void {
    this.other += change.other;
    this.fractionalOther += change.fractionalOther;
    for (let k = 0; k < change.values.length; k++) {
      const n = change.counts[k];
      if (n > 0) this.addValue(change.values[k], n, 1);
      else this.addValue(change.values[k], -n, -1);
    }
  }

  /** The exact counts, or null when some values were not counted one by one. */
  exact(): ReadonlyMap<number, number> | null {
    return this.other === 0 ? this.counts : null;
  }

  clone(): ExactValueCounts {
    const copy = new ExactValueCounts(this.cap, this.sumCap);
    copy.merge(this);
    copy.folded = this.folded;
    return copy;
  }
}

/**
 * `sketch` moved onto `like`'s buckets, with `exact` the counts per value of some of its values (see
 * ExactValueCounts): each value counted one by one lands in the bucket it would have had in a sketch
 * centered on `like`, the rest as LogHistogram.rebinnedLike moves them (a bucket's whole weight to
 * the bucket of its representative, which depends on the source's center).
 *
 * Moved by representative alone, a value repeated often landed in one bucket or the next depending
 * on the center of the pane it came from: a discrete feature (a Poisson(3) count) against a
 * reference of the same distribution gave PSI 1.05 and KS 0.18 on 18,000 values (0 and 0.001 on one
 * center), and a sentinel among continuous values (-1 or 999 for 15 % of them) KS 0.07 in a window
 * of 16 partitions' panes against a reference captured from such a window (bench fidelity).
 *
 * `integers` (default): a sketch whose values were all integers is moved value by value wherever
 * one integer falls in a bucket. Without it (or among sketches of integers only) the move is
 * additive, like rebinnedLike: for sketches on the same buckets, moving their sum (counts summed)
 * gives the sum of each moved, so a window moved as it is holds what its panes moved one by one
 * do. A sum of integer and other panes is not one of integers: windows move with `integers` false.
 */
export function movedOnto(sketch: LogHistogram, exact: ExactValueCounts | null, like: LogHistogram, scratch?: BucketScratch, integers = true): LogHistogram {
  if (like.sameBuckets(sketch)) return sketch;
  const ofIntegers = integers && exact !== null && exact.total === sketch.count && exact.integral();
  if (exact === null || (exact.size === 0 && !ofIntegers)) return LogHistogram.rebinnedLike(sketch, like, scratch);
  // the values whose weight is known exactly: those counted one by one, and for a sketch of
  // integers the one integer of each bucket whose range holds one (it holds only that value)
  const atoms = new Map<number, number>();
  if (ofIntegers) for (const [value, weight] of sketch.singleIntegerBuckets()) atoms.set(value, weight);
  for (const [value, count] of exact.counts) if (count > 0 && !atoms.has(value)) atoms.set(value, count);
  const counted = sketch.emptyLike();
  for (const [value, count] of atoms) counted.add(value, count);
  // every value counted one by one is in the sketch too; the rest is what the sketch holds beyond them
  if (counted.count > sketch.count) return LogHistogram.rebinnedLike(sketch, like, scratch); // not counts of these values
  const rest = counted.count === sketch.count ? null : sketch.clone().subtract(counted);
  const moved = rest === null ? like.emptyLike() : LogHistogram.rebinnedLike(rest, like, scratch);
  for (const [value, count] of atoms) moved.add(value, count);
  return moved;
}
