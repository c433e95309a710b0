import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addBinaryOutcome,
  addMulticlassOutcome,
  addPredictionScore,
  addRegressionOutcome,
  binaryQuality,
  binaryRocAuc,
  createBinaryOutcomeSummary,
  createMulticlassOutcomeSummary,
  createPredictionScoreSummary,
  createRegressionOutcomeSummary,
  estimatedAccuracy,
  expectedCalibrationError,
  mergeBinaryOutcome,
  binaryOutcomeLike,
  mergeMulticlassOutcome,
  multiclassQuality,
  regressionQuality,
  reliabilityDiagram,
  subtractBinaryOutcome,
  subtractRegressionOutcome,
} from '../../src/stats/quality.ts';
import type { BinaryOutcomeSummary } from '../../src/stats/quality.ts';
import { seededRandom } from './helpers/exact-log-sketch.ts';

/** Exact ROC AUC (Mann–Whitney with ties counting 1/2), as sklearn.metrics.roc_auc_score. */
function exactAuc(scores: number[], labels: number[]): number {
  let pairs = 0;
  let wins = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

const SCORES = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1];
const LABELS = [1, 1, 0, 1, 0, 1, 0, 0] as const;

function handSummary() {
  const s = createBinaryOutcomeSummary(100, 0.5);
  SCORES.forEach((score, i) => addBinaryOutcome(s, score, LABELS[i]));
  return s;
}

describe('binary quality', () => {
  it('matches hand-computed values on 8 predictions', () => {
    const q = binaryQuality(handSummary());
    // predicted positive: 0.9 0.8 0.7 0.6 -> tp 3 (0.9 0.8 0.6), fp 1 (0.7); fn 1 (0.3); tn 3
    expect(q.labeled).toBe(8);
    expect(q.accuracy).toBe(0.75);
    expect(q.precision).toBe(0.75);
    expect(q.recall).toBe(0.75);
    expect(q.f1).toBe(0.75);
    expect(q.confusion).toEqual({ classes: ['0', '1'], matrix: [[3, 1], [1, 3]] });
    // 13 of the 16 positive/negative pairs are ordered correctly
    expect(q.auc).toBe(13 / 16);
    expect(q.aucErrorBound).toBe(0);
    const logLoss = -SCORES.reduce((s, p, i) => s + (LABELS[i] === 1 ? Math.log(p) : Math.log(1 - p)), 0) / 8;
    expect(q.logLoss).toBeCloseTo(logLoss, 14);
    const brier = SCORES.reduce((s, p, i) => s + (p - LABELS[i]) ** 2, 0) / 8;
    expect(q.brier).toBeCloseTo(brier, 14);
    expect(q.expectedAccuracy).toBeCloseTo((0.9 + 0.8 + 0.7 + 0.6 + 0.6 + 0.7 + 0.8 + 0.9) / 8, 14);
  });

  it('ECE from the reliability histogram equals the definition', () => {
    const s = handSummary();
    // 10 bins, one prediction each in bins 1,2,3,4,6,7,8,9: |p - y| averaged.
    const ece = SCORES.reduce((sum, p, i) => sum + Math.abs(p - LABELS[i]), 0) / 8;
    expect(expectedCalibrationError(s, 10)).toBeCloseTo(ece, 14);
    const diagram = reliabilityDiagram(s, 10);
    expect(diagram[9]).toEqual({ from: 0.9, to: 1, count: 1, meanPredicted: 0.9, observedRate: 1 });
    expect(diagram[5].count).toBe(0);
    expect(() => reliabilityDiagram(s, 7)).toThrow(/must divide/);
  });

  it('histogram AUC is within its stated bound of the exact AUC, for tied and untied scores', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 400 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.constantFrom(0, 2, 3),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (n, seed, decimals, separation) => {
          const random = seededRandom(seed);
          const scores: number[] = [];
          const labels: number[] = [];
          for (let i = 0; i < n; i++) {
            const label = i < 1 ? 1 : i < 2 ? 0 : random() < 0.4 ? 1 : 0;
            const logit = (random() - 0.5) * 6 + (label ? separation : -separation);
            let p = 1 / (1 + Math.exp(-logit));
            if (decimals > 0) p = Math.round(p * 10 ** decimals) / 10 ** decimals;
            scores.push(p);
            labels.push(label);
          }
          const s = createBinaryOutcomeSummary(100);
          scores.forEach((p, i) => addBinaryOutcome(s, p, labels[i] as 0 | 1));
          const { auc, errorBound } = binaryRocAuc(s);
          expect(Math.abs((auc as number) - exactAuc(scores, labels))).toBeLessThanOrEqual((errorBound as number) + 1e-12);
        },
      ),
      { numRuns: 200, seed: 42 },
    );
  });

  it('merge of two halves equals the whole; subtracting a half gives the other back', () => {
    const random = seededRandom(3);
    const whole = createBinaryOutcomeSummary();
    const first = createBinaryOutcomeSummary();
    const second = createBinaryOutcomeSummary();
    for (let i = 0; i < 1000; i++) {
      const p = random();
      const y = random() < p ? 1 : 0;
      addBinaryOutcome(whole, p, y);
      addBinaryOutcome(i < 400 ? first : second, p, y);
    }
    const merged = createBinaryOutcomeSummary();
    mergeBinaryOutcome(merged, first);
    mergeBinaryOutcome(merged, second);
    merged.forEach((v, i) => expect(v).toBeCloseTo(whole[i], 9));
    subtractBinaryOutcome(merged, first);
    merged.forEach((v, i) => expect(v).toBeCloseTo(second[i], 9));
    expect(() => mergeBinaryOutcome(merged, createBinaryOutcomeSummary(50))).toThrow(/differ in size/);
    expect(() => mergeBinaryOutcome(merged, createBinaryOutcomeSummary(100, 0.7))).toThrow(/configuration cell 1/);
  });

  it('checks decoded cells as merging them into an empty summary would, keeping the array (binaryOutcomeLike)', () => {
    const cells = createBinaryOutcomeSummary(100, 0.5);
    addBinaryOutcome(cells, 0.8, 1);
    const decoded = Float64Array.from(cells);
    expect(binaryOutcomeLike(decoded, 100, 0.5)).toBe(decoded);
    for (const [bins, threshold] of [[50, 0.5], [100, 0.7]] as const) {
      const other = createBinaryOutcomeSummary(bins, threshold);
      let merging: unknown;
      try {
        mergeBinaryOutcome(other, decoded as BinaryOutcomeSummary);
      } catch (error) {
        merging = (error as Error).message;
      }
      expect(merging).toBeDefined();
      expect(() => binaryOutcomeLike(decoded, bins, threshold)).toThrow(merging as string);
    }
    const wrongBins = Float64Array.from(decoded);
    wrongBins[0] = 99;
    expect(() => binaryOutcomeLike(wrongBins, 100, 0.5)).toThrow(/configuration cell 0 \(100 vs 99\)/);
  });

  it('is empty-safe and rejects non-probabilities', () => {
    const q = binaryQuality(createBinaryOutcomeSummary());
    expect(q.accuracy).toBeNull();
    expect(q.auc).toBeNull();
    expect(q.logLoss).toBeNull();
    expect(() => addBinaryOutcome(createBinaryOutcomeSummary(), 1.2, 1)).toThrow(/score 1.2 is not a probability/);
  });
});

