import { describe, expect, it } from 'vitest';
import {
  binCounts,
  chiSquaredContingency,
  GATEWAY_KS_MAX_EXACT_WORK,
  jensenShannonDistance,
  ks2Samp,
  ksAsymptoticPValue,
  ksPValue,
  populationStd,
  psi,
  quantileEdges,
  wassersteinDistance,
} from '../../src/stats/distribution.ts';
import {
  budgetSignificance,
  defaultDriftTest,
  evaluateDrift,
  numericReferenceFromValues,
  seededSubsample,
  type NumericReference,
} from '../../src/stats/select.ts';
import { ExactLogSketch, normalSampler, seededRandom } from './helpers/exact-log-sketch.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { ksFromSummaries, summaryBucketsRoom, wassersteinFromSummaries } from '../../src/stats/sketch-distance.ts';

function normals(n: number, mean: number, std: number, seed: number): Float64Array {
  const next = normalSampler(seededRandom(seed));
  return Float64Array.from({ length: n }, () => mean + std * next());
}

function reference(values: Float64Array, id = 'ref-1'): NumericReference {
  return numericReferenceFromValues(id, values, ExactLogSketch.of(values));
}

describe('defaultDriftTest', () => {
  it('follows the size and type rule', () => {
    expect(defaultDriftTest('numeric', 1000)).toBe('ks');
    expect(defaultDriftTest('numeric', 1001)).toBe('wasserstein_normed');
    expect(defaultDriftTest('categorical', 800, 2)).toBe('z');
    expect(defaultDriftTest('categorical', 800, 3)).toBe('chi2');
    expect(defaultDriftTest('categorical', 5000, 2)).toBe('jensen_shannon');
  });
});

