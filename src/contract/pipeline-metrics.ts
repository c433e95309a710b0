/**
 * The Prometheus series each kind of process exports: a worker counts what its partitions consume
 * and where they run (`WorkerMetrics`); a gateway the pane changelog it reads, its WebSocket feed,
 * its alerts and the model-level gauges (`GatewayMetrics`). A process registers only the series it
 * fills, so a scrape never shows a worker series frozen at zero on a gateway or the reverse; the
 * all-in-one process (`npm start`) registers both on one registry (`PipelineMetrics`). Producers
 * depend on these interfaces; the factories are `createWorkerMetrics` (src/partition/worker-metrics.ts)
 * and `createGatewayMetrics` (src/gateway/prometheus.ts). Every series name here is also used by
 * config/prometheus/*.yml and config/grafana/*.json, which tests check against the registries.
 */
import type { Counter, Gauge, Registry, RegistryContentType } from 'prom-client';
import type { AlertEvent, ModelMetrics } from './metrics.ts';

export interface ModelGaugeLimits {
  /** Distinct models exported; the rest are dropped and counted. Default 100. */
  maxModels?: number;
  /**
   * Features per model with series (`drift_feature_psi`, `drift_feature_drift`,
   * `drift_feature_drift_statistic`); drifting features first, then by PSI. The rest are dropped
   * and counted. Default 50.
   */
  maxFeaturesPerModel?: number;
}

type ModelLabel = 'model' | 'version' | 'window';

export interface WorkerMetrics {
  readonly registry: Registry<RegistryContentType>;
  eventsConsumed: Counter<'kind'>;
  eventsRejected: Counter<'reason'>;
  /** Refused events (limit_exceeded, model_not_allowed) by model: the first 20 models refused, then `other`. */
  modelEventsRefused: Counter<'model' | 'reason'>;
  eventsLate: Counter<string>;
  eventsDuplicate: Counter<'kind'>;
  pendingJoins: Gauge<'partition'>;
  earlyLabels: Gauge<'partition'>;
  eventsHeld: Gauge<'partition'>;
  labelsJoined: Counter<string>;
  labelsExpired: Counter<string>;
  labelsUnmatched: Counter<string>;
  consumerLag: Gauge<'partition'>;
  consumerLive: Gauge<'partition'>;
  consumerRecreations: Counter<string>;
  consumerPullsWrittenOff: Counter<string>;
  partitionSequence: Gauge<'partition'>;
  paneFlushes: Counter<string>;
  /** Partitions of DRIFT_EVENTS (fixed when the stream was created): what the owner gauges should sum to. */
  partitions: Gauge<string>;
  /** 1 for every partition running in this process, labelled with this worker's id. */
  partitionOwner: Gauge<'partition' | 'worker'>;
  /** Seconds since the partition's stored checkpoint was last known to be current. */
  checkpointAgeSeconds: Gauge<'partition'>;
  /** Size of the partition's last checkpoint written or restored here, bytes. */
  checkpointBytes: Gauge<'partition'>;
  /** Partitions that started (in) or stopped (out) running here because of lease changes. */
  rebalances: Counter<'direction'>;
}