describe('multiclass quality (sklearn macro definitions)', () => {
  it('matches the written-out definitions', () => {
    const truth = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0];
    const pred = [0, 1, 0, 1, 2, 2, 2, 0, 2, 0];
    const s = createMulticlassOutcomeSummary(4); // class 3 never occurs: excluded from the macro mean
    truth.forEach((t, i) => addMulticlassOutcome(s, t, pred[i], t === pred[i] ? 0.7 : 0.2));
    const q = multiclassQuality(s, ['a', 'b', 'c', 'd']);
    // class a: tp 3, predicted 4, support 4; b: tp 1, predicted 2, support 2; c: tp 3, predicted 4, support 4
    const precision = (3 / 4 + 1 / 2 + 3 / 4) / 3;
    const recall = (3 / 4 + 1 / 2 + 3 / 4) / 3;
    const f1 = ((2 * 3) / 8 + (2 * 1) / 4 + (2 * 3) / 8) / 3;
    expect(q.accuracy).toBe(0.7);
    expect(q.precision).toBeCloseTo(precision, 14);
    expect(q.recall).toBeCloseTo(recall, 14);
    expect(q.f1).toBeCloseTo(f1, 14);
    expect(q.logLoss).toBeCloseTo(-(7 * Math.log(0.7) + 3 * Math.log(0.2)) / 10, 14);
    expect(q.confusion?.matrix[2]).toEqual([1, 0, 3, 0]);
    const copy = createMulticlassOutcomeSummary(4);
    mergeMulticlassOutcome(copy, s);
    expect(multiclassQuality(copy, ['a', 'b', 'c', 'd'])).toEqual(q);
    expect(() => addMulticlassOutcome(s, 4, 0)).toThrow(/truth 4 is not a class index/);
  });

  it('a class predicted but never true gets precision 0 (zero_division=0)', () => {
    const s = createMulticlassOutcomeSummary(3);
    addMulticlassOutcome(s, 0, 0);
    addMulticlassOutcome(s, 0, 2);
    const q = multiclassQuality(s, ['x', 'y', 'z'], false);
    // classes present: x (tp 1, pred 1, support 2), z (tp 0, pred 1, support 0)
    expect(q.precision).toBeCloseTo((1 + 0) / 2, 14);
    expect(q.recall).toBeCloseTo((0.5 + 0) / 2, 14);
    expect(q.f1).toBeCloseTo((2 / 3 + 0) / 2, 14);
    expect(q.logLoss).toBeNull();
  });
});

