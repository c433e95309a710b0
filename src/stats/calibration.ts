/**
 * Isotonic calibration of binary prediction scores (what NannyML's CBPE fits on its reference).
 *
 * A model's score is calibrated when P(label = 1 | score = p) = p. Most models are not: they are
 * over- or under-confident, or biased. Given labelled reference data, the isotonic regression of
 * the labels on the scores (the best non-decreasing step function in weighted least squares,
 * found by pool-adjacent-violators) maps a score to the positive rate observed around it. CBPE
 * (src/stats/cbpe.ts) then estimates accuracy and friends from calibrated probabilities.
 *
 * The fit follows scikit-learn's IsotonicRegression(increasing=True, out_of_bounds='clip'):
 * points are sorted by score, equal scores pooled (weighted mean label, summed weight), PAV
 * pools adjacent violators (equal means included), interior points whose value equals both
 * neighbours' are dropped, and prediction interpolates linearly between the kept points,
 * clipping outside them. test/golden/cbpe-cases.json holds sklearn's fits to hold it to.
 */

/** A fitted calibration map: ascending scores `x` and their calibrated probabilities `y`. */
export interface IsotonicCalibration {
  x: number[];
  y: number[];
}

/** One weighted observation: a score and the label (0/1) or observed positive rate at it. */
export interface CalibrationPoint {
  score: number;
  rate: number;
  weight: number;
}

/** Scores closer than this are one score (numpy's float64 resolution, as sklearn's _make_unique). */
const SAME_SCORE = 1e-15;

/** Weighted isotonic (non-decreasing) regression by pool-adjacent-violators. Points need not be sorted. */
export function fitIsotonic(points: readonly CalibrationPoint[]): IsotonicCalibration | null {
  const sorted = points.filter((p) => p.weight > 0 && Number.isFinite(p.score) && Number.isFinite(p.rate)).sort((a, b) => a.score - b.score || a.rate - b.rate);
  if (sorted.length === 0) return null;

  // Pool equal scores: PAV runs on distinct x.
  const xs: number[] = [];
  const sums: number[] = [];
  const weights: number[] = [];
  for (const p of sorted) {
    const last = xs.length - 1;
    if (last >= 0 && p.score - xs[last] < SAME_SCORE) {
      sums[last] += p.weight * p.rate;
      weights[last] += p.weight;
    } else {
      xs.push(p.score);
      sums.push(p.weight * p.rate);
      weights.push(p.weight);
    }
  }

  // Pool adjacent violators: a stack of blocks (weighted sum, weight, first index).
  const blockSum: number[] = [];
  const blockWeight: number[] = [];
  const blockStart: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    blockSum.push(sums[i]);
    blockWeight.push(weights[i]);
    blockStart.push(i);
    while (blockSum.length > 1) {
      const top = blockSum.length - 1;
      if (blockSum[top - 1] / blockWeight[top - 1] < blockSum[top] / blockWeight[top]) break;
      blockSum[top - 1] += blockSum[top];
      blockWeight[top - 1] += blockWeight[top];
      blockSum.pop();
      blockWeight.pop();
      blockStart.pop();
    }
  }
  const fitted = new Array<number>(xs.length);
  for (let b = 0; b < blockStart.length; b++) {
    const end = b + 1 < blockStart.length ? blockStart[b + 1] : xs.length;
    const mean = blockSum[b] / blockWeight[b];
    for (let i = blockStart[b]; i < end; i++) fitted[i] = mean;
  }

  // Keep the ends of each flat run only: interpolation between them gives the same map.
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const interior = i > 0 && i < xs.length - 1;
    if (interior && fitted[i] === fitted[i - 1] && fitted[i] === fitted[i + 1]) continue;
    x.push(xs[i]);
    y.push(fitted[i]);
  }
  return { x, y };
}

/** The calibrated probability of a score: linear between the map's points, clipped outside them. */
export function calibrate(map: IsotonicCalibration, score: number): number {
  const { x, y } = map;
  const last = x.length - 1;
  if (score <= x[0]) return y[0];
  if (score >= x[last]) return y[last];
  // binary search for x[lo] <= score < x[lo + 1]
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid] <= score) lo = mid;
    else hi = mid;
  }
  const t = (score - x[lo]) / (x[hi] - x[lo]);
  return y[lo] + t * (y[hi] - y[lo]);
}

