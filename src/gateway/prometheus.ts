/**
 * Prometheus metrics of the pipeline (worker) and the gateway, on a caller-supplied registry.
 *
 * `createPipelineMetrics` is idempotent per registry: a metric that is already registered under
 * the same name is reused, so the worker and the gateway of an all-in-one process can both call it
 * on one registry without "already registered" errors.
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry, RegistryContentType } from 'prom-client';
import type { ModelMetrics } from '../contract/metrics.ts';
import type { ModelGaugeLimits, PipelineMetrics } from '../contract/pipeline-metrics.ts';

export type { ModelGaugeLimits, PipelineMetrics };

type AnyRegistry = Registry<RegistryContentType>;

function counter<L extends string>(registry: AnyRegistry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (existing instanceof Counter) return existing as Counter<L>;
    throw new Error(`metric ${name} is already registered in this registry with another type`);
  }
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: AnyRegistry, name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (existing instanceof Gauge) return existing as Gauge<L>;
    throw new Error(`metric ${name} is already registered in this registry with another type`);
  }
  return new Gauge<L>({ name, help, labelNames, registers: [registry] });
}

const MODEL_LABELS = ['model', 'version', 'window'] as const;
/** Label value for metrics merged over all versions (ModelMetrics.version === null). */
export const ALL_VERSIONS_LABEL = 'all';

