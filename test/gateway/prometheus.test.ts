import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createGatewayMetrics } from '../../src/gateway/prometheus.ts';
import { createWorkerMetrics } from '../../src/partition/worker-metrics.ts';
import { createPipelineMetrics } from '../../src/app/metrics.ts';
import { renderInSlices, writtenInSlices } from '../../src/gateway/routes/prometheus-endpoint.ts';
import { Counter, Gauge, Histogram } from 'prom-client';
import { alert, fullMetrics } from './fake-source.ts';
import type { FeatureDataQuality } from '../../src/contract/metrics.ts';

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

async function seriesCount(registry: Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.length ?? 0;
}

const WORKER_SERIES = [
  'drift_events_consumed_total', 'drift_events_rejected_total', 'drift_events_late_total', 'drift_events_duplicate_total', 'drift_model_events_refused_total', 'drift_pending_joins',
  'drift_early_labels', 'drift_events_held', 'drift_labels_joined_total', 'drift_labels_expired_total', 'drift_labels_unmatched_total', 'drift_consumer_lag',
  'drift_consumer_live', 'drift_consumer_recreations_total', 'drift_consumer_pulls_written_off_total', 'drift_partition_sequence', 'drift_pane_flushes_total',
  'drift_partitions', 'drift_partition_owner', 'drift_checkpoint_age_seconds', 'drift_checkpoint_bytes', 'drift_partition_rebalances_total',
];
const GATEWAY_SERIES = [
  'drift_pane_messages_rejected_total', 'drift_pane_messages_applied_total', 'drift_pane_messages_dropped_total', 'drift_pane_sketches_rebinned_total', 'drift_changelog_lag', 'drift_changelog_ready', 'drift_computation_backlog_models', 'drift_computation_backlog_age_seconds', 'drift_ws_clients', 'drift_ws_connections_total', 'drift_ws_frames_sent_total',
  'drift_ws_frames_coalesced_total', 'drift_ws_clients_dropped_total', 'drift_alerts_total', 'drift_alerts_firing',
  'drift_model_predictions', 'drift_model_error_rate', 'drift_model_latency_seconds', 'drift_model_accuracy',
  'drift_model_label_coverage', 'drift_output_psi', 'drift_feature_psi', 'drift_output_drift', 'drift_output_drift_statistic',
  'drift_feature_drift', 'drift_feature_drift_statistic', 'drift_multivariate_reconstruction_error', 'drift_multivariate_reconstruction_error_bound',
  'drift_multivariate_drift', 'drift_metric_series_dropped_total',
  'drift_data_quality_missing_share', 'drift_data_quality_missing_increase', 'drift_data_quality_wrong_type_share', 'drift_data_quality_new_category_share',
  'drift_data_quality_out_of_range_share', 'drift_data_quality_out_of_quantile_share', 'drift_data_quality_appeared', 'drift_data_quality_vanished',
];
const namesIn = (registry: Registry) => registry.getMetricsAsArray().map((m) => m.name).sort();

describe('each process registers the series it fills', () => {
  it('a worker registers the pipeline series and no gateway series', async () => {
    const registry = new Registry();
    const m = createWorkerMetrics(registry);
    m.eventsConsumed.inc({ kind: 'pred' }, 3);
    m.consumerLag.set({ partition: '2' }, 42);
    m.partitionOwner.set({ partition: '2', worker: 'w1' }, 1);
    expect(namesIn(registry)).toEqual([...WORKER_SERIES].sort());
    const text = await registry.metrics();
    expect(text).toContain('drift_events_consumed_total{kind="pred"} 3');
    expect(text).toContain('drift_consumer_lag{partition="2"} 42');
    expect(text).toContain('drift_partition_owner{partition="2",worker="w1"} 1');
  });

  it('a gateway registers its changelog, feed, alert and model series and no worker series', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    m.alerts.inc({ rule: 'psi', state: 'firing' });
    expect(namesIn(registry)).toEqual([...GATEWAY_SERIES].sort());
    expect(await registry.metrics()).toContain('drift_alerts_total{rule="psi",state="firing"} 1');
  });

  it('the all-in-one process registers both sets on one registry, once each, and a second call reuses them', () => {
    const registry = new Registry();
    const a = createPipelineMetrics(registry);
    expect(namesIn(registry)).toEqual([...WORKER_SERIES, ...GATEWAY_SERIES].sort());
    const b = createPipelineMetrics(registry);
    expect(b.eventsConsumed).toBe(a.eventsConsumed);
    expect(b.featurePsi).toBe(a.featurePsi);
    expect(createWorkerMetrics(registry).partitionOwner).toBe(a.partitionOwner);
  });

  it('rejects invalid limits', () => {
    expect(() => createGatewayMetrics(new Registry(), { maxModels: -1 })).toThrow(/maxModels must be a non-negative integer, got -1/);
  });
});

