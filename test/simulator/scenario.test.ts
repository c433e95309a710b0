import { describe, expect, it } from 'vitest';
import type { LabelEvent, PredictionEvent } from '../../src/events/types.ts';
import type { DriftSpec } from '../../src/simulator/drift.ts';
import { Scenario, simulateTimeline, type SimEvent } from '../../src/simulator/scenario.ts';
import { collect, windowFigures } from './helpers.ts';

/** Labels sent with their predictions, so accuracy can be measured for every window. */
const IMMEDIATE_LABELS = { earlyFraction: 1, neverFraction: 0, duplicateFraction: 0 };
const S = 1000;

/** Runs 60 s at 500 predictions/s with the drift active from 20 s to 40 s; figures per phase. */
function phases(drift: Omit<DriftSpec, 'at' | 'until'>, models?: ('fraud' | 'churn')[]) {
  const events = collect({ drift: [{ ...drift, at: 20 * S, until: 40 * S }], labels: IMMEDIATE_LABELS, models }, 60 * S, 500);
  return {
    before: windowFigures(events, 0, 20 * S),
    during: windowFigures(events, 20 * S, 40 * S),
    after: windowFigures(events, 40 * S, 60 * S),
  };
}

describe('Scenario: determinism', () => {
  it('reproduces the same events for the same seed and differs for another seed', () => {
    const a = collect({ seed: 7 }, 5 * S);
    const b = collect({ seed: 7 }, 5 * S);
    const c = collect({ seed: 8 }, 5 * S);
    expect(a.length).toBeGreaterThan(5000);
    expect(b).toEqual(a);
    const scoresA = a.filter((e) => e.kind === 'pred').map((e) => (e.event as PredictionEvent).output);
    const scoresC = c.filter((e) => e.kind === 'pred').map((e) => (e.event as PredictionEvent).output);
    expect(scoresC).not.toEqual(scoresA);
  });

  it('stamps predictions with the tick time and releases labels in send-time order, never early', () => {
    const scenario = new Scenario({ seed: 3, startMs: 1_000_000 });
    let lastLabelAt = -Infinity;
    for (let t = 1_000_000; t <= 1_030_000; t += 50) {
      for (const e of scenario.tick(t, 10)) {
        if (e.kind === 'pred') expect(e.event.ts).toBe(t);
        else {
          expect(e.at).toBeLessThanOrEqual(t);
          if (e.at !== t) {
            // delayed labels come out in order; an early label (at === t) sits next to its prediction
            expect(e.at).toBeGreaterThanOrEqual(lastLabelAt);
            lastLabelAt = e.at;
          }
        }
      }
    }
  });
});