describe('evaluateDrift: numeric', () => {
  it('from sketches: KS and Wasserstein as the standalone functions give, each summary walked once for both', () => {
    const ref = normals(3000, 10, 2, 5);
    const cur = normals(6000, 10.4, 2.2, 6);
    const refSketch = new LogHistogram(0.01, { center: 10 });
    const curSketch = new LogHistogram(0.01, { center: 10 });
    for (const v of ref) refSketch.add(v);
    for (const v of cur) curSketch.add(v);
    const walks = { reference: 0, current: 0 };
    const counted = (sketch: LogHistogram, side: 'reference' | 'current'): LogHistogram =>
      Object.assign(Object.create(sketch) as LogHistogram, {
        forEachBucket(visit: (value: number, weight: number) => void): void {
          walks[side]++;
          sketch.forEachBucket(visit);
        },
        bucketArrays(): ReturnType<LogHistogram['bucketArrays']> {
          walks[side]++;
          return sketch.bucketArrays();
        },
      });
    const profile = numericReferenceFromValues('ref-w', ref, counted(refSketch, 'reference'));
    walks.reference = 0; // building the reference walked it: count the evaluation's walks only
    const entry = evaluateDrift(profile, { type: 'numeric', summary: counted(curSketch, 'current'), binCounts: binCounts(cur, profile.innerEdges) });
    expect(walks).toEqual({ reference: 1, current: 1 });
    const ks = ksFromSummaries(refSketch, curSketch);
    expect(entry?.tests.ks.statistic).toBe(ks.statistic);
    expect(entry?.tests.ks.pValue).toBe(ks.pValue);
    expect(entry?.tests.ks.errorBound).toBe(ks.errorBound);
    const w = wassersteinFromSummaries(refSketch, curSketch);
    expect(entry?.tests.wasserstein_normed.statistic).toBeCloseTo(w.statistic / profile.std, 14);
    expect(entry?.tests.ks.drift).toBe(true);
  });

  it('from sketches: the KS p-value exact where it decides against the threshold, asymptotic where it cannot', () => {
    const referenceValues = normals(600, 10, 2, 21);
    const referenceSketch = new LogHistogram(0.01, { center: 10 });
    for (const v of referenceValues) referenceSketch.add(v);
    const profile = numericReferenceFromValues('ref-600', referenceValues, referenceSketch);
    const values = normals(1300, 10.1, 2, 22);
    const sketch = new LogHistogram(0.01, { center: 10 });
    for (const v of values) sketch.add(v);
    const current = (): Parameters<typeof evaluateDrift>[1] => ({ type: 'numeric', summary: sketch, binCounts: binCounts(values, profile.innerEdges) });
    const statistic = ksFromSummaries(referenceSketch, sketch).statistic;
    const exact = ksPValue(statistic, 600, 1300, GATEWAY_KS_MAX_EXACT_WORK);
    expect(exact.method).toBe('exact');
    const asymptotic = ksAsymptoticPValue(statistic, 600, 1300);
    expect(asymptotic).not.toBe(exact.pValue);
    // the budget's significance level (6.5e-4 for 1,300 values) is far below a p-value of a few tenths
    const far = evaluateDrift(profile, current());
    expect(far?.tests.ks.statistic).toBe(statistic);
    expect(far?.tests.ks.pValue).toBe(asymptotic);
    expect(far?.tests.ks.drift).toBe(false);
    // a threshold set between the two: the exact p-value decides, as it did before
    const between = Math.sqrt(asymptotic * exact.pValue);
    const near = evaluateDrift(profile, current(), { thresholds: { ks: between } });
    expect(near?.tests.ks.pValue).toBe(exact.pValue);
    expect(near?.tests.ks.drift).toBe(exact.pValue <= between);
  });

  it('with a room reused across evaluations: the same entries as without, whatever sizes came before', () => {
    const referenceValues = normals(2000, 10, 2, 11);
    const referenceSketch = new LogHistogram(0.01, { center: 10 });
    for (const v of referenceValues) referenceSketch.add(v);
    const profile = numericReferenceFromValues('ref-room', referenceValues, referenceSketch);
    // a wide window, then narrow ones: a room sized by the wide one must be read only as far as
    // each evaluation wrote it
    const windows = [normals(8000, 12, 6, 12), normals(300, 10.2, 1, 13), normals(40, 9, 0.5, 14), normals(3000, 10, 2, 15)].map((values) => {
      const sketch = new LogHistogram(0.01, { center: 10 });
      for (const v of values) sketch.add(v);
      return { values, sketch };
    });
    const room = summaryBucketsRoom();
    for (const { values, sketch } of windows) {
      const current = (): Parameters<typeof evaluateDrift>[1] => ({ type: 'numeric', summary: sketch, binCounts: binCounts(values, profile.innerEdges) });
      const fresh = evaluateDrift(profile, current());
      const reused = evaluateDrift(profile, current(), { bucketsRoom: room });
      expect(reused).toEqual(fresh);
    }
    // the room kept the largest arrays it needed, and the next evaluation writes into them
    const { values: kept } = room.current;
    evaluateDrift(profile, { type: 'numeric', summary: windows[1].sketch, binCounts: binCounts(windows[1].values, profile.innerEdges) }, { bucketsRoom: room });
    expect(room.current.values).toBe(kept);
    expect(room.current.count).toBeLessThan(kept.length);
  });

  it('small reference with raw samples: exact KS decides, equal to ks2Samp', () => {
    const ref = normals(400, 50, 5, 1);
    const cur = normals(300, 55, 5, 2);
    const entry = evaluateDrift(reference(ref), { type: 'numeric', summary: ExactLogSketch.of(cur), sample: cur });
    expect(entry).not.toBeNull();
    const exact = ks2Samp(ref, cur);
    expect(entry?.primary).toBe('ks');
    expect(entry?.tests.ks.statistic).toBe(exact.statistic);
    expect(entry?.tests.ks.pValue).toBe(exact.pValue);
    expect(entry?.drift).toBe(true);
    expect(entry?.count).toBe(300);
    expect(entry?.reference).toBe('ref-1');
    expect(entry?.tests.wasserstein_normed.statistic).toBeCloseTo(wassersteinDistance(ref, cur) / populationStd(ref), 12);
    expect(Object.keys(entry?.tests ?? {}).sort()).toEqual(['hellinger', 'jensen_shannon', 'ks', 'psi', 'wasserstein_normed']);
  });

  it('small reference without a raw current sample: KS from the sketches, with the same verdict', () => {
    const ref = normals(800, 20, 2, 21);
    const cur = normals(2000, 20.6, 2, 22);
    const entry = evaluateDrift(reference(ref), { type: 'numeric', summary: ExactLogSketch.of(cur) });
    const exact = ks2Samp(ref, cur);
    expect(entry?.primary).toBe('ks');
    // D_q <= D <= D_q + max bucket share (sketch-distance.ts); at alpha = 1 % around 20 a
    // bucket is 0.4 wide, ~8 % of a N(20, 2) sample
    expect(entry?.tests.ks.statistic).toBeLessThanOrEqual(exact.statistic + 1e-12);
    expect(exact.statistic - (entry?.tests.ks.statistic ?? 0)).toBeLessThan(0.08);
    expect(entry?.drift).toBe(true);
    expect(exact.pValue).toBeLessThan(0.05);
  });

  it('writes each result\'s fields in one order, a p-value and an error bound only where there is one', () => {
    const ref = normals(800, 20, 2, 21);
    const cur = normals(2000, 20.6, 2, 22);
    const entry = evaluateDrift(reference(ref), { type: 'numeric', summary: ExactLogSketch.of(cur) });
    // what a client reading the JSON gets: KS from the sketches states its error bound
    expect(Object.keys(JSON.parse(JSON.stringify(entry?.tests.ks)) as object)).toEqual(['test', 'statistic', 'threshold', 'drift', 'pValue', 'errorBound']);
    expect(Object.keys(JSON.parse(JSON.stringify(entry?.tests.psi)) as object)).toEqual(['test', 'statistic', 'threshold', 'drift']);
    const withSample = evaluateDrift(reference(ref), { type: 'numeric', summary: ExactLogSketch.of(cur), sample: cur });
    expect(Object.keys(JSON.parse(JSON.stringify(withSample?.tests.ks)) as object)).toEqual(['test', 'statistic', 'threshold', 'drift', 'pValue']);
    // the entry's own keys: no field it does not have, even as undefined; confirmedBy after the tests
    expect(Object.keys(entry!)).toEqual(['type', 'count', 'reference', 'primary', 'drift', 'tests']);
    const large = evaluateDrift(reference(normals(20_000, 20, 2, 23)), { type: 'numeric', summary: ExactLogSketch.of(cur) });
    expect(large?.confirmedBy).toBe('ks');
    expect(Object.keys(large!)).toEqual(['type', 'count', 'reference', 'primary', 'drift', 'tests', 'confirmedBy']);
  });

  it('small reference, same distribution: no drift', () => {
    const ref = normals(500, 0, 1, 3);
    const cur = normals(500, 0, 1, 4);
    const entry = evaluateDrift(reference(ref), { type: 'numeric', summary: ExactLogSketch.of(cur), sample: cur });
    expect(entry?.drift).toBe(false);
    expect(entry?.tests.ks.pValue).toBeGreaterThan(0.05);
    expect(entry?.tests.psi.drift).toBe(false);
  });

  it('large reference from sketches: normed Wasserstein decides; PSI uses the exact bin counts', () => {
    const refValues = normals(20000, 100, 10, 5);
    const curValues = normals(5000, 104, 10, 6);
    const ref = reference(refValues);
    expect(ref.sample?.length).toBe(1000);
    const currentBins = binCounts(curValues, ref.innerEdges);
    const entry = evaluateDrift(ref, { type: 'numeric', summary: ExactLogSketch.of(curValues), binCounts: currentBins });
    expect(entry?.primary).toBe('wasserstein_normed');
    const exactNormed = wassersteinDistance(refValues, curValues) / populationStd(refValues);
    // Sketch bound: alpha/(1-alpha) (E|X| + E|Y|) / std = 0.0101 * 204 / 10 ~ 0.21 at worst; in practice far less.
    expect(Math.abs((entry?.tests.wasserstein_normed.statistic ?? 0) - exactNormed)).toBeLessThan(0.02);
    expect(entry?.drift).toBe(true);
    expect(entry?.tests.psi.statistic).toBeCloseTo(psi(binCounts(refValues, quantileEdges(refValues)), currentBins), 12);
    expect(entry?.tests.ks.pValue).toBeLessThan(1e-6);
    expect(entry?.tests.jensen_shannon.statistic).toBeCloseTo(jensenShannonDistance(ref.binCounts, currentBins), 12);
  });

  it('a per-feature override picks the deciding test and threshold', () => {
    const refValues = normals(5000, 0, 1, 7);
    const curValues = normals(5000, 0.3, 1, 8);
    const ref = reference(refValues);
    const window = { type: 'numeric' as const, summary: ExactLogSketch.of(curValues) };
    const byDefault = evaluateDrift(ref, window);
    expect(byDefault?.primary).toBe('wasserstein_normed');
    const strictPsi = evaluateDrift(ref, window, { override: { test: 'psi', threshold: 0.05 } });
    expect(strictPsi?.primary).toBe('psi');
    expect(strictPsi?.tests.psi.threshold).toBe(0.05);
    expect(strictPsi?.drift).toBe((strictPsi?.tests.psi.statistic ?? 0) >= 0.05);
    expect(() => evaluateDrift(ref, window, { override: { test: 'chi2' } })).toThrow(/does not apply to a numeric/);
  });

  it('returns null for an empty window and rejects mismatched types', () => {
    const ref = reference(normals(100, 0, 1, 9));
    expect(evaluateDrift(ref, { type: 'numeric', summary: new ExactLogSketch() })).toBeNull();
    expect(() => evaluateDrift(ref, { type: 'categorical', counts: { a: 1 } })).toThrow(/numeric but the current window is categorical/);
  });
});

