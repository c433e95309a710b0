/**
 * Tests of "the window is worse than the baseline by more than a margin", for reference- and
 * stable-relative quality rules. Pure functions; golden values from SciPy in
 * test/golden/make_quality_tests_golden.py.
 *
 * A rule like "accuracy more than 5 points below the reference" compares two estimates, each from
 * a finite number of labels. Comparing the point estimates alone fires on noise whenever either
 * side holds a few hundred labels (a 300-label reference has a standard error of ~2.6 points).
 * So a drop counts only when the one-sided test of
 *
 *     H0: base − window ≤ margin     against     H1: base − window > margin
 *
 * is significant at the rule's alpha (the drift false-alarm budget, see budgetSignificance).
 *
 * - Proportions (accuracy): the Farrington–Manning score test (the standard non-inferiority test
 *   of a difference of two independent proportions with a margin; Farrington & Manning 1990,
 *   the "score" method of statsmodels' test_proportions_2indep without the Miettinen–Nurminen
 *   n/(n−1) factor). Its variance is taken at the restricted maximum-likelihood estimates under
 *   H0 (closed form, a cubic's root), so it stays defined when one side is 0 % or 100 %, where
 *   the Wald variance collapses to 0.
 * - F1 and ROC AUC: a Wald z on the difference with a normal approximation of each side's
 *   variance: F1 by the delta method on the multinomial confusion counts, AUC by Hanley & McNeil
 *   (1982). Both are approximations (stated in the README); neither needs a bootstrap.
 */

import { normalTwoSidedPValue } from './special.ts';

/** Upper tail of the standard normal, P(Z ≥ z), accurate in the far tail (erfc through the incomplete gamma). */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) return NaN;
  const twoSided = normalTwoSidedPValue(z);
  return z >= 0 ? twoSided / 2 : 1 - twoSided / 2;
}

