import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ThreadInit, ThreadMessage } from './thread.ts';
import type { RunnerStats } from './stats.ts';

/** Spreads partitions round-robin over `threads` worker threads, each running their runners. */
const RESTART_DELAY_MS = 1000;

export class PartitionThreadPool {
  private readonly workers: Worker[] = [];
  private readonly latest = new Map<number, RunnerStats>();
  private stopping = false;
  /** Threads replaced after a crash. */
  restarts = 0;

  private constructor(
    private readonly logger: Logger,
    private readonly init: Omit<ThreadInit, 'partitions'>,
  ) {}

  static async start(partitions: readonly number[], threads: number, init: Omit<ThreadInit, 'partitions'>, logger: Logger): Promise<PartitionThreadPool> {
    const pool = new PartitionThreadPool(logger, init);
    const groups: number[][] = Array.from({ length: Math.min(threads, partitions.length) }, () => []);
    partitions.forEach((p, i) => groups[i % groups.length].push(p));
    try {
      await Promise.all(groups.map((group, slot) => pool.spawn(group, slot)));
    } catch (error) {
      pool.stopping = true;
      await Promise.all(pool.workers.map((w) => w.terminate()));
      throw error;
    }
    return pool;
  }

  /**
   * Starts the thread of one group of partitions. A thread that dies after its start is replaced:
   * its partitions resume from their checkpoints, so nothing is lost or counted twice.
   */
  private spawn(group: number[], slot: number): Promise<void> {
    const entry = new URL('./thread-entry.mjs', import.meta.url);
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const worker = new Worker(entry, { workerData: { ...this.init, partitions: group } satisfies ThreadInit, execArgv: [] });
      this.workers[slot] = worker;
      worker.on('message', (message: ThreadMessage) => {
        if (message.type === 'ready') {
          started = true;
          resolve();
        } else if (message.type === 'stats') for (const s of message.stats) this.latest.set(s.partition, s);
        else if (message.type === 'error') {
          this.logger.error({ partitions: group, err: message.message }, 'partition thread failed');
          if (!started) reject(new Error(`partition thread for ${group.join(',')} failed: ${message.message}`));
          else void worker.terminate();
        }
      });
      worker.on('error', (error) => {
        this.logger.error({ partitions: group, err: error.message }, 'partition thread crashed');
        if (!started) reject(error);
      });
      worker.on('exit', (code) => {
        if (!started || this.stopping) return;
        this.logger.error({ partitions: group, code }, `partition thread exited; restarting it in ${RESTART_DELAY_MS} ms`);
        this.restarts++;
        setTimeout(() => {
          if (this.stopping) return;
          this.spawn(group, slot).catch((error: unknown) => this.logger.error({ partitions: group, err: (error as Error).message }, 'partition thread restart failed'));
        }, RESTART_DELAY_MS);
      });
    });
  }

  /** Kills one thread abruptly, as a crash would (for failure tests): the pool replaces it. */
  async crashThread(slot: number): Promise<void> {
    await this.workers[slot]?.terminate();
  }

  get threadCount(): number {
    return this.workers.length;
  }

  /** The newest stats each thread reported. */
  stats(): RunnerStats[] {
    return [...this.latest.values()];
  }

  /** Asks every thread to stop consuming, flush and checkpoint; waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
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
