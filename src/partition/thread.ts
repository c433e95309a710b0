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
import type { RunnerStats } from './stats.ts';

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
  | { type: 'stopped' }
  | { type: 'partition-started'; partition: number; stats: RunnerStats }
  | { type: 'partition-failed'; partition: number; message: string }
  | { type: 'partition-stopped'; partition: number; stats: RunnerStats | null };

/** What the pool asks of a thread: start or stop one partition (leases move them), or stop all. */
export type ThreadCommand =
  | { type: 'stop' }
  | { type: 'start-partition'; partition: number }
  | { type: 'stop-partition'; partition: number; abandon: boolean };

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('src/partition/thread.ts must run as a worker thread');
  const init = workerData as ThreadInit;
  const logger = createProcessLogger({ level: init.logLevel, name: 'driftwatch-worker', format: init.logFormat }).child({ thread: init.partitions.join(',') });
  const nc = await connectNats(init.connect);
  const runners = new Map<number, PartitionRunner>();
  const runnerOf = (partition: number) => new PartitionRunner({ ...init.runner, nc, partition, logger: logger.child({ partition }) });
  for (const p of init.partitions) runners.set(p, runnerOf(p));
  await Promise.all([...runners.values()].map((r) => r.start()));
  const post = (message: ThreadMessage) => port.postMessage(message);
  const allStats = () => [...runners.values()].map((r) => r.stats());
  const timer = setInterval(() => post({ type: 'stats', stats: allStats() }), init.statsIntervalMs);
  port.on('message', (message: ThreadCommand) => {
    if (message.type === 'start-partition') {
      const runner = runnerOf(message.partition);
      runner.start().then(
        () => {
          runners.set(message.partition, runner);
          post({ type: 'partition-started', partition: message.partition, stats: runner.restoredStats ?? runner.stats() });
        },
        (error: unknown) => post({ type: 'partition-failed', partition: message.partition, message: (error as Error).message }),
      );
      return;
    }
    if (message.type === 'stop-partition') {
      const runner = runners.get(message.partition);
      runners.delete(message.partition);
      const stopping = runner === undefined ? Promise.resolve() : message.abandon ? runner.abandon() : runner.stop();
      void stopping.then(() => post({ type: 'partition-stopped', partition: message.partition, stats: runner?.stats() ?? null }));
      return;
    }
    clearInterval(timer);
    void (async () => {
      const all = [...runners.values()];
      await Promise.all(all.map((r) => r.stop()));
      post({ type: 'stats', stats: all.map((r) => r.stats()) });
      await nc.drain().catch(() => undefined);
      post({ type: 'stopped' });
    })();
  });
  post({ type: 'ready' });
}

main().catch((error: unknown) => {
  parentPort?.postMessage({ type: 'error', message: (error as Error).message } satisfies ThreadMessage);
});