export interface GatewayMetrics {
  readonly registry: Registry<RegistryContentType>;
  // the pane changelog this gateway follows (its part of the pipeline)
  paneMessagesRejected: Counter<string>;
  paneMessagesApplied: Counter<string>;
  /** Pane messages a gateway dropped, by reason (model_limit: its model is beyond limits.maxModels). */
  paneMessagesDropped: Counter<'reason'>;
  /** Pane feature sketches moved onto the windows' buckets (partitions on centers of their own). */
  paneSketchesRebinned: Counter<string>;
  changelogLag: Gauge<string>;
  /** 1 when the changelog replay has caught up and its consumer is live: the figures are current. */
  changelogReady: Gauge<string>;
  /** Models whose drift and rules wait for the gateway's next slices of statistics work. */
  driftBacklogModels: Gauge<string>;
  /** How long the oldest of them has waited, in seconds (0 when none waits). */
  driftBacklogAge: Gauge<string>;
  // WebSocket feed
  wsClients: Gauge<string>;
  wsConnections: Counter<'result'>;
  wsFramesSent: Counter<'type'>;
  wsFramesCoalesced: Counter<string>;
  wsClientsDropped: Counter<'reason'>;
  alerts: Counter<'rule' | 'state'>;
  /** Alerts firing now per model, rule and severity (0 once they resolve), set by updateAlertGauges. */
  alertsFiring: Gauge<'model' | 'rule' | 'severity'>;
  // model-level gauges, written only by updateModelGauges / modelGaugesUpdate (a `set` on one is
  // overwritten: their series are the entries of the last update, src/gateway/model-series.ts)
  modelPredictions: Gauge<ModelLabel>;
  modelErrorRate: Gauge<ModelLabel>;
  modelLatencySeconds: Gauge<ModelLabel | 'quantile'>;
  modelAccuracy: Gauge<ModelLabel>;
  modelLabelCoverage: Gauge<ModelLabel>;
  outputPsi: Gauge<ModelLabel>;
  featurePsi: Gauge<ModelLabel | 'feature'>;
  /** The default (primary) drift test's verdict: 1 drifting, 0 not; `test` names it. */
  outputDrift: Gauge<ModelLabel | 'test'>;
  outputDriftStatistic: Gauge<ModelLabel | 'test'>;
  featureDrift: Gauge<ModelLabel | 'feature' | 'test'>;
  featureDriftStatistic: Gauge<ModelLabel | 'feature' | 'test'>;
  /** Data quality per feature (`drift_data_quality_*`): capped at maxFeaturesPerModel like the drift series. */
  dataQuality: DataQualityGauges;
  /** Multivariate drift: the window's mean PCA reconstruction error, its bounds (bound=lower|upper) and verdict. */
  multivariateError: Gauge<ModelLabel>;
  multivariateBound: Gauge<ModelLabel | 'bound'>;
  multivariateDrift: Gauge<ModelLabel>;
  seriesDropped: Counter<'kind'>;
  /**
   * Replace every model-level series with the values of `metrics` (one entry per model, version
   * and window). Series of models no longer present disappear. Cardinality is capped by
   * `limits`; dropped series are counted in `drift_metric_series_dropped_total{kind}`.
   */
  updateModelGauges(metrics: readonly ModelMetrics[]): void;
  /**
   * updateModelGauges in steps: `add` each entry (in the order updateModelGauges takes them),
   * then `finish`, which replaces every model-level series at once. Until then the gauges show the
   * previous update: a caller may yield between steps (the gateway's /metrics, in slices).
   */
  modelGaugesUpdate(): ModelGaugesUpdate;
  /**
   * Set `drift_alerts_firing` from the alerts firing now and the recent transitions: a rule that
   * fired for a model keeps its series at 0 after it resolves, so `rate`/`changes` and absence
   * checks work; models beyond the model cap are left out, as for the model gauges.
   */
  updateAlertGauges(alerts: readonly AlertEvent[]): void;
}

/** See GatewayMetrics.modelGaugesUpdate. */
export interface ModelGaugesUpdate {
  /**
   * Whether a model gets series in this update (the first limits.maxModels models do; one beyond
   * is counted as dropped at `finish`): a caller asks before it computes the model's metrics.
   */
  admit(model: string): boolean;
  add(metrics: ModelMetrics): void;
  finish(): void;
}

/** One gauge per data-quality reading of a feature (ModelMetrics.dataQuality); flags are 1/0. */
export interface DataQualityGauges {
  missingShare: Gauge<ModelLabel | 'feature'>;
  missingIncrease: Gauge<ModelLabel | 'feature'>;
  wrongTypeShare: Gauge<ModelLabel | 'feature'>;
  newCategoryShare: Gauge<ModelLabel | 'feature'>;
  outOfRangeShare: Gauge<ModelLabel | 'feature'>;
  outOfQuantileShare: Gauge<ModelLabel | 'feature'>;
  appeared: Gauge<ModelLabel | 'feature'>;
  vanished: Gauge<ModelLabel | 'feature'>;
}

/** Both sets on one registry: the all-in-one process. */
export type PipelineMetrics = WorkerMetrics & GatewayMetrics;
