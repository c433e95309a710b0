import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AlertEvaluator, observe } from '../../src/alerts/evaluator.ts';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import type { ModelMetrics, ReferenceSummary } from '../../src/contract/metrics.ts';

const fail = (key: string, value: unknown, expected: string) => new Error(`${key} = ${JSON.stringify(value)}: expected ${expected}`);
const DEFAULT_RULES = validateAlertRules(JSON.parse(readFileSync(new URL('../../config/alert-rules.json', import.meta.url), 'utf8')), ['1m', '5m', '1h'], fail);
const byName = (name: string) => DEFAULT_RULES.filter((rule) => rule.name === name);

/** The gateway's split of the budget: a 5-minute window is re-evaluated every 5 s. */
const GATEWAY = { falseAlarmsPerMillion: 0.5, evaluationsPerWindow: (windowMs: number) => Math.max(1, windowMs / Math.min(10_000, Math.max(1000, windowMs / 60))) };

function window(to: number, accuracy: number, labeled: number, reference: ReferenceSummary | null, fields: Partial<ModelMetrics> = {}): ModelMetrics {
  return {
    model: 'm', version: null, window: '5m', windowMs: 300_000, from: to - 300_000, to, count: labeled, errors: 0, errorRate: 0, late: 0,
    latency: { p50: 10, p95: 20, p99: 30, mean: 12 }, accuracy, quality: { labeled, accuracy }, estimatedAccuracy: null,
    labelCoverage: 1, labels: { joined: labeled, pending: 0, expired: 0, early: 0 }, labelDelayMs: { p50: null, p95: null },
    drift: { reference: reference?.id ?? null, output: null, features: {} }, reference, detectors: {},
    ...fields,
  };
}

/** Evaluates the rules every 5 s of event time for `ms`, on the same window figures; returns every transition. */
function run(evaluator: AlertEvaluator, ms: number, metricsAt: (t: number) => ModelMetrics) {
  const transitions = [];
  for (let t = 0; t <= ms; t += 5000) transitions.push(...evaluator.evaluate('m', (w) => (w === '5m' ? metricsAt(t) : undefined), []));
  return transitions;
}

const reference = (accuracy: number, labeled: number): ReferenceSummary => ({ id: 'ref', accuracy, labeled, errorRate: 0, latencyP99: 30 });

describe('accuracy_drop (the default rule) weighs a drop by both sides’ labels', () => {
  it('stays quiet on the issue’s stationary example: accuracy 0.649 against a threshold of 0.664, a few hundred labels', () => {
    const evaluator = new AlertEvaluator(byName('accuracy_drop'), GATEWAY);
    // an automatically captured reference (first minute) of 400 labels at 0.714; a window of 300 labels at 0.649, for 3 minutes
    expect(run(evaluator, 180_000, (t) => window(t, 0.649, 300, reference(0.714, 400)))).toEqual([]);
    expect(evaluator.firing()).toEqual([]);
  });

  it('stays quiet on the same point estimates against a large reference when the window holds few labels', () => {
    const evaluator = new AlertEvaluator(byName('accuracy_drop'), GATEWAY);
    expect(run(evaluator, 180_000, (t) => window(t, 0.649, 300, reference(0.714, 20_000)))).toEqual([]);
    expect(evaluator.ruleStatuses()).toEqual([]);
  });

  it('fires once on a real 15-point drop with enough labels on both sides, after `for`', () => {
    const evaluator = new AlertEvaluator(byName('accuracy_drop'), GATEWAY);
    const transitions = run(evaluator, 180_000, (t) => window(t, 0.6, 2000, reference(0.75, 5000)));
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({ rule: 'accuracy_drop', state: 'firing', value: 0.6, startsAt: 0, at: 60_000 });
    expect(transitions[0].threshold).toBeCloseTo(0.7, 12);
  });

  it('reports a reference too small to judge against, and says what it would need', () => {
    const evaluator = new AlertEvaluator(byName('accuracy_drop'), GATEWAY);
    expect(run(evaluator, 60_000, (t) => window(t, 0.68, 2000, reference(0.75, 300)))).toEqual([]);
    const [status] = evaluator.ruleStatuses('m');
    expect(status).toMatchObject({ rule: 'accuracy_drop', model: 'm', scope: 'model', state: 'insufficient_reference', baselineLabels: 300, since: 0 });
    expect(status.neededLabels).toBeGreaterThan(300);
    expect(status.message).toMatch(/rests on 300 labels/);
    // once the reference is large enough the status clears
    run(evaluator, 0, (t) => window(t, 0.68, 2000, reference(0.75, 20_000)));
    expect(evaluator.ruleStatuses('m')).toEqual([]);
  });

  it('still fires on a collapse large enough to be significant against a small reference', () => {
    const evaluator = new AlertEvaluator(byName('accuracy_drop'), GATEWAY);
    const transitions = run(evaluator, 60_000, (t) => window(t, 0.3, 2000, reference(0.75, 300)));
    expect(transitions.map((a) => a.state)).toEqual(['firing']);
    expect(evaluator.ruleStatuses('m')[0].state).toBe('insufficient_reference');
  });

  it('reports a reference that does not say how many labels it holds (stored before the count was kept)', () => {
    const evaluator = new AlertEvaluator(byName('accuracy_drop'), GATEWAY);
    const old: ReferenceSummary = { id: 'ref', accuracy: 0.9, errorRate: 0, latencyP99: 30 };
    expect(run(evaluator, 60_000, (t) => window(t, 0.5, 2000, old))).toEqual([]);
    expect(evaluator.ruleStatuses('m')[0]).toMatchObject({ baselineLabels: null, neededLabels: null });
    expect(evaluator.ruleStatuses('m')[0].message).toMatch(/capture or upload it again/);
  });
});

