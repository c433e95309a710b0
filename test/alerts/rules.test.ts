import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import { parseMetricSelector, type MetricSelector } from '../../src/alerts/selector.ts';

const WINDOWS = ['1m', '5m', '1h'];
const fail = (key: string, value: unknown, expected: string) => new Error(`${key} = ${JSON.stringify(value)}: expected ${expected}`);

function rule(fields: Record<string, unknown>): Record<string, unknown> {
  return { name: 'r', metric: 'errorRate', op: '>', threshold: 0.05, ...fields };
}

function validate(fields: Record<string, unknown>, detectors?: Array<'adwin' | 'ddm'>) {
  return validateAlertRules([rule(fields)], WINDOWS, fail, detectors)[0];
}

describe('alert rule metrics parse once into a selector', () => {
  it('parses every rule of config/alert-rules.json to the selector and baseline it means', () => {
    const raw: unknown = JSON.parse(readFileSync(new URL('../../config/alert-rules.json', import.meta.url), 'utf8'));
    const parsed = Object.fromEntries(validateAlertRules(raw, WINDOWS, fail, ['adwin', 'hddm_a']).map((r) => [r.name, { selector: r.selector, baseline: r.baseline, scope: r.scope }]));
    expect(parsed).toEqual({
      accuracy_drop: { selector: { kind: 'accuracy' }, baseline: { kind: 'reference', field: 'accuracy' }, scope: 'model' },
      latency_p99_increase: { selector: { kind: 'latency', quantile: 'p99' }, baseline: { kind: 'reference', field: 'latencyP99' }, scope: 'model' },
      error_rate_spike: { selector: { kind: 'errorRate' }, baseline: null, scope: 'model' },
      output_psi: { selector: { kind: 'drift', target: 'output', reading: { field: 'statistic', test: 'psi' } }, baseline: null, scope: 'model' },
      feature_psi: { selector: { kind: 'drift', target: 'feature', reading: { field: 'statistic', test: 'psi' } }, baseline: null, scope: 'feature' },
      error_stream_change: { selector: { kind: 'detector', detector: 'adwin' }, baseline: null, scope: 'model' },
      label_coverage_collapse: { selector: { kind: 'labelCoverage' }, baseline: null, scope: 'model' },
      disparate_impact: { selector: { kind: 'fairness', segmentKey: 'group', metric: 'disparateImpactRatio' }, baseline: null, scope: 'model' },
      canary_accuracy: { selector: { kind: 'accuracy' }, baseline: { kind: 'stable' }, scope: 'version' },
      canary_error_rate: { selector: { kind: 'errorRate' }, baseline: { kind: 'stable' }, scope: 'version' },
      missing_share_jump: { selector: { kind: 'dataQuality', metric: 'missingIncrease' }, baseline: null, scope: 'feature' },
      new_categories: { selector: { kind: 'dataQuality', metric: 'newCategoryShare' }, baseline: null, scope: 'feature' },
      feature_vanished: { selector: { kind: 'dataQuality', metric: 'vanished' }, baseline: null, scope: 'feature' },
    });
  });

  it.each<[string, MetricSelector]>([
    ['count', { kind: 'count' }],
    ['estimatedAccuracy', { kind: 'estimatedAccuracy' }],
    ['latency.mean', { kind: 'latency', quantile: 'mean' }],
    ['latency.p50', { kind: 'latency', quantile: 'p50' }],
    ['quality.f1', { kind: 'quality', metric: 'f1' }],
    ['quality.rmse', { kind: 'quality', metric: 'rmse' }],
    ['detector.page_hinkley', { kind: 'detector', detector: 'page_hinkley' }],
    ['fairness.region-2.equalOpportunityDifference', { kind: 'fairness', segmentKey: 'region-2', metric: 'equalOpportunityDifference' }],
    ['drift.output.drift', { kind: 'drift', target: 'output', reading: { field: 'verdict' } }],
    ['drift.output.ks.pvalue', { kind: 'drift', target: 'output', reading: { field: 'pValue', test: 'ks' } }],
    ['drift.feature.wasserstein_normed', { kind: 'drift', target: 'feature', reading: { field: 'statistic', test: 'wasserstein_normed' } }],
    ['drift.feature.chi2_gof.pvalue', { kind: 'drift', target: 'feature', reading: { field: 'pValue', test: 'chi2_gof' } }],
    ['drift.feature.drift', { kind: 'drift', target: 'feature', reading: { field: 'verdict' } }],
    ['dataQuality.missingShare', { kind: 'dataQuality', metric: 'missingShare' }],
    ['dataQuality.outOfQuantileShare', { kind: 'dataQuality', metric: 'outOfQuantileShare' }],
    ['dataQuality.appeared', { kind: 'dataQuality', metric: 'appeared' }],
  ])('%s', (metric, selector) => {
    expect(parseMetricSelector(metric)).toEqual({ ok: true, selector });
  });
});

