/**
 * Correlation drift: two numeric features whose correlation flips while each keeps its own
 * distribution exactly, so only a multivariate test can see it.
 */
import { describe, expect, it } from 'vitest';
import type { PredictionEvent } from '../../src/events/types.ts';
import { describeDrift, parseDriftSpec, type DriftSpec } from '../../src/simulator/drift.ts';
import { Scenario, simulateTimeline } from '../../src/simulator/scenario.ts';
import { ks2Samp } from '../../src/stats/distribution.ts';

const S = 1000;
const RATE = 2500;

/** Predictions of a 60 s fraud run, by phase: before 20 s, during [20 s, 40 s), after 40 s. */
function run(drift: DriftSpec[], seed = 5) {
  const scenario = new Scenario({ seed, startMs: 0, drift, labels: { earlyFraction: 0, neverFraction: 1, duplicateFraction: 0 } });
  const phases = { before: [] as PredictionEvent[], during: [] as PredictionEvent[], after: [] as PredictionEvent[] };
  for (const e of simulateTimeline(scenario, { fromMs: 0, toMs: 60 * S - 1, rate: RATE })) {
    if (e.kind !== 'pred') continue;
    const ts = e.event.ts;
    (ts < 20 * S ? phases.before : ts < 40 * S ? phases.during : phases.after).push(e.event);
  }
  return phases;
}

const values = (events: PredictionEvent[], name: string): number[] => events.map((e) => e.features?.[name]).filter((v): v is number => typeof v === 'number');

