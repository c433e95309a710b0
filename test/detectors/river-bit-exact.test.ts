/**
 * River mode is bit-exact: with River's options, driftwatch's detectors flag exactly where River's
 * arithmetic flags, including on inputs a few ULPs either side of a threshold, and they take
 * River's parameter defaults and accept the option pairs River accepts.
 *
 * The oracle is River's code written out in river-oracle.ts (file and function cited there); the
 * threshold-crossing inputs are found here by bisection over doubles with that oracle.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DDM, Ddm, EDDM, Eddm, HDDM_A, HDDM_W, HddmA, HddmW, PAGE_HINKLEY, PageHinkley } from '../../src/stats/detectors/index.ts';
import { NaiveMean, NaiveVar, RiverDdm, RiverEddm, RiverHddmA, RiverHddmW, RiverPageHinkley, type MeanFactory, type RiverFlags } from './river-oracle.ts';
import { bernoulliStream, mulberry32 } from './streams.ts';

const bits = new Float64Array(1);
const asInt = new BigInt64Array(bits.buffer);

/** Bit pattern of a non-negative double (monotone in the value). */
function toBits(x: number): bigint {
  bits[0] = x;
  return asInt[0]!;
}
function fromBits(b: bigint): number {
  asInt[0] = b;
  return bits[0]!;
}
/** x moved by `ulps` representable doubles (x >= 0 and the result stays >= 0). */
function stepUlps(x: number, ulps: number): number {
  return fromBits(toBits(x) + BigInt(ulps));
}

/** Smallest double in (lo, hi] at which `flags` is true, given flags(lo) false and flags(hi) true. */
function crossing(flags: (x: number) => boolean, lo: number, hi: number): number {
  let low = toBits(lo);
  let high = toBits(hi);
  while (high - low > 1n) {
    const mid = (low + high) / 2n;
    if (flags(fromBits(mid))) high = mid;
    else low = mid;
  }
  return fromBits(high);
}

/** Inputs from 4 ULPs below to 4 ULPs above each crossing. */
function probesAround(...crossings: number[]): number[] {
  const probes = new Set<number>();
  for (const c of crossings) for (let k = -4; k <= 4; k++) probes.add(stepUlps(c, k));
  return [...probes];
}

interface Flagging {
  update(x: number): void;
  readonly driftDetected: boolean;
  readonly warningDetected: boolean;
}
function flagsOf(detector: Flagging, values: readonly number[]): string {
  return values
    .map((x) => {
      detector.update(x);
      return detector.driftDetected ? 'D' : detector.warningDetected ? 'w' : '.';
    })
    .join('');
}
function oracleFlags(oracle: RiverFlags & { update(x: number): void }, values: readonly number[]): string {
  return values
    .map((x) => {
      oracle.update(x);
      return oracle.drift ? 'D' : oracle.warning ? 'w' : '.';
    })
    .join('');
}

const naiveMean: MeanFactory = () => new NaiveMean();

