import { describe, expect, it } from 'vitest';
import { AlertEvaluator } from '../../src/alerts/evaluator.ts';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import type { ModelMetrics, DriftEntry, FeatureDataQuality } from '../../src/contract/metrics.ts';

const WINDOWS = ['1m', '5m'];
const fail = (key: string, value: unknown, expected: string) => new Error(`${key} = ${JSON.stringify(value)}: expected ${expected}`);

function rules(raw: unknown[]) {
  return validateAlertRules(raw, WINDOWS, fail);
}

function metrics(to: number, fields: Partial<ModelMetrics> = {}): ModelMetrics {
  return {
    model: 'm', version: null, window: '1m', windowMs: 60_000, from: to - 60_000, to, count: 1000, errors: 0, errorRate: 0, late: 0,
    latency: { p50: 10, p95: 20, p99: 30, mean: 12 }, accuracy: 0.9, quality: { labeled: 1000, accuracy: 0.9 }, estimatedAccuracy: null,
    labelCoverage: 1, labels: { joined: 1000, pending: 0, expired: 0, early: 0 }, labelDelayMs: { p50: null, p95: null },
    drift: { reference: 'ref', output: null, features: {} }, reference: { id: 'ref', accuracy: 0.9, errorRate: 0.01, latencyP99: 30 }, detectors: {},
    ...fields,
  };
}

function psiEntry(psi: number, count = 1000): DriftEntry {
  return { type: 'numeric', count, reference: 'ref', primary: 'psi', drift: psi > 0.2, tests: { psi: { test: 'psi', statistic: psi, threshold: 0.2, drift: psi > 0.2 } } };
}

