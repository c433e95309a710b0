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
import { ClusterAdmission } from './model-admission.ts';
import type { RunnerOptions } from './runner.ts';
import type { RunnerStats } from './stats.ts';
import type { PartitionOwner } from './processor.ts';

export interface ThreadInit {
  connect: NatsConnectOptions;
  partitions: number[];
  /** The lease each partition runs under (partitions restarted after a thread crash keep theirs). */
  owners?: Array<[number, PartitionOwner]>;
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
  | { type: 'start-partition'; partition: number; owner?: PartitionOwner; leaseExpiresAt?: number }
  | { type: 'extend-lease'; partition: number; expiresAt: number }
  | { type: 'stop-partition'; partition: number; abandon: boolean };

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('src/partition/thread.ts must run as a worker thread');
  const init = workerData as ThreadInit;
  const logger = createProcessLogger({ level: init.logLevel, name: 'driftwatch-worker', format: init.logFormat }).child({ thread: init.partitions.join(',') });
  const nc = await connectNats(init.connect);
  const runners = new Map<number, PartitionRunner>();
  /** Runners whose start is under way, by partition. */
  const starting = new Map<number, PartitionRunner>();
  // the thread's partitions share one admission (one mirror of the model registry)
  const settings = init.runner.admissionSettings;
  const admission = settings === undefined ? undefined : await ClusterAdmission.open(nc, settings, logger.child({ component: 'models' }));
  const runnerOf = (partition: number, owner?: PartitionOwner, leaseExpiresAt?: number) =>
    new PartitionRunner({ ...init.runner, admission, nc, partition, owner, leaseExpiresAt, logger: logger.child({ partition }) });
  const owners = new Map(init.owners ?? []);
  for (const p of init.partitions) runners.set(p, runnerOf(p, owners.get(p)));
  await Promise.all([...runners.values()].map((r) => r.start()));
  const post = (message: ThreadMessage) => port.postMessage(message);
  const allStats = () => [...runners.values()].map((r) => r.stats());
  const timer = setInterval(() => post({ type: 'stats', stats: allStats() }), init.statsIntervalMs);
  port.on('message', (message: ThreadCommand) => {
    if (message.type === 'start-partition') {
      const { partition } = message;
      const runner = runnerOf(partition, message.owner, message.leaseExpiresAt);
      // known while starting, so that a stop of the partition meanwhile cancels this start
      starting.set(partition, runner);
      runner.start().then(
        () => {
          if (starting.get(partition) !== runner) {
            void runner.abandon();
            post({ type: 'partition-failed', partition, message: 'stopped while starting' });
            return;
          }
          starting.delete(partition);
          runners.set(partition, runner);
          post({ type: 'partition-started', partition, stats: runner.restoredStats ?? runner.stats() });
        },
        (error: unknown) => {
          if (starting.get(partition) === runner) starting.delete(partition);
          post({ type: 'partition-failed', partition, message: (error as Error).message });
        },
      );
      return;
    }
    if (message.type === 'extend-lease') {
      runners.get(message.partition)?.extendLease(message.expiresAt);
      return;
    }
    if (message.type === 'stop-partition') {
      // a start under way is cancelled (its start then fails): it must not begin consuming after this stop
      const unstarted = starting.get(message.partition);
      starting.delete(message.partition);
      const runner = runners.get(message.partition);
      runners.delete(message.partition);
      const stopping = Promise.all([unstarted?.abandon(), runner === undefined ? undefined : message.abandon ? runner.abandon() : runner.stop()]);
      void stopping.then(() => post({ type: 'partition-stopped', partition: message.partition, stats: runner?.stats() ?? null }));
      return;
    }
    clearInterval(timer);
    void (async () => {
      const all = [...runners.values()];
      const unstarted = [...starting.values()];
      starting.clear();
      await Promise.all([...all.map((r) => r.stop()), ...unstarted.map((r) => r.abandon())]);
      await admission?.close();
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