describe('updateModelGauges', () => {
  it('sets model gauges from ModelMetrics, skipping null statistics', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    const mm = fullMetrics('churn', '5m', 250, 'v2');
    mm.accuracy = null;
    m.updateModelGauges([mm]);
    const labels = { model: 'churn', version: 'v2', window: '5m' };
    expect(await value(registry, 'drift_model_predictions', labels)).toBe(250);
    expect(await value(registry, 'drift_model_error_rate', labels)).toBeCloseTo(3 / 250, 12);
    expect(await value(registry, 'drift_model_latency_seconds', { ...labels, quantile: '0.95' })).toBeCloseTo(0.04, 12);
    expect(await value(registry, 'drift_model_label_coverage', labels)).toBe(0.5);
    expect(await seriesCount(registry, 'drift_model_accuracy')).toBe(0);
    expect(await value(registry, 'drift_feature_psi', { ...labels, feature: 'f1' })).toBe(0.02);
  });

  it('removes series of models that disappeared', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    m.updateModelGauges([fullMetrics('a', '5m', 1), fullMetrics('b', '5m', 2)]);
    m.updateModelGauges([fullMetrics('b', '5m', 3)]);
    expect(await seriesCount(registry, 'drift_model_predictions')).toBe(1);
    expect(await value(registry, 'drift_model_predictions', { model: 'b' })).toBe(3);
  });

  it('caps models and features per model, keeping the most drifted features, and counts the dropped series', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry, { maxModels: 3, maxFeaturesPerModel: 4 });
    const metrics = [];
    for (let i = 0; i < 5; i++) {
      // two windows per model: a model counts once against the cap whatever its windows
      metrics.push(fullMetrics(`m${i}`, '1m', 10, null, 10), fullMetrics(`m${i}`, '5m', 10, null, 10));
    }
    m.updateModelGauges(metrics);
    expect(await seriesCount(registry, 'drift_model_predictions')).toBe(6); // 3 models x 2 windows
    expect(await value(registry, 'drift_metric_series_dropped_total', { kind: 'model' })).toBe(2);
    // 10 features (psi 0.01..0.10) -> the 4 highest kept, 6 dropped, per model and window
    expect(await seriesCount(registry, 'drift_feature_psi')).toBe(3 * 2 * 4);
    const kept = (await registry.getMetricsAsJSON())
      .find((x) => x.name === 'drift_feature_psi')
      ?.values.filter((v) => v.labels.model === 'm0' && v.labels.window === '1m')
      .map((v) => v.labels.feature)
      .sort();
    expect(kept).toEqual(['f6', 'f7', 'f8', 'f9']);
    expect(await value(registry, 'drift_metric_series_dropped_total', { kind: 'feature' })).toBe(3 * 2 * 6);
  });

  it('exports the multivariate reconstruction error, its bounds and verdict; none without a multivariate model', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    const mm = fullMetrics('churn', '5m', 250, null, 3);
    mm.drift.multivariate = { reference: 'ref', count: 250, errorMean: 2.1, lower: 1.4, upper: 1.7, drift: true, imputedEvents: 3, imputedValues: 4, components: 3 };
    m.updateModelGauges([mm, fullMetrics('other', '5m', 250, null, 3)]);
    const labels = { model: 'churn', version: 'all', window: '5m' };
    expect(await value(registry, 'drift_multivariate_reconstruction_error', labels)).toBe(2.1);
    expect(await value(registry, 'drift_multivariate_reconstruction_error_bound', { ...labels, bound: 'upper' })).toBe(1.7);
    expect(await value(registry, 'drift_multivariate_reconstruction_error_bound', { ...labels, bound: 'lower' })).toBe(1.4);
    expect(await value(registry, 'drift_multivariate_drift', labels)).toBe(1);
    expect(await seriesCount(registry, 'drift_multivariate_drift')).toBe(1);
  });

  it("exports the default test's verdict and statistic per feature and for the output, naming the test", async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    const mm = fullMetrics('churn', '5m', 250, null, 3);
    // f2: the default test is KS here, and its confirmed verdict says drifting
    mm.drift.features.f2 = { ...mm.drift.features.f2, primary: 'ks', drift: true };
    m.updateModelGauges([mm]);
    const labels = { model: 'churn', version: 'all', window: '5m' };
    expect(await value(registry, 'drift_feature_drift', { ...labels, feature: 'f2', test: 'ks' })).toBe(1);
    expect(await value(registry, 'drift_feature_drift_statistic', { ...labels, feature: 'f2', test: 'ks' })).toBe(0.11);
    expect(await value(registry, 'drift_feature_drift', { ...labels, feature: 'f0', test: 'psi' })).toBe(0);
    expect(await value(registry, 'drift_feature_drift_statistic', { ...labels, feature: 'f0', test: 'psi' })).toBe(0.01);
    // the output's PSI is 0.3, above its 0.2 threshold
    expect(await value(registry, 'drift_output_drift', { ...labels, test: 'psi' })).toBe(1);
    expect(await value(registry, 'drift_output_drift_statistic', { ...labels, test: 'psi' })).toBe(0.3);
    expect(await seriesCount(registry, 'drift_feature_drift')).toBe(3);
  });

  it('caps verdict series like the PSI series, keeping drifting features before higher PSI', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry, { maxFeaturesPerModel: 2 });
    const mm = fullMetrics('churn', '5m', 250, null, 6);
    mm.drift.features.f0 = { ...mm.drift.features.f0, drift: true }; // lowest PSI, but drifting
    m.updateModelGauges([mm]);
    const json = await registry.getMetricsAsJSON();
    const features = (name: string) => json.find((x) => x.name === name)?.values.map((v) => v.labels.feature).sort();
    expect(features('drift_feature_drift')).toEqual(['f0', 'f5']);
    expect(features('drift_feature_drift_statistic')).toEqual(['f0', 'f5']);
    expect(features('drift_feature_psi')).toEqual(['f0', 'f5']);
    expect(await value(registry, 'drift_metric_series_dropped_total', { kind: 'feature' })).toBe(4);
  });
});