describe('Scenario: the base traffic (no drift)', () => {
  const events = collect({ labels: IMMEDIATE_LABELS }, 60 * S, 1000);
  const f = windowFigures(events, 0, 60 * S + 1);
  const preds = events.filter((e): e is Extract<SimEvent, { kind: 'pred' }> => e.kind === 'pred').map((e) => e.event);

  it('has a binary fraud classifier with accuracy 0.85-0.9 and scores in [0, 1]', () => {
    expect(f.predictions).toBe(60_000);
    expect(f.accuracy).toBeGreaterThan(0.85);
    expect(f.accuracy).toBeLessThan(0.9);
    expect(f.positiveLabelRate).toBeGreaterThan(0.2);
    expect(f.positiveLabelRate).toBeLessThan(0.4);
    expect(new Set(preds.map((p) => p.model))).toEqual(new Set(['fraud']));
    const outOfRange = preds.filter((p) => typeof p.output !== 'number' || !(p.output >= 0 && p.output <= 1));
    expect(outOfRange).toEqual([]);
  });

  it('splits traffic 90/10 between v1 and the v2 canary and 60/40 between groups a and b', () => {
    const v2 = preds.filter((p) => p.version === 'v2').length / preds.length;
    const b = preds.filter((p) => p.segment?.group === 'b').length / preds.length;
    expect(v2).toBeCloseTo(0.1, 1);
    expect(b).toBeCloseTo(0.4, 1);
    expect(new Set(preds.map((p) => p.version))).toEqual(new Set(['v1', 'v2']));
  });

  it('serves in 20-40 ms on average and fails about 0.5% of requests, output still present', () => {
    expect(f.meanLatencyMs).toBeGreaterThan(20);
    expect(f.meanLatencyMs).toBeLessThan(40);
    expect(f.errorRate).toBeGreaterThan(0.003);
    expect(f.errorRate).toBeLessThan(0.007);
    const failed = preds.filter((p) => p.error !== undefined);
    expect(failed.every((p) => typeof p.output === 'number')).toBe(true);
    expect(new Set(failed.map((p) => p.error))).toEqual(new Set(['timeout', 'upstream_unavailable', 'feature_store_miss']));
  });

  it('has 10 numeric features of different shapes and 2 categoricals', () => {
    const names = Object.keys(preds[0].features ?? {});
    expect(names).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'amount', 'country', 'device']);
    expect(f.featureMean('f0')).toBeCloseTo(0, 1);
    expect(f.featureMean('f1')).toBeCloseTo(50, 0);
    expect(f.featureMean('f2')).toBeCloseTo(0.5, 1);
    expect(f.featureMean('f4')).toBeCloseTo(3, 1);
    // lognormal(3.5, 1): mean exp(4) ~ 54.6, always positive, long right tail
    expect(f.featureMean('amount')).toBeGreaterThan(50);
    expect(f.featureMean('amount')).toBeLessThan(60);
    expect(preds.every((p) => (p.features?.amount as number) >= 0)).toBe(true);
    expect(preds.every((p) => Number.isInteger(p.features?.f4))).toBe(true);
    const f6Nulls = preds.filter((p) => p.features?.f6 === null).length / preds.length;
    expect(f6Nulls).toBeCloseTo(0.05, 2);
    expect(preds.filter((p) => p.features?.f0 === null)).toHaveLength(0);
    expect(f.categoryShare('country', 'US')).toBeCloseTo(0.35, 1);
    expect(f.categoryShare('country', 'NG')).toBeCloseTo(0.05, 1);
    expect(new Set(preds.map((p) => p.features?.country)).size).toBe(8);
    expect(new Set(preds.map((p) => p.features?.device))).toEqual(new Set(['mobile', 'desktop', 'tablet']));
  });

  it('is fair across groups when no fairness drift is scheduled', () => {
    const a = f.predictedPositiveRate((p) => p.segment?.group === 'a');
    const b = f.predictedPositiveRate((p) => p.segment?.group === 'b');
    expect(b / a).toBeGreaterThan(0.9);
    expect(b / a).toBeLessThan(1.1);
  });
});