describe('false-alarm budget and confirmation', () => {
  it('grants a window of n values a significance level of n x budget / 1e6 (default budget 0.5), capped at 0.05', () => {
    expect(budgetSignificance(1000)).toBeCloseTo(0.0005, 15);
    expect(budgetSignificance(10_000)).toBeCloseTo(0.005, 15);
    expect(budgetSignificance(10_000, 1)).toBeCloseTo(0.01, 15);
    expect(budgetSignificance(1_000_000)).toBe(0.05);
    expect(budgetSignificance(1000, 20)).toBeCloseTo(0.02, 15);
  });

  it('uses an explicitly set p-value threshold as given, and refuses a bad budget', () => {
    const ref = reference(normals(500, 0, 1, 31));
    const cur = normals(1000, 0, 1, 32);
    const window = { type: 'numeric' as const, summary: ExactLogSketch.of(cur), sample: cur };
    expect(evaluateDrift(ref, window)?.tests.ks.threshold).toBeCloseTo(0.0005, 15);
    expect(evaluateDrift(ref, window, { thresholds: { ks: 0.05 } })?.tests.ks.threshold).toBe(0.05);
    expect(evaluateDrift(ref, window, { override: { test: 'ks', threshold: 0.1 } })?.tests.ks.threshold).toBe(0.1);
    expect(() => evaluateDrift(ref, window, { falseAlarmsPerMillion: 0 })).toThrow(/falseAlarmsPerMillion must be a finite number > 0, got 0/);
    // a window re-evaluated 60 times per window length as it slides spends a sixtieth per evaluation
    expect(evaluateDrift(ref, window, { evaluationsPerWindow: 60 })?.tests.ks.threshold).toBeCloseTo(0.0005 / 60, 15);
    expect(() => evaluateDrift(ref, window, { evaluationsPerWindow: 0.5 })).toThrow(/evaluationsPerWindow must be a finite number >= 1, got 0.5/);
  });

  it('large reference: the effect size decides only when KS confirms it, so sampling noise on a small window is no drift', () => {
    const ref = reference(normals(20_000, 0, 1, 40));
    let noiseOnly = 0;
    for (let seed = 41; seed < 101; seed++) {
      const cur = normals(150, 0, 1, seed);
      const entry = evaluateDrift(ref, { type: 'numeric', summary: ExactLogSketch.of(cur) });
      expect(entry?.primary).toBe('wasserstein_normed');
      expect(entry?.confirmedBy).toBe('ks');
      expect(entry?.drift).toBe(Boolean(entry?.tests.wasserstein_normed.drift && entry.tests.ks.drift));
      if (entry?.tests.wasserstein_normed.drift && !entry.drift) noiseOnly++;
    }
    // a 150-value window from the reference's own distribution often has normed W1 >= 0.1
    expect(noiseOnly).toBeGreaterThan(5);
    const shifted = normals(150, 0.5, 1, 7);
    const real = evaluateDrift(ref, { type: 'numeric', summary: ExactLogSketch.of(shifted) });
    expect(real?.drift).toBe(true);
  });

  it('an override decides alone, without confirmation', () => {
    const ref = reference(normals(20_000, 0, 1, 50));
    const cur = normals(150, 0, 1, 51);
    const entry = evaluateDrift(ref, { type: 'numeric', summary: ExactLogSketch.of(cur) }, { override: { test: 'wasserstein_normed', threshold: 0 } });
    expect(entry?.confirmedBy).toBeUndefined();
    expect(entry?.drift).toBe(true);
  });

  it('large categorical reference: Jensen–Shannon confirmed by the contingency chi-squared', () => {
    const entry = evaluateDrift(
      { type: 'categorical', id: 'r', counts: { a: 5000, b: 3000, c: 2000 } },
      { type: 'categorical', counts: { a: 2, b: 5, c: 3 } },
    );
    expect(entry?.primary).toBe('jensen_shannon');
    expect(entry?.confirmedBy).toBe('chi2');
    expect(entry?.tests.jensen_shannon.drift).toBe(true);
    expect(entry?.tests.chi2.drift).toBe(false);
    expect(entry?.drift).toBe(false);
  });
});

