/**
 * Whether a baseline-relative quality drop is real: the statistics behind "accuracy (F1, AUC) more
 * than `margin` below the reference's (or the stable version's)". Comparing point estimates fires
 * on noise when either side holds a few hundred labels, so the evaluator counts such a drop only
 * when the one-sided test of "baseline − window > margin" is significant at the rule's alpha, the
 * share of the drift false-alarm budget one evaluation of this window may spend
 * (budgetSignificance over the window's labels, divided by the evaluations per window length).
 *
 * - accuracy: Farrington–Manning score test of two proportions with a margin (both label counts);
 * - quality.f1, quality.auc (binary models): Wald z with delta-method (F1) and Hanley–McNeil (AUC)
 *   variances from each side's confusion counts.
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

type GatedMetric = 'accuracy' | 'f1' | 'auc';

/** The quality metric a rule watches for a drop, when it is one this module can test. */
function gatedMetric(rule: AlertRule): GatedMetric | null {
  if (rule.op !== '<' && rule.op !== '<=') return null;
  const selector = rule.selector;
  if (selector.kind === 'accuracy') return 'accuracy';
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

/** Sampling variance of a window's F1 or AUC, or null when it has none (no binary confusion, one class only). */
function varianceOf(metric: 'f1' | 'auc', quality: QualitySummary): number | null {
  const counts = binaryCounts(quality);
  if (counts === null) return null;
  if (metric === 'f1') return f1Variance(counts.tp, counts.fp, counts.fn);
  const auc = quality.auc;
  return auc === null || auc === undefined ? null : aucVariance(auc, counts.tp + counts.fn, counts.tn + counts.fp);
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
  if (metric === 'accuracy') {
    const windowLabels = window.quality.labeled;
    const accuracy = window.accuracy;
    const baseLabels = baseline.kind === 'reference' ? (window.reference?.labeled ?? null) : baseline.metrics.quality.labeled;
    if (baseLabels === null || !(baseLabels > 0)) {
      return untestable(baseLabels, `the ${baseline.kind} does not say how many labels its accuracy rests on (a profile stored before labelled counts were kept: capture or upload it again)`);
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
  // F1 and AUC have no reference value, so their baseline is the stable version's window
  if (baseline.kind !== 'stable') return null;
  const baseVariance = varianceOf(metric, baseline.metrics.quality);
  const baseLabels = baseline.metrics.quality.labeled;
  if (baseVariance === null) return untestable(baseLabels, `the stable version's ${metric} has no sampling variance (binary confusion counts with both classes are needed)`);
  const z = normalUpperQuantile(alpha);
  // the variance scales as 1 / labels: the labels at which z·se falls to the margin
  const insufficient =
    margin > 0 && z * Math.sqrt(baseVariance) >= margin
      ? {
          baselineLabels: baseLabels,
          neededLabels: Math.ceil((baseLabels * z * z * baseVariance) / (margin * margin)),
          reason: `the stable version's ${metric} rests on ${baseLabels} labels; telling a drop of ${round(margin)} from noise at alpha ${alpha.toPrecision(2)} needs about ${Math.ceil((baseLabels * z * z * baseVariance) / (margin * margin))}`,
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
