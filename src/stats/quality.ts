/**
 * Model-quality metrics from additive summaries that panes can hold, merge and subtract.
 *
 * Every summary is one Float64Array: a short header of configuration (checked, never added)
 * followed by additive cells. So a pane stores one typed array per model, merging is a loop of
 * additions, sliding windows subtract expired panes, and serialisation is the array's bytes.
 *
 * Binary (score = predicted probability of the positive class, label 0/1):
 *   [bins, threshold | count, tp, fp, tn, fn, logLossSum, brierSum, confidenceSum,
 *    negatives[bins], positives[bins], scoreSums[bins]]
 *   The per-bin arrays are a score histogram per class on equal-width bins over [0, 1]: ROC AUC,
 *   the reliability diagram and ECE come from them. Prediction is positive when score >= threshold.
 * Multiclass (labels are class indexes 0..k-1):
 *   [k | count, logLossSum, confusion[k * k] (row = truth, column = prediction)]
 * Regression: [count, absErrorSum, squaredErrorSum, absPercentErrorSum, nonZeroTruthCount]
 * Prediction scores without labels (for CBPE): [bins, threshold | count, confidenceSum,
 *   histogram[bins], scoreSums[bins]]
 *
 * Definitions follow scikit-learn: precision/recall/F1 are 0 when their denominator is 0
 * (zero_division=0), macro averages run over the classes present in truth or prediction,
 * log-loss clips probabilities to [eps, 1 - eps] with eps = 2^-52; MAPE is a fraction (not %)
 * over the non-zero truths (see addRegressionOutcome for why truths of 0 are skipped).
 *
 * Each kind is a branded (nominal) Float64Array type: the arrays are indistinguishable at run
 * time, so the brand makes the compiler refuse a regression summary where a binary one is
 * expected. A branded array comes only from this module: the create... functions, the copy of a
 * summary (copyOutcomeSummary) and the ...From functions that check a decoded array's layout. The
 * brands are types only: no wrapper object, no extra allocation on the hot path.
 */
import type { QualitySummary } from '../contract/metrics.ts';
import type { LabelledScoreBins } from './calibration.ts';
import { calibrationFromHistogram } from './calibration.ts';
import type { ScoreBins } from './cbpe.ts';
import { estimatePerformance } from './cbpe.ts';

const EPS = 2.220446049250313e-16;

// ---------------------------------------------------------------------------------------------
// Brands (compile time only: these symbols never exist at run time)

declare const binaryOutcomeBrand: unique symbol;
declare const multiclassOutcomeBrand: unique symbol;
declare const regressionOutcomeBrand: unique symbol;
declare const predictionScoreBrand: unique symbol;

/** Any of the four summary kinds. */
export type OutcomeSummary = BinaryOutcomeSummary | MulticlassOutcomeSummary | RegressionOutcomeSummary | PredictionScoreSummary;

/** A copy of a summary, of the same kind (a pane starting from another pane's summary). */
export function copyOutcomeSummary<S extends OutcomeSummary>(summary: S): S {
  return Float64Array.from(summary) as S;
}

function layoutError(kind: string, cells: Float64Array, expected: string): RangeError {
  return new RangeError(`${kind}: ${cells.length} cells do not have the layout ${expected}`);
}

// ---------------------------------------------------------------------------------------------
// Shared additive helpers

function checkSameHeader(where: string, target: Float64Array, source: Float64Array, headerLength: number): void {
  if (target.length !== source.length) {
    throw new RangeError(`${where}: summaries differ in size (${target.length} vs ${source.length})`);
  }
  for (let i = 0; i < headerLength; i++) {
    if (target[i] !== source[i]) {
      throw new RangeError(`${where}: summaries differ in configuration cell ${i} (${target[i]} vs ${source[i]})`);
    }
  }
}

/**
 * What checkSameHeader(where, empty, cells, 2) checks of a binned summary whose header is [bins,
 * threshold] and whose size is `length`, without the empty summary made to compare with.
 */