describe('alert lifecycle', () => {
  it('fires after the condition held for `for`, once, and resolves past the hysteresis', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'errors', metric: 'errorRate', window: '1m', op: '>', threshold: 0.05, for: '30s', resolveHysteresis: 0.01, severity: 'critical' }]));
    const at = (t: number, errorRate: number) => evaluator.evaluate('m', () => metrics(t, { errorRate }), []);
    expect(at(0, 0.01)).toEqual([]);
    expect(at(10_000, 0.1)).toEqual([]); // pending
    expect(at(30_000, 0.1)).toEqual([]); // held 20 s
    const fired = at(40_000, 0.2);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ id: 'm:errors:model:10000:firing', state: 'firing', severity: 'critical', value: 0.2, threshold: 0.05, startsAt: 10_000, at: 40_000, window: '1m' });
    expect(at(50_000, 0.3)).toEqual([]); // still firing: no second transition
    expect(at(60_000, 0.045)).toEqual([]); // below the threshold but within the hysteresis
    const resolved = at(70_000, 0.03);
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ id: 'm:errors:model:10000:resolved', state: 'resolved', startsAt: 10_000 });
  });

  it('a pending condition that clears before `for` never fires', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'errors', metric: 'errorRate', op: '>', threshold: 0.05, for: '30s' }]));
    evaluator.evaluate('m', () => metrics(0, { errorRate: 0.1 }), []);
    evaluator.evaluate('m', () => metrics(10_000, { errorRate: 0.01 }), []);
    expect(evaluator.evaluate('m', () => metrics(40_000, { errorRate: 0.1 }), [])).toEqual([]);
  });

  it('compares with the reference profile (delta) and ignores windows below minCount', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'acc', metric: 'accuracy', op: '<', baseline: 'reference', delta: -0.05, minCount: 100, for: '0s' }]));
    expect(evaluator.evaluate('m', () => metrics(0, { accuracy: 0.5, quality: { labeled: 50, accuracy: 0.5 } }), [])).toEqual([]);
    expect(evaluator.evaluate('m', () => metrics(1, { accuracy: 0.86 }), [])).toEqual([]);
    // a drop counts only when significant given both label counts (reference of 5,000 labels)
    const reference = { id: 'ref', accuracy: 0.9, labeled: 5000, errorRate: 0.01, latencyP99: 30 };
    const fired = evaluator.evaluate('m', () => metrics(2, { accuracy: 0.8, quality: { labeled: 1000, accuracy: 0.8 }, reference }), []);
    expect(fired[0].threshold).toBeCloseTo(0.85, 12);
  });

  it('feature-scoped rules fire per feature', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'psi', metric: 'drift.feature.psi', op: '>', threshold: 0.2, for: '0s' }]));
    const fired = evaluator.evaluate('m', () => metrics(0, { drift: { reference: 'ref', output: null, features: { a: psiEntry(0.5), b: psiEntry(0.1), c: psiEntry(0.9) } } }), []);
    expect(fired.map((a) => a.scope).sort()).toEqual(['feature:a', 'feature:c']);
  });

  it('per-feature alerts keep their own state per model, feature and episode, also past thousands of feature names', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'psi', metric: 'drift.feature.psi', op: '>', threshold: 0.2, for: '10s', resolveHysteresis: 0.05 }]));
    const at = (model: string, t: number, features: Record<string, DriftEntry>) =>
      evaluator.evaluate(model, () => metrics(t, { model, drift: { reference: 'ref', output: null, features } }), []).map((a) => `${a.id} ${a.scope}`);
    expect(at('m', 0, { a: psiEntry(0.5), b: psiEntry(0.1) })).toEqual([]);
    expect(at('n', 0, { a: psiEntry(0.1) })).toEqual([]);
    expect(at('m', 10_000, { a: psiEntry(0.5), b: psiEntry(0.5) })).toEqual(['m:psi:feature:a:0:firing feature:a']);
    // n's feature a never held: its own state, not m's
    expect(at('n', 20_000, { a: psiEntry(0.5) })).toEqual([]);
    // 5,000 other feature names come and go (more than the evaluator keeps keys for): a and b keep their state
    for (let k = 0; k < 5; k++) {
      const many: Record<string, DriftEntry> = { a: psiEntry(0.5), b: psiEntry(0.5) };
      for (let f = 0; f < 1000; f++) many[`f${k}_${f}`] = psiEntry(0.1);
      expect(at('m', 11_000 + k, many)).toEqual([]);
    }
    expect(at('m', 20_000, { a: psiEntry(0.1), b: psiEntry(0.5) })).toEqual(['m:psi:feature:a:0:resolved feature:a', 'm:psi:feature:b:10000:firing feature:b']);
    expect(at('n', 30_000, { a: psiEntry(0.5) })).toEqual(['n:psi:feature:a:20000:firing feature:a']);
    // a new episode of m's feature a after it resolved
    expect(at('m', 40_000, { a: psiEntry(0.5), b: psiEntry(0.5) })).toEqual([]);
    expect(at('m', 50_000, { a: psiEntry(0.5), b: psiEntry(0.5) })).toEqual(['m:psi:feature:a:40000:firing feature:a']);
  });

  it('data-quality rules fire per feature, a flag reading as 1, and resolve when the feature is back', () => {
    const evaluator = new AlertEvaluator(rules([
      { name: 'missing', metric: 'dataQuality.missingIncrease', op: '>', threshold: 0.1, for: '0s' },
      { name: 'vanished', metric: 'dataQuality.vanished', op: '>', threshold: 0, for: '0s', minCount: 50 },
    ]));
    const entry = (missingIncrease: number, vanished: boolean): FeatureDataQuality => ({
      values: vanished ? 0 : 100, missingShare: missingIncrease, referenceMissingShare: 0, missingIncrease, wrongTypeShare: 0, newCategoryShare: null,
      unknownCategoryShare: null, newCategories: [], outOfRangeShare: 0, outOfQuantileShare: 0, appeared: false, vanished,
    });
    const at = (t: number, count: number, features: Record<string, FeatureDataQuality>) =>
      evaluator.evaluate('m', () => metrics(t, { count, dataQuality: { reference: 'ref', appeared: [], vanished: [], features } }), []);
    const fired = at(0, 1000, { a: entry(0.3, false), b: entry(0.05, false), c: entry(1, true) });
    expect(fired.map((a) => `${a.rule} ${a.scope} ${a.value}`).sort()).toEqual(['missing feature:a 0.3', 'missing feature:c 1', 'vanished feature:c 1']);
    // below minCount the vanished rule does not change state
    expect(at(1000, 10, { a: entry(0.3, false), c: entry(1, true), d: entry(1, true) }).map((a) => `${a.rule} ${a.scope}`)).toEqual(['missing feature:d']);
    const resolved = at(2000, 1000, { a: entry(0.3, false), c: entry(0, false) });
    expect(resolved.map((a) => `${a.rule} ${a.scope} ${a.state}`).sort()).toEqual(['missing feature:c resolved', 'vanished feature:c resolved']);
  });

  it('a drift.multivariate rule fires on the verdict, and not on a window without a multivariate model', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'mv', metric: 'drift.multivariate', op: '>=', threshold: 1, for: '0s' }]));
    const multivariate = { reference: 'ref', count: 1000, errorMean: 2.1, lower: 1.4, upper: 1.7, drift: true, imputedEvents: 3, imputedValues: 4, components: 3 };
    expect(evaluator.evaluate('m', () => metrics(0), [])).toEqual([]);
    const fired = evaluator.evaluate('m', () => metrics(1, { drift: { reference: 'ref', output: null, features: {}, multivariate } }), []);
    expect(fired.map((a) => [a.rule, a.scope, a.state, a.value])).toEqual([['mv', 'model', 'firing', 1]]);
  });

  it('a canary is compared with the stable version (the one with the most traffic)', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'canary', metric: 'accuracy', scope: 'version', op: '<', baseline: 'stable', delta: -0.05, for: '0s' }]));
    const byVersion: Record<string, ModelMetrics> = {
      v1: metrics(0, { version: 'v1', count: 900, accuracy: 0.9 }),
      // 20 points below the stable version on 1,000 labels each: beyond the 5-point margin with significance
      v2: metrics(0, { version: 'v2', count: 100, accuracy: 0.7 }),
    };
    const fired = evaluator.evaluate('m', (_w, version) => (version ? byVersion[version] : metrics(0)), ['v1', 'v2']);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ scope: 'version:v2', value: 0.7 });
    expect(fired[0].threshold).toBeCloseTo(0.85, 12);
  });

  it('rule validation names the rule, the field and what was expected', () => {
    expect(() => rules([{ name: 'x', metric: 'nope', op: '>', threshold: 1 }])).toThrow(/alerts.rules\[0\].metric = "nope": expected one of/);
    expect(() => rules([{ name: 'x', metric: 'accuracy', op: '!=', threshold: 1 }])).toThrow(/alerts.rules\[0\].op/);
    expect(() => rules([{ name: 'x', metric: 'accuracy', op: '<' }])).toThrow(/threshold/);
    expect(() => rules([{ name: 'x', metric: 'accuracy', op: '<', threshold: 1, window: '7m' }])).toThrow(/one of the configured windows \(1m, 5m\)/);
    expect(() => rules([{ name: 'x', metric: 'accuracy', op: '<', baseline: 'stable', delta: 0 }])).toThrow(/scope 'version'/);
    expect(() => rules([{ name: 'a.b', metric: 'accuracy', op: '<', threshold: 1 }])).toThrow(/subject token/);
    expect(() => rules([{ name: 'x', metric: 'accuracy', op: '<', threshold: 1 }, { name: 'x', metric: 'count', op: '<', threshold: 1 }])).toThrow(/not used by another rule/);
  });
});

