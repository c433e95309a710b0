import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDetector, type ChangeDetector } from '../../src/stats/detectors/index.ts';
import { docLoop } from './streams.ts';

interface Example {
  detector: string;
  params: Record<string, number | string | boolean>;
  stream: 'numeric' | 'binary';
  drift_at: number[];
  first_warning_at?: number[];
}
interface Golden {
  streams: Record<'numeric' | 'binary', { values: number[] }>;
  examples: Example[];
}

// River's docstring examples (river/drift/*.py), streams generated with Python's random module by
// test/golden/make_detector_examples.py; the indices are the ones River's docs print.
const golden = JSON.parse(readFileSync(new URL('../golden/detector-examples.json', import.meta.url), 'utf8')) as Golden;

/** The example's River parameters, translated to our option names. */
function detectorFor(example: Example): ChangeDetector {
  const p = example.params;
  switch (example.detector) {
    case 'ADWIN':
      return createDetector('adwin', {
        delta: p.delta as number,
        clock: p.clock as number,
        maxBuckets: p.max_buckets as number,
        minWindowLength: p.min_window_length as number,
        gracePeriod: p.grace_period as number,
      });
    case 'PageHinkley':
      return createDetector('page_hinkley', {
        minInstances: p.min_instances as number,
        delta: p.delta as number,
        threshold: p.threshold as number,
        alpha: p.alpha as number,
        mode: p.mode as 'both',
        // River's test on raw deviations; driftwatch's default standardizes them (page-hinkley.ts)
        standardize: false,
      });
    case 'DDM':
      return createDetector('ddm', {
        warmStart: p.warm_start as number,
        warningThreshold: p.warning_threshold as number,
        driftThreshold: p.drift_threshold as number,
      });
    case 'EDDM':
      // River's test alone: without the start-up minimum and the significance test (eddm.ts)
      return createDetector('eddm', { warmStart: p.warm_start as number, alpha: p.alpha as number, beta: p.beta as number, minErrors: 0, zThreshold: 0 });
    case 'HDDM_A':
      return createDetector('hddm_a', {
        driftConfidence: p.drift_confidence as number,
        warningConfidence: p.warning_confidence as number,
        twoSidedTest: p.two_sided_test as boolean,
        // River's Hoeffding bound; driftwatch's default is Bernstein's (hddm-a.ts)
        bound: 'hoeffding',
      });
    case 'HDDM_W':
      return createDetector('hddm_w', {
        driftConfidence: p.drift_confidence as number,
        warningConfidence: p.warning_confidence as number,
        lambda: p.lambda_val as number,
        twoSidedTest: p.two_sided_test as boolean,
        // River's McDiarmid bound, first-value EWMA and never-renewed cut point (hddm-w.ts)
        bound: 'mcdiarmid',
        weighting: 'river',
        cutExpiry: 0,
      });
    default:
      throw new Error(`no detector for golden example ${example.detector}`);
  }
}

describe("River's documented detector examples", () => {
  it('has both streams of 2000 values', () => {
    expect(golden.streams.numeric.values).toHaveLength(2000);
    expect(golden.streams.binary.values).toHaveLength(2000);
    expect(golden.examples.map((e) => e.detector)).toEqual(['ADWIN', 'PageHinkley', 'DDM', 'EDDM', 'HDDM_A', 'HDDM_W']);
  });

  for (const example of golden.examples) {
    it(`${example.detector} signals at River's indices ${JSON.stringify(example.drift_at)}`, () => {
      const { drifts, warnings } = docLoop(detectorFor(example), golden.streams[example.stream].values);
      expect(drifts).toEqual(example.drift_at);
      expect(warnings).toEqual(example.first_warning_at ?? []);
    });
  }

  it("at driftwatch's defaults, every example still drifts within 64 events of River's index", () => {
    const numeric = golden.streams.numeric.values;
    const binary = golden.streams.binary.values;
    // ADWIN follows River's defaults exactly.
    expect(docLoop(createDetector('adwin'), numeric).drifts).toEqual([1023]);
    // Standardized Page–Hinkley without forgetting (page-hinkley.ts): 1008 instead of 1006.
    expect(docLoop(createDetector('page_hinkley'), numeric).drifts).toEqual([1008]);
    // DDM's warm start of 200 (ddm.ts): the same drift; the warning after it falls inside the new warm start.
    expect(docLoop(createDetector('ddm'), binary)).toEqual({ drifts: [1334], warnings: [1084] });
    // EDDM with the example's alpha/beta and driftwatch's minErrors / zThreshold (eddm.ts): unchanged.
    expect(docLoop(createDetector('eddm', { alpha: 0.8, beta: 0.75 }), binary)).toEqual({ drifts: [1278], warnings: [1059] });
    // HDDM_A with Bernstein's bound at confidence 1e-4 (hddm-a.ts): 1259 instead of 1206.
    expect(docLoop(createDetector('hddm_a'), binary)).toEqual({ drifts: [1259], warnings: [1229] });
  });

  it("HDDM_W: River's 1077 is earlier than a detector with one false alarm per million can be, so the default drifts at 1256", () => {
    const binary = golden.streams.binary.values;
    // The optimal detector for this very change, a CUSUM that knows both error rates (0.5 -> 0.7),
    // with the threshold ln(1e6) that gives it a mean run of about 1e6 events between false alarms.
    const up = Math.log(0.7 / 0.5);
    const down = Math.log(0.3 / 0.5);
    let cusum = 0;
    let oracle = -1;
    for (let i = 0; i < binary.length && oracle < 0; i++) {
      cusum = Math.max(0, cusum + (binary[i] === 1 ? up : down));
      if (cusum >= Math.log(1e6)) oracle = i;
    }
    expect(oracle).toBeGreaterThan(1077 + 64);
    // River's HDDM_W buys its 1077 with ~400 false alarms per million events at an error rate of 0.3
    // (bench/detection.ts); driftwatch's defaults (hddm-w.ts) hold one per million and drift here:
    expect(docLoop(createDetector('hddm_w'), binary)).toEqual({ drifts: [1256], warnings: [1228] });
    expect(1256 - oracle).toBeLessThan(128);
  });

  it('ADWIN cuts its window at the change and restarts from the new values', () => {
    const adwin = createDetector('adwin');
    const numeric = golden.streams.numeric.values;
    numeric.slice(0, 1024).forEach((x) => adwin.update(x));
    expect(adwin.driftDetected).toBe(true);
    // The cut dropped old buckets: the window is shorter than the 1024 values seen.
    expect(adwin.width).toBeLessThan(1024);
    adwin.update(numeric[1024]);
    expect(adwin.driftDetected).toBe(false);
    expect(adwin.width).toBe(1);
    expect(adwin.estimation).toBe(numeric[1024]);
  });
});