/** z with P(Z ≥ z) = p, by bisection on normalUpperTail (p in (0, 1)); used for sample-size limits, not on the hot path. */
export function normalUpperQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalUpperQuantile: p must lie in (0, 1), got ${p}`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (normalUpperTail(mid) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface MarginTest {
  /** The score statistic; large when the drop exceeds the margin. */
  z: number;
  /** One-sided p-value of H0: base − window ≤ margin. */
  pValue: number;
}

/**
 * Restricted MLE (p̃1, p̃2) of two binomial proportions under p1 − p2 = delta (Farrington &
 * Manning 1990; the closed form in SAS PROC FREQ's documentation of the FM/MN score test).
 */
export function restrictedProportions(x1: number, n1: number, x2: number, n2: number, delta: number): [number, number] {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  if (delta === 0) {
    const pooled = (x1 + x2) / (n1 + n2);
    return [pooled, pooled];
  }
  const theta = n2 / n1;
  const a = 1 + theta;
  const b = -(1 + theta + p1 + theta * p2 + delta * (theta + 2));
  const c = delta * delta + delta * (2 * p1 + theta + 1) + p1 + theta * p2;
  const d = -p1 * delta * (1 + delta);
  const v = b ** 3 / (3 * a) ** 3 - (b * c) / (6 * a * a) + d / (2 * a);
  const u = Math.sign(v) * Math.sqrt(Math.max(0, (b * b) / (3 * a) ** 2 - c / (3 * a)));
  // v/u³ lies in [−1, 1] mathematically; rounding can put it a hair outside
  const ratio = u === 0 ? 0 : Math.min(1, Math.max(-1, v / u ** 3));
  const w = (Math.PI + Math.acos(ratio)) / 3;
  const q1 = Math.min(1, Math.max(0, 2 * u * Math.cos(w) - b / (3 * a)));
  const q2 = Math.min(1, Math.max(0, q1 - delta));
  return [q1, q2];
}

/**
 * Farrington–Manning test that proportion 1 (base: x1 of n1) exceeds proportion 2 (window: x2 of
 * n2) by more than `margin` (in [0, 1)). Both sides need at least one trial.
 */
export function proportionDropTest(x1: number, n1: number, x2: number, n2: number, margin: number): MarginTest {
  if (!(n1 > 0 && n2 > 0)) throw new RangeError(`proportionDropTest: both sides need trials, got n1 = ${n1}, n2 = ${n2}`);
  if (!(x1 >= 0 && x1 <= n1 && x2 >= 0 && x2 <= n2)) throw new RangeError(`proportionDropTest: successes must lie in [0, n], got ${x1}/${n1}, ${x2}/${n2}`);
  if (!(margin >= 0 && margin < 1)) throw new RangeError(`proportionDropTest: margin must lie in [0, 1), got ${margin}`);
  const [q1, q2] = restrictedProportions(x1, n1, x2, n2, margin);
  const variance = (q1 * (1 - q1)) / n1 + (q2 * (1 - q2)) / n2;
  const excess = x1 / n1 - x2 / n2 - margin;
  if (variance === 0) {
    // both restricted proportions at 0 or 1: the data sit exactly on H0's boundary or cannot refute it
    const z = excess > 0 ? Infinity : excess < 0 ? -Infinity : 0;
    return { z, pValue: excess > 0 ? 0 : 1 };
  }
  const z = excess / Math.sqrt(variance);
  return { z, pValue: normalUpperTail(z) };
}

/** Wald test that estimate 1 exceeds estimate 2 by more than `margin`, given each one's variance. */
export function waldDropTest(base: number, baseVariance: number, window: number, windowVariance: number, margin: number): MarginTest {
  const variance = baseVariance + windowVariance;
  const excess = base - window - margin;
  if (!(variance > 0)) return { z: excess > 0 ? Infinity : -Infinity, pValue: excess > 0 ? 0 : 1 };
  const z = excess / Math.sqrt(variance);
  return { z, pValue: normalUpperTail(z) };
}

/**
 * Delta-method variance of F1 = 2TP / (2TP + FP + FN) with the confusion counts multinomial:
 * Var = 4·TP·(FP + FN)·(TP + FP + FN) / (2TP + FP + FN)⁴ (true negatives do not enter F1, and
 * the gradient is orthogonal to the multinomial's sum constraint, so n cancels). null when F1 is
 * undefined (no TP, FP or FN).
 */
export function f1Variance(tp: number, fp: number, fn: number): number | null {
  const d = 2 * tp + fp + fn;
  if (!(d > 0)) return null;
  return (4 * tp * (fp + fn) * (tp + fp + fn)) / d ** 4;
}

/**
 * Hanley & McNeil (1982) variance of an ROC AUC from `positives` and `negatives` examples:
 * (A(1−A) + (n₊−1)(Q1−A²) + (n₋−1)(Q2−A²)) / (n₊ n₋), Q1 = A/(2−A), Q2 = 2A²/(1+A) (the
 * exponential-score approximation). null without both classes.
 */
export function aucVariance(auc: number, positives: number, negatives: number): number | null {
  if (!(positives > 0 && negatives > 0)) return null;
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  return (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives);
}

/**
 * The fewest baseline labels for which a proportion drop of twice the margin could be significant
 * at `alpha`, however many labels the window holds (the window's variance then vanishes and the
 * baseline's p(1−p)/n is left): n ≥ z²_α · p(1−p) / margin². A baseline with fewer labels cannot
 * tell a drop beyond the margin from its own noise, so a rule against it is reported, not evaluated.
 * A margin of 0 needs no more than one label (any drop is beyond it).
 */
export function minimumBaselineLabels(baseProportion: number, margin: number, alpha: number): number {
  if (!(margin > 0)) return 1;
  const z = normalUpperQuantile(alpha);
  const p = Math.min(1, Math.max(0, baseProportion));
  return Math.max(1, Math.ceil((z * z * p * (1 - p)) / (margin * margin)));
}