describe('every metric form resolves to the value it names', () => {
  const ksEntry = (pValue: number, drift: boolean): DriftEntry => ({
    type: 'numeric', count: 1000, reference: 'ref', primary: 'ks', drift,
    tests: { psi: { test: 'psi', statistic: 0.01, threshold: 0.2, drift: false }, ks: { test: 'ks', statistic: 0.2, pValue, threshold: 0.0005, drift } },
  });
  const fairness = { group: { groups: {}, demographicParityDifference: 0.3, disparateImpactRatio: 0.6, equalOpportunityDifference: 0.1 } };
  it.each<[string, '>' | '<', number, Partial<ModelMetrics>, number]>([
    ['count', '<', 10, { count: 5 }, 5],
    ['labelCoverage', '<', 0.2, { labelCoverage: 0.1 }, 0.1],
    ['estimatedAccuracy', '<', 0.8, { estimatedAccuracy: 0.7 }, 0.7],
    ['latency.mean', '>', 100, { latency: { p50: 1, p95: 2, p99: 3, mean: 150 } }, 150],
    ['quality.f1', '<', 0.5, { quality: { labeled: 1000, accuracy: 0.9, f1: 0.4 } }, 0.4],
    ['detector.hddm_a', '>', 0, { detectors: { hddm_a: 2 } }, 2],
    ['fairness.group.disparateImpactRatio', '<', 0.8, { fairness }, 0.6],
    ['drift.output.ks.pvalue', '<', 0.01, { drift: { reference: 'ref', output: ksEntry(0.001, true), features: {} } }, 0.001],
    ['drift.output.ks', '>', 0.1, { drift: { reference: 'ref', output: ksEntry(0.001, true), features: {} } }, 0.2],
    ['drift.output.drift', '>', 0, { drift: { reference: 'ref', output: ksEntry(0.001, true), features: {} } }, 1],
  ])('%s', (metric, op, threshold, fields, value) => {
    const evaluator = new AlertEvaluator(rules([{ name: 'r', metric, op, threshold, minCount: 0, for: '0s' }]));
    const fired = evaluator.evaluate('m', () => metrics(0, fields), []);
    expect(fired.map((a) => [a.scope, a.value])).toEqual([['model', value]]);
  });

  it('per-feature p-values and verdicts', () => {
    const features = { a: ksEntry(0.001, true), b: ksEntry(0.5, false) };
    const pValues = new AlertEvaluator(rules([{ name: 'p', metric: 'drift.feature.ks.pvalue', op: '<', threshold: 0.01, for: '0s' }]));
    expect(pValues.evaluate('m', () => metrics(0, { drift: { reference: 'ref', output: null, features } }), []).map((a) => [a.scope, a.value])).toEqual([['feature:a', 0.001]]);
    const verdicts = new AlertEvaluator(rules([{ name: 'v', metric: 'drift.feature.drift', op: '>=', threshold: 1, for: '0s' }]));
    expect(verdicts.evaluate('m', () => metrics(0, { drift: { reference: 'ref', output: null, features } }), []).map((a) => a.scope)).toEqual(['feature:a']);
  });

  it('latency and error rate compare with the reference profile', () => {
    const latency = new AlertEvaluator(rules([{ name: 'l', metric: 'latency.p99', op: '>', baseline: 'reference', delta: 50, for: '0s' }]));
    expect(latency.evaluate('m', () => metrics(0, { latency: { p50: 1, p95: 2, p99: 79, mean: 5 } }), [])).toEqual([]);
    expect(latency.evaluate('m', () => metrics(1, { latency: { p50: 1, p95: 2, p99: 81, mean: 5 } }), [])[0]).toMatchObject({ value: 81, threshold: 80 });
    const errors = new AlertEvaluator(rules([{ name: 'e', metric: 'errorRate', op: '>', baseline: 'reference', ratio: 3, for: '0s' }]));
    expect(errors.evaluate('m', () => metrics(0, { errorRate: 0.05 }), [])[0].threshold).toBeCloseTo(0.03, 12);
    expect(errors.evaluate('m', () => metrics(0, { reference: null, errorRate: 0.05 }), [])).toEqual([]);
  });
});

