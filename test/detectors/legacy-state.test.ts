import { describe, expect, it } from 'vitest';
import { createDetector, detectorFromJSON, type DetectorKind } from '../../src/stats/detectors/index.ts';
import { bernoulliStream, driftIndices } from './streams.ts';

/**
 * Checkpoints written before driftwatch's own defaults existed hold River's options and none of
 * the new fields. Restoring one must keep running the test it was running (River's), from where it
 * was, instead of failing the whole checkpoint or silently switching tests mid-stream.
 */
const cases: { kind: DetectorKind; river: Record<string, unknown>; newOptions: string[]; newFields: string[]; sampleFields?: string[] }[] = [
  { kind: 'page_hinkley', river: { standardize: false, alpha: 0.9999, delta: 0.005, threshold: 50 }, newOptions: ['standardize'], newFields: ['sumSquares'] },
  { kind: 'eddm', river: { warmStart: 30, alpha: 0.95, beta: 0.9, minErrors: 0, zThreshold: 0 }, newOptions: ['minErrors', 'zThreshold'], newFields: ['cutN', 'cutErrors', 'cutStd'] },
  { kind: 'hddm_a', river: { bound: 'hoeffding', driftConfidence: 0.001, warningConfidence: 0.005 }, newOptions: ['bound'], newFields: [] },
  {
    kind: 'hddm_w',
    river: { bound: 'mcdiarmid', weighting: 'river', cutExpiry: 0, lambda: 0.05, driftConfidence: 0.001, warningConfidence: 0.005 },
    newOptions: ['bound', 'weighting', 'cutExpiry'],
    newFields: ['incrAge', 'decrAge'],
    sampleFields: ['total', 's1Incr', 's2Incr', 's1Decr', 's2Decr'],
  },
];

describe('detector states from before driftwatch defaults', () => {
  for (const { kind, river, newOptions, newFields, sampleFields = [] } of cases) {
    it(`${kind}: restores River's test and continues exactly where it was`, () => {
      const values = bernoulliStream(21, 9000, 3000, 0.1, 0.35);
      const uninterrupted = driftIndices(createDetector(kind, river as never), values).filter((i) => i >= 2000);
      expect(uninterrupted.length).toBeGreaterThan(0);

      const running = createDetector(kind, river as never);
      driftIndices(running, values.slice(0, 2000));
      const legacy = JSON.parse(JSON.stringify(running.toJSON())) as Record<string, unknown> & { options: Record<string, unknown> };
      for (const option of newOptions) delete legacy.options[option];
      for (const field of newFields) delete legacy[field];
      for (const sample of sampleFields) delete (legacy[sample] as Record<string, unknown>).weightSum;

      const restored = detectorFromJSON(legacy);
      expect(restored).toMatchObject(river);
      expect(driftIndices(restored, values.slice(2000)).map((i) => i + 2000)).toEqual(uninterrupted);
    });
  }
});
