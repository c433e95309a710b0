/**
 * The gateway's Prometheus series on a caller-supplied registry: the pane changelog it reads, its
 * WebSocket feed, its alerts, and the model-level gauges refreshed from its windows on each scrape.
 * The worker's series are in src/partition/worker-metrics.ts; src/contract/pipeline-metrics.ts says
 * which process exports what.
 *
 * `createGatewayMetrics` is idempotent per registry: a metric that is already registered under the
 * same name is reused.
 */
import type { AlertEvent, ModelMetrics } from '../contract/metrics.ts';
import type { DataQualityGauges, GatewayMetrics, ModelGaugeLimits, ModelGaugesUpdate } from '../contract/pipeline-metrics.ts';
import { counterOn as counter, gaugeOn as gauge } from '../contract/metric-registration.ts';
import type { AnyRegistry } from '../contract/metric-registration.ts';
import { ModelSeriesBook, ModelSeriesGauge, keptEntry, qualityVisitor, visitors } from './model-series.ts';
import type { KeptEntry, SeriesVisitor } from './model-series.ts';

export type { GatewayMetrics, ModelGaugeLimits };
export { ALL_VERSIONS_LABEL } from './model-series.ts';

const MODEL_LABELS = ['model', 'version', 'window'] as const;

export function createGatewayMetrics(registry: AnyRegistry, limits: ModelGaugeLimits = {}): GatewayMetrics {
  const maxModels = limits.maxModels ?? 100;
  const maxFeaturesPerModel = limits.maxFeaturesPerModel ?? 50;
  if (!Number.isInteger(maxModels) || maxModels < 0) throw new Error(`createGatewayMetrics: limits.maxModels must be a non-negative integer, got ${maxModels}`);
  if (!Number.isInteger(maxFeaturesPerModel) || maxFeaturesPerModel < 0) {
    throw new Error(`createGatewayMetrics: limits.maxFeaturesPerModel must be a non-negative integer, got ${maxFeaturesPerModel}`);
  }

  // a second call on the registry (the all-in-one process) shares the first's gauges and their entries
  const registered = registry.getSingleMetric('drift_model_predictions');
  const book = registered instanceof ModelSeriesGauge ? registered.book : new ModelSeriesBook();
  const modelGauge = <L extends string>(name: string, help: string, labelNames: readonly L[], visit: SeriesVisitor): ModelSeriesGauge<L> => {
    const existing = registry.getSingleMetric(name);
    if (existing === undefined) return new ModelSeriesGauge<L>({ name, help, labelNames, registers: [registry] }, book, visit);
    if (existing instanceof ModelSeriesGauge) return existing as ModelSeriesGauge<L>;
    throw new Error(`metric ${name} is already registered in this registry, not as a model-level gauge`);
  };

  const m = {
    registry,
    paneMessagesRejected: counter(registry, 'drift_pane_messages_rejected_total', 'Pane changelog messages the gateway refused as malformed (logged with their subject); its windows are left as they were.'),
    paneMessagesApplied: counter(registry, 'drift_pane_messages_applied_total', 'Pane changelog messages applied to the windows of this gateway.'),
    paneMessagesDropped: counter(registry, 'drift_pane_messages_dropped_total', 'Pane changelog messages the gateway dropped, by reason (model_limit: a model beyond its limits.maxModels, logged once per model; fenced_<reason>: refused by pane fencing, e.g. fenced_unfenced, fenced_unknown_owner).', ['reason']),
    paneSketchesRebinned: counter(registry, 'drift_pane_sketches_rebinned_total', "Numeric feature sketches of pane messages the gateway moved onto its windows' buckets (their partition centered them elsewhere: before the model had a reference, or a worker that cannot read the reference store); 0 while every partition follows the model's reference."),
    changelogLag: gauge(registry, 'drift_changelog_lag', 'Pane changelog messages this gateway has not applied yet.'),
    changelogReady: gauge(registry, 'drift_changelog_ready', 'Whether the pane changelog replay has caught up and its consumer is live (1): the figures served are current.'),
    driftBacklogModels: gauge(registry, 'drift_computation_backlog_models', 'Models whose drift statistics and alert rules wait for the next slices of the gateway\'s statistics work (a busy gateway serves older drift, flagged stale).'),
    driftBacklogAge: gauge(registry, 'drift_computation_backlog_age_seconds', 'How long the oldest model waiting for its drift statistics and rules has waited (0 when none waits).'),
    wsClients: gauge(registry, 'drift_ws_clients', 'WebSocket clients connected to /v1/live.'),
    wsConnections: counter(registry, 'drift_ws_connections_total', 'WebSocket upgrade attempts on this gateway, by result.', ['result']),
    wsFramesSent: counter(registry, 'drift_ws_frames_sent_total', 'WebSocket frames sent, by frame type.', ['type']),
    wsFramesCoalesced: counter(registry, 'drift_ws_frames_coalesced_total', 'Metrics updates replaced by a newer one before they were sent (throttling or a slow client).'),
    wsClientsDropped: counter(registry, 'drift_ws_clients_dropped_total', 'WebSocket clients closed by the gateway, by reason.', ['reason']),
    alerts: counter(registry, 'drift_alerts_total', 'Alert transitions, by rule and state.', ['rule', 'state']),
    alertsFiring: gauge(registry, 'drift_alerts_firing', 'Alerts firing now, by model, rule and severity (scopes of one rule add up; 0 after they resolve).', ['model', 'rule', 'severity']),
    modelPredictions: modelGauge('drift_model_predictions', 'Predictions in the window.', MODEL_LABELS, visitors.predictions),
    modelErrorRate: modelGauge('drift_model_error_rate', 'Share of predictions that reported an error, in the window.', MODEL_LABELS, visitors.errorRate),
    modelLatencySeconds: modelGauge('drift_model_latency_seconds', 'Serving latency quantiles in the window, seconds.', [...MODEL_LABELS, 'quantile'], visitors.latency),
    modelAccuracy: modelGauge('drift_model_accuracy', 'Accuracy over labels joined in the window.', MODEL_LABELS, visitors.accuracy),
    modelLabelCoverage: modelGauge('drift_model_label_coverage', 'Share of predictions in the window that received a label.', MODEL_LABELS, visitors.labelCoverage),
    outputPsi: modelGauge('drift_output_psi', 'Population stability index of the model output against the reference.', MODEL_LABELS, visitors.outputPsi),
    featurePsi: modelGauge('drift_feature_psi', 'Population stability index of a feature against the reference.', [...MODEL_LABELS, 'feature'], visitors.featurePsi),
    outputDrift: modelGauge('drift_output_drift', "The default drift test's verdict on the model output (1 drifting, 0 not); test names it.", [...MODEL_LABELS, 'test'], visitors.outputDrift),
    outputDriftStatistic: modelGauge('drift_output_drift_statistic', "The default drift test's statistic on the model output; test names it.", [...MODEL_LABELS, 'test'], visitors.outputDriftStatistic),
    featureDrift: modelGauge('drift_feature_drift', "The default drift test's verdict on a feature (1 drifting, 0 not); test names it.", [...MODEL_LABELS, 'feature', 'test'], visitors.featureDrift),
    featureDriftStatistic: modelGauge('drift_feature_drift_statistic', "The default drift test's statistic on a feature; test names it.", [...MODEL_LABELS, 'feature', 'test'], visitors.featureDriftStatistic),
    dataQuality: dataQualityGauges(modelGauge),
    multivariateError: modelGauge('drift_multivariate_reconstruction_error', 'Mean PCA reconstruction error of the window\'s events against the reference\'s multivariate model (NannyML\'s data reconstruction drift).', MODEL_LABELS, visitors.multivariateError),
    multivariateBound: modelGauge('drift_multivariate_reconstruction_error_bound', 'Bounds of the mean reconstruction error: the reference chunks\' mean +- the normal quantile of the drift budget\'s alpha times the spread of a window\'s mean (bound=lower|upper).', [...MODEL_LABELS, 'bound'], visitors.multivariateBound),
    multivariateDrift: modelGauge('drift_multivariate_drift', 'Multivariate drift verdict (1: the mean reconstruction error is outside its bounds, 0: inside).', MODEL_LABELS, visitors.multivariateDrift),
    seriesDropped: counter(registry, 'drift_metric_series_dropped_total', 'Model-level series not exported because of the cardinality caps, by kind (model|feature|data_quality_feature).', ['kind']),
  };

  /** Models given model-level series by the last update (the alert gauge follows the same cap). */
  let exportedModels = new Set<string>();

  function modelGaugesUpdate(): ModelGaugesUpdate {
    const entries: KeptEntry[] = [];
    const exported = new Set<string>();
    const droppedModels = new Set<string>();
    let droppedFeatures = 0;
    let droppedQualityFeatures = 0;
    const admit = (model: string): boolean => {
      if (exported.has(model)) return true;
      if (exported.size >= maxModels) {
        droppedModels.add(model);
        return false;
      }
      exported.add(model);
      return true;
    };
    const add = (mm: ModelMetrics): void => {
      if (!admit(mm.model)) return;
      const kept = keptEntry(mm, maxFeaturesPerModel);
      entries.push(kept.entry);
      droppedFeatures += kept.droppedFeatures;
      droppedQualityFeatures += kept.droppedQualityFeatures;
    };
    const finish = (): void => {
      book.entries = entries;
      book.version++;
      exportedModels = exported;
      if (droppedModels.size > 0) m.seriesDropped.inc({ kind: 'model' }, droppedModels.size);
      if (droppedFeatures > 0) m.seriesDropped.inc({ kind: 'feature' }, droppedFeatures);
      if (droppedQualityFeatures > 0) m.seriesDropped.inc({ kind: 'data_quality_feature' }, droppedQualityFeatures);
    };
    return { admit, add, finish };
  }

  function updateModelGauges(metrics: readonly ModelMetrics[]): void {
    const update = modelGaugesUpdate();
    for (const mm of metrics) update.add(mm);
    update.finish();
  }

  /** (model, rule, severity) combinations seen firing: kept at 0 once resolved. */
  const alertSeries = new Map<string, { model: string; rule: string; severity: string }>();

  function updateAlertGauges(alerts: readonly AlertEvent[]): void {
    // the newest transition of each (model, rule, scope) says whether it fires now
    const latest = new Map<string, AlertEvent>();
    for (const alert of alerts) {
      const key = `${alert.model}\u0000${alert.rule}\u0000${alert.scope}`;
      const before = latest.get(key);
      if (before === undefined || alert.at >= before.at) latest.set(key, alert);
    }
    const firing = new Map<string, number>();
    for (const alert of latest.values()) {
      const labels = { model: alert.model, rule: alert.rule, severity: alert.severity };
      const key = `${labels.model}\u0000${labels.rule}\u0000${labels.severity}`;
      if (!alertSeries.has(key)) {
        // the same model cap as the model gauges (before the first scrape, the first models seen)
        const models = new Set([...alertSeries.values()].map((s) => s.model));
        const capped = exportedModels.size > 0 ? !exportedModels.has(labels.model) : !models.has(labels.model) && models.size >= maxModels;
        if (capped) continue;
        alertSeries.set(key, labels);
      }
      if (alert.state === 'firing') firing.set(key, (firing.get(key) ?? 0) + 1);
    }
    if (exportedModels.size > 0) {
      for (const [key, labels] of alertSeries) if (!exportedModels.has(labels.model)) alertSeries.delete(key);
    }
    m.alertsFiring.reset();
    for (const [key, labels] of alertSeries) m.alertsFiring.set(labels, firing.get(key) ?? 0);
  }

  return { ...m, updateModelGauges, modelGaugesUpdate, updateAlertGauges };
}