describe('evaluateDrift: categorical', () => {
  it('small reference with two categories uses the Z-test', () => {
    const entry = evaluateDrift(
      { type: 'categorical', id: 'r', counts: { yes: 300, no: 200 } },
      { type: 'categorical', counts: new Map([['yes', 200], ['no', 200]]) },
    );
    expect(entry?.primary).toBe('z');
    // p1 = 0.6, p2 = 0.5, pooled 5/9: z = 0.1 / sqrt(5/9 * 4/9 * (1/500 + 1/400)) = 3 exactly;
    // two-sided p = 2 * scipy.stats.norm.sf(3) = 0.0026997960632601866
    expect(entry?.tests.z.statistic).toBeCloseTo(3, 12);
    expect(entry?.tests.z.pValue).toBeCloseTo(0.0026997960632601866, 15);
    // 400 values may spend 400 / 1e6 of the default budget of half a false alarm per million values
    expect(entry?.tests.z.threshold).toBeCloseTo(0.0002, 15);
    expect(entry?.drift).toBe(false);
    expect(entry?.count).toBe(400);
    const looser = evaluateDrift(
      { type: 'categorical', id: 'r', counts: { yes: 300, no: 200 } },
      { type: 'categorical', counts: new Map([['yes', 200], ['no', 200]]) },
      { falseAlarmsPerMillion: 10 },
    );
    expect(looser?.tests.z.threshold).toBeCloseTo(0.004, 15);
    expect(looser?.drift).toBe(true);
  });

  it('small reference with three categories uses the chi-squared contingency test', () => {
    const entry = evaluateDrift(
      { type: 'categorical', id: 'r', counts: { a: 500, b: 300, c: 200 } },
      { type: 'categorical', counts: { a: 150, b: 200, c: 150 } },
    );
    expect(entry?.primary).toBe('chi2');
    // golden 'moved-share' contingency: statistic 55.05494505494505, p 1.1090996814969861e-12
    expect(entry?.tests.chi2.statistic).toBeCloseTo(55.05494505494505, 9);
    expect(entry?.tests.chi2.pValue).toBeCloseTo(1.1090996814969861e-12, 18);
    expect(entry?.tests.chi2_gof.statistic).toBeCloseTo(81.66666666666667, 9);
    expect(entry?.tests.z).toBeUndefined();
    expect(entry?.drift).toBe(true);
  });

  it('large reference uses Jensen–Shannon; a new category is handled', () => {
    const entry = evaluateDrift(
      { type: 'categorical', id: 'r', counts: { a: 5000, b: 3000, c: 2000 } },
      { type: 'categorical', counts: { a: 480, b: 310, c: 190, d: 20 } },
    );
    expect(entry?.primary).toBe('jensen_shannon');
    const expected = jensenShannonDistance([5000, 3000, 2000, 0], [480, 310, 190, 20]);
    expect(entry?.tests.jensen_shannon.statistic).toBeCloseTo(expected, 12);
    expect(entry?.drift).toBe(expected >= 0.1);
    expect(entry?.tests.chi2_gof.statistic).toBe(Infinity);
    expect(entry?.tests.chi2.statistic).toBeCloseTo(chiSquaredContingency([5000, 3000, 2000, 0], [480, 310, 190, 20]).statistic, 9);
    expect(entry?.tests.psi.statistic).toBeCloseTo(psi([5000, 3000, 2000, 0], [480, 310, 190, 20]), 12);
  });

  it('rejects negative counts with the category named', () => {
    expect(() =>
      evaluateDrift({ type: 'categorical', id: 'r', counts: { a: 1 } }, { type: 'categorical', counts: { a: -1 } }),
    ).toThrow(/current count of category 'a' is -1/);
  });
});