describe('data-quality gauges', () => {
  function quality(overrides: Partial<FeatureDataQuality> = {}): FeatureDataQuality {
    return {
      values: 100, missingShare: 0.02, referenceMissingShare: 0.01, missingIncrease: 0.01, wrongTypeShare: 0, newCategoryShare: null,
      unknownCategoryShare: null, newCategories: [], outOfRangeShare: 0, outOfQuantileShare: 0.002, appeared: false, vanished: false, ...overrides,
    };
  }

  it('exports each reading per feature, flags as 1/0, and leaves null readings out', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    const mm = fullMetrics('churn', '5m', 250);
    mm.dataQuality = {
      reference: 'ref-1',
      appeared: [],
      vanished: ['age'],
      features: { age: quality({ values: 0, missingShare: 1, missingIncrease: 0.99, vanished: true, outOfRangeShare: null, outOfQuantileShare: null }), plan: quality({ newCategoryShare: 0.3, outOfRangeShare: null, outOfQuantileShare: null }) },
    };
    m.updateModelGauges([mm]);
    const labels = { model: 'churn', version: 'all', window: '5m' };
    expect(await value(registry, 'drift_data_quality_missing_share', { ...labels, feature: 'age' })).toBe(1);
    expect(await value(registry, 'drift_data_quality_missing_increase', { ...labels, feature: 'age' })).toBe(0.99);
    expect(await value(registry, 'drift_data_quality_vanished', { ...labels, feature: 'age' })).toBe(1);
    expect(await value(registry, 'drift_data_quality_vanished', { ...labels, feature: 'plan' })).toBe(0);
    expect(await value(registry, 'drift_data_quality_new_category_share', { ...labels, feature: 'plan' })).toBe(0.3);
    expect(await seriesCount(registry, 'drift_data_quality_new_category_share')).toBe(1);
    expect(await seriesCount(registry, 'drift_data_quality_out_of_range_share')).toBe(0);
  });

  it('without a reference, exports no appeared/vanished flag', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    const mm = fullMetrics('churn', '5m', 250);
    mm.dataQuality = { reference: null, appeared: [], vanished: [], features: { age: quality({ referenceMissingShare: null, missingIncrease: null }) } };
    m.updateModelGauges([mm]);
    expect(await seriesCount(registry, 'drift_data_quality_missing_share')).toBe(1);
    expect(await seriesCount(registry, 'drift_data_quality_vanished')).toBe(0);
    expect(await seriesCount(registry, 'drift_data_quality_missing_increase')).toBe(0);
  });

  it('caps features per model, keeping vanished features and the largest shares, and counts the dropped ones', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry, { maxFeaturesPerModel: 2 });
    const mm = fullMetrics('churn', '5m', 250);
    const features: Record<string, FeatureDataQuality> = {};
    for (let i = 0; i < 6; i++) features[`f${i}`] = quality({ missingIncrease: 0.01 * i });
    features.f0 = quality({ vanished: true, missingIncrease: 0 });
    mm.dataQuality = { reference: 'ref-1', appeared: [], vanished: ['f0'], features };
    m.updateModelGauges([mm]);
    const json = await registry.getMetricsAsJSON();
    expect(json.find((x) => x.name === 'drift_data_quality_missing_share')?.values.map((v) => v.labels.feature).sort()).toEqual(['f0', 'f5']);
    expect(await value(registry, 'drift_metric_series_dropped_total', { kind: 'data_quality_feature' })).toBe(4);
  });
});

