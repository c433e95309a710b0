import type { Logger } from 'pino';
import type { DriftwatchConfig } from '../config/types.ts';
import { openProvisionedNats } from './nats.ts';
import type { NatsHandle } from './nats.ts';
import { startWorker } from './worker.ts';
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

/**
 * The whole pipeline in one process: NATS (NATS_URL, or an embedded nats-server), provisioning,
 * one worker owning every partition, and the gateway. stop() drains in data-flow order: the
 * worker stops consuming and flushes + checkpoints, then the gateway closes, then NATS.
 */
export async function startAllInOne(config: DriftwatchConfig, logger: Logger): Promise<AllInOne> {
  const { nats, partitions } = await openProvisionedNats('all-in-one', config, logger);
  try {
    const shared = allInOneMetrics();
    const worker = await startWorker({
      nc: nats.nc,
      connect: nats.connect,
      config,
      partitions,
      logger: logger.child({ component: 'worker' }),
      metrics: shared.metrics,
    });
    const gateway = await startGateway(nats.nc, config, logger.child({ component: 'gateway' }), shared);
    return {
      nats,
      worker,
      gateway,
      partitions,
      async stop() {
        await worker.stop();
        await gateway.stop();
        await nats.close();
      },
    };
  } catch (error) {
    await nats.close();
    throw error;
  }
}
