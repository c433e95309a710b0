/**
 * Whether a baseline-relative quality drop is real: the statistics behind "accuracy (F1, AUC) more
 * than `margin` below the reference's (or the stable version's)". Comparing point estimates fires
 * on noise when either side holds a few hundred labels, so the evaluator counts such a drop only
 * when the one-sided test of "baseline − window > margin" is significant at the rule's alpha, the
 * share of the drift false-alarm budget one evaluation of this window may spend
 * (budgetSignificance over the window's labels, divided by the evaluations per window length).
 *
 * - accuracy: Farrington–Manning score test of two proportions with a margin (both label counts);
 * - estimatedAccuracy (CBPE, before labels): the same test, the window side being the estimate
 *   over its n scored predictions. The realised accuracy of n predictions with calibrated
 *   confidences c_i varies by Σc_i(1−c_i)/n², which is at most c̄(1−c̄)/n (Jensen): treating the
 *   estimate as a proportion of n trials is conservative. Against the reference, the baseline is
 *   the accuracy it realised (its labels); against the stable version, the stable's estimate;
 * - quality.f1, quality.auc (binary models): Wald z with delta-method (F1) and Hanley–McNeil (AUC)
 *   variances from each side's confusion counts (the reference's from its labelled score
 *   histogram, ReferenceSummary.confusion).
 *
 * A baseline is too small to judge against when a drop of twice the margin could not be
 * significant even against a window of unlimited labels: the rule is then reported as such
 * (RuleStatus 'insufficient_reference'), and still fires on a drop large enough to be significant.
 */
import type { AlertRule } from './rules.ts';
import type { ModelMetrics, QualitySummary } from '../contract/metrics.ts';
import { aucVariance, f1Variance, minimumBaselineLabels, normalUpperQuantile, proportionDropTest, waldDropTest } from '../stats/proportion-tests.ts';

/**
 * The test of one drop: whether it is significant at `alpha`, and, when the baseline is too small
 * for a drop of twice the margin ever to be significant (or cannot be tested at all), why.
 */
export interface DropEvidence {
  significant: boolean;
  pValue: number;
  alpha: number;
  insufficient: { baselineLabels: number | null; neededLabels: number | null; reason: string } | null;
}

export type DropBaseline = { kind: 'reference' } | { kind: 'stable'; metrics: ModelMetrics };

type GatedMetric = 'accuracy' | 'estimatedAccuracy' | 'f1' | 'auc';

/** The quality metric a rule watches for a drop, when it is one this module can test. */
function gatedMetric(rule: AlertRule): GatedMetric | null {
  if (rule.op !== '<' && rule.op !== '<=') return null;
  const selector = rule.selector;
  if (selector.kind === 'accuracy' || selector.kind === 'estimatedAccuracy') return selector.kind;
  if (selector.kind !== 'quality') return null;
  return selector.metric === 'accuracy' || selector.metric === 'f1' || selector.metric === 'auc' ? selector.metric : null;
}

/** Binary confusion counts (rows truth, columns prediction, classes ['0', '1']). */
function binaryCounts(quality: QualitySummary): { tp: number; fp: number; fn: number; tn: number } | null {
  const confusion = quality.confusion;
  if (confusion === undefined || confusion.classes.length !== 2) return null;
  const [[tn, fp], [fn, tp]] = confusion.matrix;
  return { tp, fp, fn, tn };
}

/** Sampling variance of an F1 or AUC from its binary confusion counts, or null when it has none (one class only). */
function varianceFrom(metric: 'f1' | 'auc', counts: { tp: number; fp: number; fn: number; tn: number } | null | undefined, auc: number | null | undefined): number | null {
  if (counts === null || counts === undefined) return null;
  if (metric === 'f1') return f1Variance(counts.tp, counts.fp, counts.fn);
  return auc === null || auc === undefined ? null : aucVariance(auc, counts.tp + counts.fn, counts.tn + counts.fp);
}

/** Sampling variance of a window's F1 or AUC, or null when it has none (no binary confusion, one class only). */
function varianceOf(metric: 'f1' | 'auc', quality: QualitySummary): number | null {
  return varianceFrom(metric, binaryCounts(quality), quality.auc);
}

/**
 * The evidence for a drop below `threshold` (= the baseline's `base` value minus the rule's margin)
 * in `window`'s metrics; null when the rule is not a quality-drop rule this module tests (the
 * value alone then decides, as for every other rule).
 */