describe('updateAlertGauges', () => {
  it('is 1 while an alert fires, 0 after it resolves, by model, rule and severity', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    const firing = alert('churn', 'feature_psi', 2000);
    m.updateAlertGauges([firing]);
    const labels = { model: 'churn', rule: 'feature_psi', severity: 'warning' };
    expect(await value(registry, 'drift_alerts_firing', labels)).toBe(1);
    // the firing transition stays in the history beside the resolution: the newest one counts
    m.updateAlertGauges([alert('churn', 'feature_psi', 3000, 'resolved'), firing]);
    expect(await value(registry, 'drift_alerts_firing', labels)).toBe(0);
    // once the transitions have left the history, the series stays at 0
    m.updateAlertGauges([]);
    expect(await value(registry, 'drift_alerts_firing', labels)).toBe(0);
  });

  it('adds up the scopes of one rule that fire at once', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry);
    const scoped = (scope: string) => ({ ...alert('churn', 'feature_psi', 2000), scope, id: `churn:feature_psi:${scope}` });
    m.updateAlertGauges([scoped('feature:a'), scoped('feature:b'), { ...alert('fraud', 'latency', 2000), severity: 'critical' as const }]);
    expect(await value(registry, 'drift_alerts_firing', { model: 'churn', rule: 'feature_psi' })).toBe(2);
    expect(await value(registry, 'drift_alerts_firing', { model: 'fraud', rule: 'latency', severity: 'critical' })).toBe(1);
  });

  it('follows the model cap of the model gauges', async () => {
    const registry = new Registry();
    const m = createGatewayMetrics(registry, { maxModels: 1 });
    m.updateModelGauges([fullMetrics('a', '5m', 1), fullMetrics('b', '5m', 1)]);
    m.updateAlertGauges([alert('a', 'psi', 1), alert('b', 'psi', 1)]);
    expect(await seriesCount(registry, 'drift_alerts_firing')).toBe(1);
    expect(await value(registry, 'drift_alerts_firing', { model: 'a' })).toBe(1);
  });
});