describe('Scenario: scheduled drift moves its target after `at`, not before, and stops at `until`', () => {
  it('covariate shifts a numeric feature by magnitude standard deviations', () => {
    const { before, during, after } = phases({ kind: 'covariate', feature: 'f1', magnitude: 1 });
    expect(before.featureMean('f1')).toBeCloseTo(50, 0);
    expect(during.featureMean('f1') - before.featureMean('f1')).toBeGreaterThan(9.5); // std of f1 is 10
    expect(during.featureMean('f1') - before.featureMean('f1')).toBeLessThan(10.5);
    expect(after.featureMean('f1')).toBeCloseTo(50, 0);
    // other features stay put
    expect(during.featureMean('f0')).toBeCloseTo(before.featureMean('f0'), 1);
  });

  it('covariate defaults to f0 with one standard deviation', () => {
    const { before, during, after } = phases({ kind: 'covariate' });
    expect(during.featureMean('f0') - before.featureMean('f0')).toBeCloseTo(1, 1);
    expect(after.featureMean('f0')).toBeCloseTo(0, 1);
  });

  it('covariate on a categorical feature moves traffic towards its rare categories', () => {
    const { before, during, after } = phases({ kind: 'covariate', feature: 'country', magnitude: 1 });
    // half the traffic is drawn from the reversed weights: NG goes from 5% to (5% + 35%) / 2
    expect(before.categoryShare('country', 'NG')).toBeCloseTo(0.05, 1);
    expect(during.categoryShare('country', 'NG')).toBeCloseTo(0.2, 1);
    expect(during.categoryShare('country', 'US')).toBeCloseTo(0.2, 1);
    expect(after.categoryShare('country', 'NG')).toBeCloseTo(0.05, 1);
  });

  it('prior shifts the positive-class rate by +0.2 by default', () => {
    const { before, during, after } = phases({ kind: 'prior' });
    expect(during.positiveLabelRate - before.positiveLabelRate).toBeGreaterThan(0.17);
    expect(during.positiveLabelRate - before.positiveLabelRate).toBeLessThan(0.23);
    expect(Math.abs(after.positiveLabelRate - before.positiveLabelRate)).toBeLessThan(0.02);
  });

  it('concept drops accuracy by about 15 points while the inputs stay the same', () => {
    const { before, during, after } = phases({ kind: 'concept' });
    const drop = before.accuracy - during.accuracy;
    expect(drop).toBeGreaterThan(0.1);
    expect(drop).toBeLessThan(0.2);
    expect(Math.abs(after.accuracy - before.accuracy)).toBeLessThan(0.02);
    // inputs: means within 0.05 standard deviations (f0 std 1, f1 std 10, amount std ~72)
    const stds: Record<string, number> = { f0: 1, f1: 10, amount: 72 };
    for (const [feature, std] of Object.entries(stds)) {
      expect(Math.abs(during.featureMean(feature) - before.featureMean(feature)) / std).toBeLessThan(0.05);
    }
    expect(Math.abs(during.meanScore - before.meanScore)).toBeLessThan(0.01);
  });

  it('latency adds 80 ms by default', () => {
    const { before, during, after } = phases({ kind: 'latency' });
    expect(during.meanLatencyMs - before.meanLatencyMs).toBeCloseTo(80, 0);
    expect(Math.abs(after.meanLatencyMs - before.meanLatencyMs)).toBeLessThan(1);
  });

  it('error_rate sets the error probability to 0.1 by default', () => {
    const { before, during, after } = phases({ kind: 'error_rate' });
    expect(before.errorRate).toBeLessThan(0.01);
    expect(during.errorRate).toBeCloseTo(0.1, 1.5);
    expect(during.errorRate).toBeGreaterThan(0.09);
    expect(during.errorRate).toBeLessThan(0.11);
    expect(after.errorRate).toBeLessThan(0.01);
  });

  it('fairness lowers group b scores until the disparate-impact ratio falls well below 0.8', () => {
    const { before, during, after } = phases({ kind: 'fairness' });
    const ratio = (w: typeof before) =>
      w.predictedPositiveRate((p) => p.segment?.group === 'b') / w.predictedPositiveRate((p) => p.segment?.group === 'a');
    expect(ratio(before)).toBeGreaterThan(0.9);
    expect(ratio(during)).toBeLessThan(0.7);
    expect(ratio(after)).toBeGreaterThan(0.9);
    // the truth did not change: group b's labels are as positive as before
    expect(Math.abs(during.positiveLabelRate - before.positiveLabelRate)).toBeLessThan(0.02);
  });

  it('segment makes 15 % of group b\'s answers wrong while group a stays as it was', () => {
    const { before, during, after } = phases({ kind: 'segment' });
    const a = (p: PredictionEvent) => p.segment?.group === 'a';
    const b = (p: PredictionEvent) => p.segment?.group === 'b';
    // group b keeps 85 % of its correct answers: a drop of 0.15 x its accuracy
    const expected = 0.15 * before.accuracyWhere(b);
    expect(before.accuracyWhere(b) - during.accuracyWhere(b)).toBeGreaterThan(expected - 0.03);
    expect(before.accuracyWhere(b) - during.accuracyWhere(b)).toBeLessThan(expected + 0.03);
    expect(Math.abs(during.accuracyWhere(a) - before.accuracyWhere(a))).toBeLessThan(0.015);
    expect(Math.abs(after.accuracyWhere(b) - before.accuracyWhere(b))).toBeLessThan(0.03);
  });

  it('canary makes v2 worse than v1 while v1 stays as it was', () => {
    const { before, during, after } = phases({ kind: 'canary' });
    const v1 = (p: PredictionEvent) => p.version === 'v1';
    const v2 = (p: PredictionEvent) => p.version === 'v2';
    expect(Math.abs(before.accuracyWhere(v2) - before.accuracyWhere(v1))).toBeLessThan(0.03);
    expect(during.accuracyWhere(v1) - during.accuracyWhere(v2)).toBeGreaterThan(0.1);
    expect(Math.abs(during.accuracyWhere(v1) - before.accuracyWhere(v1))).toBeLessThan(0.015);
    expect(Math.abs(after.accuracyWhere(v2) - after.accuracyWhere(v1))).toBeLessThan(0.03);
  });

  it('scopes a drift to one model when `model` is set', () => {
    const events = collect(
      { models: ['fraud', 'churn'], drift: [{ at: 0, kind: 'latency', magnitude: 500, model: 'churn' }] },
      10 * S,
    );
    const preds = events.filter((e) => e.kind === 'pred').map((e) => e.event as PredictionEvent);
    const meanLatency = (model: string) => {
      const subset = preds.filter((p) => p.model === model);
      return subset.reduce((s, p) => s + (p.latencyMs ?? 0), 0) / subset.length;
    };
    expect(meanLatency('fraud')).toBeLessThan(40);
    expect(meanLatency('churn')).toBeGreaterThan(500);
  });
});

