import type { PaneOutcome } from './pane.ts';
import { SCORE_BINS, BINARY_TP, BINARY_FP, BINARY_TN, BINARY_FN, BINARY_LOGLOSS, BINARY_BRIER, BINARY_N, BINARY_HEADER } from './pane.ts';
import type { QualitySummary } from './metrics-types.ts';

/** Labels that decide correctness (classification): binary outcomes plus multiclass confusion. */
function classified(outcome: PaneOutcome): number {
  return (outcome.binary ? outcome.binary[BINARY_N] : 0) + (outcome.confusion ? outcome.confusion.total : 0);
}

export function accuracyOf(outcome: PaneOutcome): number | null {
  const n = classified(outcome);
  return n > 0 ? outcome.correct / n : null;
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? numerator / denominator : null;
}

/**
 * ROC AUC from per-class score histograms: the probability that a random positive scores above a
 * random negative, ties (same bin) counting one half. Exact up to the bin width: pairs whose
 * scores fall in one bin are counted as ties, so the error is at most half the share of such
 * pairs (0 when no positive and negative share a bin).
 */
export function aucFromHistograms(binary: Float64Array): number | null {
  const positives = binary.subarray(BINARY_HEADER, BINARY_HEADER + SCORE_BINS);
  const negatives = binary.subarray(BINARY_HEADER + SCORE_BINS, BINARY_HEADER + 2 * SCORE_BINS);
  let totalPos = 0;
  let totalNeg = 0;
  for (let i = 0; i < SCORE_BINS; i++) {
    totalPos += positives[i];
    totalNeg += negatives[i];
  }
  if (totalPos === 0 || totalNeg === 0) return null;
  let negativesBelow = 0;
  let wins = 0;
  for (let i = 0; i < SCORE_BINS; i++) {
    wins += positives[i] * (negativesBelow + negatives[i] / 2);
    negativesBelow += negatives[i];
  }
  return wins / (totalPos * totalNeg);
}

export function qualityOf(outcome: PaneOutcome): QualitySummary {
  const summary: QualitySummary = { labeled: outcome.joined, accuracy: accuracyOf(outcome) };
  const binary = outcome.binary;
  if (binary !== null && binary[BINARY_N] > 0) {
    const tp = binary[BINARY_TP];
    const fp = binary[BINARY_FP];
    const tn = binary[BINARY_TN];
    const fn = binary[BINARY_FN];
    const precision = ratio(tp, tp + fp);
    const recall = ratio(tp, tp + fn);
    summary.precision = precision;
    summary.recall = recall;
    summary.f1 = precision !== null && recall !== null && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : null;
    summary.auc = aucFromHistograms(binary);
    summary.logLoss = binary[BINARY_LOGLOSS] / binary[BINARY_N];
    summary.brier = binary[BINARY_BRIER] / binary[BINARY_N];
    summary.confusion = { classes: ['0', '1'], matrix: [[tn, fp], [fn, tp]] };
  }
  const regression = outcome.regression;
  if (regression !== null && regression[0] > 0) {
    summary.mae = regression[1] / regression[0];
    summary.rmse = Math.sqrt(regression[2] / regression[0]);
    summary.mape = regression[4] > 0 ? regression[3] / regression[4] : null;
  }
  const confusion = outcome.confusion;
  if (confusion !== null && confusion.total > 0) {
    const entries = confusion.entries();
    const classes = new Set<string>();
    for (const [key] of entries) for (const name of key.split('\u0001')) classes.add(name);
    const ordered = [...classes].sort();
    const index = new Map(ordered.map((name, i) => [name, i]));
    const matrix = ordered.map(() => ordered.map(() => 0));
    let f1Sum = 0;
    for (const [key, count] of entries) {
      const [truth, predicted] = key.split('\u0001');
      if (predicted === undefined) continue;
      matrix[index.get(truth) as number][index.get(predicted) as number] += count;
    }
    for (let c = 0; c < ordered.length; c++) {
      let column = 0;
      let row = 0;
      for (let k = 0; k < ordered.length; k++) {
        column += matrix[k][c];
        row += matrix[c][k];
      }
      const p = column > 0 ? matrix[c][c] / column : 0;
      const r = row > 0 ? matrix[c][c] / row : 0;
      f1Sum += p + r > 0 ? (2 * p * r) / (p + r) : 0;
    }
    if (summary.confusion === undefined) {
      summary.confusion = { classes: ordered, matrix };
      summary.f1 = ordered.length > 0 ? f1Sum / ordered.length : null;
    }
  }
  return summary;
}
