// `npm run worker`: consumes the partitions this process owns (DRIFTWATCH_OWNED_PARTITIONS, default all)
// and publishes pane states; serves /healthz, /readyz and /metrics for its own pipeline figures.
import Fastify from 'fastify';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/app/logger.ts';
import { openProvisionedNats } from '../src/app/nats.ts';
import { startWorker } from '../src/app/worker.ts';
import { createMetrics } from '../src/app/gateway.ts';
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
  const { registry, metrics } = createMetrics();
  const worker = await startWorker({ nc: nats.nc, connect: nats.connect, config, partitions, logger, metrics });
  const http = Fastify();
  http.get('/healthz', async () => ({ status: 'ok' }));
  http.get('/readyz', async (_request, reply) =>
    worker.ready() ? { status: 'ready' } : reply.code(503).send({ status: 'not_ready', message: 'a partition consumer is not live (NATS unreachable or the consumer is being recreated)' }),
  );
  http.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  const url = await http.listen({ host: config.http.host, port: config.http.port });
  logger.info({ url }, 'worker health and metrics endpoint');
  runUntilSignal(logger, async () => {
    await worker.stop();
    await http.close();
    await nats.close();
  });
} catch (error) {
  failStartup(logger, error);
}
