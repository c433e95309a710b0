/**
 * Worst segments: the values of one segment key (e.g. country = DE, FR, ...) ranked by how far
 * their accuracy falls below the model's overall accuracy in the same window, with a significance
 * test so that a segment of a few events does not top the list by noise. Pure functions on counts.
 *
 * - Test: one-sided Fisher's exact test of the segment against the rest of the window (every
 *   labelled prediction outside the segment), H1: the segment's accuracy is lower; the p-value is
 *   the hypergeometric lower tail of the segment's correct count given the window's totals (SciPy's
 *   fisher_exact(..., alternative='less')). The rest, not the overall figure, is the comparison
 *   sample because the overall figure contains the segment; the reported `drop` is against the
 *   overall figure, which is what a reader compares with. The pooled two-proportion z is
 *   reported beside it as an effect size in standard errors. Why exact: at accuracies near 90 %
 *   the count of correct answers is skewed, and the z-test's normal tail undercounts the low
 *   side: at the drift budget's alpha it claimed 2.3 false drops per million labels on 1,000-label
 *   windows (4.6 times its alpha; `npm run bench -- segments`), Fisher's test stays within it.
 * - Multiple comparisons: Holm's step-down correction over the tested values of the key. It keeps
 *   the chance of any false "significant" in the key's list within alpha, like Bonferroni, and
 *   rejects at least as much as Bonferroni; no assumption on how segments depend on each other
 *   (they do: a drop in one raises the rest).
 * - alpha: the caller passes the drift tests' budget (budgetSignificance of the window's labels
 *   under drift.falseAlarmsPerMillion, divided by the evaluations per window), so a segment list
 *   re-read as the window slides claims a drop by noise no more often than a drift verdict does.
 * - Order: significant drops first, largest drop first; then every other segment with an
 *   accuracy, largest drop first; then the segments without labels (by predictions).
 */
import { proportionDropTest } from './proportion-tests.ts';
import { lnGamma } from './special.ts';

export interface SegmentCounts {
  /** Predictions in the segment. */
  predictions: number;
  /** Labelled classifications joined to them. */
  labeled: number;
  /** Of those, correct. */
  correct: number;
}

export interface OverallCounts {
  /** Labelled classifications in the window (every segment's and the predictions without the key). */
  labeled: number;
  correct: number;
}

export interface RankedSegment extends SegmentCounts {
  value: string;
  /** correct / labeled; null without labels. */
  accuracy: number | null;
  /** Overall accuracy minus the segment's (0.15 = 15 points lower); null without labels. */
  drop: number | null;
  /** Pooled two-proportion z of the segment against the rest (positive: the segment is worse); null when untested. */
  z: number | null;
  /** One-sided p-value (Fisher's exact test) of "the segment is less accurate than the rest"; null when untested. */
  pValue: number | null;
  /** Holm-adjusted p-value over the key's tested segments; null when untested. */
  adjustedPValue: number | null;
  /** adjustedPValue <= alpha and the segment is below the overall figure. */
  significant: boolean;
}

function checkCounts(where: string, c: { labeled: number; correct: number }): void {
  if (!(Number.isFinite(c.labeled) && c.labeled >= 0)) throw new RangeError(`${where}: labeled must be a finite count >= 0, got ${c.labeled}`);
  if (!(Number.isFinite(c.correct) && c.correct >= 0 && c.correct <= c.labeled)) {
    throw new RangeError(`${where}: correct must be a count in [0, labeled = ${c.labeled}], got ${c.correct}`);
  }
}

function lnChoose(n: number, k: number): number {
  return lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);
}

/**
 * One-sided Fisher's exact test that the segment (x correct of n) is less accurate than the rest
 * (y of m): P(X <= x) for X hypergeometric (n draws from n + m labels of which x + y correct).
 * Summed down from x by the ratio of consecutive terms, stopping once a term no longer changes
 * the sum; counts must be whole numbers.
 */
