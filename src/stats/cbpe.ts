/**
 * Confidence-based performance estimation (CBPE, as NannyML): the performance of a binary
 * classifier on unlabelled predictions, from calibrated probabilities.
 *
 * If p is the calibrated probability that a prediction's label is 1, a positive prediction is a
 * true positive with probability p and a false positive with 1 - p; a negative one is a false
 * negative with p and a true negative with 1 - p. Summing these expected confusion counts
 * gives estimated accuracy, precision, recall and F1 (NannyML's estimate_* functions); the
 * estimated ROC AUC walks the predictions from the highest raw score down, adding p to the
 * true-positive and 1 - p to the false-positive count, and integrates the curve (trapezoids).
 *
 * A window holds its scores as a histogram (count and score sum per equal-width bin), not one by
 * one: each bin counts as its count of predictions at its mean score. The accuracy, precision,
 * recall and F1 estimates are exact when the map is linear within each bin and the threshold
 * is a bin edge (0.5 with 100 bins); the AUC's ROC curve is a straight line across a bin.
 */
import type { IsotonicCalibration } from './calibration.ts';
import { calibrate } from './calibration.ts';

/** Unlabelled scores on equal-width bins over [0, 1]: count and score sum per bin. */
export interface ScoreBins {
  threshold: number;
  counts: ArrayLike<number>;
  scoreSums: ArrayLike<number>;
}

export interface EstimatedPerformance {
  /** Predictions the estimate covers. */
  count: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  auc: number | null;
  /** Whether the probabilities went through a reference's calibration map (else the raw scores). */
  calibrated: boolean;
}

/**
 * CBPE estimates of a window's scores. Without a calibration map the scores are taken as
 * calibrated probabilities (NannyML's no-op calibrator, used when calibration does not help).
 */
export function estimatePerformance(bins: ScoreBins, calibration: IsotonicCalibration | null): EstimatedPerformance {
  const n = bins.counts.length;
  let count = 0;
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let b = 0; b < n; b++) {
    const c = bins.counts[b];
    if (!(c > 0)) continue;
    const meanScore = bins.scoreSums[b] / c;
    const p = calibration === null ? meanScore : calibrate(calibration, meanScore);
    count += c;
    if (meanScore >= bins.threshold) {
      tp += c * p;
      fp += c * (1 - p);
    } else {
      fn += c * p;
      tn += c * (1 - p);
    }
  }
  if (!(count > 0)) return { count: 0, accuracy: null, precision: null, recall: null, f1: null, auc: null, calibrated: calibration !== null };
  // NannyML's zero-division convention: a metric with an empty denominator is 0.
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1Denominator = tp + 0.5 * (fp + fn);
  return {
    count,
    accuracy: (tp + tn) / count,
    precision,
    recall,
    f1: f1Denominator > 0 ? tp / f1Denominator : 0,
    auc: estimatedRocAuc(bins, calibration),
    calibrated: calibration !== null,
  };
}

/**
 * Estimated ROC AUC: expected positives and negatives accumulated from the top score bin down.
 * Each bin's probability is found twice (once for the totals, once for the curve) rather than kept
 * in two arrays per call: those were made at every metrics build of every model.
 */
function estimatedRocAuc(bins: ScoreBins, calibration: IsotonicCalibration | null): number | null {
  const n = bins.counts.length;
  const positiveShare = (b: number): number => {
    const meanScore = bins.scoreSums[b] / bins.counts[b];
    return calibration === null ? meanScore : calibrate(calibration, meanScore);
  };
  let totalPositive = 0;
  let totalNegative = 0;
  for (let b = 0; b < n; b++) {
    const c = bins.counts[b];
    if (!(c > 0)) continue;
    const p = positiveShare(b);
    totalPositive += c * p;
    totalNegative += c * (1 - p);
  }
  if (!(totalPositive > 0 && totalNegative > 0)) return null;
  let area = 0;
  let tprBefore = 0;
  let fprBefore = 0;
  let tpSum = 0;
  let fpSum = 0;
  for (let b = n - 1; b >= 0; b--) {
    const c = bins.counts[b];
    if (!(c > 0)) continue;
    const p = positiveShare(b);
    tpSum += c * p;
    fpSum += c * (1 - p);
    const tpr = tpSum / totalPositive;
    const fpr = fpSum / totalNegative;
    area += ((fpr - fprBefore) * (tpr + tprBefore)) / 2;
    tprBefore = tpr;
    fprBefore = fpr;
  }
  return area;
}