describe('renderInSlices', () => {
  it('renders what registry.metrics() renders, metric by metric, with turns of the event loop between slices', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ instance: 'gw-1' });
    const counter = new Counter({ name: 'c_total', help: 'a counter', labelNames: ['kind'], registers: [registry] });
    const gauge = new Gauge({ name: 'g', help: 'a "gauge"\nwith a newline', labelNames: ['model', 'feature'], registers: [registry] });
    const histogram = new Histogram({ name: 'h_seconds', help: 'a histogram', buckets: [0.1, 1], registers: [registry] });
    const odd = new Gauge({ name: 'odd', help: 'back\\slash', labelNames: ['v'], registers: [registry] });
    const bare = new Gauge({ name: 'bare', help: 'no labels', registers: [registry] });
    new Gauge({ name: 'empty', help: 'no series', labelNames: ['v'], registers: [registry] });
    // a label of its own named as a default label: its own value, once
    new Gauge({ name: 'shadow', help: 'its own instance', labelNames: ['instance', 'v'], registers: [registry] }).set({ v: 'x', instance: 'own' }, 2);
    counter.inc({ kind: 'a' }, 3);
    for (let m = 0; m < 600; m++) for (let f = 0; f < 30; f++) gauge.set({ model: `m${m}`, feature: `f${f}` }, m + f / 100);
    odd.set({ v: 'a "quoted"\\ value\nover two lines' }, Number.NaN);
    odd.set({ v: 'up' }, Number.POSITIVE_INFINITY);
    odd.set({ v: 'down' }, Number.NEGATIVE_INFINITY);
    odd.set({ v: 'tiny' }, 1e-300);
    bare.set(-0.5);
    histogram.observe(0.5);
    // the event loop turns while it renders 18,000 series: a timer set now fires before it ends
    let turned = false;
    setImmediate(() => (turned = true));
    const parts = await renderInSlices(registry);
    const sliced = Buffer.concat(parts).toString();
    // a large gauge is cut between slices too (not one block per metric): with slices of a
    // microsecond, its 18,000 series come in a part per 512 of them, the same text
    const fine = await renderInSlices(registry, undefined, 0.001);
    expect(fine.filter((part) => part.includes('g{model=')).length).toBe(Math.ceil(18_000 / 512));
    expect(Buffer.concat(fine).toString()).toBe(sliced);
    expect(sliced).toBe(await registry.metrics());
    expect(sliced).toContain('g{model="m599",feature="f29",instance="gw-1"} 599.29');
    expect(turned).toBe(true);
  });

  it('writes the model-level series from the entries a scrape keeps, as registry.metrics() renders them, without label sets', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ instance: 'gw-1', window: 'shadowed' });
    const m = createGatewayMetrics(registry, { maxModels: 3, maxFeaturesPerModel: 4 });
    const withEverything = fullMetrics('churn', '5m', 250, 'v2', 6);
    withEverything.drift.features['odd "name"\\x'] = { ...withEverything.drift.features.f0, drift: true };
    withEverything.drift.multivariate = { reference: 'ref', count: 250, errorMean: 2.1, lower: 1.4, upper: 1.7, drift: true, imputedEvents: 3, imputedValues: 4, components: 3 };
    withEverything.dataQuality = {
      reference: 'ref-1',
      appeared: [],
      vanished: [],
      features: {
        age: { values: 100, missingShare: 0.02, referenceMissingShare: 0.01, missingIncrease: 0.01, wrongTypeShare: 0, newCategoryShare: null, unknownCategoryShare: null, newCategories: [], outOfRangeShare: 0, outOfQuantileShare: 0.002, appeared: false, vanished: true },
      },
    };
    const sparse = fullMetrics('fraud', '1h', 0, null, 2);
    sparse.errorRate = null;
    sparse.accuracy = null;
    sparse.latency = { p50: null, p95: 3, p99: null, mean: null };
    sparse.drift.output = null;
    const update = m.modelGaugesUpdate();
    for (const mm of [withEverything, fullMetrics('churn', '1m', 10, null, 2), sparse, fullMetrics('ads', '5m', 1e-7, null, 1), fullMetrics('beyond', '5m', 1)]) update.add(mm);
    update.finish();

    const text = Buffer.concat(await renderInSlices(registry, undefined, 0.001)).toString();
    // nothing read the gauges' own label sets: the text came from the entries
    const predictions = registry.getSingleMetric('drift_model_predictions') as unknown as { hashMap: Record<string, unknown> };
    expect(Object.keys(predictions.hashMap)).toEqual([]);
    expect(text).toBe(await registry.metrics());
    expect(text).toContain('drift_feature_drift{model="churn",version="v2",window="5m",feature="odd \\"name\\"\\\\x",test="psi",instance="gw-1"} 1');
    expect(text).toContain('drift_model_latency_seconds{model="fraud",version="all",window="1h",quantile="0.95",instance="gw-1"} 0.003');
    expect(text).toContain('drift_multivariate_reconstruction_error_bound{model="churn",version="v2",window="5m",bound="upper",instance="gw-1"} 1.7');
    expect(text).toContain('drift_data_quality_vanished{model="churn",version="v2",window="5m",feature="age",instance="gw-1"} 1');
    expect(text).toContain('drift_model_predictions{model="ads",version="all",window="5m",instance="gw-1"} 1e-7');
    expect(text).not.toContain('model="beyond"');
    expect(text).not.toMatch(/drift_model_error_rate\{model="fraud"/);
    // a second update replaces the series, for both paths
    m.updateModelGauges([fullMetrics('ads', '1m', 5, null, 1)]);
    const after = Buffer.concat(await renderInSlices(registry)).toString();
    expect(after).toBe(await registry.metrics());
    expect(after).not.toContain('model="churn"');
    expect(after).toContain('drift_model_predictions{model="ads",version="all",window="1m",instance="gw-1"} 5');
  });
});