describe('Scenario: labels', () => {
  // defaults: median delay 5 s (lognormal, sigma 1), 2% early, 10% never, 0.1% duplicate predictions
  const events = collect({}, 120 * S, 1000);
  const predTs = new Map<string, number>();
  const predIndex = new Map<string, number>();
  const labelIndex = new Map<string, number>();
  const labels: LabelEvent[] = [];
  let duplicates = 0;
  events.forEach((e, i) => {
    if (e.kind === 'pred') {
      if (predTs.has(e.event.id)) duplicates++;
      else {
        predTs.set(e.event.id, e.event.ts);
        predIndex.set(e.event.id, i);
      }
    } else {
      labels.push(e.event);
      labelIndex.set(e.event.id, i);
    }
  });
  // predictions old enough that practically every delayed label has arrived (P(delay > 60 s) < 1%)
  const settled = [...predTs].filter(([, ts]) => ts < 60 * S).map(([id]) => id);

  it('never labels about 10% of predictions', () => {
    const unlabeled = settled.filter((id) => !labelIndex.has(id)).length / settled.length;
    expect(unlabeled).toBeGreaterThan(0.09);
    expect(unlabeled).toBeLessThan(0.115);
  });

  it('sends about 2% of labels before their prediction', () => {
    const early = settled.filter((id) => labelIndex.has(id) && (labelIndex.get(id) as number) < (predIndex.get(id) as number));
    expect(early.length / settled.length).toBeGreaterThan(0.015);
    expect(early.length / settled.length).toBeLessThan(0.025);
  });

  it('delays the rest by a lognormal with a median near 5 s and labels each id once', () => {
    const delays = labels
      .filter((l) => l.ts > (predTs.get(l.id) as number))
      .map((l) => l.ts - (predTs.get(l.id) as number))
      .sort((a, b) => a - b);
    const median = delays[Math.floor(delays.length / 2)];
    expect(median).toBeGreaterThan(4500);
    expect(median).toBeLessThan(5500);
    expect(delays[Math.floor(delays.length * 0.9)]).toBeGreaterThan(15_000); // long tail: e^(1.28) * 5 s ~ 18 s
    expect(new Set(labels.map((l) => l.id)).size).toBe(labels.length);
    expect(labels.filter((l) => !predTs.has(l.id))).toEqual([]);
  });

  it('repeats about 0.1% of prediction ids', () => {
    expect(duplicates).toBeGreaterThan(60);
    expect(duplicates).toBeLessThan(180);
  });

  it('bounds the pending-label queue and counts what it drops', () => {
    const scenario = new Scenario({ seed: 1, startMs: 0, maxPendingLabels: 100, labels: { delaySigma: 0 } });
    const out = Array.from(simulateTimeline(scenario, { fromMs: 0, toMs: 4 * S, rate: 1000 }));
    const stats = scenario.stats;
    expect(stats.pendingLabels).toBe(100);
    expect(stats.labelsDropped).toBeGreaterThan(3000);
    expect(stats.labelsEmitted).toBe(out.filter((e) => e.kind === 'label').length);
    expect(stats.predictions).toBe(4000);
  });
});

