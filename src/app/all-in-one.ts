import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DriftwatchConfig } from '../config/types.ts';
import type { WorkerIdentity } from '../cluster/leases.ts';
import { openProvisionedNats } from './nats.ts';
import type { NatsHandle } from './nats.ts';
import { startWorker, workerIdentity } from './worker.ts';
import type { Worker } from './worker.ts';
import { startGateway } from './gateway.ts';
import { allInOneMetrics } from './metrics.ts';
import type { Gateway } from './gateway.ts';

export interface AllInOne {
  nats: NatsHandle;
  worker: Worker;
  gateway: Gateway;
  partitions: number;
  stop(): Promise<void>;
}

/** Fails with EADDRINUSE before anything is started when the gateway's port is taken. */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host, port }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/**
 * The worker identity of an all-in-one process: like `npm run worker`'s, `<hostname>-<port>` with
 * the gateway's port (unique among the live processes of a host: the port is checked free first, so
 * a second process on a taken port cannot take the first one's leases as its own restart), or a
 * random suffix when the port is chosen by the system.
 */
export function allInOneIdentity(config: DriftwatchConfig): WorkerIdentity {
  if (config.worker.id !== null || config.http.port !== 0) return workerIdentity(config, config.http.port);
  const identity = workerIdentity(config, 0);
  return { ...identity, id: `${hostname()}-${randomUUID().slice(0, 8)}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(-64) };
}

/**
 * The whole pipeline in one process: NATS (NATS_URL, or an embedded nats-server), provisioning,
 * a worker taking partitions by lease like `npm run worker` (alone, it holds all of them; a second
 * process against the same NATS splits them with it), and the gateway. stop() drains in data-flow
 * order: the worker hands its partitions over (flush, checkpoint, release), then the gateway
 * closes, then NATS.
 */
export async function startAllInOne(config: DriftwatchConfig, logger: Logger): Promise<AllInOne> {
  await checkPortFree(config.http.host, config.http.port);
  const { nats, partitions } = await openProvisionedNats('all-in-one', config, logger);
  let worker: Worker | null = null;
  try {
    const shared = allInOneMetrics();
    const identity = allInOneIdentity(config);
    logger.info({ workerId: identity.id, generated: config.worker.id === null }, 'all-in-one worker identity');
    worker = await startWorker({
      nc: nats.nc,
      connect: nats.connect,
      config,
      partitions,
      logger: logger.child({ component: 'worker' }),
      metrics: shared.metrics,
      identity,
      mainThreadBusy: true,
    });
    const gateway = await startGateway(nats.nc, config, logger.child({ component: 'gateway' }), shared);
    const running = worker;
    return {
      nats,
      worker: running,
      gateway,
      partitions,
      async stop() {
        await running.stop();
        await gateway.stop();
        await nats.close();
      },
    };
  } catch (error) {
    // release the leases at once rather than leave them to expire
    await worker?.stop().catch(() => undefined);
    await nats.close();
    throw error;
  }
}