/** A calibration map is well formed: equal-length finite arrays, x strictly and y weakly ascending, y in [0, 1]. */
export function isIsotonicCalibration(value: unknown): value is IsotonicCalibration {
  if (typeof value !== 'object' || value === null) return false;
  const { x, y } = value as { x?: unknown; y?: unknown };
  if (!Array.isArray(x) || !Array.isArray(y) || x.length === 0 || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    if (typeof x[i] !== 'number' || typeof y[i] !== 'number' || !Number.isFinite(x[i]) || !(y[i] >= 0 && y[i] <= 1)) return false;
    if (i > 0 && !(x[i] > x[i - 1] && y[i] >= y[i - 1])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Fitting from what a reference holds

/** Labelled score histogram: counts per class and score sums on equal-width bins (quality.ts binary layout). */
export interface LabelledScoreBins {
  negatives: ArrayLike<number>;
  positives: ArrayLike<number>;
  scoreSums: ArrayLike<number>;
}

/**
 * Isotonic fit on a labelled score histogram (a window-captured reference): one point per bin at
 * its mean score, weighted by its count, at its observed positive rate. Within a bin the labels
 * are pooled before PAV instead of by it: the map differs from a fit on the raw pairs by at most
 * the bin width (0.01 with 100 bins) in score.
 */
export function calibrationFromHistogram(bins: LabelledScoreBins): IsotonicCalibration | null {
  const points: CalibrationPoint[] = [];
  for (let b = 0; b < bins.negatives.length; b++) {
    const count = bins.negatives[b] + bins.positives[b];
    if (count > 0) points.push({ score: bins.scoreSums[b] / count, rate: bins.positives[b] / count, weight: count });
  }
  return hasBothClasses(points) ? fitIsotonic(points) : null;
}

/** Isotonic fit on raw (score, label) pairs (a reference file with a label column), if calibration helps. */
export function calibrationFromPairs(scores: readonly number[], labels: readonly (0 | 1)[]): IsotonicCalibration | null {
  if (scores.length !== labels.length) throw new RangeError(`calibrationFromPairs: ${scores.length} scores for ${labels.length} labels`);
  const points = scores.map((score, i) => ({ score, rate: labels[i], weight: 1 }));
  if (!hasBothClasses(points) || !needsCalibration(scores, labels)) return null;
  return fitIsotonic(points);
}

function hasBothClasses(points: readonly CalibrationPoint[]): boolean {
  let positive = 0;
  let negative = 0;
  for (const p of points) {
    positive += p.weight * p.rate;
    negative += p.weight * (1 - p.rate);
  }
  return positive > 0 && negative > 0;
}

// ---------------------------------------------------------------------------------------------
// Whether calibration helps (NannyML's needs_calibration)

/** Exact ROC AUC of raw scores (Mann–Whitney, ties count 1/2). */
export function exactRocAuc(scores: readonly number[], labels: readonly (0 | 1)[]): number | null {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let negativesBelow = 0;
  let concordant = 0;
  let positives = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    let tiePositives = 0;
    let tieNegatives = 0;
    while (j < order.length && scores[order[j]] === scores[order[i]]) {
      if (labels[order[j]] === 1) tiePositives++;
      else tieNegatives++;
      j++;
    }
    concordant += tiePositives * (negativesBelow + 0.5 * tieNegatives);
    negativesBelow += tieNegatives;
    positives += tiePositives;
    i = j;
  }
  const pairs = positives * negativesBelow;
  return pairs > 0 ? concordant / pairs : null;
}

/** ECE on equal-count bins of the sorted predictions (NannyML's _calculate_expected_calibration_error). */
function equalCountEce(probabilities: readonly number[], labels: readonly (0 | 1)[], binCount: number): number {
  const n = probabilities.length;
  const order = probabilities.map((_, i) => i).sort((a, b) => probabilities[a] - probabilities[b]);
  const bins = n <= 2 * binCount ? Math.floor(n / 2) : binCount;
  const width = Math.floor(n / bins);
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const from = b * width;
    const to = b === bins - 1 ? n : from + width;
    let predicted = 0;
    let observed = 0;
    for (let k = from; k < to; k++) {
      predicted += probabilities[order[k]];
      observed += labels[order[k]];
    }
    ece += Math.abs(predicted - observed) / n;
  }
  return ece;
}

/**
 * NannyML calibrates only when it helps: not with one class, not when the scores already
 * separate the classes (AUC > 0.999), and only if isotonic calibration fitted on 9/10 of the
 * reference lowers the ECE (10 equal-count bins) of the held-out tenths. NannyML draws ten
 * stratified random 10% test sets; here the ten folds are a fixed interleaving of a seeded
 * permutation, so a reference always gets the same answer.
 */
export function needsCalibration(scores: readonly number[], labels: readonly (0 | 1)[], folds = 10): boolean {
  const n = scores.length;
  const auc = exactRocAuc(scores, labels);
  if (auc === null || auc > 0.999 || n < 2 * folds) return false;
  const permutation = seededPermutation(n, 0x5eed);
  const heldOutScores: number[] = [];
  const heldOutCalibrated: number[] = [];
  const heldOutLabels: (0 | 1)[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const train: CalibrationPoint[] = [];
    const test: number[] = [];
    for (let k = 0; k < n; k++) {
      const i = permutation[k];
      if (k % folds === fold) test.push(i);
      else train.push({ score: scores[i], rate: labels[i], weight: 1 });
    }
    const map = fitIsotonic(train);
    for (const i of test) {
      heldOutScores.push(scores[i]);
      heldOutCalibrated.push(map === null ? scores[i] : calibrate(map, scores[i]));
      heldOutLabels.push(labels[i]);
    }
  }
  return equalCountEce(heldOutScores, heldOutLabels, 10) > equalCountEce(heldOutCalibrated, heldOutLabels, 10);
}

/** Fisher–Yates with a local mulberry32 stream: deterministic, no shared state. */
function seededPermutation(n: number, seed: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const swap = out[i];
    out[i] = out[j];
    out[j] = swap;
  }
  return out;
}