export function createPipelineMetrics(registry: AnyRegistry, limits: ModelGaugeLimits = {}): PipelineMetrics {
  const maxModels = limits.maxModels ?? 100;
  const maxFeaturesPerModel = limits.maxFeaturesPerModel ?? 50;
  if (!Number.isInteger(maxModels) || maxModels < 0) throw new Error(`createPipelineMetrics: limits.maxModels must be a non-negative integer, got ${maxModels}`);
  if (!Number.isInteger(maxFeaturesPerModel) || maxFeaturesPerModel < 0) {
    throw new Error(`createPipelineMetrics: limits.maxFeaturesPerModel must be a non-negative integer, got ${maxFeaturesPerModel}`);
  }

  const m = {
    registry,
    eventsConsumed: counter(registry, 'drift_events_consumed_total', 'Events decoded and applied, by kind (pred|label).', ['kind']),
    eventsRejected: counter(registry, 'drift_events_rejected_total', 'Events rejected and sent to the dead-letter subject, by reason.', ['reason']),
    modelEventsRefused: counter(
      registry,
      'drift_model_events_refused_total',
      'Events of models (or versions) refused cluster-wide (limit_exceeded: beyond limits.maxModels / maxVersionsPerModel; model_not_allowed: not on models.allow), by model: the first 20 models refused have their own series, the others are counted as model="other".',
      ['model', 'reason'],
    ),
    eventsLate: counter(registry, 'drift_events_late_total', 'Predictions later than the allowed lateness (counted, not folded into panes).'),
    pendingJoins: gauge(registry, 'drift_pending_joins', 'Predictions waiting for their label, per partition.', ['partition']),
    earlyLabels: gauge(registry, 'drift_early_labels', 'Labels waiting for their prediction, per partition.', ['partition']),
    labelsJoined: counter(registry, 'drift_labels_joined_total', 'Labels joined to their prediction.'),
    labelsExpired: counter(registry, 'drift_labels_expired_total', 'Predictions whose label did not come within the label horizon.'),
    labelsUnmatched: counter(registry, 'drift_labels_unmatched_total', 'Labels whose prediction never came (or came twice): dropped after the label horizon, or when the early-label buffer was full.'),
    consumerLag: gauge(registry, 'drift_consumer_lag', 'Messages between the consumer position and the end of the stream, per partition.', ['partition']),
    consumerLive: gauge(registry, 'drift_consumer_live', 'Whether the partition consumer receives messages or heartbeats (1) or has lost its server and is being recreated (0).', ['partition']),
    consumerRecreations: counter(registry, 'drift_consumer_recreations_total', 'Partition consumers recreated from their last applied sequence (NATS restart, leader change, stall).'),
    partitionSequence: gauge(registry, 'drift_partition_sequence', 'Last stream sequence applied, per partition.', ['partition']),
    paneFlushes: counter(registry, 'drift_pane_flushes_total', 'Pane state flushes (checkpoints).'),
    paneMessagesRejected: counter(registry, 'drift_pane_messages_rejected_total', 'Pane changelog messages the gateway refused as malformed (logged with their subject); its windows are left as they were.'),
    paneMessagesDropped: counter(registry, 'drift_pane_messages_dropped_total', 'Pane changelog messages the gateway dropped, by reason (model_limit: a model beyond its limits.maxModels; logged once per model).', ['reason']),
    wsClients: gauge(registry, 'drift_ws_clients', 'WebSocket clients connected to /v1/live.'),
    wsConnections: counter(registry, 'drift_ws_connections_total', 'WebSocket upgrade attempts on this gateway, by result.', ['result']),
    wsFramesSent: counter(registry, 'drift_ws_frames_sent_total', 'WebSocket frames sent, by frame type.', ['type']),
    wsFramesCoalesced: counter(registry, 'drift_ws_frames_coalesced_total', 'Metrics updates replaced by a newer one before they were sent (throttling or a slow client).'),
    wsClientsDropped: counter(registry, 'drift_ws_clients_dropped_total', 'WebSocket clients closed by the gateway, by reason.', ['reason']),
    alerts: counter(registry, 'drift_alerts_total', 'Alert transitions, by rule and state.', ['rule', 'state']),
    modelPredictions: gauge(registry, 'drift_model_predictions', 'Predictions in the window.', MODEL_LABELS),
    modelErrorRate: gauge(registry, 'drift_model_error_rate', 'Share of predictions that reported an error, in the window.', MODEL_LABELS),
    modelLatencySeconds: gauge(registry, 'drift_model_latency_seconds', 'Serving latency quantiles in the window, seconds.', [...MODEL_LABELS, 'quantile']),
    modelAccuracy: gauge(registry, 'drift_model_accuracy', 'Accuracy over labels joined in the window.', MODEL_LABELS),
    modelLabelCoverage: gauge(registry, 'drift_model_label_coverage', 'Share of predictions in the window that received a label.', MODEL_LABELS),
    outputPsi: gauge(registry, 'drift_output_psi', 'Population stability index of the model output against the reference.', MODEL_LABELS),
    featurePsi: gauge(registry, 'drift_feature_psi', 'Population stability index of a feature against the reference.', [...MODEL_LABELS, 'feature']),
    seriesDropped: counter(registry, 'drift_metric_series_dropped_total', 'Model-level series not exported because of the cardinality caps, by kind (model|feature).', ['kind']),
  };

  const modelGauges = [m.modelPredictions, m.modelErrorRate, m.modelLatencySeconds, m.modelAccuracy, m.modelLabelCoverage, m.outputPsi, m.featurePsi];

  function updateModelGauges(metrics: readonly ModelMetrics[]): void {
    for (const g of modelGauges) g.reset();
    const exportedModels = new Set<string>();
    const droppedModels = new Set<string>();
    let droppedFeatures = 0;
    for (const mm of metrics) {
      if (!exportedModels.has(mm.model)) {
        if (exportedModels.size >= maxModels) {
          droppedModels.add(mm.model);
          continue;
        }
        exportedModels.add(mm.model);
      }
      const labels = { model: mm.model, version: mm.version ?? ALL_VERSIONS_LABEL, window: mm.window };
      m.modelPredictions.set(labels, mm.count);
      // A null statistic (no data yet) is left out rather than exported as NaN/0.
      if (mm.errorRate !== null) m.modelErrorRate.set(labels, mm.errorRate);
      if (mm.accuracy !== null) m.modelAccuracy.set(labels, mm.accuracy);
      if (mm.labelCoverage !== null) m.modelLabelCoverage.set(labels, mm.labelCoverage);
      const lat = mm.latency;
      if (lat.p50 !== null) m.modelLatencySeconds.set({ ...labels, quantile: '0.5' }, lat.p50 / 1000);
      if (lat.p95 !== null) m.modelLatencySeconds.set({ ...labels, quantile: '0.95' }, lat.p95 / 1000);
      if (lat.p99 !== null) m.modelLatencySeconds.set({ ...labels, quantile: '0.99' }, lat.p99 / 1000);
      const outputPsi = mm.drift.output?.tests.psi?.statistic;
      if (outputPsi !== undefined && Number.isFinite(outputPsi)) m.outputPsi.set(labels, outputPsi);

      const psiByFeature: Array<[string, number]> = [];
      for (const [feature, entry] of Object.entries(mm.drift.features)) {
        const psi = entry.tests.psi?.statistic;
        if (psi !== undefined && Number.isFinite(psi)) psiByFeature.push([feature, psi]);
      }
      if (psiByFeature.length > maxFeaturesPerModel) {
        // Keep the most drifted features: those are the series an operator looks for.
        psiByFeature.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
        droppedFeatures += psiByFeature.length - maxFeaturesPerModel;
        psiByFeature.length = maxFeaturesPerModel;
      }
      for (const [feature, psi] of psiByFeature) m.featurePsi.set({ ...labels, feature }, psi);
    }
    if (droppedModels.size > 0) m.seriesDropped.inc({ kind: 'model' }, droppedModels.size);
    if (droppedFeatures > 0) m.seriesDropped.inc({ kind: 'feature' }, droppedFeatures);
  }

  return { ...m, updateModelGauges };
}
