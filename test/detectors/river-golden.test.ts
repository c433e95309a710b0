/**
 * River mode against River's own code: test/golden/river-detectors.json was written by
 * test/golden/make_river_detector_golden.py, which runs River's detector source files (Page–Hinkley,
 * DDM, EDDM, HDDM_A, HDDM_W, with River's stats.Mean and stats.Var) on seeded streams, including
 * inputs and thresholds placed within 3 ULPs of where River's verdict flips. driftwatch's detectors,
 * with River's options, must flag the same updates and end in the same state, bit for bit.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DDM, Ddm, EDDM, Eddm, HDDM_A, HDDM_W, HddmA, HddmW, PAGE_HINKLEY, PageHinkley, type ChangeDetector } from '../../src/stats/detectors/index.ts';

type DetectorName = 'PageHinkley' | 'DDM' | 'EDDM' | 'HDDM_A' | 'HDDM_W';
interface GoldenCase {
  detector: DetectorName;
  /** River's parameter names; absent ones are River's defaults. */
  params: Record<string, number | boolean | string>;
  stream: string;
  /** Values appended to the stream (an input placed at a threshold). */
  tail?: number[];
  note?: string;
  /** [first, last] runs of updates flagged warning (and not drift). */
  warnings: Array<[number, number]>;
  drifts: number[];
  /** River's state after the last update, under driftwatch's state field names. */
  final: Record<string, unknown>;
}
interface Golden {
  source: string;
  /** Real-valued streams as numbers, 0/1 streams as strings of digits. */
  streams: Record<string, number[] | string>;
  cases: GoldenCase[];
}

const golden = JSON.parse(readFileSync(new URL('../golden/river-detectors.json', import.meta.url), 'utf8')) as Golden;

const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

/** driftwatch's detector with River's options and the case's parameters. */
function detectorFor({ detector, params: p }: GoldenCase): ChangeDetector {
  switch (detector) {
    case 'PageHinkley':
      return new PageHinkley({
        ...PAGE_HINKLEY.riverOptions,
        minInstances: num(p.min_instances, 30),
        delta: num(p.delta, 0.005),
        threshold: num(p.threshold, 50),
        alpha: num(p.alpha, 1 - 0.0001),
        mode: (p.mode as 'up' | 'down' | 'both' | undefined) ?? 'both',
      });
    case 'DDM':
      return new Ddm({ ...DDM.riverOptions, warmStart: num(p.warm_start, 30), warningThreshold: num(p.warning_threshold, 2), driftThreshold: num(p.drift_threshold, 3) });
    case 'EDDM':
      return new Eddm({ ...EDDM.riverOptions, warmStart: num(p.warm_start, 30), alpha: num(p.alpha, 0.95), beta: num(p.beta, 0.9) });
    case 'HDDM_A':
      return new HddmA({ ...HDDM_A.riverOptions, driftConfidence: num(p.drift_confidence, 0.001), warningConfidence: num(p.warning_confidence, 0.005), twoSidedTest: p.two_sided_test === true });
    case 'HDDM_W':
      return new HddmW({
        ...HDDM_W.riverOptions,
        driftConfidence: num(p.drift_confidence, 0.001),
        warningConfidence: num(p.warning_confidence, 0.005),
        lambda: num(p.lambda_val, 0.05),
        twoSidedTest: p.two_sided_test === true,
      });
  }
}

function valuesOf(c: GoldenCase): number[] {
  const stream = golden.streams[c.stream];
  if (stream === undefined) throw new Error(`river-detectors.json: case on stream '${c.stream}', which the file does not hold`);
  const values = typeof stream === 'string' ? [...stream].map(Number) : stream;
  return c.tail === undefined ? values : [...values, ...c.tail];
}

/** The same shape as the golden: drift indices, warning runs, final state. */
function runCase(c: GoldenCase): { drifts: number[]; warnings: Array<[number, number]>; state: Record<string, unknown> } {
  const detector = detectorFor(c);
  const drifts: number[] = [];
  const warnings: Array<[number, number]> = [];
  valuesOf(c).forEach((x, i) => {
    detector.update(x);
    if (detector.driftDetected) drifts.push(i);
    else if (detector.warningDetected) {
      const last = warnings.at(-1);
      if (last !== undefined && last[1] === i - 1) last[1] = i;
      else warnings.push([i, i]);
    }
  });
  return { drifts, warnings, state: detector.toJSON() as unknown as Record<string, unknown> };
}

/** The golden's state fields, read from driftwatch's state (HDDM_W's samples: the fields River has). */
function comparable(c: GoldenCase, state: Record<string, unknown>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const [key, expected] of Object.entries(c.final)) {
    const actual = state[key];
    if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
      picked[key] = Object.fromEntries(Object.keys(expected).map((k) => [k, (actual as Record<string, unknown>)[k]]));
    } else {
      picked[key] = actual;
    }
  }
  return picked;
}

const detectors: DetectorName[] = ['PageHinkley', 'DDM', 'EDDM', 'HDDM_A', 'HDDM_W'];

describe("River mode against River's own detector code (river-detectors.json)", () => {
  it('the golden covers every detector, with threshold probes whose verdicts differ a few ULPs apart', () => {
    for (const name of detectors) {
      const cases = golden.cases.filter((c) => c.detector === name);
      expect(cases.length, name).toBeGreaterThanOrEqual(100);
      expect(cases.reduce((n, c) => n + c.drifts.length, 0), name).toBeGreaterThan(0);
      // probes of one prefix or threshold with different outcomes: the comparison is sensitive to the last bits
      const outcomes = new Map<string, Set<string>>();
      for (const c of cases.filter((k) => k.note !== undefined)) {
        const key = `${c.stream}|${c.tail === undefined ? Math.round(num(c.params.drift_threshold ?? c.params.beta, 0) * 1e8) : ''}`;
        outcomes.set(key, (outcomes.get(key) ?? new Set()).add(JSON.stringify([c.drifts, c.warnings])));
      }
      expect([...outcomes.values()].filter((s) => s.size > 1).length, name).toBeGreaterThanOrEqual(10);
    }
  });

  for (const name of detectors) {
    it(`${name}: the same drift and warning updates, and the same final state, on every case`, () => {
      const cases = golden.cases.filter((c) => c.detector === name);
      for (const [i, c] of cases.entries()) {
        const label = `${name} case ${i} (stream ${c.stream}${c.tail ? `, last value ${c.tail.join(',')}` : ''}, params ${JSON.stringify(c.params)})`;
        const ours = runCase(c);
        expect(ours.drifts, label).toEqual(c.drifts);
        expect(ours.warnings, label).toEqual(c.warnings);
        expect(comparable(c, ours.state), label).toEqual(c.final);
      }
    });
  }
});
