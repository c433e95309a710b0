import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ThreadCommand, ThreadInit, ThreadMessage } from './thread.ts';
import type { RunnerStats } from './stats.ts';
import type { PartitionOwner } from './processor.ts';

/** Spreads partitions round-robin over `threads` worker threads, each running their runners. */
const RESTART_DELAY_MS = 1000;

interface PendingRequest {
  slot: number;
  resolve(stats: RunnerStats | null): void;
  reject(error: Error): void;
}

const requestKey = (type: 'start-partition' | 'stop-partition', partition: number): string => `${type}:${partition}`;

export class PartitionThreadPool {
  private readonly workers: Worker[] = [];
  private readonly latest = new Map<number, RunnerStats>();
  /** Which thread runs each partition (partitions started and stopped one by one move in and out). */
  private readonly slotOf = new Map<number, number>();
  /** The lease each partition runs under, to restart it under the same one after a thread crash. */
  private readonly ownerOf = new Map<number, PartitionOwner>();
  /**
   * Start and stop requests awaiting their thread's answer, by kind and partition: a stop may be sent
   * while the same partition's start is under way (the thread then cancels the start).
   */
  private readonly pending = new Map<string, PendingRequest>();
  private stopping = false;
  /** Threads replaced after a crash. */
  restarts = 0;

  private constructor(
    private readonly logger: Logger,
    private readonly init: Omit<ThreadInit, 'partitions'>,
  ) {}

  static async start(partitions: readonly number[], threads: number, init: Omit<ThreadInit, 'partitions'>, logger: Logger): Promise<PartitionThreadPool> {
    const pool = new PartitionThreadPool(logger, init);
    // no partitions yet (they come with leases): every thread starts empty
    const groups: number[][] = Array.from({ length: partitions.length === 0 ? threads : Math.min(threads, partitions.length) }, () => []);
    partitions.forEach((p, i) => groups[i % groups.length].push(p));
    groups.forEach((group, slot) => group.forEach((p) => pool.slotOf.set(p, slot)));
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
  private spawn(initial: number[], slot: number): Promise<void> {
    let group = initial;
    const entry = new URL('./thread-entry.mjs', import.meta.url);
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const owners = group.flatMap((p): Array<[number, PartitionOwner]> => {
        const owner = this.ownerOf.get(p);
        return owner === undefined ? [] : [[p, owner]];
      });
      const worker = new Worker(entry, { workerData: { ...this.init, partitions: group, owners } satisfies ThreadInit, execArgv: [] });
      this.workers[slot] = worker;
      worker.on('message', (message: ThreadMessage) => {
        if (message.type === 'ready') {
          started = true;
          resolve();
        } else if (message.type === 'stats') {
          for (const s of message.stats) if (this.slotOf.has(s.partition)) this.latest.set(s.partition, s);
        } else if (message.type === 'partition-started' || message.type === 'partition-stopped' || message.type === 'partition-failed') {
          this.answer(message);
        } else if (message.type === 'error') {
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
        for (const [key, request] of this.pending) {
          if (request.slot !== slot) continue;
          this.pending.delete(key);
          request.reject(new Error(`partition thread exited (code ${code}) before answering (${key})`));
        }
        if (!started || this.stopping) return;
        group = this.partitionsOf(slot);
        this.logger.error({ partitions: group, code }, `partition thread exited; restarting it in ${RESTART_DELAY_MS} ms`);
        this.restarts++;
        setTimeout(() => {
          if (this.stopping) return;
          this.spawn(group, slot).catch((error: unknown) => this.logger.error({ partitions: group, err: (error as Error).message }, 'partition thread restart failed'));
        }, RESTART_DELAY_MS);
      });
    });
  }

  private partitionsOf(slot: number): number[] {
    return [...this.slotOf].filter(([, s]) => s === slot).map(([p]) => p);
  }

  private answer(message: Extract<ThreadMessage, { partition: number }>): void {
    const key = requestKey(message.type === 'partition-stopped' ? 'stop-partition' : 'start-partition', message.partition);
    const request = this.pending.get(key);
    if (request === undefined) return;
    this.pending.delete(key);
    if (message.type === 'partition-failed') {
      this.slotOf.delete(message.partition);
      this.ownerOf.delete(message.partition);
      request.reject(new Error(`partition ${message.partition} did not start: ${message.message}`));
    } else request.resolve(message.stats);
  }

  private request(partition: number, slot: number, command: Extract<ThreadCommand, { type: 'start-partition' | 'stop-partition' }>): Promise<RunnerStats | null> {
    const key = requestKey(command.type, partition);
    if (this.pending.has(key)) return Promise.reject(new Error(`partition ${partition} is already ${command.type === 'start-partition' ? 'starting' : 'stopping'}`));
    return new Promise((resolve, reject) => {
      this.pending.set(key, { slot, resolve, reject });
      this.workers[slot].postMessage(command);
    });
  }

  /** Starts one partition on the least loaded thread; resolves with its stats as restored. */
  async startPartition(partition: number, owner?: PartitionOwner, leaseExpiresAt?: number): Promise<RunnerStats> {
    if (this.slotOf.has(partition)) throw new Error(`partition ${partition} already runs here`);
    const load = this.workers.map((_, slot) => this.partitionsOf(slot).length);
    const slot = load.indexOf(Math.min(...load));
    this.slotOf.set(partition, slot);
    if (owner !== undefined) this.ownerOf.set(partition, owner);
    const stats = await this.request(partition, slot, { type: 'start-partition', partition, owner, leaseExpiresAt });
    if (stats === null) throw new Error(`partition ${partition}: no stats after start`);
    return stats;
  }

  /**
   * Stops one partition: hand-over (flush, checkpoint) or abandon (write nothing: the lease is gone).
   * Resolves with its last stats (null if it was not running).
   */
  async stopPartition(partition: number, abandon: boolean): Promise<RunnerStats | null> {
    const slot = this.slotOf.get(partition);
    if (slot === undefined) return null;
    try {
      return await this.request(partition, slot, { type: 'stop-partition', partition, abandon });
    } finally {
      this.slotOf.delete(partition);
      this.ownerOf.delete(partition);
      this.latest.delete(partition);
    }
  }

  /** Tells the partition's thread its lease now runs until `expiresAt`. */
  extendLease(partition: number, expiresAt: number): void {
    const slot = this.slotOf.get(partition);
    if (slot !== undefined) this.workers[slot]?.postMessage({ type: 'extend-lease', partition, expiresAt } satisfies ThreadCommand);
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
            worker.postMessage({ type: 'stop' } satisfies ThreadCommand);
          }),
      ),
    );
  }
}
