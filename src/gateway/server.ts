/**
 * Gateway HTTP server factory.
 *
 * Plugin boundaries (fastify encapsulation); every route group is a plugin in routes/:
 *   root            error/not-found handlers (errors.ts), shared JSON schemas, request logging (token-free)
 *   ├─ health       /healthz, /readyz                  never authenticated
 *   ├─ dashboard    /, /static/*  the page holds no data: it asks for the token, then uses the API
 *   └─ protected    onRequest token check when `token` is set
 *       ├─ api      /v1/models, /v1/models/:model/metrics, /v1/alerts
 *       ├─ /metrics Prometheus exposition (Prometheus supports `authorization: {credentials: ...}`)
 *       ├─ baselines /v1/baselines, /v1/models/:model/baseline (when `baselines` is given)
 *       ├─ alerting /v1/silences, /v1/alerts/:id/ack, /v1/audit (when `alerting` is given)
 *       ├─ cluster  /v1/cluster (when `cluster` is given)
 *       └─ extraRoutes (dashboard, admin...) registered by the caller: authenticated as well
 *   upgrade         /v1/live WebSocket feed (LiveFeed), path and token checked before upgrading
 */
import Fastify, { LogController } from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry, RegistryContentType } from 'prom-client';
import type { MetricsSource } from '../contract/metrics-source.ts';
import type { GatewayMetrics } from '../contract/pipeline-metrics.ts';
import type { LiveFeedOptions } from './live.ts';
import { createGatewayMetrics } from './prometheus.ts';
import { LiveFeed } from './live.ts';
import { createTokenAuthenticator, requireToken } from './auth.ts';
import { formatSchemaErrors, installErrorHandling, safePath } from './errors.ts';
import { alertingSchemas, sharedSchemas } from './schemas.ts';
import { defaultWindowOf } from '../contract/limits.ts';
import { STATISTICS_SLICE_MS, TimeSlicer } from './time-slice.ts';
import type { LoopTurns } from './time-slice.ts';
import { healthRoutes } from './routes/health.ts';
import { apiRoutes } from './routes/api.ts';
import { prometheusRoute } from './routes/prometheus-endpoint.ts';
import { baselineRoutes } from './routes/baselines.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import type { BaselineRoutesOptions } from './routes/baselines.ts';
import { alertingRoutes } from './routes/alerting.ts';
import type { AlertingRoutesOptions } from './routes/alerting.ts';
import { clusterRoutes } from './routes/cluster.ts';
import type { ClusterRoutesOptions } from './routes/cluster.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The WebSocket feed of this gateway (client counts and buffer figures). */
    liveFeed: LiveFeed;
    /** The gateway's Prometheus metrics on its registry. */
    pipelineMetrics: GatewayMetrics;
  }
}

const NOISY_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface GatewayOptions {
  source: MetricsSource;
  registry: Registry<RegistryContentType>;
  /** When set, every route except /healthz and /readyz, and the WebSocket feed, require it. */
  token?: string;
  /** A pino logger, or false for none. Default: none. */
  logger?: Logger | false;
  ws?: LiveFeedOptions;
  /** Reference-profile routes over these units; omitted, the gateway serves no /v1/baselines. */
  baselines?: BaselineRoutesOptions;
  /** Silences, acknowledgements and the audit trail over these units; omitted, the gateway serves none of them. */
  alerting?: AlertingRoutesOptions;
  /** The cluster view (workers, partition owners, rebalances); omitted, the gateway serves no /v1/cluster. */
  cluster?: ClusterRoutesOptions;
  /** Routes added by the caller inside the authenticated scope (dashboard, admin API...). */
  extraRoutes?: (app: FastifyInstance) => Promise<void>;
  /**
   * Refresh the model-level gauges (`drift_model_*`, `drift_feature_psi`) from the source on every
   * scrape of /metrics. `versions: true` adds one series set per version. Default: every window,
   * versions merged. `false` leaves them to the caller (`pipelineMetrics.updateModelGauges`).
   */
  modelGauges?: false | { windows?: string[]; versions?: boolean };
  /** Metrics objects to use; default `createGatewayMetrics(registry)` (reuses already-registered ones). */
  metrics?: GatewayMetrics;
  /** Largest accepted request body (routes may raise it: training-row uploads do). Default 1 MiB. */
  bodyLimit?: number;
  /**
   * Event-loop turns shared with the gateway's other slicers (the changelog consumer, the
   * statistics): a scrape's model gauges are collected in slices on them (see refreshModelGauges).
   * Default: turns of its own (setImmediate).
   */
  turns?: LoopTurns;
}

