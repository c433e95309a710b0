/**
 * Every case of test/golden/cbpe-cases.json (scikit-learn's IsotonicRegression and NannyML's CBPE
 * formulas, see test/golden/make_cbpe_golden.py), recomputed from its raw inputs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { calibrate, fitIsotonic, needsCalibration } from '../../src/stats/calibration.ts';
import { estimatePerformance } from '../../src/stats/cbpe.ts';
import type { ScoreBins } from '../../src/stats/cbpe.ts';
import { addPredictionScore, createPredictionScoreSummary, predictionScoreBins } from '../../src/stats/quality.ts';

interface GoldenFile {
  tolerance: { isotonic: number; perScore: number; histogram100: number };
  isotonic: { name: string; x: number[]; y: number[]; weight: number[] | null; thresholdsX: number[]; thresholdsY: number[]; query: number[]; predicted: number[] }[];
  cbpe: {
    name: string;
    reference: { scores: number[]; labels: (0 | 1)[] };
    analysis: { scores: number[] };
    needsCalibration: boolean;
    estimated: { accuracy: number; precision: number; recall: number; f1: number; auc: number };
    realized: { accuracy: number };
  }[];
}

const golden = JSON.parse(readFileSync(new URL('../golden/cbpe-cases.json', import.meta.url), 'utf8')) as GoldenFile;
const METRICS = ['accuracy', 'precision', 'recall', 'f1', 'auc'] as const;

/** One bin per analysis score, ascending: the estimator then sees every score on its own, as NannyML does. */
function binPerScore(scores: readonly number[]): ScoreBins {
  const sorted = [...scores].sort((a, b) => a - b);
  return { threshold: 0.5, counts: sorted.map(() => 1), scoreSums: sorted };
}

function calibrationOf(c: GoldenFile['cbpe'][number]) {
  const map = fitIsotonic(c.reference.scores.map((score, i) => ({ score, rate: c.reference.labels[i], weight: 1 })));
  if (map === null) throw new Error(`${c.name}: no calibration fitted`);
  return map;
}

describe('isotonic regression against scikit-learn', () => {
  it.each(golden.isotonic.map((c) => [c.name, c] as const))('%s: same thresholds and predictions', (_name, c) => {
    const map = fitIsotonic(c.x.map((score, i) => ({ score, rate: c.y[i], weight: c.weight?.[i] ?? 1 })));
    expect(map).not.toBeNull();
    if (map === null) return;
    expect(map.x).toHaveLength(c.thresholdsX.length);
    map.x.forEach((x, i) => expect(Math.abs(x - c.thresholdsX[i])).toBeLessThanOrEqual(golden.tolerance.isotonic));
    map.y.forEach((y, i) => expect(Math.abs(y - c.thresholdsY[i])).toBeLessThanOrEqual(golden.tolerance.isotonic));
    c.query.forEach((q, i) => expect(Math.abs(calibrate(map, q) - c.predicted[i])).toBeLessThanOrEqual(golden.tolerance.isotonic));
  });
});

describe('CBPE against NannyML formulas', () => {
  it.each(golden.cbpe.map((c) => [c.name, c] as const))('%s: estimates per score match', (_name, c) => {
    const estimate = estimatePerformance(binPerScore(c.analysis.scores), calibrationOf(c));
    for (const metric of METRICS) {
      expect(Math.abs((estimate[metric] as number) - c.estimated[metric]), metric).toBeLessThanOrEqual(golden.tolerance.perScore);
    }
  });

  it.each(golden.cbpe.map((c) => [c.name, c] as const))('%s: estimates from a 100-bin window histogram stay within the stated tolerance', (_name, c) => {
    const summary = createPredictionScoreSummary(100, 0.5);
    for (const score of c.analysis.scores) addPredictionScore(summary, score);
    const estimate = estimatePerformance(predictionScoreBins(summary), calibrationOf(c));
    for (const metric of METRICS) {
      expect(Math.abs((estimate[metric] as number) - c.estimated[metric]), metric).toBeLessThanOrEqual(golden.tolerance.histogram100);
    }
  });

  it('calibrates the distorted models and, like NannyML, agrees on whether calibration helps', () => {
    for (const c of golden.cbpe) {
      if (c.name === 'calibrated') continue; // a calibrated model is the borderline case: the fold draw decides
      expect(needsCalibration(c.reference.scores, c.reference.labels), c.name).toBe(c.needsCalibration);
    }
  });
});