describe('a rule that could never fire is refused with its index, name, field and what is allowed', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a typo in a drift test', { metric: 'drift.feature.psii', threshold: 0.2 }, /^alerts\.rules\[0\]\.metric = "drift\.feature\.psii": expected drift\.feature\.<test> with a test from psi, ks, wasserstein_normed, .*chi2.* \(rule "r"\)$/],
    ['a typo in a quality metric', { metric: 'quality.acuracy', op: '<', threshold: 0.8 }, /^alerts\.rules\[0\]\.metric = "quality\.acuracy": expected quality\.<metric> with a metric from labeled, accuracy, precision, .* \(rule "r"\)$/],
    ['an unknown detector', { metric: 'detector.adwn', threshold: 0 }, /metric = "detector\.adwn": expected detector\.<kind> with a detector from adwin, page_hinkley, ddm, eddm, hddm_a, hddm_w \(rule "r"\)/],
    ['an unknown latency quantile', { metric: 'latency.p90', threshold: 100 }, /metric = "latency\.p90": expected latency\.<quantile> with a quantile from p50, p95, p99, mean/],
    ['an unknown fairness metric', { metric: 'fairness.group.parity', threshold: 0.1 }, /metric = "fairness\.group\.parity": expected .*demographicParityDifference, disparateImpactRatio, equalOpportunityDifference/],
    ['a fairness metric without a segment key', { metric: 'fairness.disparateImpactRatio', op: '<', threshold: 0.8 }, /metric = "fairness\.disparateImpactRatio": expected fairness\.<segment key>\.<metric>/],
    ['a p-value of a test that has none', { metric: 'drift.output.psi.pvalue', op: '<', threshold: 0.01 }, /metric = "drift\.output\.psi\.pvalue": expected \.pvalue only on a test that has a p-value \(ks, chi2, chi2_gof, z\); psi has a statistic only/],
    ['a p-value of the verdict', { metric: 'drift.output.drift.pvalue', op: '<', threshold: 0.01 }, /metric = "drift\.output\.drift\.pvalue": expected drift\.output\.<test>/],
    ['a drift target that does not exist', { metric: 'drift.model.psi', threshold: 0.2 }, /metric = "drift\.model\.psi": expected drift\.output\.<\.\.\.>, drift\.feature\.<\.\.\.> or drift\.multivariate\[\.drift\|\.error\]/],
    ['an unknown metric', { metric: 'errorrate' }, /metric = "errorrate": expected one of count, errorRate, /],
    ["baseline 'reference' on label coverage", { metric: 'labelCoverage', op: '<', threshold: undefined, baseline: 'reference', delta: -0.1 }, /^alerts\.rules\[0\]\.baseline = "reference": expected 'reference' only on a metric the reference profile has \(accuracy, estimatedAccuracy, quality\.accuracy, quality\.f1, quality\.auc, errorRate, latency\.p99\), not on labelCoverage; use a threshold \(rule "r"\)$/],
    ["baseline 'reference' on p95 latency", { metric: 'latency.p95', threshold: undefined, baseline: 'reference', delta: 50 }, /baseline = "reference": expected .*not on latency\.p95/],
    ["baseline 'reference' on a drift statistic", { metric: 'drift.output.psi', threshold: undefined, baseline: 'reference', ratio: 2 }, /baseline = "reference": expected .*not on drift\.output\.psi/],
    ["baseline 'reference' on a quality metric the reference has no value of", { metric: 'quality.precision', op: '<', threshold: undefined, baseline: 'reference', delta: -0.05 }, /baseline = "reference": expected .*not on quality\.precision/],
    ['a window that is not configured', { window: '15m' }, /window = "15m": expected one of the configured windows \(1m, 5m, 1h\) \(rule "r"\)/],
    ['a rate above 1', { metric: 'errorRate', threshold: 5 }, /threshold = 5: expected a threshold errorRate can cross with '>': its values lie in \[0, 1\] \(rule "r"\)/],
    ['a coverage below 0', { metric: 'labelCoverage', op: '<', threshold: 0 }, /threshold = 0: expected a threshold labelCoverage can cross with '<'/],
    ['a p-value above 1', { metric: 'drift.feature.ks.pvalue', op: '>=', threshold: 1.5 }, /threshold = 1.5: expected a threshold drift\.feature\.ks\.pvalue can cross/],
    ['a typo in a data-quality metric', { metric: 'dataQuality.missing_share', scope: 'feature', threshold: 0.1 }, /metric = "dataQuality\.missing_share": expected dataQuality\.<metric> \(per feature\) with a metric from missingShare, missingIncrease, /],
    ['a data-quality metric on the model scope', { metric: 'dataQuality.missingShare', scope: 'model', threshold: 0.1 }, /scope = "model": expected 'feature' exactly when the metric is drift\.feature\.<\.\.\.> or dataQuality\.<\.\.\.>/],
    ['a share above 1', { metric: 'dataQuality.newCategoryShare', threshold: 1 }, /threshold = 1: expected a threshold dataQuality\.newCategoryShare can cross with '>': its values lie in \[0, 1\]/],
    ['a negative count', { metric: 'count', op: '<=', threshold: -1 }, /threshold = -1: expected a threshold count can cross with '<=': its values lie in \[0, Infinity\]/],
  ])('%s', (_what, fields, message) => {
    expect(() => validate(fields)).toThrow(message);
  });

  it('refuses a detector that does not run on the error stream', () => {
    expect(() => validate({ metric: 'detector.ddm', threshold: 0 }, ['adwin'])).toThrow(
      /^alerts\.rules\[0\]\.metric = "detector\.ddm": expected a detector running on the error stream \(detectors\.errorStream: adwin\) \(rule "r"\)$/,
    );
    expect(validate({ metric: 'detector.ddm', threshold: 0 }, ['adwin', 'ddm']).selector).toEqual({ kind: 'detector', detector: 'ddm' });
  });

  it('names the failing rule among several', () => {
    const rules = [rule({ name: 'fine' }), rule({ name: 'typo', metric: 'drift.output.hellinger.pvalue', op: '<', threshold: 0.01 })];
    expect(() => validateAlertRules(rules, WINDOWS, fail)).toThrow(/^alerts\.rules\[1\]\.metric = .* \(rule "typo"\)$/);
  });

  it('accepts thresholds at the edge of a metric\'s values, which the metric can reach', () => {
    expect(validate({ metric: 'errorRate', op: '>=', threshold: 1 }).threshold).toBe(1);
    expect(validate({ metric: 'labelCoverage', op: '<=', threshold: 0 }).threshold).toBe(0);
    expect(validate({ metric: 'detector.adwin', op: '>', threshold: 0 }).threshold).toBe(0);
    expect(validate({ metric: 'drift.feature.z', op: '<', threshold: -3 }).threshold).toBe(-3);
    // a relative threshold is not range-checked: the baseline's value is only known at run time
    expect(validate({ metric: 'errorRate', threshold: undefined, baseline: 'reference', ratio: 3 }).baseline).toEqual({ kind: 'reference', field: 'errorRate' });
  });
});