describe('River mode at a threshold: the verdict of every input a few ULPs either side is River’s', () => {
  it('Page–Hinkley (riverOptions): 25 streams whose last value puts test_increase at the threshold', () => {
    let probed = 0;
    let naiveWouldDiffer = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const random = mulberry32(seed);
      const prefix = Array.from({ length: 40 + seed }, () => random() * 3 - 1);
      const riverDrifts = (x: number, newMean?: MeanFactory): boolean => {
        const oracle = new RiverPageHinkley(30, 0.005, 50, 0.9999, newMean);
        for (const v of prefix) oracle.update(v);
        oracle.update(x);
        return oracle.drift;
      };
      expect(riverDrifts(0)).toBe(false);
      expect(riverDrifts(1000)).toBe(true);
      const atRiver = crossing((x) => riverDrifts(x), 0, 1000);
      const atNaive = crossing((x) => riverDrifts(x, naiveMean), 0, 1000);
      for (const x of probesAround(atRiver, atNaive)) {
        const detector = new PageHinkley(PAGE_HINKLEY.riverOptions);
        for (const v of prefix) detector.update(v);
        detector.update(x);
        expect(detector.driftDetected, `seed ${seed}, last value ${x}`).toBe(riverDrifts(x));
        if (riverDrifts(x) !== riverDrifts(x, naiveMean)) naiveWouldDiffer += 1;
        probed += 1;
      }
    }
    // The probes are fine enough to tell River's rounding from `(x - mean) / n`'s.
    expect(naiveWouldDiffer).toBeGreaterThan(0);
    expect(probed).toBeGreaterThanOrEqual(25 * 9);
  });

  it('HDDM_A (riverOptions): 20 streams whose last value puts the rise at the drift bound', () => {
    let found = 0;
    let naiveWouldDiffer = 0;
    for (let seed = 1; found < 20 && seed < 5000; seed++) {
      const random = mulberry32(seed);
      const prefix = [
        ...Array.from({ length: 60 + (seed % 50) }, () => random() * 0.4),
        ...Array.from({ length: 10 + (seed % 17) }, () => 0.3 + random() * 0.6),
      ];
      const runOracle = (x: number, newMean?: MeanFactory): string => oracleFlags(new RiverHddmA(0.001, 0.005, false, newMean), [...prefix, x]);
      const lastIsDrift = (x: number, newMean?: MeanFactory): boolean => runOracle(x, newMean).endsWith('D');
      if (runOracle(0).includes('D') || !lastIsDrift(1)) continue;
      if (runOracle(1).slice(0, -1).includes('D')) continue;
      found += 1;
      const atRiver = crossing((x) => lastIsDrift(x), 0, 1);
      const atNaive = lastIsDrift(0, naiveMean) || !lastIsDrift(1, naiveMean) ? atRiver : crossing((x) => lastIsDrift(x, naiveMean), 0, 1);
      for (const x of probesAround(atRiver, atNaive).filter((v) => v >= 0 && v <= 1)) {
        const expected = runOracle(x);
        expect(flagsOf(new HddmA(HDDM_A.riverOptions), [...prefix, x]), `seed ${seed}, last value ${x}`).toBe(expected);
        if (runOracle(x, naiveMean) !== expected) naiveWouldDiffer += 1;
      }
    }
    expect(found).toBe(20);
    expect(naiveWouldDiffer).toBeGreaterThan(0);
  });

  it('HDDM_W (riverOptions): 20 streams whose last value puts the EWMA rise at the McDiarmid bound', () => {
    let found = 0;
    for (let seed = 1; found < 20 && seed < 5000; seed++) {
      const random = mulberry32(seed);
      // A calm stretch, then higher values until a last value of 1 would be a drift.
      const prefix = Array.from({ length: 60 + (seed % 50) }, () => random() * 0.4);
      const runOracle = (x: number): string => oracleFlags(new RiverHddmW(), [...prefix, x]);
      while (prefix.length < 400 && !runOracle(1).endsWith('D')) prefix.push(0.3 + random() * 0.6);
      if (runOracle(0).includes('D') || !runOracle(1).endsWith('D') || runOracle(1).slice(0, -1).includes('D')) continue;
      found += 1;
      const atRiver = crossing((x) => runOracle(x).endsWith('D'), 0, 1);
      for (const x of probesAround(atRiver).filter((v) => v >= 0 && v <= 1)) {
        expect(flagsOf(new HddmW(HDDM_W.riverOptions), [...prefix, x]), `seed ${seed}, last value ${x}`).toBe(runOracle(x));
      }
    }
    expect(found).toBe(20);
  });
});

