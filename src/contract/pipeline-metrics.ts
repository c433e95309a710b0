/**
 * The Prometheus series every process exports: workers count the pipeline, gateways the feed,
 * alerts and model-level gauges. Producers depend on this interface; `createPipelineMetrics`
 * (src/gateway/prometheus.ts) builds it on a registry.
 */
import type { Counter, Gauge, Registry, RegistryContentType } from 'prom-client';
import type { ModelMetrics } from './metrics.ts';

export interface ModelGaugeLimits {
  /** Distinct models exported; the rest are dropped and counted. Default 100. */
  maxModels?: number;
  /** Feature PSI series per model (highest PSI kept); the rest are dropped and counted. Default 50. */
  maxFeaturesPerModel?: number;
}

export interface PipelineMetrics {
  readonly registry: Registry<RegistryContentType>;
  // worker
  eventsConsumed: Counter<'kind'>;
  eventsRejected: Counter<'reason'>;
  /** Refused events (limit_exceeded, model_not_allowed) by model: the first 20 models refused, then `other`. */
  modelEventsRefused: Counter<'model' | 'reason'>;
  eventsLate: Counter<string>;
  pendingJoins: Gauge<'partition'>;
  earlyLabels: Gauge<'partition'>;
  labelsJoined: Counter<string>;
  labelsExpired: Counter<string>;
  labelsUnmatched: Counter<string>;
  consumerLag: Gauge<'partition'>;
  consumerLive: Gauge<'partition'>;
  consumerRecreations: Counter<string>;
  partitionSequence: Gauge<'partition'>;
  paneFlushes: Counter<string>;
  // gateway: pane changelog and WebSocket feed
  paneMessagesRejected: Counter<string>;
  /** Pane messages a gateway dropped because their model is beyond its limits.maxModels. */
  paneMessagesDropped: Counter<'reason'>;
  wsClients: Gauge<string>;
  wsConnections: Counter<'result'>;
  wsFramesSent: Counter<'type'>;
  wsFramesCoalesced: Counter<string>;
  wsClientsDropped: Counter<'reason'>;
  alerts: Counter<'rule' | 'state'>;
  // model-level gauges, set by updateModelGauges
  modelPredictions: Gauge<'model' | 'version' | 'window'>;
  modelErrorRate: Gauge<'model' | 'version' | 'window'>;
  modelLatencySeconds: Gauge<'model' | 'version' | 'window' | 'quantile'>;
  modelAccuracy: Gauge<'model' | 'version' | 'window'>;
  modelLabelCoverage: Gauge<'model' | 'version' | 'window'>;
  outputPsi: Gauge<'model' | 'version' | 'window'>;
  featurePsi: Gauge<'model' | 'version' | 'window' | 'feature'>;
  seriesDropped: Counter<'kind'>;
  /**
   * Replace every model-level series with the values of `metrics` (one entry per model, version
   * and window). Series of models no longer present disappear. Cardinality is capped by
   * `limits`; dropped series are counted in `drift_metric_series_dropped_total{kind}`.
   */
  updateModelGauges(metrics: readonly ModelMetrics[]): void;
}

