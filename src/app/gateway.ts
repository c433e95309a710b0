import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { DriftwatchConfig } from '../config/types.ts';
import { buildGateway } from '../gateway/server.ts';
import { createPipelineMetrics } from '../gateway/prometheus.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import { WindowSource } from '../gateway/window-source.ts';
import { PaneChangelogReader } from '../gateway/changelog.ts';
import { natsAlertPublisher, readRecentAlerts } from '../alerts/publisher.ts';
import { ReferenceStore } from '../reference/store.ts';
import { baselineRoutes } from '../gateway/baselines.ts';
import { paneLimitsOf } from './worker.ts';

export interface Gateway {
  app: FastifyInstance;
  source: WindowSource;
  references: ReferenceStore;
  url: string;
  stop(): Promise<void>;
}

export function createMetrics(): { registry: Registry; metrics: PipelineMetrics } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return { registry, metrics: createPipelineMetrics(registry) };
}

/** Window source + changelog reader + HTTP/WebSocket server, listening on config.http. */
export async function startGateway(
  nc: NatsConnection,
  config: DriftwatchConfig,
  logger: Logger,
  shared?: { registry: Registry; metrics: PipelineMetrics },
): Promise<Gateway> {
  const { registry, metrics } = shared ?? createMetrics();
  const references = await ReferenceStore.open(nc);
  const source = new WindowSource({
    windows: config.windows,
    limits: paneLimitsOf(config),
    rules: config.alerts.rules,
    overrides: config.drift.features,
    falseAlarmsPerMillion: config.drift.falseAlarmsPerMillion,
    autoCaptureMs: config.reference.autoCaptureMs,
    maxModels: config.limits.maxModels,
    logger: logger.child({ component: 'windows' }),
    metrics,
    publishAlert: natsAlertPublisher(nc),
    saveReference: (profile) => references.put(profile),
  });
  for (const profile of (await references.list()).sort((a, b) => a.createdAt - b.createdAt)) source.setReference(profile);
  // continue the lifecycle of alerts already firing (published before a restart, or by another replica)
  const restored = await readRecentAlerts(nc, 7 * 24 * 3600_000, (alert) => source.restoreAlert(alert));
  if (restored > 0) logger.info({ transitions: restored }, 'restored alert states from DRIFT_ALERTS');
  const stopFollowing = await references.follow(
    (profile) => source.setReference(profile),
    (id) => source.removeReference(id),
    (error) => logger.warn({ err: error.message }, 'reading a changed reference profile failed'),
  );
  const reader = new PaneChangelogReader(nc, source, logger.child({ component: 'changelog' }), metrics);
  await reader.start();
  source.start();
  const app = await buildGateway({
    source,
    registry,
    metrics,
    token: config.auth.token ?? undefined,
    logger: logger.child({ component: 'http' }),
    ws: { maxBufferedBytes: config.ws.maxBufferedBytes, maxSubscriptions: config.ws.maxSubscriptions },
    extraRoutes: (instance) => baselineRoutes(instance, { source, references }),
  });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  logger.info({ url: address }, 'gateway listening');
  return {
    app,
    source,
    references,
    url: address,
    async stop() {
      stopFollowing();
      source.stop();
      await app.close();
      await reader.stop();
    },
  };
}
