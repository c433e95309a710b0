import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriftwatchConfig } from '../config/types.ts';
import { buildGateway } from '../gateway/server.ts';
import type { GatewayMetrics } from '../contract/pipeline-metrics.ts';
import { gatewayMetrics } from './metrics.ts';
import { applyHeapGrowth } from './heap-growth.ts';
import { WindowStore } from '../gateway/window-store.ts';
import { REFERENCE_SETTLE_MARGIN_MS, ReferenceRegistry } from '../gateway/reference-registry.ts';
import { MetricsView } from '../gateway/metrics-view.ts';
import { AlertLog } from '../gateway/alert-log.ts';
import { GatewaySource } from '../gateway/gateway-source.ts';
import { PaneChangelogReader } from '../gateway/changelog.ts';
import { LoopTurns, STATISTICS_SLICE_MS } from '../gateway/time-slice.ts';
import { PaneFence } from '../gateway/pane-fence.ts';
import { ClusterView } from '../gateway/cluster-view.ts';
import { LeaseDirectory, LeaseDirectoryState } from '../cluster/lease-directory.ts';
import { LEASES_BUCKET } from '../cluster/subjects.ts';
import { readClusterMetadata } from '../cluster/metadata.ts';
import { natsAlertPublisher, readRecentAlerts } from '../alerts/publisher.ts';
import { NatsAlertStream } from '../alerts/alert-stream.ts';
import { AlertStateStore } from '../alerts/alert-store.ts';
import { natsAuditPublisher, readAudit } from '../alerts/audit.ts';
import { AlertActions } from '../gateway/alert-actions.ts';
import { ReferenceStore } from '../reference/store.ts';
import { paneLimitsOf } from '../config/options.ts';
import { isLoopbackHost } from '../config/load.ts';

/** Statistics work done in one go before the gateway yields to its changelog consumer and API. */

export interface Gateway {
  app: FastifyInstance;
  source: GatewaySource;
  references: ReferenceStore;
  /** Silences, acknowledgements, webhooks and the audit trail. */
  actions: AlertActions;
  /** Workers, partition owners and epochs, rebalances: `GET /v1/cluster` (and the WebSocket's cluster topic). */
  cluster: ClusterView;
  url: string;
  stop(): Promise<void>;
}

/**
 * The gateway composed: a window store fed by the pane changelog, the active reference profiles
 * (from the object store, followed live), metrics computed over both, the alert log (continued
 * from the alerts stream), the source that ties them on a tick, and the HTTP/WebSocket server.
 */
