/**
 * Entry point of a partition thread (worker_threads): its own NATS connection and the runners of
 * the partitions it was given. Partitions are independent (own consumer, state, checkpoint), so
 * spreading them over threads uses every core without sharing any state between threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createProcessLogger } from '../logging/logger.ts';
import type { LogFormat } from '../logging/logger.ts';
import { connectNats } from '../cluster/connect.ts';
import type { NatsConnectOptions } from '../cluster/connect.ts';
import { PartitionRunner } from './runner.ts';
import type { RunnerOptions } from './runner.ts';

export interface ThreadInit {
  connect: NatsConnectOptions;
  partitions: number[];
  runner: Omit<RunnerOptions, 'nc' | 'partition' | 'logger'>;
  logLevel: string;
  /** Decided by the main thread: a partition thread's stdout is never a terminal. */
  logFormat: LogFormat;
  statsIntervalMs: number;
}

export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'stats'; stats: ReturnType<PartitionRunner['stats']>[] }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('src/partition/thread.ts must run as a worker thread');
  const init = workerData as ThreadInit;
  const logger = createProcessLogger({ level: init.logLevel, name: 'driftwatch-worker', format: init.logFormat }).child({ thread: init.partitions.join(',') });
  const nc = await connectNats(init.connect);
  const runners = init.partitions.map((partition) => new PartitionRunner({ ...init.runner, nc, partition, logger: logger.child({ partition }) }));
  await Promise.all(runners.map((r) => r.start()));
  const post = (message: ThreadMessage) => port.postMessage(message);
  const timer = setInterval(() => post({ type: 'stats', stats: runners.map((r) => r.stats()) }), init.statsIntervalMs);
  port.on('message', (message: { type: string }) => {
    if (message.type !== 'stop') return;
    clearInterval(timer);
    void (async () => {
      await Promise.all(runners.map((r) => r.stop()));
      post({ type: 'stats', stats: runners.map((r) => r.stats()) });
      await nc.drain().catch(() => undefined);
      post({ type: 'stopped' });
    })();
  });
  post({ type: 'ready' });
}

main().catch((error: unknown) => {
  parentPort?.postMessage({ type: 'error', message: (error as Error).message } satisfies ThreadMessage);
});