function checkBinnedLike(where: string, cells: Float64Array, length: number, bins: number, threshold: number): void {
  if (cells.length !== length) throw new RangeError(`${where}: summaries differ in size (${length} vs ${cells.length})`);
  if (cells[0] !== bins) throw new RangeError(`${where}: summaries differ in configuration cell 0 (${bins} vs ${cells[0]})`);
  if (cells[1] !== threshold) throw new RangeError(`${where}: summaries differ in configuration cell 1 (${threshold} vs ${cells[1]})`);
}

function addCells(target: Float64Array, source: Float64Array, from: number, sign: 1 | -1): void {
  for (let i = from; i < target.length; i++) target[i] += sign * source[i];
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? numerator / denominator : null;
}

function clipProbability(p: number): number {
  return p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p;
}

function checkProbability(where: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${where}: score ${p} is not a probability in [0, 1]`);
}

function scoreBin(score: number, bins: number): number {
  const b = Math.floor(score * bins);
  return b >= bins ? bins - 1 : b;
}

// ---------------------------------------------------------------------------------------------
// Binary classification

const BINARY_HEADER = 2;
const B_COUNT = 2;
const B_TP = 3;
const B_FP = 4;
const B_TN = 5;
const B_FN = 6;
const B_LOG_LOSS = 7;
const B_BRIER = 8;
const B_CONFIDENCE = 9;
const B_ARRAYS = 10;

/** Binary outcome summary (see the module comment for the layout). */
export type BinaryOutcomeSummary = Float64Array & { readonly [binaryOutcomeBrand]: true };

export function createBinaryOutcomeSummary(bins = 100, threshold = 0.5): BinaryOutcomeSummary {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`binary outcome summary: bins must be an integer >= 1, got ${bins}`);
  checkProbability('binary outcome summary threshold', threshold);
  const summary = new Float64Array(B_ARRAYS + 3 * bins) as BinaryOutcomeSummary;
  summary[0] = bins;
  summary[1] = threshold;
  return summary;
}

/**
 * The cells of a binary outcome summary (decoded from the wire) as one, after checking that
 * their header and size agree; the array itself is kept, not copied.
 */
export function binaryOutcomeSummaryFrom(cells: Float64Array): BinaryOutcomeSummary {
  const bins = cells[0];
  const ok = Number.isInteger(bins) && bins >= 1 && cells[1] >= 0 && cells[1] <= 1 && cells.length === B_ARRAYS + 3 * bins;
  if (!ok) throw layoutError('binary outcome summary', cells, `[bins, threshold in [0, 1] | ${B_ARRAYS - BINARY_HEADER} sums, 3 * bins histogram cells]`);
  return cells as BinaryOutcomeSummary;
}

/** Folds one labelled prediction in (weight -1 removes it again). */
export function addBinaryOutcome(summary: BinaryOutcomeSummary, score: number, label: boolean | 0 | 1, weight = 1): void {
  checkProbability('addBinaryOutcome', score);
  const bins = summary[0];
  const positive = label === true || label === 1;
  const predictedPositive = score >= summary[1];
  summary[B_COUNT] += weight;
  if (positive) summary[predictedPositive ? B_TP : B_FN] += weight;
  else summary[predictedPositive ? B_FP : B_TN] += weight;
  const p = clipProbability(score);
  summary[B_LOG_LOSS] -= weight * (positive ? Math.log(p) : Math.log(1 - p));
  const error = score - (positive ? 1 : 0);
  summary[B_BRIER] += weight * error * error;
  summary[B_CONFIDENCE] += weight * Math.max(score, 1 - score);
  const b = scoreBin(score, bins);
  summary[B_ARRAYS + (positive ? bins : 0) + b] += weight;
  summary[B_ARRAYS + 2 * bins + b] += weight * score;
}

/**
 * `cells` as a binary outcome summary of `bins` bins and `threshold`: what merging them into
 * createBinaryOutcomeSummary(bins, threshold) checks, without making one (an outcome state decoded
 * by the gateway made one, 2.5 KB, per state: with labels, a partition's outcome state is decoded
 * twice per label, the new one and the one it replaces).
 */
export function binaryOutcomeLike(cells: Float64Array, bins: number, threshold: number): BinaryOutcomeSummary {
  checkBinnedLike('mergeBinaryOutcome', cells, B_ARRAYS + 3 * bins, bins, threshold);
  return cells as BinaryOutcomeSummary;
}

export function mergeBinaryOutcome(target: BinaryOutcomeSummary, source: BinaryOutcomeSummary): void {
  checkSameHeader('mergeBinaryOutcome', target, source, BINARY_HEADER);
  addCells(target, source, BINARY_HEADER, 1);
}

export function subtractBinaryOutcome(target: BinaryOutcomeSummary, source: BinaryOutcomeSummary): void {
  checkSameHeader('subtractBinaryOutcome', target, source, BINARY_HEADER);
  addCells(target, source, BINARY_HEADER, -1);
}

export interface ConfusionCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function binaryConfusion(summary: BinaryOutcomeSummary): ConfusionCounts {
  return { tp: summary[B_TP], fp: summary[B_FP], tn: summary[B_TN], fn: summary[B_FN] };
}

/** Accuracy, precision, recall and F1 of the positive class from confusion counts (sklearn). */
export function classificationFromConfusion(c: ConfusionCounts): {
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
} {
  const total = c.tp + c.fp + c.tn + c.fn;
  if (!(total > 0)) return { accuracy: null, precision: null, recall: null, f1: null };
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  const f1Denominator = 2 * c.tp + c.fp + c.fn;
  return {
    accuracy: (c.tp + c.tn) / total,
    precision,
    recall,
    f1: f1Denominator > 0 ? (2 * c.tp) / f1Denominator : 0,
  };
}

export interface HistogramAuc {
  /** P(score_pos > score_neg) + 1/2 P(same bin): pairs within one bin count as ties. */
  auc: number | null;
  /**
   * |auc - exact AUC of the raw scores| <= errorBound = 1/2 sum_b pos_b neg_b / (P N):
   * only pairs sharing a bin are uncertain, and each such pair contributes 0, 1/2 or 1 exactly
   * but 1/2 here.
   */
  errorBound: number | null;
}

/** ROC AUC from the per-class score histograms (null without both classes). */
export function binaryRocAuc(summary: BinaryOutcomeSummary): HistogramAuc {
  const bins = summary[0];
  const neg = B_ARRAYS;
  const pos = B_ARRAYS + bins;
  let negativesBelow = 0;
  let concordant = 0;
  let sameBin = 0;
  let totalPositive = 0;
  for (let b = 0; b < bins; b++) {
    const p = summary[pos + b];
    const n = summary[neg + b];
    concordant += p * negativesBelow;
    sameBin += p * n;
    negativesBelow += n;
    totalPositive += p;
  }
  const pairs = totalPositive * negativesBelow;
  if (!(pairs > 0)) return { auc: null, errorBound: null };
  return { auc: (concordant + 0.5 * sameBin) / pairs, errorBound: (0.5 * sameBin) / pairs };
}

export interface ReliabilityBin {
  /** Lower and upper edge of the predicted-probability bin. */
  from: number;
  to: number;
  count: number;
  meanPredicted: number | null;
  observedRate: number | null;
}

/** Reliability diagram on `bins` equal-width bins (must divide the summary's bin count). */
export function reliabilityDiagram(summary: BinaryOutcomeSummary, bins = 10): ReliabilityBin[] {
  const fine = summary[0];
  if (!Number.isInteger(bins) || bins < 1 || fine % bins !== 0) {
    throw new RangeError(`reliabilityDiagram: ${bins} bins must divide the summary's ${fine} score bins`);
  }
  const group = fine / bins;
  const out: ReliabilityBin[] = [];
  for (let c = 0; c < bins; c++) {
    let count = 0;
    let positives = 0;
    let scoreSum = 0;
    for (let f = c * group; f < (c + 1) * group; f++) {
      const n = summary[B_ARRAYS + f];
      const p = summary[B_ARRAYS + fine + f];
      count += n + p;
      positives += p;
      scoreSum += summary[B_ARRAYS + 2 * fine + f];
    }
    out.push({ from: c / bins, to: (c + 1) / bins, count, meanPredicted: ratio(scoreSum, count), observedRate: ratio(positives, count) });
  }
  return out;
}

