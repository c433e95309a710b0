import type { PaneOutcome } from './pane.ts';
import type { QualitySummary } from '../contract/metrics.ts';
import { binaryQuality, binaryConfusion, regressionQuality, multiclassQuality, createMulticlassOutcomeSummary, addMulticlassOutcome } from '../stats/quality.ts';

/**
 * Model quality of a window from its merged outcome summaries: binary (score + 0/1 label),
 * multiclass (class outputs, confusion counts) and regression (numeric output and label). A
 * model normally has one kind; when it mixes them, accuracy covers every classified label and
 * the detailed figures come from the binary part first.
 */

/** Labels that decide correctness (classification): binary outcomes plus multiclass confusion. */
function classified(outcome: PaneOutcome): number {
  let binary = 0;
  if (outcome.binary !== null) {
    const { tp, fp, tn, fn } = binaryConfusion(outcome.binary);
    binary = tp + fp + tn + fn;
  }
  return binary + (outcome.confusion ? outcome.confusion.total : 0);
}

export function accuracyOf(outcome: PaneOutcome): number | null {
  const n = classified(outcome);
  return n > 0 ? outcome.correct / n : null;
}

function multiclassOf(outcome: PaneOutcome): QualitySummary | null {
  const confusion = outcome.confusion;
  if (confusion === null || confusion.total === 0) return null;
  const entries = confusion.entries();
  const names = new Set<string>();
  for (const [key] of entries) for (const name of key.split('\u0001')) names.add(name);
  // one class only (early in a window, or every label and output the same) is a 1 x 1 summary
  const classes = [...names].sort();
  const index = new Map(classes.map((name, i) => [name, i]));
  const summary = createMulticlassOutcomeSummary(classes.length);
  for (const [key, count] of entries) {
    const [truth, predicted] = key.split('\u0001');
    if (predicted === undefined) continue;
    addMulticlassOutcome(summary, index.get(truth) as number, index.get(predicted) as number, undefined, count);
  }
  return multiclassQuality(summary, classes, false);
}

export function qualityOf(outcome: PaneOutcome): QualitySummary {
  const binary = outcome.binary !== null ? binaryQuality(outcome.binary) : null;
  const multiclass = binary === null || binary.labeled === 0 ? multiclassOf(outcome) : null;
  const summary: QualitySummary = { ...(binary !== null && binary.labeled > 0 ? binary : (multiclass ?? {})), labeled: outcome.joined, accuracy: accuracyOf(outcome) };
  if (outcome.regression !== null) {
    const regression = regressionQuality(outcome.regression);
    summary.mae = regression.mae;
    summary.rmse = regression.rmse;
    summary.mape = regression.mape;
  }
  return summary;
}
