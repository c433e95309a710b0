import { encode, decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { profileFromBytes, profileFromRows, profileFromWindow, profileToBytes } from '../../src/reference/profile.ts';
import type { TrainingRow } from '../../src/reference/profile.ts';
import { parseTrainingFile } from '../../src/reference/training-file.ts';
import { calibrate } from '../../src/stats/calibration.ts';
import { addBinaryOutcome, addPredictionScore, binaryConfusion } from '../../src/stats/quality.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome } from '../../src/window/pane.ts';
import { mulberry32 } from '../../src/simulator/random.ts';
import { buildModelMetrics } from '../../src/gateway/metrics.ts';
import { WindowAggregate } from '../../src/window/windows.ts';

/** Rows of an over-confident model: P(label 1 | score s) = 0.5 + 0.5 (s - 0.5), far from s at the ends. */
function overConfidentRows(n: number, seed: number): TrainingRow[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const score = random();
    return { output: score, label: random() < 0.5 + 0.5 * (score - 0.5) ? 1 : 0, features: { x: random() } };
  });
}

describe('reference calibration from a labelled file', () => {
  it('profileFromRows fits the score calibration from rows with a score and a 0/1 label', () => {
    const profile = profileFromRows('p', 'm', null, overConfidentRows(8000, 1));
    expect(profile.scoreCalibration).not.toBeNull();
    const map = profile.scoreCalibration!;
    // the map recovers the true rate, not the raw score
    expect(calibrate(map, 0.95)).toBeGreaterThan(0.6);
    expect(calibrate(map, 0.95)).toBeLessThan(0.8);
    expect(calibrate(map, 0.05)).toBeGreaterThan(0.2);
    expect(calibrate(map, 0.05)).toBeLessThan(0.4);
    // and the labelled histogram a window capture would hold
    const { tp, fp, tn, fn } = binaryConfusion(profile.calibration!);
    expect(tp + fp + tn + fn).toBe(8000);
  });

  it('takes the label column of a CSV training file', () => {
    const lines = ['x,output,label', ...overConfidentRows(3000, 2).map((row) => `${row.features.x},${row.output},${row.label}`)];
    const rows = parseTrainingFile(lines.join('\n'), 'csv');
    expect(profileFromRows('p', 'm', null, rows).scoreCalibration).not.toBeNull();
  });

  it('has no calibration without labels, with class labels, or with one class', () => {
    const unlabelled = overConfidentRows(2000, 3).map(({ output, features }) => ({ output, features }));
    expect(profileFromRows('p', 'm', null, unlabelled).scoreCalibration).toBeNull();
    expect(profileFromRows('p', 'm', null, unlabelled).calibration).toBeNull();
    const classes = [{ output: 'cat', label: 'dog', features: {} }];
    expect(profileFromRows('p', 'm', null, classes).scoreCalibration).toBeNull();
    const oneClass = overConfidentRows(500, 4).map((row) => ({ ...row, label: 0 }));
    expect(profileFromRows('p', 'm', null, oneClass).scoreCalibration).toBeNull();
  });
});

describe('reference calibration from a window capture', () => {
  it('profileFromWindow fits the map from the joined outcomes', () => {
    const input = new PaneInput(DEFAULT_PANE_LIMITS);
    const outcome = new PaneOutcome(DEFAULT_PANE_LIMITS);
    for (const row of overConfidentRows(8000, 5)) addBinaryOutcome(outcome.binaryOutcomes(), row.output as number, row.label as 0 | 1);
    const profile = profileFromWindow('w', 'm', null, 'window', input, outcome, 0, 1);
    expect(calibrate(profile.scoreCalibration!, 0.95)).toBeGreaterThan(0.6);
    expect(calibrate(profile.scoreCalibration!, 0.95)).toBeLessThan(0.8);
  });
});

describe('stored profiles', () => {
  it('keep the calibration map through bytes', () => {
    const profile = profileFromRows('p', 'm', null, overConfidentRows(3000, 6));
    const back = profileFromBytes(profileToBytes(profile));
    expect(back.scoreCalibration).toEqual(profile.scoreCalibration);
  });

  it('an old profile without a map fits one from its labelled histogram', () => {
    const profile = profileFromRows('p', 'm', null, overConfidentRows(3000, 7));
    const old = decode(profileToBytes(profile)) as Record<string, unknown>;
    delete old.scoreCalibration;
    const back = profileFromBytes(encode(old));
    expect(back.scoreCalibration).not.toBeNull();
    expect(Math.abs(calibrate(back.scoreCalibration!, 0.9) - calibrate(profile.scoreCalibration!, 0.9))).toBeLessThan(0.05);

    delete old.calibration;
    expect(profileFromBytes(encode(old)).scoreCalibration).toBeNull();
  });

  it('refuses a malformed map', () => {
    const profile = profileFromRows('p', 'm', null, overConfidentRows(1000, 8));
    const stored = decode(profileToBytes(profile)) as Record<string, unknown>;
    stored.scoreCalibration = { x: [0.2, 0.1], y: [0.1, 0.2] };
    expect(() => profileFromBytes(encode(stored))).toThrow(/scoreCalibration/);
  });
});

describe('window metrics through a calibrated reference', () => {
  it("estimate accuracy, precision, recall, F1 and AUC of unlabelled scores as the model's true rates give them", () => {
    const reference = profileFromRows('p', 'm', null, overConfidentRows(20000, 9));
    const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
    for (const row of overConfidentRows(20000, 10)) {
      aggregate.input.count++;
      addPredictionScore(aggregate.input.scoreSummary(), row.output as number);
    }
    const metrics = buildModelMetrics(aggregate, { model: 'm', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {} });
    // s uniform, P(1 | s) = 0.25 + 0.5 s: accuracy = precision = recall = F1 = 0.625 exactly
    // (e.g. precision = mean of 0.25 + 0.5 s over [0.5, 1]); the raw scores would promise 0.75
    expect(Math.abs((metrics.estimatedAccuracy as number) - 0.625)).toBeLessThan(0.01);
    expect(Math.abs((metrics.quality.estimatedPrecision as number) - 0.625)).toBeLessThan(0.01);
    expect(Math.abs((metrics.quality.estimatedRecall as number) - 0.625)).toBeLessThan(0.01);
    expect(Math.abs((metrics.quality.estimatedF1 as number) - 0.625)).toBeLessThan(0.01);
    // AUC = P(s1 > s0), positives with density 0.5 + s, negatives 1.5 - s:
    // int_0^1 (0.5 + s) (1.5 s - s^2 / 2) ds = 0.375 + 1.25 / 3 - 0.125 = 2/3
    expect(Math.abs((metrics.quality.estimatedAuc as number) - 2 / 3)).toBeLessThan(0.01);
  });
});