describe('restoring alert state', () => {
  it('an alert restored as firing is neither announced again nor resolved with another start', () => {
    const evaluator = new AlertEvaluator(rules([{ name: 'errors', metric: 'errorRate', op: '>', threshold: 0.05, for: '0s' }]));
    evaluator.restore({ id: 'm:errors:model:5000:firing', model: 'm', rule: 'errors', scope: 'model', state: 'firing', severity: 'warning', value: 0.2, threshold: 0.05, window: '1m', startsAt: 5000, at: 5000, message: '' });
    expect(evaluator.evaluate('m', () => metrics(90_000, { errorRate: 0.3 }), [])).toEqual([]);
    const resolved = evaluator.evaluate('m', () => metrics(120_000, { errorRate: 0.01 }), []);
    expect(resolved.map((a) => a.id)).toEqual(['m:errors:model:5000:resolved']);
  });
});

describe('a model released (the gateway gave it up for idleness)', () => {
  it('its firing alerts resolve with the reason and the episode\'s id, its pending ones and other models\' stay untouched', () => {
    const evaluator = new AlertEvaluator(
      rules([
        { name: 'errors', metric: 'errorRate', op: '>', threshold: 0.05 },
        { name: 'slow', metric: 'latency.p99', op: '>', threshold: 20, for: '1h' },
      ]),
    );
    evaluator.evaluate('m', () => metrics(10_000, { errorRate: 0.1 }), []);
    evaluator.evaluate('other', () => metrics(10_000, { errorRate: 0.1 }), []);
    // a firing alert restored from the stream whose rule has left the configuration since
    evaluator.restore({ id: 'm:gone:model:1:firing', model: 'm', rule: 'gone', scope: 'model', state: 'firing', severity: 'warning', value: 1, threshold: 0, window: '1m', startsAt: 1, at: 1, message: '' });
    expect(evaluator.held('m').map((h) => [h.rule, h.state]).sort()).toEqual([['errors', 'firing'], ['gone', 'firing'], ['slow', 'pending']]);

    const resolved = evaluator.releaseModel('m', 25_000, 'model evicted: no data for models.idleMs (1 s)');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ id: 'm:errors:model:10000:resolved', state: 'resolved', startsAt: 10_000, at: 25_000, value: 0.1, threshold: 0.05 });
    expect(resolved[0].message).toBe('resolved (model evicted: no data for models.idleMs (1 s)): errorRate > 0.05 (m, model): errorRate was 0.1');
    expect(evaluator.held('m')).toEqual([]);
    expect(evaluator.held('other').map((h) => h.rule).sort()).toEqual(['errors', 'slow']);
    // back: a new episode, announced as such
    const again = evaluator.evaluate('m', () => metrics(90_000, { errorRate: 0.1 }), []);
    expect(again.map((a) => a.id)).toEqual(['m:errors:model:90000:firing']);
  });
});