export async function startGateway(
  nc: NatsConnection,
  config: DriftwatchConfig,
  logger: Logger,
  /** The registry to serve and the series to fill (the all-in-one process shares its worker's); default the gateway's own. */
  shared?: { registry: Registry; metrics: GatewayMetrics },
): Promise<Gateway> {
  applyHeapGrowth(config.gateway.heapGrowingPercent);
  const { registry, metrics } = shared ?? gatewayMetrics();
  const references = await ReferenceStore.open(nc);
  const unitLogger = logger.child({ component: 'windows' });
  const active = new ReferenceRegistry({
    autoCaptureMs: config.reference.autoCaptureMs,
    // the longest a partition holds a changed state before publishing it, and some for its way here
    settleMs: config.panes.flushIntervalMs + config.panes.sparseHoldMs + REFERENCE_SETTLE_MARGIN_MS,
    logger: unitLogger,
    saveReference: (profile) => references.put(profile),
    // the registry holds the profiles of the models the window store holds; a model's come back from the store with it
    loadReferences: (models) => references.profilesOf(models),
  });
  const windows = new WindowStore({
    windows: config.windows,
    limits: paneLimitsOf(config),
    maxModels: config.limits.maxModels,
    idleMs: config.models.idleMs,
    metrics,
    logger: unitLogger,
    // a feature's windows on its reference's buckets: drift then reads them without moving them
    referenceBuckets: (model, feature) => active.featureBuckets(model, feature),
  });
  // a reference published after the model's first panes: its windows move onto its buckets
  active.onReferenceChanged((model) => windows.followReferenceBuckets(model));
  const view = new MetricsView(windows, active, { overrides: config.drift.features, falseAlarmsPerMillion: config.drift.falseAlarmsPerMillion, discreteMaxValues: config.drift.discreteMaxValues });
  const alertLogger = logger.child({ component: 'alerts' });
  const alertState = await AlertStateStore.open(nc, (error) => alertLogger.warn({ err: error.message }, 'following silences and acknowledgements failed'));
  const actions = new AlertActions({
    store: alertState,
    logger: alertLogger,
    receivers: config.alerts.webhooks,
    publishAudit: natsAuditPublisher(nc),
    readAudit: (filter) => readAudit(nc, filter),
  });
  const alerts = new AlertLog({
    rules: config.alerts.rules,
    overrides: config.alerts.overrides,
    logger: unitLogger,
    metrics,
    publishAlert: natsAlertPublisher(nc),
    falseAlarmsPerMillion: config.drift.falseAlarmsPerMillion,
    annotations: actions,
    onTransition: (alert) => actions.onTransition(alert),
  });
  // statistics in slices of 10 ms, so the changelog consumer and the API run between them; the
  // consumer's and the statistics' slices take turns of the event loop, one slice a turn
  const turns = new LoopTurns();
  const source = new GatewaySource({ windows, references: active, view, alerts }, { sliceMs: STATISTICS_SLICE_MS, turns, logger: logger.child({ component: 'statistics' }) });
  for (const profile of (await references.list()).sort((a, b) => a.createdAt - b.createdAt)) active.setReference(profile);
  // continue the lifecycle of alerts already firing (published before a restart, or by another replica)
  const restored = await readRecentAlerts(nc, 7 * 24 * 3600_000, (alert) => alerts.restore(alert));
  if (restored > 0) logger.info({ transitions: restored }, 'restored alert states from DRIFT_ALERTS');
  const stopFollowing = await references.follow(
    // a profile of a model this gateway does not hold (released, or no traffic yet) is read when the model arrives
    (profile) => {
      if (windows.windowsOf(profile.model) !== undefined || active.knowsModel(profile.model)) active.setReference(profile);
    },
    (id) => active.removeReference(id),
    (error) => logger.warn({ err: error.message }, 'reading a changed reference profile failed'),
  );
  // the lease directory first: the changelog replay judges every pane against it (pane-fence.ts)
  const directory = await LeaseDirectory.open(nc, { logger: logger.child({ component: 'lease-directory' }) }).catch((error: unknown) => {
    logger.warn({ err: (error as Error).message }, `cannot follow ${LEASES_BUCKET}: panes are fenced by stream order only, and /v1/cluster lists no workers`);
    return null;
  });
  const fence = new PaneFence(directory ?? undefined);
  const partitions = (await readClusterMetadata(nc).catch(() => null))?.partitions;
  const cluster = new ClusterView({ directory: directory ?? new LeaseDirectoryState(), fence, partitions });
  const reader = new PaneChangelogReader(nc, windows, logger.child({ component: 'changelog' }), metrics, fence, turns);
  // an automatic capture waits until the states published before its settle ended are read
  active.followChangelog(reader);
  await reader.start();
  const exportChangelog = changelogExporter(reader, windows, source, metrics);
  let startupProfilesReleased = false;
  const everySecond = () => {
    exportChangelog();
    if (startupProfilesReleased || !windows.isCaughtUp()) return;
    // every stored profile was read at start-up; once the replay has caught up, those of models
    // with no retained panes go (read back if the model returns), as if released for idleness
    startupProfilesReleased = true;
    const released = active.releaseModelsExcept((model) => windows.windowsOf(model) !== undefined);
    if (released > 0) logger.info({ models: released }, 'reference profiles of models without retained panes released from memory (read again when a model returns)');
  };
  everySecond();
  const changelogTimer = setInterval(everySecond, 1000);
  source.start();
  const app = await buildGateway({
    source,
    registry,
    metrics,
    turns,
    token: config.auth.token ?? undefined,
    logger: logger.child({ component: 'http' }),
    ws: {
      maxBufferedBytes: config.ws.maxBufferedBytes,
      maxSubscriptions: config.ws.maxSubscriptions,
      // alert frames come from DRIFT_ALERTS with its sequence, so a client can resume after a reconnect
      alertStream: new NatsAlertStream(nc, logger.child({ component: 'live-alerts' })),
      // the WebSocket `cluster` topic: the same snapshot as GET /v1/cluster
      clusterSnapshot: () => cluster.snapshot(),
    },
    baselines: { windows, references: active, profiles: references, minRows: config.reference.minRows },
    alerting: { actions, alerts },
    cluster: { view: cluster },
  });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  // a newcomer reads this line to find the page, the API and the feed
  logger.info({ url: address, dashboard: `${address}/`, api: `${address}/v1/models`, live: `${address.replace(/^http/, 'ws')}/v1/live` }, 'gateway listening');
  if (!isLoopbackHost(config.http.host) && config.auth.token === null) {
    logger.warn({ host: config.http.host }, 'serving on a non-loopback address without a token (DRIFTWATCH_ALLOW_UNAUTHENTICATED=true): anyone who reaches it can read every model and change references');
  }
  return {
    app,
    source,
    references,
    actions,
    cluster,
    url: address,
    async stop() {
      clearInterval(changelogTimer);
      stopFollowing();
      source.stop();
      await app.close();
      await actions.stop();
      alertState.stop();
      await reader.stop();
      await directory?.stop();
    },
  };
}

/** The changelog reader counts in plain fields; this turns them into the gateway's series (counters by difference). */
function changelogExporter(reader: PaneChangelogReader, windows: WindowStore, source: GatewaySource, metrics: GatewayMetrics): () => void {
  let applied = 0;
  let rebinned = 0;
  // drops beyond limits.maxModels are counted by the window store itself, with their reason
  return () => {
    metrics.paneMessagesApplied.inc(Math.max(0, reader.applied - applied));
    applied = reader.applied;
    const rebinnedNow = windows.rebinnedSketches;
    metrics.paneSketchesRebinned.inc(Math.max(0, rebinnedNow - rebinned));
    rebinned = rebinnedNow;
    metrics.changelogLag.set(reader.pending);
    metrics.changelogReady.set(windows.isReady() ? 1 : 0);
    const backlog = source.backlog();
    metrics.driftBacklogModels.set(backlog.models);
    metrics.driftBacklogAge.set(backlog.oldestAgeMs / 1000);
  };
}