function pearson(x: readonly number[], y: readonly number[]): number {
  const mean = (v: readonly number[]) => v.reduce((s, t) => s + t, 0) / v.length;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const correlation = (events: PredictionEvent[], a: string, b: string): number => pearson(events.map((e) => e.features?.[a] as number), events.map((e) => e.features?.[b] as number));

function ranks(v: readonly number[]): number[] {
  const order = Array.from(v.keys()).sort((i, j) => v[i] - v[j]);
  const out = new Array<number>(v.length);
  order.forEach((i, k) => (out[i] = k));
  return out;
}

/** Spearman's rank correlation: the copula's own measure, whatever the marginals. */
const spearman = (events: PredictionEvent[], a: string, b: string): number =>
  pearson(ranks(events.map((e) => e.features?.[a] as number)), ranks(events.map((e) => e.features?.[b] as number)));

describe('correlation drift in the simulator', () => {
  const flip = run([{ kind: 'correlation', at: 20 * S, until: 40 * S }]);
  const none = run([]);

  it('flips the correlation of f0 and f3 from +rho to -rho and back', () => {
    // rho = 0.8 on the normal scale; f3 is uniform, so Pearson's r is 0.8 * sqrt(3 / pi) = 0.78
    expect(correlation(flip.before, 'f0', 'f3')).toBeCloseTo(0.78, 1);
    expect(correlation(flip.during, 'f0', 'f3')).toBeCloseTo(-0.78, 1);
    expect(correlation(flip.after, 'f0', 'f3')).toBeCloseTo(0.78, 1);
    expect(Math.abs(correlation(none.before, 'f0', 'f3'))).toBeLessThan(0.02);
  });

  it("keeps each feature's distribution: KS before vs during, and vs a run without the drift, is not significant", () => {
    expect(flip.before.length).toBeGreaterThan(49_000);
    for (const name of ['f0', 'f3']) {
      const before = values(flip.before, name);
      const during = values(flip.during, name);
      expect(ks2Samp(before, during, 'asymp').pValue, `${name} before vs during`).toBeGreaterThan(0.01);
      expect(ks2Samp(values(none.during, name), during, 'asymp').pValue, `${name} without drift vs during`).toBeGreaterThan(0.01);
    }
    // f3 is still uniform on [-5, 5] (events carry 4 decimals)
    const f3 = values(flip.during, 'f3');
    expect(Math.min(...f3)).toBeGreaterThanOrEqual(-5);
    expect(Math.max(...f3)).toBeLessThanOrEqual(5);
  });

  it("detects a change only in the joint distribution (the same KS on the pair's sum is significant)", () => {
    const sum = (events: PredictionEvent[]) => events.map((e) => (e.features?.f0 as number) + (e.features?.f3 as number) / 2.887);
    expect(ks2Samp(sum(flip.before), sum(flip.during), 'asymp').pValue).toBeLessThan(1e-6);
  });

  it('leaves the scores alone: f3 does not enter the fraud score', () => {
    const scores = (events: PredictionEvent[]) => events.map((e) => e.output as number);
    expect(ks2Samp(scores(flip.before), scores(flip.during), 'asymp').pValue).toBeGreaterThan(0.01);
  });

  it('couples any two normal, uniform, lognormal or exponential features, and a covariate shift still moves one', () => {
    const pair = run([
      { kind: 'correlation', at: 20 * S, features: ['f8', 'amount'], magnitude: 0.6 },
      { kind: 'covariate', at: 20 * S, until: 40 * S, feature: 'f8', magnitude: 1 },
    ]);
    expect(spearman(pair.before, 'f8', 'amount')).toBeGreaterThan(0.5);
    expect(spearman(pair.after, 'f8', 'amount')).toBeLessThan(-0.5);
    const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
    expect(mean(values(pair.during, 'f8')) - mean(values(pair.before, 'f8'))).toBeCloseTo(1, 1);
    expect(ks2Samp(values(pair.before, 'amount'), values(pair.after, 'amount'), 'asymp').pValue).toBeGreaterThan(0.01);
  });
});

describe('correlation drift: parsing and validation', () => {
  it('parses features=a+b and describes the flip', () => {
    const spec = parseDriftSpec('correlation@60s:features=f0+f1,magnitude=0.6,until=2m');
    expect(spec).toEqual({ kind: 'correlation', at: 60_000, features: ['f0', 'f1'], magnitude: 0.6, until: 120_000 });
    expect(describeDrift(spec)).toBe('correlation(f0+f1,0.6->-0.6)');
    expect(describeDrift(parseDriftSpec('correlation@1m'))).toBe('correlation(f0+f3,0.8->-0.8)');
  });

  it('says what is wrong and where', () => {
    expect(() => parseDriftSpec('correlation@60s:features=f0')).toThrow(/drift "correlation@60s:features=f0": features must be two feature names joined by '\+', e\.g\. features=f0\+f3, got "f0"/);
    expect(() => parseDriftSpec('correlation@60s:features=f0+f1+f2')).toThrow(/features must be two feature names/);
    const make = (drift: DriftSpec[]) => () => new Scenario({ seed: 1, startMs: 0, drift });
    expect(make([{ kind: 'correlation', at: 0, magnitude: 1 }])).toThrow(/drift\[0\] \(correlation@0ms\): magnitude is a correlation and must be in \(-1, 1\), got 1/);
    expect(make([{ kind: 'correlation', at: 0, features: ['f0', 'f0'] }])).toThrow(/features must name two different features, got "f0\+f0"/);
    expect(make([{ kind: 'correlation', at: 0, features: ['f0', 'nope'] }])).toThrow(/features "f0\+nope" are not both features of one simulated model; numeric features: f0, f1/);
    expect(make([{ kind: 'correlation', at: 0, features: ['f0', 'f4'] }])).toThrow(/feature "f4" of model fraud is poisson; correlation drift keeps a marginal exactly only for normal, uniform, lognormal, exponential features/);
    expect(make([{ kind: 'correlation', at: 0, features: ['f0', 'country'] }])).toThrow(/feature "country" of model fraud is categorical/);
    expect(make([{ kind: 'correlation', at: 0 }, { kind: 'correlation', at: 5, features: ['f3', 'f7'] }])).toThrow(/drift\[1\].*feature "f3" is already in correlation drift\[0\]/);
    expect(make([{ kind: 'correlation', at: 0, feature: 'f0' }])).toThrow(/feature only applies to covariate drift \(correlation drift takes features=a\+b\)/);
    expect(make([{ kind: 'covariate', at: 0, features: ['f0', 'f3'] }])).toThrow(/features only applies to correlation drift/);
  });
});