describe('River mode with a threshold placed at the statistic: the verdict is River’s a few ULPs either side', () => {
  it('EDDM (riverOptions): beta set within 2 ULPs of a level River computed', () => {
    let probed = 0;
    let naiveWouldDiffer = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const errors = bernoulliStream(seed, 3000, 1500, 0.15, 0.3);
      // beta near 0 never drifts, so every level of the stream is listed.
      const survey = new RiverEddm(30, 0.95, Number.MIN_VALUE);
      for (const x of errors) survey.update(x);
      const levels = survey.levels.filter((l) => l.level < 0.95).slice(0, 6);
      for (const { level } of levels) {
        for (let k = -2; k <= 2; k++) {
          const beta = stepUlps(level, k);
          const expected = oracleFlags(new RiverEddm(30, 0.95, beta), errors);
          expect(flagsOf(new Eddm({ ...EDDM.riverOptions, beta }), errors), `seed ${seed}, beta ${beta}`).toBe(expected);
          if (oracleFlags(new RiverEddm(30, 0.95, beta, () => new NaiveVar()), errors) !== expected) naiveWouldDiffer += 1;
          probed += 1;
        }
      }
    }
    expect(probed).toBeGreaterThan(100);
    // The probes tell River's Var from the variance recurrence driftwatch used before.
    expect(naiveWouldDiffer).toBeGreaterThan(0);
  });

  it('DDM (riverOptions): the drift threshold set within 3 ULPs of where p + s sits', () => {
    let probed = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const errors = bernoulliStream(seed, 3000, 1500, 0.15, 0.3);
      const survey = new RiverDdm(30, 2, 1e9);
      for (const x of errors) survey.update(x);
      const ratios = survey.ratios.filter((r) => r > 2 && r < 6).slice(0, 6);
      for (const ratio of ratios) {
        for (let k = -3; k <= 3; k++) {
          const driftThreshold = stepUlps(ratio, k);
          const expected = oracleFlags(new RiverDdm(30, 2, driftThreshold), errors);
          expect(flagsOf(new Ddm({ ...DDM.riverOptions, driftThreshold }), errors), `seed ${seed}, driftThreshold ${driftThreshold}`).toBe(expected);
          probed += 1;
        }
      }
    }
    expect(probed).toBeGreaterThan(100);
  });
});

describe('River mode on whole streams: every drift and warning flag equals River’s arithmetic', () => {
  const seeds = Array.from({ length: 40 }, (_, i) => i + 1);

  it('Page–Hinkley on real-valued streams with a shift', () => {
    for (const seed of seeds) {
      const random = mulberry32(seed);
      const values = Array.from({ length: 3000 }, (_, t) => (t < 1500 ? random() : 0.4 + random() * 1.3));
      const oracle = new RiverPageHinkley();
      const expected = values.map((x) => (oracle.update(x), oracle.drift ? 'D' : '.')).join('');
      expect(flagsOf(new PageHinkley(PAGE_HINKLEY.riverOptions), values)).toBe(expected);
    }
  });

  it('HDDM_A and HDDM_W one- and two-sided, DDM and EDDM on error streams with a change', () => {
    for (const seed of seeds) {
      const errors = bernoulliStream(seed, 4000, 2000, 0.2, 0.45);
      expect(flagsOf(new HddmA(HDDM_A.riverOptions), errors)).toBe(oracleFlags(new RiverHddmA(), errors));
      expect(flagsOf(new HddmA({ ...HDDM_A.riverOptions, twoSidedTest: true }), errors)).toBe(
        oracleFlags(new RiverHddmA(0.001, 0.005, true), errors),
      );
      expect(flagsOf(new Ddm(DDM.riverOptions), errors)).toBe(oracleFlags(new RiverDdm(), errors));
      expect(flagsOf(new Eddm(EDDM.riverOptions), errors)).toBe(oracleFlags(new RiverEddm(), errors));
      expect(flagsOf(new HddmW(HDDM_W.riverOptions), errors)).toBe(oracleFlags(new RiverHddmW(), errors));
      expect(flagsOf(new HddmW({ ...HDDM_W.riverOptions, twoSidedTest: true }), errors)).toBe(
        oracleFlags(new RiverHddmW(0.001, 0.005, 0.05, true), errors),
      );
    }
  });

  it('the oracles reproduce River’s documented examples (so they are River’s code, not ours)', () => {
    const golden = JSON.parse(readFileSync(new URL('../golden/detector-examples.json', import.meta.url), 'utf8')) as {
      streams: Record<'numeric' | 'binary', { values: number[] }>;
      examples: { detector: string; drift_at: number[]; first_warning_at?: number[] }[];
    };
    const example = (name: string): { drift_at: number[]; first_warning_at?: number[] } => golden.examples.find((e) => e.detector === name)!;
    const indices = (flags: string, flag: string): number[] => [...flags].flatMap((f, i) => (f === flag ? [i] : []));
    const numeric = golden.streams.numeric.values;
    const binary = golden.streams.binary.values;

    const ph = new RiverPageHinkley();
    expect(indices(numeric.map((x) => (ph.update(x), ph.drift ? 'D' : '.')).join(''), 'D')).toEqual(example('PageHinkley').drift_at);
    for (const [name, oracle] of [
      ['DDM', new RiverDdm()],
      ['EDDM', new RiverEddm(30, 0.8, 0.75)],
      ['HDDM_A', new RiverHddmA()],
      ['HDDM_W', new RiverHddmW()],
    ] as const) {
      const flags = oracleFlags(oracle, binary);
      expect(indices(flags, 'D'), name).toEqual(example(name).drift_at);
      expect(indices(flags, 'w')[0], name).toBe(example(name).first_warning_at![0]);
    }
  });
});