export function dropEvidence(rule: AlertRule, window: ModelMetrics, base: number, threshold: number, baseline: DropBaseline, alpha: number): DropEvidence | null {
  const metric = gatedMetric(rule);
  if (metric === null) return null;
  // a threshold above the baseline (a positive delta) is tested as a drop of 0
  const margin = Math.max(0, base - threshold);
  const untestable = (baselineLabels: number | null, reason: string): DropEvidence => ({
    significant: false,
    pValue: 1,
    alpha,
    insufficient: { baselineLabels, neededLabels: null, reason },
  });
  // no labels in the window, no budget to spend: nothing can be significant
  if (!(alpha > 0)) return { significant: false, pValue: 1, alpha, insufficient: null };
  if (metric === 'accuracy' || metric === 'estimatedAccuracy') {
    const estimated = metric === 'estimatedAccuracy';
    // the window's side: labels, or for an estimate the scored predictions it averages over
    const windowLabels = estimated ? (window.quality.estimatedOn ?? 0) : window.quality.labeled;
    const accuracy = estimated ? window.estimatedAccuracy : window.accuracy;
    const baseLabels =
      baseline.kind === 'reference'
        ? (window.reference?.labeled ?? null)
        : estimated
          ? (baseline.metrics.quality.estimatedOn ?? null)
          : baseline.metrics.quality.labeled;
    if (baseLabels === null || !(baseLabels > 0)) {
      return untestable(
        baseLabels,
        baseline.kind === 'reference'
          ? `the reference does not say how many labels its accuracy rests on (a profile stored before labelled counts were kept, or one without labels: capture or upload it again)`
          : `the stable version's ${estimated ? 'estimated accuracy does not say how many scored predictions it rests on' : 'accuracy rests on no labels'}`,
      );
    }
    const needed = minimumBaselineLabels(base, margin, alpha);
    const insufficient =
      baseLabels < needed
        ? {
            baselineLabels: baseLabels,
            neededLabels: needed,
            reason: `the ${baseline.kind}'s accuracy rests on ${baseLabels} labels; telling a drop of ${round(margin)} from noise at alpha ${alpha.toPrecision(2)} needs at least ${needed}`,
          }
        : null;
    if (accuracy === null || !(windowLabels > 0)) return { significant: false, pValue: 1, alpha, insufficient };
    const successes = (p: number, n: number) => Math.min(n, Math.max(0, Math.round(p * n)));
    const { pValue } = proportionDropTest(successes(base, baseLabels), baseLabels, successes(accuracy, windowLabels), windowLabels, Math.min(margin, 0.999));
    return { significant: pValue <= alpha, pValue, alpha, insufficient };
  }
  // F1 and AUC: the reference's from its labelled score histogram, or the stable version's window
  const reference = window.reference;
  const baseVariance = baseline.kind === 'reference' ? varianceFrom(metric, reference?.confusion, reference?.auc) : varianceOf(metric, baseline.metrics.quality);
  const baseLabels = baseline.kind === 'reference' ? (reference?.labeled ?? 0) : baseline.metrics.quality.labeled;
  const baseName = baseline.kind === 'reference' ? 'reference' : 'stable version';
  if (baseVariance === null) return untestable(baseLabels, `the ${baseName}'s ${metric} has no sampling variance (binary confusion counts with both classes are needed)`);
  const z = normalUpperQuantile(alpha);
  // the variance scales as 1 / labels: the labels at which z·se falls to the margin
  const insufficient =
    margin > 0 && z * Math.sqrt(baseVariance) >= margin
      ? {
          baselineLabels: baseLabels,
          neededLabels: Math.ceil((baseLabels * z * z * baseVariance) / (margin * margin)),
          reason: `the ${baseName}'s ${metric} rests on ${baseLabels} labels; telling a drop of ${round(margin)} from noise at alpha ${alpha.toPrecision(2)} needs about ${Math.ceil((baseLabels * z * z * baseVariance) / (margin * margin))}`,
        }
      : null;
  const value = window.quality[metric];
  const windowVariance = varianceOf(metric, window.quality);
  if (value === null || value === undefined || windowVariance === null) return { significant: false, pValue: 1, alpha, insufficient };
  const { pValue } = waldDropTest(base, baseVariance, value, windowVariance, margin);
  return { significant: pValue <= alpha, pValue, alpha, insufficient };
}

function round(x: number): number {
  return Number(x.toPrecision(3));
}