/** Expected calibration error: sum_b (n_b / N) |mean predicted_b - observed rate_b|. */
export function expectedCalibrationError(summary: BinaryOutcomeSummary, bins = 10): number | null {
  const diagram = reliabilityDiagram(summary, bins);
  let total = 0;
  let weighted = 0;
  for (const bin of diagram) {
    if (bin.count > 0) {
      total += bin.count;
      weighted += bin.count * Math.abs((bin.meanPredicted as number) - (bin.observedRate as number));
    }
  }
  return total > 0 ? weighted / total : null;
}

export interface BinaryQuality extends QualitySummary {
  aucErrorBound: number | null;
  ece: number | null;
  /** Mean of max(p, 1 - p) over the labelled predictions (what CBPE would have estimated). */
  expectedAccuracy: number | null;
}

/** Every binary metric as a QualitySummary (classes ['0', '1'] unless names are given). */
export function binaryQuality(summary: BinaryOutcomeSummary, classNames: [string, string] = ['0', '1']): BinaryQuality {
  const count = summary[B_COUNT];
  const confusion = binaryConfusion(summary);
  const metrics = classificationFromConfusion(confusion);
  const auc = binaryRocAuc(summary);
  return {
    labeled: count,
    accuracy: metrics.accuracy,
    precision: metrics.precision,
    recall: metrics.recall,
    f1: metrics.f1,
    auc: auc.auc,
    aucErrorBound: auc.errorBound,
    logLoss: ratio(summary[B_LOG_LOSS], count),
    brier: ratio(summary[B_BRIER], count),
    ece: count > 0 && summary[0] % 10 === 0 ? expectedCalibrationError(summary, 10) : null,
    expectedAccuracy: ratio(summary[B_CONFIDENCE], count),
    confusion: {
      classes: [...classNames],
      matrix: [
        [confusion.tn, confusion.fp],
        [confusion.fn, confusion.tp],
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Multiclass classification

const MULTICLASS_HEADER = 1;
const M_COUNT = 1;
const M_LOG_LOSS = 2;
const M_CONFUSION = 3;

/** Multiclass outcome summary (see the module comment for the layout). */
export type MulticlassOutcomeSummary = Float64Array & { readonly [multiclassOutcomeBrand]: true };

/**
 * An empty summary of `classes` classes. One class is allowed: a window whose labels and outputs
 * have all been one class so far (every graded prediction right).
 */
export function createMulticlassOutcomeSummary(classes: number): MulticlassOutcomeSummary {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`multiclass outcome summary: classes must be an integer >= 1, got ${classes}`);
  }
  const summary = new Float64Array(M_CONFUSION + classes * classes) as MulticlassOutcomeSummary;
  summary[0] = classes;
  return summary;
}

/** The cells of a multiclass outcome summary as one, after checking the layout (not copied). */
export function multiclassOutcomeSummaryFrom(cells: Float64Array): MulticlassOutcomeSummary {
  const k = cells[0];
  const ok = Number.isInteger(k) && k >= 1 && cells.length === M_CONFUSION + k * k;
  if (!ok) throw layoutError('multiclass outcome summary', cells, '[classes k >= 1 | count, logLossSum, k * k confusion cells]');
  return cells as MulticlassOutcomeSummary;
}

/**
 * Folds one labelled prediction in. `probabilityOfTruth` (the predicted probability of the
 * true class) feeds log-loss; omit it when the model gives no probabilities.
 */
export function addMulticlassOutcome(
  summary: MulticlassOutcomeSummary,
  truth: number,
  predicted: number,
  probabilityOfTruth?: number,
  weight = 1,
): void {
  const k = summary[0];
  if (!(Number.isInteger(truth) && truth >= 0 && truth < k)) throw new RangeError(`addMulticlassOutcome: truth ${truth} is not a class index in [0, ${k})`);
  if (!(Number.isInteger(predicted) && predicted >= 0 && predicted < k)) throw new RangeError(`addMulticlassOutcome: predicted ${predicted} is not a class index in [0, ${k})`);
  summary[M_COUNT] += weight;
  summary[M_CONFUSION + truth * k + predicted] += weight;
  if (probabilityOfTruth !== undefined) {
    checkProbability('addMulticlassOutcome', probabilityOfTruth);
    summary[M_LOG_LOSS] -= weight * Math.log(clipProbability(probabilityOfTruth));
  }
}

export function mergeMulticlassOutcome(target: MulticlassOutcomeSummary, source: MulticlassOutcomeSummary): void {
  checkSameHeader('mergeMulticlassOutcome', target, source, MULTICLASS_HEADER);
  addCells(target, source, MULTICLASS_HEADER, 1);
}

export function subtractMulticlassOutcome(target: MulticlassOutcomeSummary, source: MulticlassOutcomeSummary): void {
  checkSameHeader('subtractMulticlassOutcome', target, source, MULTICLASS_HEADER);
  addCells(target, source, MULTICLASS_HEADER, -1);
}

/**
 * Accuracy and macro precision/recall/F1 (sklearn average='macro', zero_division=0, over the
 * classes that occur as truth or prediction); log-loss only if every outcome carried a
 * probability (pass `withLogLoss` = false otherwise). `classes` names the k indexes.
 */
export function multiclassQuality(summary: MulticlassOutcomeSummary, classes: readonly string[], withLogLoss = true): QualitySummary {
  const k = summary[0];
  if (classes.length !== k) throw new RangeError(`multiclassQuality: ${classes.length} class names for ${k} classes`);
  const count = summary[M_COUNT];
  const matrix: number[][] = [];
  let correct = 0;
  let precisionSum = 0;
  let recallSum = 0;
  let f1Sum = 0;
  let present = 0;
  for (let t = 0; t < k; t++) matrix.push(Array.from(summary.subarray(M_CONFUSION + t * k, M_CONFUSION + (t + 1) * k)));
  for (let c = 0; c < k; c++) {
    const tp = matrix[c][c];
    let support = 0;
    let predicted = 0;
    for (let o = 0; o < k; o++) {
      support += matrix[c][o];
      predicted += matrix[o][c];
    }
    correct += tp;
    if (support === 0 && predicted === 0) continue;
    present++;
    precisionSum += predicted > 0 ? tp / predicted : 0;
    recallSum += support > 0 ? tp / support : 0;
    f1Sum += support + predicted > 0 ? (2 * tp) / (support + predicted) : 0;
  }
  return {
    labeled: count,
    accuracy: ratio(correct, count),
    precision: present > 0 ? precisionSum / present : null,
    recall: present > 0 ? recallSum / present : null,
    f1: present > 0 ? f1Sum / present : null,
    logLoss: withLogLoss ? ratio(summary[M_LOG_LOSS], count) : null,
    confusion: { classes: [...classes], matrix },
  };
}

// ---------------------------------------------------------------------------------------------
// Regression

const REGRESSION_CELLS = 5;

/** [count, absErrorSum, squaredErrorSum, absPercentErrorSum, nonZeroTruthCount] */
export type RegressionOutcomeSummary = Float64Array & { readonly [regressionOutcomeBrand]: true };

export function createRegressionOutcomeSummary(): RegressionOutcomeSummary {
  return new Float64Array(REGRESSION_CELLS) as RegressionOutcomeSummary;
}

/** The cells of a regression outcome summary as one, after checking the layout (not copied). */
export function regressionOutcomeSummaryFrom(cells: Float64Array): RegressionOutcomeSummary {
  if (cells.length !== REGRESSION_CELLS) throw layoutError('regression outcome summary', cells, '[count, absErrorSum, squaredErrorSum, absPercentErrorSum, nonZeroTruthCount]');
  return cells as RegressionOutcomeSummary;
}

/**
 * Folds one (truth, prediction) pair in. MAPE deliberately skips truths of 0: sklearn divides
 * by eps there (a 1e15-sized term that swamps the metric and, in a running sum, destroys the
 * precision of every other term and of pane subtraction); here MAPE is the mean over the
 * non-zero truths, which equals sklearn's whenever no truth is 0.
 */
export function addRegressionOutcome(summary: RegressionOutcomeSummary, truth: number, predicted: number, weight = 1): void {
  if (!Number.isFinite(truth) || !Number.isFinite(predicted)) {
    throw new RangeError(`addRegressionOutcome: truth ${truth} and prediction ${predicted} must be finite`);
  }
  const error = Math.abs(truth - predicted);
  summary[0] += weight;
  summary[1] += weight * error;
  summary[2] += weight * error * error;
  if (truth !== 0) {
    summary[3] += (weight * error) / Math.abs(truth);
    summary[4] += weight;
  }
}

export function mergeRegressionOutcome(target: RegressionOutcomeSummary, source: RegressionOutcomeSummary): void {
  checkSameHeader('mergeRegressionOutcome', target, source, 0);
  addCells(target, source, 0, 1);
}

export function subtractRegressionOutcome(target: RegressionOutcomeSummary, source: RegressionOutcomeSummary): void {
  checkSameHeader('subtractRegressionOutcome', target, source, 0);
  addCells(target, source, 0, -1);
}

/** MAE, RMSE and MAPE (a fraction, over non-zero truths) of the summarised pairs. */
export function regressionQuality(summary: RegressionOutcomeSummary): QualitySummary {
  const count = summary[0];
  const mse = ratio(summary[2], count);
  return {
    labeled: count,
    accuracy: null,
    mae: ratio(summary[1], count),
    // Subtracting panes can leave -1e-12 of rounding in a sum that should be 0.
    rmse: mse === null ? null : Math.sqrt(Math.max(0, mse)),
    mape: ratio(summary[3], summary[4]),
  };
}

// ---------------------------------------------------------------------------------------------
// Confidence-based performance estimation (CBPE) from unlabelled prediction scores

const SCORES_HEADER = 2;
const S_COUNT = 2;
const S_CONFIDENCE = 3;
const S_ARRAYS = 4;

/** Unlabelled binary prediction scores (see the module comment for the layout). */
export type PredictionScoreSummary = Float64Array & { readonly [predictionScoreBrand]: true };

export function createPredictionScoreSummary(bins = 100, threshold = 0.5): PredictionScoreSummary {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`prediction score summary: bins must be an integer >= 1, got ${bins}`);
  checkProbability('prediction score summary threshold', threshold);
  const summary = new Float64Array(S_ARRAYS + 2 * bins) as PredictionScoreSummary;
  summary[0] = bins;
  summary[1] = threshold;
  return summary;
}

/** The cells of a prediction score summary as one, after checking the layout (not copied). */
export function predictionScoreSummaryFrom(cells: Float64Array): PredictionScoreSummary {
  const bins = cells[0];
  const ok = Number.isInteger(bins) && bins >= 1 && cells[1] >= 0 && cells[1] <= 1 && cells.length === S_ARRAYS + 2 * bins;
  if (!ok) throw layoutError('prediction score summary', cells, '[bins, threshold in [0, 1] | count, confidenceSum, 2 * bins histogram cells]');
  return cells as PredictionScoreSummary;
}

export function addPredictionScore(summary: PredictionScoreSummary, score: number, weight = 1): void {
  checkProbability('addPredictionScore', score);
  const bins = summary[0];
  const b = scoreBin(score, bins);
  summary[S_COUNT] += weight;
  summary[S_CONFIDENCE] += weight * Math.max(score, 1 - score);
  summary[S_ARRAYS + b] += weight;
  summary[S_ARRAYS + bins + b] += weight * score;
}

export function mergePredictionScores(target: PredictionScoreSummary, source: PredictionScoreSummary): void {
  checkSameHeader('mergePredictionScores', target, source, SCORES_HEADER);
  addCells(target, source, SCORES_HEADER, 1);
}

/**
 * `cells` as a prediction score summary of `bins` bins and `threshold`: what merging them into
 * createPredictionScoreSummary(bins, threshold) checks, without making one (a pane state decoded
 * by the gateway made one per state, ~1 % of its pane apply).
 */
export function predictionScoresLike(cells: Float64Array, bins: number, threshold: number): PredictionScoreSummary {
  checkBinnedLike('mergePredictionScores', cells, S_ARRAYS + 2 * bins, bins, threshold);
  return cells as PredictionScoreSummary;
}

export function subtractPredictionScores(target: PredictionScoreSummary, source: PredictionScoreSummary): void {
  checkSameHeader('subtractPredictionScores', target, source, SCORES_HEADER);
  addCells(target, source, SCORES_HEADER, -1);
}

/** A score summary's bins for CBPE (src/stats/cbpe.ts): views, not copies. */
export function predictionScoreBins(scores: PredictionScoreSummary): ScoreBins {
  const bins = scores[0];
  return { threshold: scores[1], counts: scores.subarray(S_ARRAYS, S_ARRAYS + bins), scoreSums: scores.subarray(S_ARRAYS + bins, S_ARRAYS + 2 * bins) };
}

/** A binary outcome summary's per-class score histogram, for fitting a calibration map (views). */
export function binaryScoreBins(summary: BinaryOutcomeSummary): LabelledScoreBins {
  const bins = summary[0];
  return {
    negatives: summary.subarray(B_ARRAYS, B_ARRAYS + bins),
    positives: summary.subarray(B_ARRAYS + bins, B_ARRAYS + 2 * bins),
    scoreSums: summary.subarray(B_ARRAYS + 2 * bins, B_ARRAYS + 3 * bins),
  };
}

/**
 * CBPE-estimated accuracy of unlabelled predictions.
 * Without a calibration reference the scores are taken as calibrated: the expected accuracy is
 * the mean of max(p, 1 - p) (exact, from sums; assumes threshold 0.5).
 * With `calibration` (a BinaryOutcomeSummary of labelled reference data with the same bins and
 * threshold), the scores go through the isotonic calibration fitted on its histogram
 * (src/stats/calibration.ts) and the accuracy is estimated as src/stats/cbpe.ts does.
 */
export function estimatedAccuracy(scores: PredictionScoreSummary, calibration?: BinaryOutcomeSummary): number | null {
  const count = scores[S_COUNT];
  if (!(count > 0)) return null;
  if (calibration === undefined) return scores[S_CONFIDENCE] / count;
  if (calibration[0] !== scores[0] || calibration[1] !== scores[1]) {
    throw new RangeError(
      `estimatedAccuracy: calibration has ${calibration[0]} bins / threshold ${calibration[1]}, scores have ${scores[0]} / ${scores[1]}`,
    );
  }
  return estimatePerformance(predictionScoreBins(scores), calibrationFromHistogram(binaryScoreBins(calibration))).accuracy;
}
