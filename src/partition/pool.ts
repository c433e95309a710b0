import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ThreadInit, ThreadMessage } from './thread.ts';
import type { RunnerStats } from './stats.ts';

/** Spreads partitions round-robin over `threads` worker threads, each running their runners. */
export class PartitionThreadPool {
  private readonly workers: Worker[] = [];
  private readonly latest = new Map<number, RunnerStats>();

  private constructor(private readonly logger: Logger) {}

  static async start(partitions: readonly number[], threads: number, init: Omit<ThreadInit, 'partitions'>, logger: Logger): Promise<PartitionThreadPool> {
    const pool = new PartitionThreadPool(logger);
    const groups: number[][] = Array.from({ length: Math.min(threads, partitions.length) }, () => []);
    partitions.forEach((p, i) => groups[i % groups.length].push(p));
    const entry = new URL('./thread-entry.mjs', import.meta.url);
    try {
      await Promise.all(
        groups.map(
          (group) =>
            new Promise<void>((resolve, reject) => {
              const worker = new Worker(entry, { workerData: { ...init, partitions: group } satisfies ThreadInit, execArgv: [] });
              pool.workers.push(worker);
              worker.on('message', (message: ThreadMessage) => {
                if (message.type === 'ready') resolve();
                else if (message.type === 'stats') for (const s of message.stats) pool.latest.set(s.partition, s);
                else if (message.type === 'error') {
                  logger.error({ partitions: group, err: message.message }, 'partition thread failed');
                  reject(new Error(`partition thread for ${group.join(',')} failed: ${message.message}`));
                }
              });
              worker.on('error', (error) => {
                logger.error({ partitions: group, err: error.message }, 'partition thread crashed');
                reject(error);
              });
            }),
        ),
      );
    } catch (error) {
      await Promise.all(pool.workers.map((w) => w.terminate()));
      throw error;
    }
    return pool;
  }

  /** The newest stats each thread reported. */
  stats(): RunnerStats[] {
    return [...this.latest.values()];
  }

  /** Asks every thread to stop consuming, flush and checkpoint; waits for them. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            const timeout = setTimeout(() => {
              this.logger.warn('partition thread did not stop in 30 s: terminating it');
              void worker.terminate().then(() => resolve());
            }, 30_000);
            worker.on('message', (message: ThreadMessage) => {
              if (message.type === 'stats') for (const s of message.stats) this.latest.set(s.partition, s);
              if (message.type === 'stopped') {
                clearTimeout(timeout);
                void worker.terminate().then(() => resolve());
              }
            });
            worker.once('exit', () => {
              clearTimeout(timeout);
              resolve();
            });
            worker.postMessage({ type: 'stop' });
          }),
      ),
    );
  }
}
