import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { DriftPublisher } from '../client/index.ts';
import { runSimulator } from '../simulator/run.ts';
import { demoSchedule } from '../simulator/drift.ts';

/** `npm run demo`: the simulator on the same NATS, with drift after a minute. */
export async function startDemoSimulator(nc: NatsConnection, logger: Logger): Promise<() => Promise<void>> {
  const publisher = await DriftPublisher.connect(nc, { maxInFlight: 256 });
  const abort = new AbortController();
  const run = runSimulator({ publisher, rate: 200, drift: demoSchedule(), seed: 42, logger, signal: abort.signal }).catch((error: unknown) =>
    logger.error({ err: error }, 'simulator stopped with an error'),
  );
  return async () => {
    abort.abort();
    await run;
    await publisher.close();
  };
}