describe('canary_accuracy (stable baseline) and F1/AUC drops', () => {
  const versions = (v1: ModelMetrics, v2: ModelMetrics) => (_w: string, version?: string) => (version === 'v1' ? v1 : version === 'v2' ? v2 : undefined);

  it('does not fire on a 6-point gap over a few hundred canary labels, fires on a 20-point one', () => {
    const evaluator = new AlertEvaluator(byName('canary_accuracy'), GATEWAY);
    const stable = window(0, 0.8, 3000, null, { version: 'v1', window: '1h', windowMs: 3_600_000, count: 9000 });
    const noisy = window(0, 0.74, 300, null, { version: 'v2', window: '1h', windowMs: 3_600_000, count: 1000 });
    expect(evaluator.evaluate('m', versions(stable, noisy), ['v1', 'v2'])).toEqual([]);
    const bad = new AlertEvaluator(byName('canary_accuracy').map((rule) => ({ ...rule, forMs: 0 })), GATEWAY);
    const dropped = window(0, 0.6, 1500, null, { version: 'v2', window: '1h', windowMs: 3_600_000, count: 3000 });
    expect(bad.evaluate('m', versions(stable, dropped), ['v1', 'v2'])).toMatchObject([{ scope: 'version:v2', state: 'firing', value: 0.6 }]);
  });

  it('tests an F1 drop with the confusion counts of both versions', () => {
    const rules = validateAlertRules([{ name: 'canary_f1', metric: 'quality.f1', scope: 'version', window: '1h', op: '<', baseline: 'stable', delta: -0.05, for: '0s' }], ['1h'], fail);
    const binary = (tp: number, fp: number, fn: number, tn: number, version: string) => {
      const f1 = (2 * tp) / (2 * tp + fp + fn);
      const labeled = tp + fp + fn + tn;
      return window(0, (tp + tn) / labeled, labeled, null, {
        version, window: '1h', windowMs: 3_600_000, count: labeled,
        quality: { labeled, accuracy: (tp + tn) / labeled, f1, confusion: { classes: ['0', '1'], matrix: [[tn, fp], [fn, tp]] } },
      });
    };
    const stable = binary(800, 200, 200, 800, 'v1'); // F1 0.8 on 2,000 labels
    // F1 0.727 on 200 labels: below 0.75, within noise
    expect(new AlertEvaluator(rules, GATEWAY).evaluate('m', versions(stable, binary(40, 15, 15, 30, 'v2')), ['v1', 'v2'])).toEqual([]);
    // F1 0.5 on 2,000 labels: a real drop
    expect(new AlertEvaluator(rules, GATEWAY).evaluate('m', versions(stable, binary(500, 500, 500, 500, 'v2')), ['v1', 'v2'])).toMatchObject([{ state: 'firing' }]);
  });
});

