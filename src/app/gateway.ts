import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { DriftwatchConfig } from '../config/types.ts';
import { buildGateway } from '../gateway/server.ts';
import { createPipelineMetrics } from '../gateway/prometheus.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import { WindowStore } from '../gateway/window-store.ts';
import { ReferenceRegistry } from '../gateway/reference-registry.ts';
import { MetricsView } from '../gateway/metrics-view.ts';
import { AlertLog } from '../gateway/alert-log.ts';
import { GatewaySource } from '../gateway/gateway-source.ts';
import { PaneChangelogReader } from '../gateway/changelog.ts';
import { PaneFence } from '../gateway/pane-fence.ts';
import { ClusterView } from '../gateway/cluster-view.ts';
import { LeaseDirectory, LeaseDirectoryState } from '../cluster/lease-directory.ts';
import { LEASES_BUCKET } from '../cluster/subjects.ts';
import { readClusterMetadata } from '../cluster/metadata.ts';
import { natsAlertPublisher, readRecentAlerts } from '../alerts/publisher.ts';
import { ReferenceStore } from '../reference/store.ts';
import { paneLimitsOf } from '../config/options.ts';
import { isLoopbackHost } from '../config/load.ts';

export interface Gateway {
  app: FastifyInstance;
  source: GatewaySource;
  references: ReferenceStore;
  /** Workers, partition owners and epochs, rebalances: `GET /v1/cluster` (and the WebSocket's cluster topic). */
  cluster: ClusterView;
  url: string;
  stop(): Promise<void>;
}

export function createMetrics(): { registry: Registry; metrics: PipelineMetrics } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return { registry, metrics: createPipelineMetrics(registry) };
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
  shared?: { registry: Registry; metrics: PipelineMetrics },
): Promise<Gateway> {
  const { registry, metrics } = shared ?? createMetrics();
  const references = await ReferenceStore.open(nc);
  const unitLogger = logger.child({ component: 'windows' });
  const windows = new WindowStore({ windows: config.windows, limits: paneLimitsOf(config), maxModels: config.limits.maxModels });
  const active = new ReferenceRegistry({
    autoCaptureMs: config.reference.autoCaptureMs,
    logger: unitLogger,
    saveReference: (profile) => references.put(profile),
  });
  const view = new MetricsView(windows, active, { overrides: config.drift.features, falseAlarmsPerMillion: config.drift.falseAlarmsPerMillion, discreteMaxValues: config.drift.discreteMaxValues });
  const alerts = new AlertLog({ rules: config.alerts.rules, logger: unitLogger, metrics, publishAlert: natsAlertPublisher(nc), falseAlarmsPerMillion: config.drift.falseAlarmsPerMillion });
  const source = new GatewaySource({ windows, references: active, view, alerts });
  for (const profile of (await references.list()).sort((a, b) => a.createdAt - b.createdAt)) active.setReference(profile);
  // continue the lifecycle of alerts already firing (published before a restart, or by another replica)
  const restored = await readRecentAlerts(nc, 7 * 24 * 3600_000, (alert) => alerts.restore(alert));
  if (restored > 0) logger.info({ transitions: restored }, 'restored alert states from DRIFT_ALERTS');
  const stopFollowing = await references.follow(
    (profile) => active.setReference(profile),
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
  const reader = new PaneChangelogReader(nc, windows, logger.child({ component: 'changelog' }), metrics, fence);
  await reader.start();
  source.start();
  const app = await buildGateway({
    source,
    registry,
    metrics,
    token: config.auth.token ?? undefined,
    logger: logger.child({ component: 'http' }),
    ws: { maxBufferedBytes: config.ws.maxBufferedBytes, maxSubscriptions: config.ws.maxSubscriptions },
    baselines: { windows, references: active, profiles: references, minRows: config.reference.minRows },
    cluster: { view: cluster },
  });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  logger.info({ url: address }, 'gateway listening');
  if (!isLoopbackHost(config.http.host) && config.auth.token === null) {
    logger.warn({ host: config.http.host }, 'serving on a non-loopback address without a token (DRIFTWATCH_ALLOW_UNAUTHENTICATED=true): anyone who reaches it can read every model and change references');
  }
  return {
    app,
    source,
    references,
    cluster,
    url: address,
    async stop() {
      stopFollowing();
      source.stop();
      await app.close();
      await reader.stop();
      await directory?.stop();
    },
  };
}