describe('regression quality', () => {
  it('MAE, RMSE and MAPE from sums', () => {
    const truth = [3, -0.5, 2, 7, 0];
    const pred = [2.5, 0.0, 2, 8, 0.1];
    const s = createRegressionOutcomeSummary();
    truth.forEach((t, i) => addRegressionOutcome(s, t, pred[i]));
    const q = regressionQuality(s);
    expect(q.mae).toBeCloseTo((0.5 + 0.5 + 0 + 1 + 0.1) / 5, 14);
    expect(q.rmse).toBeCloseTo(Math.sqrt((0.25 + 0.25 + 0 + 1 + 0.01) / 5), 14);
    // mean of |y - yhat| / |y| over the 4 non-zero truths (sklearn's value when no truth is 0)
    expect(q.mape).toBeCloseTo((0.5 / 3 + 0.5 / 0.5 + 0 + 1 / 7) / 4, 14);
    const part = createRegressionOutcomeSummary();
    addRegressionOutcome(part, 7, 8);
    subtractRegressionOutcome(s, part);
    const after = regressionQuality(s);
    expect(after.labeled).toBe(4);
    expect(after.mae).toBeCloseTo((0.5 + 0.5 + 0 + 0.1) / 4, 14);
    expect(after.mape).toBeCloseTo((0.5 / 3 + 1 + 0) / 3, 14);
    expect(regressionQuality(createRegressionOutcomeSummary()).rmse).toBeNull();
  });
});

describe('confidence-based performance estimation', () => {
  it('estimates accuracy from calibrated scores without labels', () => {
    const random = seededRandom(9);
    const scores = createPredictionScoreSummary();
    let correct = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const p = random();
      const y = random() < p ? 1 : 0;
      addPredictionScore(scores, p);
      if ((p >= 0.5 ? 1 : 0) === y) correct++;
    }
    // E[max(p, 1-p)] = 0.75 for p ~ U(0,1)
    expect(Math.abs((estimatedAccuracy(scores) as number) - correct / n)).toBeLessThan(0.01);
  });

  it('uses a labelled reference to calibrate miscalibrated scores', () => {
    const random = seededRandom(10);
    const calibration = createBinaryOutcomeSummary();
    const scores = createPredictionScoreSummary();
    // true positive probability is sqrt(p): the raw scores understate it. Actual accuracy
    // = int_.5^1 sqrt(p) + int_0^.5 (1 - sqrt(p)) = 0.6953; the naive estimate stays 0.75.
    const draw = () => {
      const p = random();
      return { p, y: random() < Math.sqrt(p) ? 1 : 0 };
    };
    for (let i = 0; i < 50000; i++) {
      const { p, y } = draw();
      addBinaryOutcome(calibration, p, y as 0 | 1);
    }
    let correct = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const { p, y } = draw();
      addPredictionScore(scores, p);
      if ((p >= 0.5 ? 1 : 0) === y) correct++;
    }
    const actual = correct / n;
    const naive = estimatedAccuracy(scores) as number;
    const calibrated = estimatedAccuracy(scores, calibration) as number;
    expect(Math.abs(calibrated - actual)).toBeLessThan(0.01);
    expect(Math.abs(naive - actual)).toBeGreaterThan(0.04);
    expect(() => estimatedAccuracy(scores, createBinaryOutcomeSummary(50))).toThrow(/calibration has 50 bins/);
  });
});