function dataQualityGauges(modelGauge: <L extends string>(name: string, help: string, labelNames: readonly L[], visit: SeriesVisitor) => ModelSeriesGauge<L>): DataQualityGauges {
  const labels = [...MODEL_LABELS, 'feature'];
  const of = (name: string, help: string, visit: SeriesVisitor) => modelGauge(`drift_data_quality_${name}`, help, labels, visit);
  return {
    missingShare: of('missing_share', "Share of the window's predictions without a value of the feature (absent or null).", qualityVisitor((q) => q.missingShare)),
    missingIncrease: of('missing_increase', "The feature's missing share in the window minus the reference's.", qualityVisitor((q) => q.missingIncrease)),
    wrongTypeShare: of('wrong_type_share', "Share of the feature's values of the other type than the reference's (strings for a numeric feature, numbers for a categorical one).", qualityVisitor((q) => q.wrongTypeShare)),
    newCategoryShare: of('new_category_share', "Share of a categorical feature's values in categories the reference never held.", qualityVisitor((q) => q.newCategoryShare)),
    outOfRangeShare: of('out_of_range_share', "Share of a numeric feature's values outside the reference's [min, max].", qualityVisitor((q) => q.outOfRangeShare)),
    outOfQuantileShare: of('out_of_quantile_share', "Share of a numeric feature's values outside the reference's 0.1 %-99.9 % quantiles.", qualityVisitor((q) => q.outOfQuantileShare)),
    appeared: of('appeared', 'Whether the feature has values in the window and none in the reference (1) or not (0).', qualityVisitor((q) => (q.appeared ? 1 : 0), true)),
    vanished: of('vanished', 'Whether a feature of the reference has no value in the window, beyond chance (1), or not (0).', qualityVisitor((q) => (q.vanished ? 1 : 0), true)),
  };
}