describe('River mode: River’s parameter defaults and accepted combinations', () => {
  it('HDDM with River’s bound: a drift confidence alone leaves the warning confidence at River’s 0.005', () => {
    expect(new HddmA({ bound: 'hoeffding', driftConfidence: 0.0001 })).toMatchObject({ driftConfidence: 0.0001, warningConfidence: 0.005 });
    expect(new HddmW({ bound: 'mcdiarmid', driftConfidence: 0.0001 })).toMatchObject({ driftConfidence: 0.0001, warningConfidence: 0.005 });
    expect(new HddmA({ bound: 'hoeffding' })).toMatchObject({ driftConfidence: 0.001, warningConfidence: 0.005 });
    expect(new HddmA({ bound: 'hoeffding', warningConfidence: 0.05 })).toMatchObject({ driftConfidence: 0.001, warningConfidence: 0.05 });
    // driftwatch's own bounds keep their defaults and their 5:1 rule.
    expect(new HddmA({ driftConfidence: 0.001 })).toMatchObject({ driftConfidence: 0.001, warningConfidence: 0.005 });
    expect(new HddmA({ driftConfidence: 0.0001 })).toMatchObject({ driftConfidence: 0.0001, warningConfidence: 0.0005 });
    expect(new HddmA()).toMatchObject({ driftConfidence: 1e-4, warningConfidence: 5e-4 });
  });

  it('HDDM with River’s bound accepts a warning confidence stricter than the drift one, and runs it as River does', () => {
    const options = { ...HDDM_A.riverOptions, driftConfidence: 0.01, warningConfidence: 0.001 };
    const detector = new HddmA(options);
    expect(detector).toMatchObject({ driftConfidence: 0.01, warningConfidence: 0.001 });
    expect(() => new HddmW({ bound: 'mcdiarmid', driftConfidence: 0.01, warningConfidence: 0.001 })).not.toThrow();
    for (const seed of [1, 2, 3, 4, 5]) {
      const errors = bernoulliStream(seed, 4000, 2000, 0.2, 0.4);
      expect(flagsOf(new HddmA(options), errors)).toBe(oracleFlags(new RiverHddmA(0.01, 0.001), errors));
    }
    // driftwatch's Bernstein bound still refuses it, naming both options.
    expect(() => new HddmA({ driftConfidence: 0.01, warningConfidence: 0.001 })).toThrow(/'warningConfidence' \(0.001\) must be >= 'driftConfidence' \(0.01\)/);
  });

  it('DDM accepts a warning threshold above the drift threshold, as River does, and flags as River', () => {
    const options = { ...DDM.riverOptions, warningThreshold: 4, driftThreshold: 3 };
    for (const seed of [1, 2, 3, 4, 5]) {
      const errors = bernoulliStream(seed, 4000, 2000, 0.2, 0.4);
      const flags = flagsOf(new Ddm(options), errors);
      expect(flags).toBe(oracleFlags(new RiverDdm(30, 4, 3), errors));
      expect(flags).toContain('D');
    }
  });
});