describe('numericReferenceFromValues / seededSubsample', () => {
  it('computes std, decile edges, bin counts and a deterministic subsample', () => {
    const values = normals(3000, 0, 2, 10);
    const ref = reference(values);
    expect(ref.std).toBeCloseTo(populationStd(values), 12);
    expect(Array.from(ref.innerEdges)).toEqual(quantileEdges(values));
    expect(Array.from(ref.binCounts)).toEqual([300, 300, 300, 300, 300, 300, 300, 300, 300, 300]);
    expect(Array.from(seededSubsample(values, 5, 1))).toEqual(Array.from(seededSubsample(values, 5, 1)));
    const small = seededSubsample([3, 1, 2], 10, 1);
    expect(Array.from(small)).toEqual([3, 1, 2]);
  });
});

describe('references at full fidelity', () => {
  it('a subsample of a larger reference never decides KS or Wasserstein: the sketch of every value does', () => {
    const random = seededRandom(42);
    const normal = normalSampler(random);
    const values = Float64Array.from({ length: 20_000 }, () => 100 + 10 * normal());
    const current = Float64Array.from({ length: 500 }, () => 100 + 10 * normal());
    const summary = new LogHistogram(0.005, { center: 100 });
    values.forEach((v) => summary.add(v));
    const reference = numericReferenceFromValues('big', values, summary);
    expect(reference.sample?.length).toBe(1000);
    const currentSummary = new LogHistogram(0.005, { center: 100 });
    current.forEach((v) => currentSummary.add(v));
    const entry = evaluateDrift(reference, { type: 'numeric', summary: currentSummary, sample: current });
    // from the sketches (they carry an error bound), on all 20,000 values
    expect(entry?.tests.ks.errorBound).toBeDefined();
    const full = ks2Samp(values, current).statistic;
    expect(Math.abs((entry?.tests.ks.statistic as number) - full)).toBeLessThanOrEqual(entry?.tests.ks.errorBound as number);
  });

  it('a reference whose sample is all of it is compared exactly on raw values', () => {
    const values = Float64Array.from({ length: 300 }, (_, i) => Math.sin(i) * 5);
    const current = Float64Array.from({ length: 200 }, (_, i) => Math.cos(i) * 5 + 1);
    const reference = numericReferenceFromValues('small', values, ExactLogSketch.of(values));
    const entry = evaluateDrift(reference, { type: 'numeric', summary: ExactLogSketch.of(current), sample: current });
    expect(entry?.tests.ks.errorBound).toBeUndefined();
    expect(entry?.tests.ks.statistic).toBe(ks2Samp(values, current).statistic);
  });
});