describe('writtenInSlices', () => {
  /** `clock`: the slicer's; by default a clock that moves 1 ms at each reading (every part ends a slice of 1 ms or less). */
  async function consume(parts: Buffer[], sliceMs: number, clock: () => number = ((t = 0) => () => t++)()): Promise<{ text: string; turns: number }> {
    let turns = 0;
    let counting = true;
    const count = (): void => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const chunks: Buffer[] = [];
    for await (const chunk of writtenInSlices(parts, undefined, sliceMs, clock)) chunks.push(chunk as Buffer);
    counting = false;
    return { text: Buffer.concat(chunks).toString(), turns };
  }

  it('hands the parts on in order, a slice at a time, with turns of the event loop between slices', async () => {
    const parts = Array.from({ length: 2000 }, (_, k) => Buffer.from(`line ${k}\n`));
    const expected = parts.map((part) => part.toString()).join('');
    // slices of 1 ms, each part 1 ms by the slicer's clock: a turn of the event loop after every
    // part (a real clock with tiny slices saw parts pushed within the same microsecond, no turn)
    const fine = await consume(parts, 1);
    expect(fine.text).toBe(expected);
    expect(fine.turns).toBeGreaterThanOrEqual(2000);
    // one slice for the lot: the parts go on without waiting for the event loop
    const whole = await consume(parts, 60_000);
    expect(whole.text).toBe(expected);
    expect(whole.turns).toBeLessThan(200);
    // nothing to write: an empty stream that ends
    expect((await consume([], 10)).text).toBe('');
  });
});
