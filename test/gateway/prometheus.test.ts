import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createPipelineMetrics } from '../../src/gateway/prometheus.ts';
import { fullMetrics } from './fake-source.ts';

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

async function seriesCount(registry: Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.length ?? 0;
}

describe('createPipelineMetrics', () => {
  it('registers every pipeline metric under its documented name', async () => {
    const registry = new Registry();
    const m = createPipelineMetrics(registry);
    m.eventsConsumed.inc({ kind: 'pred' }, 3);
    m.eventsRejected.inc({ reason: 'decode' });
    m.consumerLag.set({ partition: '2' }, 42);
    m.alerts.inc({ rule: 'psi', state: 'firing' });
    const text = await registry.metrics();
    for (const name of [
      'drift_events_consumed_total', 'drift_events_rejected_total', 'drift_events_late_total', 'drift_pending_joins',
      'drift_early_labels', 'drift_labels_joined_total', 'drift_labels_expired_total', 'drift_consumer_lag',
      'drift_consumer_live', 'drift_consumer_recreations_total',
      'drift_partition_sequence', 'drift_pane_flushes_total', 'drift_ws_clients', 'drift_ws_frames_sent_total',
      'drift_ws_clients_dropped_total', 'drift_alerts_total', 'drift_model_predictions', 'drift_model_error_rate',
      'drift_model_latency_seconds', 'drift_model_accuracy', 'drift_model_label_coverage', 'drift_feature_psi',
      'drift_metric_series_dropped_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('drift_events_consumed_total{kind="pred"} 3');
    expect(text).toContain('drift_consumer_lag{partition="2"} 42');
    expect(text).toContain('drift_alerts_total{rule="psi",state="firing"} 1');
  });

  it('is idempotent per registry: a second call reuses the same metric objects', () => {
    const registry = new Registry();
    const a = createPipelineMetrics(registry);
    const b = createPipelineMetrics(registry);
    expect(b.eventsConsumed).toBe(a.eventsConsumed);
    expect(b.featurePsi).toBe(a.featurePsi);
  });

  it('rejects invalid limits', () => {
    expect(() => createPipelineMetrics(new Registry(), { maxModels: -1 })).toThrow(/maxModels must be a non-negative integer, got -1/);
  });
});

describe('updateModelGauges', () => {
  it('sets model gauges from ModelMetrics, skipping null statistics', async () => {
    const registry = new Registry();
    const m = createPipelineMetrics(registry);
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
    const m = createPipelineMetrics(registry);
    m.updateModelGauges([fullMetrics('a', '5m', 1), fullMetrics('b', '5m', 2)]);
    m.updateModelGauges([fullMetrics('b', '5m', 3)]);
    expect(await seriesCount(registry, 'drift_model_predictions')).toBe(1);
    expect(await value(registry, 'drift_model_predictions', { model: 'b' })).toBe(3);
  });

  it('caps models and features per model, keeping the most drifted features, and counts the dropped series', async () => {
    const registry = new Registry();
    const m = createPipelineMetrics(registry, { maxModels: 3, maxFeaturesPerModel: 4 });
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
});