describe('Scenario: churn, a multiclass model with string outputs', () => {
  it('outputs and labels classes as strings, with its own features, sharing traffic with fraud', () => {
    const events = collect({ models: ['fraud', { kind: 'churn', weight: 1 }], labels: IMMEDIATE_LABELS }, 20 * S);
    const churn = events.filter((e) => e.event.model === 'churn');
    const preds = churn.filter((e) => e.kind === 'pred').map((e) => e.event as PredictionEvent);
    expect(preds.length / 20_000).toBeCloseTo(0.5, 1);
    expect(new Set(preds.map((p) => p.output))).toEqual(new Set(['stay', 'churn', 'downgrade']));
    expect(Object.keys(preds[0].features ?? {})).toEqual(['tenure_months', 'monthly_spend', 'support_tickets', 'usage_hours', 'plan', 'region']);
    const labelValues = new Set(churn.filter((e) => e.kind === 'label').map((e) => (e.event as LabelEvent).label));
    expect(labelValues).toEqual(new Set(['stay', 'churn', 'downgrade']));
    const f = windowFigures(churn, 0, 20 * S);
    expect(f.accuracy).toBeGreaterThan(0.65);
    expect(f.accuracy).toBeLessThan(0.85);
  });

  it('loses accuracy under concept drift', () => {
    const { before, during } = phases({ kind: 'concept' }, ['churn']);
    expect(before.accuracy - during.accuracy).toBeGreaterThan(0.1);
  });
});

describe('Scenario: bad options', () => {
  const make = (drift: DriftSpec[], extra = {}) => () => new Scenario({ seed: 1, startMs: 0, drift, ...extra });
  it('names the drift entry and the field', () => {
    expect(make([{ at: 0, kind: 'covariate', feature: 'nope' }])).toThrow(/drift\[0\].*feature "nope".*known: f0/);
    expect(make([{ at: 10, kind: 'latency' }, { at: 5, kind: 'error_rate', magnitude: 2 }])).toThrow(
      /drift\[1\].*error probability.*\[0, 1\], got 2/,
    );
    expect(make([{ at: 10, kind: 'latency', until: 10 }])).toThrow(/until must be .* after at/);
    expect(make([{ at: -1, kind: 'latency' }])).toThrow(/at must be .* >= 0, got -1/);
    expect(make([{ at: 0, kind: 'latency', model: 'churn' }])).toThrow(/model "churn" is not simulated/);
    expect(make([{ at: 0, kind: 'bogus' as 'latency' }])).toThrow(/kind must be one of covariate/);
  });
  it('rejects impossible label fractions and unknown models', () => {
    expect(make([], { labels: { earlyFraction: 0.6, neverFraction: 0.5 } })).toThrow(/earlyFraction \+ labels.neverFraction must be <= 1/);
    expect(make([], { labels: { neverFraction: 1.5 } })).toThrow(/labels.neverFraction must be a fraction/);
    expect(make([], { models: ['spam'] })).toThrow(/models\[0\]: kind must be fraud or churn, got "spam"/);
    expect(make([], { models: ['fraud', 'fraud'] })).toThrow(/"fraud" is listed twice/);
  });
});
