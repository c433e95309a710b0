import { describe, expect, it } from 'vitest';
import { Adwin, createDetector, DETECTOR_KINDS, type DetectorKind } from '../../src/stats/detectors/index.ts';
import { bernoulliStream } from './streams.ts';

describe('constructor options are validated', () => {
  const bad: [DetectorKind, object, RegExp][] = [
    ['adwin', { delta: 0 }, /ADWIN: option 'delta' must be a finite number > 0 < 1, got 0/],
    ['adwin', { delta: 1.5 }, /option 'delta'/],
    ['adwin', { clock: 0 }, /ADWIN: option 'clock' must be an integer >= 1, got 0/],
    ['adwin', { clock: 2.5 }, /option 'clock'/],
    ['adwin', { maxBuckets: 0 }, /option 'maxBuckets'/],
    ['adwin', { minWindowLength: 0 }, /option 'minWindowLength'/],
    ['adwin', { gracePeriod: -1 }, /option 'gracePeriod'/],
    ['adwin', { max_buckets: 5 }, /ADWIN: unknown option 'max_buckets'; expected one of delta, clock, maxBuckets/],
    ['page_hinkley', { threshold: 0 }, /PageHinkley: option 'threshold' must be a finite number > 0/],
    ['page_hinkley', { alpha: 1.1 }, /option 'alpha'/],
    ['page_hinkley', { delta: -0.1 }, /option 'delta'/],
    ['page_hinkley', { minInstances: 0 }, /option 'minInstances'/],
    ['page_hinkley', { mode: 'sideways' }, /PageHinkley: option 'mode' must be one of up, down, both, got sideways/],
    ['ddm', { warmStart: -1 }, /DDM: option 'warmStart'/],
    ['ddm', { driftThreshold: Number.NaN }, /option 'driftThreshold' must be a finite number > 0, got NaN/],
    ['eddm', { alpha: 0.8, beta: 0.9 }, /EDDM: option 'alpha' \(0.8\) must be greater than or equal to 'beta' \(0.9\)/],
    ['eddm', { beta: 0 }, /option 'beta'/],
    ['hddm_a', { driftConfidence: 0 }, /HDDM_A: option 'driftConfidence'/],
    ['hddm_a', { driftConfidence: 0.01, warningConfidence: 0.005 }, /'warningConfidence' \(0.005\) must be >= 'driftConfidence' \(0.01\)/],
    ['hddm_a', { twoSidedTest: 'yes' }, /HDDM_A: option 'twoSidedTest' must be a boolean/],
    ['hddm_w', { lambda: 0 }, /HDDM_W: option 'lambda'/],
    ['hddm_w', { lambda_val: 0.05 }, /HDDM_W: unknown option 'lambda_val'/],
  ];
  for (const [kind, options, message] of bad) {
    it(`${kind} ${JSON.stringify(options)} -> RangeError`, () => {
      expect(() => createDetector(kind, options as never)).toThrow(RangeError);
      expect(() => createDetector(kind, options as never)).toThrow(message);
    });
  }

  it('unknown kinds are rejected by the factory', () => {
    expect(() => createDetector('kswin' as DetectorKind)).toThrow(/unknown detector kind "kswin"; expected one of adwin/);
  });

  it("defaults are River's, except where the class documents why it differs", () => {
    expect(createDetector('adwin')).toMatchObject({ delta: 0.002, clock: 32, maxBuckets: 5, minWindowLength: 5, gracePeriod: 10 });
    expect(createDetector('page_hinkley')).toMatchObject({ minInstances: 30, delta: 0.1, threshold: 80, alpha: 1, mode: 'both', standardize: true });
    expect(createDetector('ddm')).toMatchObject({ warmStart: 200, warningThreshold: 2, driftThreshold: 3 });
    expect(createDetector('eddm')).toMatchObject({ warmStart: 30, alpha: 0.6, beta: 0.5, minErrors: 25, zThreshold: 4 });
    expect(createDetector('hddm_a')).toMatchObject({ driftConfidence: 1e-4, warningConfidence: 5e-4, twoSidedTest: false, bound: 'bernstein' });
    expect(createDetector('hddm_w')).toMatchObject({
      driftConfidence: 3e-5,
      warningConfidence: 1.5e-4,
      lambda: 0.0005,
      twoSidedTest: false,
      bound: 'bernstein',
      weighting: 'normalized',
      cutExpiry: 4,
    });
  });
});

describe('update input is validated', () => {
  it('numeric detectors reject non-finite values', () => {
    expect(() => createDetector('adwin').update(Number.NaN)).toThrow(/ADWIN.update: value must be a finite number, got NaN/);
    expect(() => createDetector('page_hinkley').update(Infinity)).toThrow(/PageHinkley.update: value must be a finite number/);
  });
  it('DDM and EDDM take 0/1 errors; HDDM takes [0, 1]', () => {
    expect(() => createDetector('ddm').update(2)).toThrow(/DDM.update: value must be 0 \(correct\) or 1 \(error\), got 2/);
    expect(() => createDetector('eddm').update(0.5)).toThrow(/EDDM.update: value must be 0/);
    expect(() => createDetector('hddm_a').update(1.5)).toThrow(/HDDM_A.update: value must be in \[0, 1\]/);
    expect(() => createDetector('hddm_w').update(-0.1)).toThrow(/HDDM_W.update: value must be in \[0, 1\]/);
    const hddm = createDetector('hddm_a');
    hddm.update(0.25);
    hddm.update(0.75);
    expect(hddm.estimation).toBe(0.5);
  });
});

describe('state and reset', () => {
  it('reset() makes a used detector behave like a new one', () => {
    const values = bernoulliStream(21, 5000, 2500, 0.1, 0.5);
    for (const kind of DETECTOR_KINDS) {
      const used = createDetector(kind);
      for (const x of bernoulliStream(22, 3000, 1000, 0.2, 0.6)) used.update(x);
      used.reset();
      expect(used.driftDetected).toBe(false);
      expect(used.warningDetected).toBe(false);
      const fresh = createDetector(kind);
      expect(used.toJSON()).toEqual(fresh.toJSON());
      const driftsOf = (detector: typeof used): number[] =>
        values.flatMap((x, i) => {
          detector.update(x);
          return detector.driftDetected ? [i] : [];
        });
      const freshDrifts = driftsOf(fresh);
      expect(freshDrifts.length, kind).toBeGreaterThan(0);
      expect(driftsOf(used), kind).toEqual(freshDrifts);
    }
  });

  it('ADWIN keeps exact window statistics through bucket merges', () => {
    const adwin = new Adwin();
    for (const x of [1, 2, 3, 4, 5]) adwin.update(x);
    expect(adwin.width).toBe(5);
    expect(adwin.total).toBe(15);
    expect(adwin.variance).toBeCloseTo(10, 12); // sum of squared deviations from 3
    const constant = new Adwin();
    for (let i = 0; i < 10_000; i++) constant.update(0.25);
    expect(constant.width).toBe(10_000);
    expect(constant.estimation).toBe(0.25);
    expect(constant.nDetections).toBe(0);
    // Exponential histogram: at most maxBuckets entries of each size, so about 5 * log2(10000/5) rows.
    const state = constant.toJSON();
    expect(state.rows.length).toBeLessThanOrEqual(12);
    expect(state.rows.every((row) => row.totals.length <= 5)).toBe(true);
  });

  it('only warning-capable detectors say so', () => {
    const withWarning = DETECTOR_KINDS.filter((kind) => createDetector(kind).supportsWarning);
    expect(withWarning).toEqual(['ddm', 'eddm', 'hddm_a', 'hddm_w']);
  });
});