describe('estimated accuracy and F1/AUC against the reference (SciPy goldens: test/golden/make_quality_drop_golden.py)', () => {
  const golden = JSON.parse(readFileSync(new URL('../golden/quality-drop.json', import.meta.url), 'utf8')) as {
    estimatedAccuracy: Array<{ referenceAccuracy: number; referenceLabels: number; estimated: number; scored: number; margin: number; pValue: number }>;
    f1: Array<{ reference: Counts; window: Counts; margin: number; base: number; value: number; pValue: number }>;
    auc: Array<{ referenceAuc: number; reference: Counts; windowAuc: number; window: Counts; margin: number; pValue: number }>;
  };
  type Counts = { tp: number; fp: number; fn: number; tn: number };
  const rule = (metric: string, delta: number) =>
    validateAlertRules([{ name: `${metric.replace('.', '_')}_drop`, metric, scope: 'model', window: '5m', op: '<', baseline: 'reference', delta, for: '0s' }], ['5m'], fail)[0];
  const binaryWindow = (c: Counts, reference: ReferenceSummary, auc?: number) => {
    const labeled = c.tp + c.fp + c.fn + c.tn;
    return window(0, (c.tp + c.tn) / labeled, labeled, reference, {
      quality: { labeled, accuracy: (c.tp + c.tn) / labeled, f1: (2 * c.tp) / (2 * c.tp + c.fp + c.fn), auc, confusion: { classes: ['0', '1'], matrix: [[c.tn, c.fp], [c.fn, c.tp]] } },
    });
  };

  it('weighs an estimated-accuracy drop by the reference labels and the scored predictions: p-values as SciPy', () => {
    for (const c of golden.estimatedAccuracy) {
      const metrics = window(0, null as unknown as number, 0, reference(c.referenceAccuracy, c.referenceLabels), { estimatedAccuracy: c.estimated, count: c.scored, quality: { labeled: 0, accuracy: null, estimatedOn: c.scored } });
      const [observation] = observe(rule('estimatedAccuracy', -c.margin), metrics, 'model', undefined, { falseAlarmsPerMillion: 0.5 });
      expect(observation.threshold).toBeCloseTo(c.referenceAccuracy - c.margin, 12);
      // the closed form against SciPy's numerical restricted MLE
      expect(observation.evidence?.pValue).toBeCloseTo(c.pValue, 8);
      // the budget is spent over the scored predictions: 0.5 per million of them
      expect(observation.evidence?.alpha).toBeCloseTo(Math.min(0.5 * c.scored / 1e6, 0.05), 15);
    }
  });

  it('estimatedAccuracy against the reference fires on a real drop and stays quiet on a drop within noise', () => {
    const estimatedRule = rule('estimatedAccuracy', -0.03);
    const real = window(0, null as unknown as number, 0, reference(0.85, 4000), { estimatedAccuracy: 0.78, count: 6000, quality: { labeled: 0, accuracy: null, estimatedOn: 6000 } });
    expect(new AlertEvaluator([estimatedRule], GATEWAY).evaluate('m', (w) => (w === '5m' ? real : undefined), [])).toMatchObject([{ state: 'firing', value: 0.78 }]);
    // 0.80 against a threshold of 0.82, but the reference's 300 labels cannot tell that from noise
    const noisy = window(0, null as unknown as number, 0, reference(0.85, 300), { estimatedAccuracy: 0.8, count: 6000, quality: { labeled: 0, accuracy: null, estimatedOn: 6000 } });
    const evaluator = new AlertEvaluator([estimatedRule], GATEWAY);
    expect(evaluator.evaluate('m', (w) => (w === '5m' ? noisy : undefined), [])).toEqual([]);
    expect(evaluator.ruleStatuses('m')).toMatchObject([{ rule: 'estimatedAccuracy_drop', state: 'insufficient_reference', baselineLabels: 300 }]);
  });

  it('tests an F1 drop against the reference with its confusion counts: p-values as SciPy', () => {
    for (const c of golden.f1) {
      const ref: ReferenceSummary = { ...reference(0.78, c.reference.tp + c.reference.fp + c.reference.fn + c.reference.tn), f1: c.base, confusion: c.reference };
      const [observation] = observe(rule('quality.f1', -c.margin), binaryWindow(c.window, ref), 'model', undefined, { falseAlarmsPerMillion: 0.5 });
      expect(observation.value).toBeCloseTo(c.value, 12);
      expect(observation.threshold).toBeCloseTo(c.base - c.margin, 12);
      expect(observation.evidence?.pValue).toBeCloseTo(c.pValue, 7);
    }
  });

  it('tests an AUC drop against the reference (Hanley–McNeil on both sides): p-values as SciPy', () => {
    for (const c of golden.auc) {
      const ref: ReferenceSummary = { ...reference(0.78, c.reference.tp + c.reference.fp + c.reference.fn + c.reference.tn), auc: c.referenceAuc, confusion: c.reference };
      const [observation] = observe(rule('quality.auc', -c.margin), binaryWindow(c.window, ref, c.windowAuc), 'model', undefined, { falseAlarmsPerMillion: 0.5 });
      expect(observation.evidence?.pValue).toBeCloseTo(c.pValue, 9);
    }
  });

  it('reports a reference without labelled binary scores as insufficient for F1, instead of comparing with nothing', () => {
    const ref: ReferenceSummary = { ...reference(0.8, 5000), f1: 0.8, confusion: { tp: 0, fp: 0, fn: 0, tn: 5000 } };
    const [observation] = observe(rule('quality.f1', -0.05), binaryWindow({ tp: 300, fp: 150, fn: 200, tn: 350 }, ref), 'model', undefined, { falseAlarmsPerMillion: 0.5 });
    expect(observation.evidence).toMatchObject({ significant: false, insufficient: { reason: expect.stringMatching(/^the reference's f1 has no sampling variance/) } });
  });

  it('estimatedAccuracy against the stable version weighs both versions\' scored predictions', () => {
    const rules = validateAlertRules([{ name: 'canary_estimated', metric: 'estimatedAccuracy', scope: 'version', window: '1h', op: '<', baseline: 'stable', delta: -0.03, for: '0s' }], ['1h'], fail);
    const versionWindow = (version: string, estimated: number, scored: number) =>
      window(0, null as unknown as number, 0, null, { version, window: '1h', windowMs: 3_600_000, count: scored, estimatedAccuracy: estimated, quality: { labeled: 0, accuracy: null, estimatedOn: scored } });
    const versions = (v1: ModelMetrics, v2: ModelMetrics) => (_w: string, version?: string) => (version === 'v1' ? v1 : version === 'v2' ? v2 : undefined);
    const stable = versionWindow('v1', 0.85, 50_000);
    // 0.80 over 300 scored predictions: below 0.82, within noise
    expect(new AlertEvaluator(rules, GATEWAY).evaluate('m', versions(stable, versionWindow('v2', 0.8, 300)), ['v1', 'v2'])).toEqual([]);
    const [quiet] = observe(rules[0], versionWindow('v2', 0.8, 300), 'version:v2', stable, GATEWAY);
    expect(quiet.value).toBeLessThan(quiet.threshold); // below the threshold: only the test keeps it quiet
    expect(quiet.evidence?.significant).toBe(false);
    // 0.75 over 20,000: a real drop
    expect(new AlertEvaluator(rules, GATEWAY).evaluate('m', versions(stable, versionWindow('v2', 0.75, 20_000)), ['v1', 'v2'])).toMatchObject([{ scope: 'version:v2', state: 'firing', value: 0.75 }]);
  });

  it('refuses at load a reference-relative rule on a metric the reference has no value of', () => {
    expect(() => rule('quality.precision', -0.05)).toThrow(/'reference' only on a metric the reference profile has \(accuracy, estimatedAccuracy, quality.accuracy, quality.f1, quality.auc, errorRate, latency.p99\)/);
  });
});