export function fisherLowerTail(x: number, n: number, y: number, m: number): number {
  for (const [name, v] of [['x', x], ['n', n], ['y', y], ['m', m]] as const) {
    if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`fisherLowerTail: ${name} must be a whole count >= 0, got ${v}`);
  }
  if (x > n || y > m) throw new RangeError(`fisherLowerTail: successes exceed trials (${x} of ${n}, ${y} of ${m})`);
  const total = n + m;
  const correct = x + y;
  const lowest = Math.max(0, n - (total - correct));
  const highest = Math.min(n, correct);
  const pmf = (k: number): number => Math.exp(lnChoose(correct, k) + lnChoose(total - correct, n - k) - lnChoose(total, n));
  if (x * total <= n * correct) {
    // at or below the mean: the lower tail itself, its terms falling away from x
    let term = pmf(x);
    let sum = term;
    for (let k = x; k > lowest; k--) {
      // P(k - 1) / P(k) = k (total - correct - n + k) / ((correct - k + 1)(n - k + 1))
      term *= (k * (total - correct - n + k)) / ((correct - k + 1) * (n - k + 1));
      if (term <= sum * 1e-17) break;
      sum += term;
    }
    return Math.min(1, sum);
  }
  // above the mean: one minus the upper tail beyond x (P(x) may underflow where the lower tail is ~1)
  if (x >= highest) return 1;
  let term = pmf(x + 1);
  let sum = term;
  for (let k = x + 1; k < highest; k++) {
    // P(k + 1) / P(k) = (correct - k)(n - k) / ((k + 1)(total - correct - n + k + 1))
    term *= ((correct - k) * (n - k)) / ((k + 1) * (total - correct - n + k + 1));
    if (term <= sum * 1e-17) break;
    sum += term;
  }
  return Math.max(0, Math.min(1, 1 - sum));
}

/**
 * Holm's step-down adjusted p-values (null entries are not tested and stay null): sorted ascending,
 * the i-th of m is multiplied by m - i, made non-decreasing, and capped at 1.
 */
export function holmAdjusted(pValues: ReadonlyArray<number | null>): Array<number | null> {
  const tested = pValues.map((p, i) => [p, i] as const).filter((e): e is readonly [number, number] => e[0] !== null);
  for (const [p, i] of tested) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`holmAdjusted: p-value ${i} must lie in [0, 1], got ${p}`);
  }
  tested.sort((a, b) => a[0] - b[0]);
  const out: Array<number | null> = pValues.map(() => null);
  const m = tested.length;
  let running = 0;
  tested.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}

/**
 * The segments of one key ranked worst first (see the module comment). `overall` is the window's
 * labelled classifications; each segment's must fit inside it. `alpha` in (0, 1).
 */
export function rankSegments(
  overall: OverallCounts,
  segments: ReadonlyMap<string, SegmentCounts> | Readonly<Record<string, SegmentCounts>>,
  alpha: number,
): RankedSegment[] {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`rankSegments: alpha must lie in (0, 1), got ${alpha}`);
  checkCounts('rankSegments: overall', overall);
  const entries = segments instanceof Map ? [...segments.entries()] : Object.entries(segments);
  const overallAccuracy = overall.labeled > 0 ? overall.correct / overall.labeled : null;
  const rows: RankedSegment[] = entries.map(([value, counts]) => {
    const where = `rankSegments: segment '${value}'`;
    checkCounts(where, counts);
    if (!(Number.isFinite(counts.predictions) && counts.predictions >= 0)) {
      throw new RangeError(`${where}: predictions must be a finite count >= 0, got ${counts.predictions}`);
    }
    if (counts.labeled > overall.labeled || counts.correct > overall.correct) {
      throw new RangeError(`${where}: ${counts.correct} correct of ${counts.labeled} labeled exceeds the overall ${overall.correct} of ${overall.labeled}`);
    }
    const accuracy = counts.labeled > 0 ? counts.correct / counts.labeled : null;
    const drop = accuracy !== null && overallAccuracy !== null ? overallAccuracy - accuracy : null;
    const restLabeled = overall.labeled - counts.labeled;
    const restCorrect = overall.correct - counts.correct;
    let z: number | null = null;
    let pValue: number | null = null;
    if (counts.labeled > 0 && restLabeled > 0 && restCorrect <= restLabeled) {
      z = proportionDropTest(restCorrect, restLabeled, counts.correct, counts.labeled, 0).z;
      pValue = fisherLowerTail(Math.round(counts.correct), Math.round(counts.labeled), Math.round(restCorrect), Math.round(restLabeled));
    }
    return { value, predictions: counts.predictions, labeled: counts.labeled, correct: counts.correct, accuracy, drop, z, pValue, adjustedPValue: null, significant: false };
  });
  const adjusted = holmAdjusted(rows.map((r) => r.pValue));
  rows.forEach((row, i) => {
    row.adjustedPValue = adjusted[i];
    row.significant = row.adjustedPValue !== null && row.adjustedPValue <= alpha && row.drop !== null && row.drop > 0;
  });
  return rows.sort(compareWorstFirst);
}

function compareWorstFirst(a: RankedSegment, b: RankedSegment): number {
  if (a.significant !== b.significant) return a.significant ? -1 : 1;
  if ((a.drop === null) !== (b.drop === null)) return a.drop === null ? 1 : -1;
  if (a.drop !== null && b.drop !== null && a.drop !== b.drop) return b.drop - a.drop;
  if (a.labeled !== b.labeled) return b.labeled - a.labeled;
  if (a.predictions !== b.predictions) return b.predictions - a.predictions;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}