export async function buildGateway(opts: GatewayOptions): Promise<FastifyInstance> {
  const { source, registry } = opts;
  const windows = source.windows();
  if (!Array.isArray(windows) || windows.length === 0 || !windows.every((w) => typeof w === 'string' && w.length > 0)) {
    throw new Error(`buildGateway: source.windows() must return a non-empty array of window names, got ${JSON.stringify(windows)}`);
  }
  const defaultWindow = opts.ws?.defaultWindow ?? defaultWindowOf(windows);
  if (!windows.includes(defaultWindow)) {
    throw new Error(`buildGateway: ws.defaultWindow '${defaultWindow}' is not one of the source windows: ${windows.join(', ')}`);
  }
  const auth = opts.token === undefined ? undefined : createTokenAuthenticator(opts.token);
  const metrics = opts.metrics ?? createGatewayMetrics(registry);

  const app: FastifyInstance = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // fastify's request log line includes the URL, whose query may carry the token: log our own.
    logController: new LogController({ disableRequestLogging: true }),
    // Long enough for any name the params schemas accept, so an over-long one gets a 400 naming the field.
    routerOptions: { maxParamLength: 512 },
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // close() ends idle keep-alive connections too (a browser that opened one and went quiet would
    // otherwise hold shutdown for the 60 s headers timeout)
    forceCloseConnections: 'idle',
    schemaErrorFormatter: formatSchemaErrors,
    ajv: { customOptions: { allErrors: false } },
  }) as unknown as FastifyInstance;

  installErrorHandling(app);
  for (const schema of [...sharedSchemas, ...alertingSchemas]) app.addSchema(schema);
  app.addHook('onResponse', async (request, reply) => {
    const path = safePath(request.url);
    const line = { method: request.method, path, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    // Probes and scrapes arrive every few seconds: keep them out of the info log.
    if (NOISY_PATHS.has(path) && reply.statusCode < 400) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });

  await app.register(healthRoutes, { source });
  await app.register(dashboardRoutes);
  await app.register(async (scope) => {
    if (auth !== undefined) scope.addHook('onRequest', requireToken(auth));
    await scope.register(apiRoutes, { source, windows, defaultWindow });
    await scope.register(prometheusRoute, {
      registry,
      turns: opts.turns,
      beforeScrape: async () => {
        if (opts.modelGauges !== false) await refreshModelGauges(metrics, source, opts.modelGauges || {}, windows, opts.turns);
        metrics.updateAlertGauges(source.recentAlerts());
      },
    });
    if (opts.baselines !== undefined) await scope.register(baselineRoutes, opts.baselines);
    if (opts.alerting !== undefined) await scope.register(alertingRoutes, opts.alerting);
    if (opts.cluster !== undefined) await scope.register(clusterRoutes, opts.cluster);
    if (opts.extraRoutes !== undefined) await scope.register(async (extra) => opts.extraRoutes?.(extra));
  });

  const feed = new LiveFeed(source, metrics, auth, app.log, { ...opts.ws, defaultWindow });
  app.decorate('liveFeed', feed);
  app.decorate('pipelineMetrics', metrics);
  // The upgrade listener goes on the raw server now, so the feed works whether the caller
  // uses app.listen() or passes app.server to something else.
  feed.start(app.server);
  // Close WebSocket clients before the HTTP server waits for its connections to end.
  app.addHook('preClose', async () => {
    await feed.stop();
  });
  return app;
}

/**
 * The model gauges refreshed for a scrape: every exported model's metrics, computed (drift a
 * feature at a time, MetricsSource.metricsSteps) and kept in slices (STATISTICS_SLICE_MS) between which REST requests, feed frames and the changelog get
 * turns of the event loop. A scrape computes the drift of every window no rule keeps fresh: at 300
 * models x 30 features, ~600 drift computations taking 0.8-1.8 s, which every request arriving
 * meanwhile waited behind (bench gateway: REST p99 1.5 s with a scrape every 7 s). Only the models
 * that get series (limits.maxModels, 100 by default) are computed: at 300 models the scrape had
 * computed every model's metrics and set a third of them. The entries are kept as they are
 * (src/gateway/model-series.ts: no label sets; at first ~300,000 of them took 0.15-0.22 s in one
 * block). The route renders only after `finish` and runs one scrape at a time, so no scrape
 * renders half an update. A model released meanwhile is left out.
 */
async function refreshModelGauges(
  metrics: GatewayMetrics,
  source: MetricsSource,
  gauges: { windows?: string[]; versions?: boolean },
  windows: readonly string[],
  turns?: LoopTurns,
): Promise<void> {
  const exported = gauges.windows ?? windows;
  const slicer = new TimeSlicer(STATISTICS_SLICE_MS, { turns });
  const update = metrics.modelGaugesUpdate();
  const collect = async (model: string, window: string, version?: string): Promise<void> => {
    // the drift a feature at a time: a window's 30 features took up to 50 ms in one block
    const step = source.metricsSteps?.(model, window, version) ?? null;
    while (step !== null && !step()) {
      const pause = slicer.pause();
      if (pause !== undefined) await pause;
    }
    const entry = source.getMetrics(model, window, version);
    if (entry !== undefined) update.add(entry);
    const pause = slicer.pause();
    if (pause !== undefined) await pause;
  };
  for (const summary of source.listModels()) {
    if (!update.admit(summary.model)) continue;
    for (const window of exported) {
      await collect(summary.model, window);
      if (gauges.versions !== true) continue;
      for (const version of summary.versions) await collect(summary.model, window, version);
    }
  }
  update.finish();
}
