// `npm run worker`: consumes the partitions it holds KV leases for (spread over the live workers;
// DRIFTWATCH_OWNED_PARTITIONS lists them by hand instead) and publishes pane states; serves
// /healthz, /readyz and /metrics for its own pipeline figures on worker.port (8081, or a free one if taken).
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/app/logger.ts';
import { openProvisionedNats } from '../src/app/nats.ts';
import { startWorker, workerIdentity, listenWithFallback } from '../src/app/worker.ts';
import type { Worker } from '../src/app/worker.ts';
import { buildWorkerHttp } from '../src/app/worker-http.ts';
import { workerMetrics } from '../src/app/metrics.ts';
import { failStartup, runUntilSignal } from './shutdown.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(`driftwatch worker: ${(error as Error).message}`);
  process.exit(2);
}
const logger = createLogger(config, 'driftwatch-worker');
try {
  const { nats, partitions } = await openProvisionedNats('worker', config, logger);
  const { registry, metrics } = workerMetrics();
  const started: { worker?: Worker } = {};
  const http = buildWorkerHttp({ token: config.auth.token, registry, ready: () => started.worker?.ready() ?? null, beforeScrape: () => started.worker?.exportMetrics() });
  const { url, port } = await listenWithFallback(http, config.http.host, config.worker.port, logger);
  const identity = workerIdentity(config, port);
  logger.info({ url, workerId: identity.id, generated: config.worker.id === null }, 'worker health and metrics endpoint');
  const running = await startWorker({ nc: nats.nc, connect: nats.connect, config, partitions, logger, metrics, identity });
  started.worker = running;
  runUntilSignal(logger, async () => {
    await running.stop();
    // what this process consumed in all, its last counters included (it no longer serves /metrics)
    const consumed = (await metrics.eventsConsumed.get()).values.reduce((sum, v) => sum + v.value, 0);
    logger.info({ workerId: identity.id, consumed }, 'worker partitions handed over');
    await http.close();
    await nats.close();
  });
} catch (error) {
  failStartup(logger, error);
}
