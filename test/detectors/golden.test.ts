import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDetector, type ChangeDetector } from '../../src/stats/detectors/index.ts';

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
      });
    case 'DDM':
      return createDetector('ddm', {
        warmStart: p.warm_start as number,
        warningThreshold: p.warning_threshold as number,
        driftThreshold: p.drift_threshold as number,
      });
    case 'EDDM':
      return createDetector('eddm', { warmStart: p.warm_start as number, alpha: p.alpha as number, beta: p.beta as number });
    case 'HDDM_A':
      return createDetector('hddm_a', {
        driftConfidence: p.drift_confidence as number,
        warningConfidence: p.warning_confidence as number,
        twoSidedTest: p.two_sided_test as boolean,
      });
    case 'HDDM_W':
      return createDetector('hddm_w', {
        driftConfidence: p.drift_confidence as number,
        warningConfidence: p.warning_confidence as number,
        lambda: p.lambda_val as number,
        twoSidedTest: p.two_sided_test as boolean,
      });
    default:
      throw new Error(`no detector for golden example ${example.detector}`);
  }
}

/** Runs River's doc loop: every drift index, and the first warning of each drift cycle. */
function runDocLoop(detector: ChangeDetector, values: number[]): { drifts: number[]; warnings: number[] } {
  const drifts: number[] = [];
  const warnings: number[] = [];
  let printWarning = true;
  values.forEach((x, i) => {
    detector.update(x);
    if (detector.warningDetected && printWarning) {
      warnings.push(i);
      printWarning = false;
    }
    if (detector.driftDetected) {
      drifts.push(i);
      printWarning = true;
    }
  });
  return { drifts, warnings };
}

describe("River's documented detector examples", () => {
  it('has both streams of 2000 values', () => {
    expect(golden.streams.numeric.values).toHaveLength(2000);
    expect(golden.streams.binary.values).toHaveLength(2000);
    expect(golden.examples.map((e) => e.detector)).toEqual(['ADWIN', 'PageHinkley', 'DDM', 'EDDM', 'HDDM_A', 'HDDM_W']);
  });

  for (const example of golden.examples) {
    it(`${example.detector} signals at River's indices ${JSON.stringify(example.drift_at)}`, () => {
      const { drifts, warnings } = runDocLoop(detectorFor(example), golden.streams[example.stream].values);
      expect(drifts).toEqual(example.drift_at);
      expect(warnings).toEqual(example.first_warning_at ?? []);
    });
  }

  it('the defaults are River defaults (same indices without passing options)', () => {
    const numeric = golden.streams.numeric.values;
    const binary = golden.streams.binary.values;
    expect(runDocLoop(createDetector('adwin'), numeric).drifts).toEqual([1023]);
    expect(runDocLoop(createDetector('page_hinkley'), numeric).drifts).toEqual([1006]);
    expect(runDocLoop(createDetector('ddm'), binary)).toEqual({ drifts: [1334], warnings: [1084, 1492] });
    expect(runDocLoop(createDetector('hddm_a'), binary)).toEqual({ drifts: [1206], warnings: [451] });
    expect(runDocLoop(createDetector('hddm_w'), binary)).toEqual({ drifts: [1077], warnings: [451] });
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
