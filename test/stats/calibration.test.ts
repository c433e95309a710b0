import { describe, expect, it } from 'vitest';
import { calibrate, calibrationFromHistogram, calibrationFromPairs, exactRocAuc, fitIsotonic, isIsotonicCalibration } from '../../src/stats/calibration.ts';
import { estimatePerformance } from '../../src/stats/cbpe.ts';
import { addBinaryOutcome, addPredictionScore, binaryScoreBins, createBinaryOutcomeSummary, createPredictionScoreSummary, predictionScoreBins } from '../../src/stats/quality.ts';
import { mulberry32 } from '../../src/simulator/random.ts';

describe('fitIsotonic', () => {
  it('pools a violating pair into its weighted mean and leaves monotone data alone', () => {
    const map = fitIsotonic([
      { score: 0.1, rate: 0.2, weight: 1 },
      { score: 0.2, rate: 0.8, weight: 1 },
      { score: 0.3, rate: 0.4, weight: 3 },
      { score: 0.4, rate: 0.9, weight: 1 },
    ]);
    // 0.8 (w 1) and 0.4 (w 3) violate: pooled to (0.8 + 1.2) / 4 = 0.5
    expect(map?.x).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(map?.y.map((v) => +v.toFixed(12))).toEqual([0.2, 0.5, 0.5, 0.9]);
  });

  it('is non-decreasing on random labels, and interpolation stays between neighbours', () => {
    const random = mulberry32(3);
    const points = Array.from({ length: 500 }, () => {
      const score = random();
      return { score, rate: random() < score ? 1 : 0, weight: 1 };
    });
    const map = fitIsotonic(points);
    expect(map).not.toBeNull();
    if (map === null) return;
    expect(isIsotonicCalibration(map)).toBe(true);
    let before = -Infinity;
    for (let s = 0; s <= 1; s += 0.001) {
      const p = calibrate(map, s);
      expect(p).toBeGreaterThanOrEqual(before);
      before = p;
    }
    // clipped outside the fitted range
    expect(calibrate(map, -1)).toBe(map.y[0]);
    expect(calibrate(map, 2)).toBe(map.y[map.y.length - 1]);
  });

  it('returns null without any weighted point', () => {
    expect(fitIsotonic([])).toBeNull();
    expect(fitIsotonic([{ score: 0.5, rate: 1, weight: 0 }])).toBeNull();
  });
});

describe('calibration from references', () => {
  const draw = (seed: number, n: number, truth: (score: number) => number) => {
    const random = mulberry32(seed);
    const scores: number[] = [];
    const labels: (0 | 1)[] = [];
    for (let i = 0; i < n; i++) {
      const s = random();
      scores.push(s);
      labels.push(random() < truth(s) ? 1 : 0);
    }
    return { scores, labels };
  };

  it('a labelled histogram and the raw pairs it summarises give nearly the same map', () => {
    const { scores, labels } = draw(5, 20000, (s) => s * s);
    const histogram = createBinaryOutcomeSummary(100, 0.5);
    scores.forEach((s, i) => addBinaryOutcome(histogram, s, labels[i]));
    const fromHistogram = calibrationFromHistogram(binaryScoreBins(histogram));
    const fromPairs = calibrationFromPairs(scores, labels);
    expect(fromHistogram).not.toBeNull();
    expect(fromPairs).not.toBeNull();
    for (const s of [0.1, 0.3, 0.5, 0.7, 0.9]) {
      // both approach the true rate s^2
      expect(Math.abs(calibrate(fromHistogram!, s) - s * s)).toBeLessThan(0.05);
      expect(Math.abs(calibrate(fromHistogram!, s) - calibrate(fromPairs!, s))).toBeLessThan(0.05);
    }
  });

  it('skips calibration for one class and for scores that separate the classes, as NannyML does', () => {
    const separated = draw(6, 5000, (s) => (s >= 0.5 ? 1 : 0));
    expect(calibrationFromPairs(separated.scores, separated.labels)).toBeNull();
    const oneClass = draw(7, 1000, () => 0);
    expect(calibrationFromPairs(oneClass.scores, oneClass.labels)).toBeNull();
    const overConfident = draw(8, 5000, (s) => 0.5 + (s - 0.5) * 0.4);
    expect(calibrationFromPairs(overConfident.scores, overConfident.labels)).not.toBeNull();
  });

  it('exactRocAuc counts ties as one half', () => {
    expect(exactRocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(exactRocAuc([0.5, 0.5], [0, 1])).toBeCloseTo(0.5, 12);
    expect(exactRocAuc([0.5, 0.6], [1, 1])).toBeNull();
  });
});

describe('estimatePerformance (CBPE)', () => {
  it('recovers accuracy, precision, recall and F1 of an over-confident model once calibrated', () => {
    const random = mulberry32(11);
    // the model's score s overstates its confidence: P(label 1 | s) = 0.5 + 0.6 (s - 0.5)
    const truth = (s: number) => 0.5 + 0.6 * (s - 0.5);
    const reference = createBinaryOutcomeSummary(100, 0.5);
    for (let i = 0; i < 50000; i++) {
      const s = random();
      addBinaryOutcome(reference, s, random() < truth(s) ? 1 : 0);
    }
    const window = createPredictionScoreSummary(100, 0.5);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    for (let i = 0; i < 20000; i++) {
      const s = random() ** 0.7; // a shifted population: more high scores
      addPredictionScore(window, s);
      const label = random() < truth(s);
      if (s >= 0.5 && label) tp++;
      else if (s >= 0.5) fp++;
      else if (label) fn++;
      else tn++;
    }
    const realized = { accuracy: (tp + tn) / 20000, precision: tp / (tp + fp), recall: tp / (tp + fn), f1: (2 * tp) / (2 * tp + fp + fn) };
    const map = calibrationFromHistogram(binaryScoreBins(reference));
    const estimated = estimatePerformance(predictionScoreBins(window), map);
    const naive = estimatePerformance(predictionScoreBins(window), null);
    expect(estimated.calibrated).toBe(true);
    for (const metric of ['accuracy', 'precision', 'recall', 'f1'] as const) {
      expect(Math.abs((estimated[metric] as number) - realized[metric]), metric).toBeLessThan(0.015);
    }
    expect(Math.abs((naive.accuracy as number) - realized.accuracy)).toBeGreaterThan(0.08);
  });

  it('estimates the AUC a perfectly calibrated model would have', () => {
    // scores uniform, labels Bernoulli(score): positives have density 2s, negatives 2(1 - s), so
    // AUC = P(s1 > s0) = int_0^1 2 s1 int_0^s1 2 (1 - s0) ds0 ds1 = 4/3 - 1/2 = 5/6
    const window = createPredictionScoreSummary(100, 0.5);
    for (let i = 0; i < 10000; i++) addPredictionScore(window, (i + 0.5) / 10000);
    const estimate = estimatePerformance(predictionScoreBins(window), null);
    expect(estimate.auc).toBeCloseTo(5 / 6, 3);
    expect(estimate.accuracy).toBeCloseTo(0.75, 3);
  });

  it('gives nulls for an empty window', () => {
    const estimate = estimatePerformance(predictionScoreBins(createPredictionScoreSummary()), null);
    expect(estimate).toMatchObject({ count: 0, accuracy: null, auc: null });
  });
});
