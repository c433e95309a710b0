import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { DriftwatchConfig } from '../config/types.ts';
import { parseServerList } from '../cluster/connect.ts';
import type { NatsConnectOptions } from '../cluster/connect.ts';
import { PartitionRunner } from '../partition/runner.ts';
import { PartitionThreadPool } from '../partition/pool.ts';
import { PipelineStatsExporter } from '../partition/stats.ts';
import type { RunnerStats } from '../partition/stats.ts';
import type { WorkerMetrics } from '../contract/pipeline-metrics.ts';
import { runnerOptionsOf } from '../config/options.ts';
import { resolveLogFormat } from '../logging/logger.ts';
import { LeaseTable } from '../cluster/leases.ts';
import type { WorkerIdentity } from '../cluster/leases.ts';
import { OwnershipLoop } from './ownership.ts';
import { usableCores } from './cores.ts';
import { ClusterAdmission } from '../partition/model-admission.ts';
import type { PartitionHost } from './ownership.ts';
import type { PartitionOwner } from '../partition/processor.ts';

export interface Worker {
  /** Runners in this thread (empty when partitions run on worker threads). */
  runners: PartitionRunner[];
  threads: number;
  /** The partition threads, when partitions run on worker threads. */
  pool: PartitionThreadPool | null;
  ownership: Ownership;
  /** Partitions running here now. */
  owned(): number[];
  stats(): RunnerStats[];
  /** Every partition's consumer is live (receiving messages or heartbeats): for /readyz. */
  ready(): boolean;
  /** Brings the Prometheus series up to date (called every second, and before a scrape). */
  exportMetrics(): void;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  nc: NatsConnection;
  /** How partition threads connect to the same NATS (they cannot share a connection). */
  connect: NatsConnectOptions;
  config: DriftwatchConfig;
  partitions: number;
  logger: Logger;
  metrics?: WorkerMetrics;
  /** Set: take partitions by lease as this worker (unless partitions.owned lists them by hand). */
  identity?: WorkerIdentity;
  /** How often threads report their counters (default 1 s). */
  statsIntervalMs?: number;
  /** The main thread has other work (a gateway: `npm start`): worker.threads auto never puts partitions there. */
  mainThreadBusy?: boolean;
}

/**
 * This worker's identity in the cluster. Without worker.id it is `<hostname>-<port>`: stable across
 * restarts (the same process comes back as the same member and takes its own leases back at once),
 * and unique among the live processes of a host, since only one of them can listen on that port.
 */
export function workerIdentity(config: DriftwatchConfig, port: number): WorkerIdentity {
  const id = config.worker.id ?? `${hostname()}-${port}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return { id, instance: randomUUID(), host: hostname(), startedAt: new Date().toISOString() };
}

/** Listens on `port`; if another process has it (a gateway, another worker), on a free one. */
export async function listenWithFallback(http: FastifyInstance, host: string, port: number, logger: Logger): Promise<{ url: string; port: number }> {
  let url: string;
  try {
    url = await http.listen({ host, port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
    url = await http.listen({ host, port: 0 });
    logger.warn({ wanted: port, url }, `port ${port} is in use: serving health and metrics on a free port instead (set DRIFTWATCH_WORKER_PORT to choose)`);
  }
  const address = http.server.address();
  return { url, port: typeof address === 'object' && address !== null ? address.port : port };
}

/**
 * Whether every server of a NATS URL (one, or a comma-separated list) is on this machine: a
 * loopback address or `localhost` (the embedded server of `npm start`, a nats-server beside the
 * worker).
 */
export function natsOnThisMachine(url: string): boolean {
  let servers: string[];
  try {
    servers = parseServerList(url);
  } catch {
    return false; // an empty or malformed list: the connect that follows says what is wrong
  }
  return servers.every((server) => {
    let host: string;
    try {
      host = new URL(server.includes('://') ? server : `nats://${server}`).hostname;
    } catch {
      return false;
    }
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
  });
}

/**
 * Partition threads to start; 0 keeps the partitions on this thread. 'auto': one per core when
 * there are several partitions, less one core when the NATS server runs on this machine. That
 * server takes about a core at the rate a partition thread reads (bench ingest: 0.5-0.65 of a core
 * at ~100k events/s on 2 cores), so a thread per core left more threads than cores running: on 2
 * cores, two partition threads took 13-17 us of CPU per event against 9-10 us on one thread, and
 * read 10-30 % fewer events a second (alternated runs; README, Benchmarks). One thread is the
 * main thread, unless `mainThreadBusy` (a gateway runs there: `npm start`), where it is a thread of
 * its own. A number is taken as it is (0 or 1: the main thread), at most one thread per partition.
 */
export function threadCount(config: DriftwatchConfig, owned: number, natsLocal = false, cores = usableCores().cores, mainThreadBusy = false): number {
  const wanted = config.worker.threads;
  if (wanted !== 'auto') return wanted <= 1 ? 0 : Math.min(wanted, owned);
  if (owned <= 1) return 0;
  const threads = Math.min(Math.max(1, cores - (natsLocal ? 1 : 0)), owned);
  return threads > 1 || mainThreadBusy ? threads : 0;
}

/** What localRunners needs of a partition runner. */
export type LocalRunner = Pick<PartitionRunner, 'start' | 'stop' | 'abandon'>;

/** The partitions run on this thread, started and stopped as their leases come and go. */
export interface LocalRunners<R extends LocalRunner> {
  /** The runners that started, by partition. */
  readonly running: Map<number, R>;
  /** Starts a runner for the partition; fails if the partition is stopped before the start completes. */
  start(partition: number, owner: PartitionOwner | undefined, leaseExpiresAt: number): Promise<R>;
  /** Stops (or abandons) the partition's runner, and cancels its start if one is under way; the runner stopped, or null. */
  stop(partition: number, abandon: boolean): Promise<R | null>;
}

/**
 * One runner per partition on this thread. A stop also cancels a start under way: without that, a
 * lease lost while its partition was starting and taken again ran two starts at once, and when the
 * first was the slower, its runner replaced the second's, the abandon meant for the first stopped
 * the second, and the partition stayed leased but unconsumed (issue 11's NATS-restart defect).
 */
export function localRunners<R extends LocalRunner>(create: (partition: number, owner: PartitionOwner | undefined, leaseExpiresAt: number | undefined) => R): LocalRunners<R> {
  const running = new Map<number, R>();
  /** Runners whose start is under way, by partition. */
  const starting = new Map<number, R>();
  return {
    running,
    async start(partition, owner, leaseExpiresAt) {
      if (running.has(partition) || starting.has(partition)) throw new Error(`partition ${partition} already runs or starts here`);
      const runner = create(partition, owner, leaseExpiresAt);
      starting.set(partition, runner);
      try {
        await runner.start();
      } catch (error) {
        if (starting.get(partition) === runner) starting.delete(partition);
        throw error;
      }
      if (starting.get(partition) !== runner) {
        // stopped just as its start completed
        await runner.abandon();
        throw new Error(`partition ${partition} was stopped while starting`);
      }
      starting.delete(partition);
      running.set(partition, runner);
      return runner;
    },
    async stop(partition, abandon) {
      // both taken at once, before any await: a start begun meanwhile is not this stop's to end
      const unstarted = starting.get(partition);
      const runner = running.get(partition);
      starting.delete(partition);
      running.delete(partition);
      // a start under way is cancelled: it fails instead of consuming (see PartitionRunner.start)
      await unstarted?.abandon();
      if (runner === undefined) return null;
      await (abandon ? runner.abandon() : runner.stop());
      return runner;
    },
  };
}

/** How this process takes part in the cluster: by leases (default) or a fixed, manual list. */
export type Ownership = { mode: 'leased'; identity: WorkerIdentity; loop: OwnershipLoop } | { mode: 'manual'; partitions: number[] };

/**
 * Starts the worker's partitions, on worker threads or in-process. With `partitions.owned` = "all"
 * and a worker identity, partitions come and go with their KV leases (spread over the live workers);
 * a list (DRIFTWATCH_OWNED_PARTITIONS), or no identity (`npm start`, one process owning everything),
 * runs exactly those partitions with no leases.
 */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const { nc, config, partitions, logger, metrics } = options;
  const all = Array.from({ length: partitions }, (_, p) => p);
  const manual = config.partitions.owned !== 'all';
  const owned = config.partitions.owned === 'all' ? all : config.partitions.owned;
  for (const p of owned) {
    if (p >= partitions) throw new Error(`partitions.owned lists partition ${p}, but DRIFT_EVENTS has ${partitions} partitions (0..${partitions - 1})`);
  }
  const leased = !manual && options.identity !== undefined;
  const initial = leased ? [] : owned;
  const natsLocal = natsOnThisMachine(options.connect.url);
  const { cores, quota } = usableCores();
  const threads = threadCount(config, owned.length, natsLocal, cores, options.mainThreadBusy === true);
  if (config.worker.threads === 'auto') {
    logger.info({ threads, cores, cpuQuota: quota, natsOnThisMachine: natsLocal }, threads === 0 ? 'partitions run on the main thread (worker.threads auto)' : `partitions run on ${threads} thread${threads === 1 ? '' : 's'} (worker.threads auto)`);
  }
  // partitions on this thread share one admission (one registry mirror); threads open their own
  const settings = runnerOptionsOf(config);
  const admission = threads === 0 && settings.admissionSettings !== undefined ? await ClusterAdmission.open(nc, settings.admissionSettings, logger.child({ component: 'models' })) : null;
  const runnerOptions = admission === null ? settings : { ...settings, admission };
  const exporter = metrics ? new PipelineStatsExporter(metrics) : null;
  metrics?.partitions.set(partitions);
  const local = localRunners((partition, owner, leaseExpiresAt) => new PartitionRunner({ ...runnerOptions, nc, partition, owner, leaseExpiresAt, logger: logger.child({ partition }) }));
  const runners = local.running;
  let pool: PartitionThreadPool | null = null;
  if (threads > 0) {
    pool = await PartitionThreadPool.start(
      initial,
      threads,
      { connect: options.connect, runner: runnerOptions, logLevel: config.log.level, logFormat: resolveLogFormat(config.log.format), statsIntervalMs: options.statsIntervalMs ?? Math.min(1000, config.panes.flushIntervalMs) },
      logger,
    );
  } else {
    for (const partition of initial) runners.set(partition, new PartitionRunner({ ...runnerOptions, nc, partition, logger: logger.child({ partition }) }));
    await Promise.all([...runners.values()].map((r) => r.start()));
  }
  const stats = () => (pool !== null ? pool.stats() : [...runners.values()].map((r) => r.stats()));
  // the owner gauge's worker label: the lease identity, or for a process without leases its
  // configured id or host name (npm start, a manual partition list)
  const ownerId = options.identity?.id ?? config.worker.id ?? hostname();
  let ownedNow: () => number[] = () => initial;
  const exportStats = () => {
    if (exporter) for (const s of stats()) exporter.apply(s);
    if (metrics) {
      metrics.partitionOwner.reset();
      for (const partition of ownedNow()) metrics.partitionOwner.set({ partition: String(partition), worker: ownerId }, 1);
    }
  };
  const workerId = options.identity?.id;
  const host: PartitionHost = {
    async start(partition, epoch, leaseExpiresAt) {
      const owner = workerId === undefined ? undefined : { worker: workerId, epoch };
      if (pool !== null) {
        const restored = await pool.startPartition(partition, owner, leaseExpiresAt);
        exporter?.rebase(restored);
        metrics?.rebalances.inc({ direction: 'in' });
        return;
      }
      const runner = await local.start(partition, owner, leaseExpiresAt);
      // from the restored counters, not the current ones: messages may have arrived since
      exporter?.rebase(runner.restoredStats ?? runner.stats());
      metrics?.rebalances.inc({ direction: 'in' });
    },
    async stop(partition, abandon) {
      if (pool !== null) {
        const last = await pool.stopPartition(partition, abandon);
        exporter?.forget(partition, last);
        if (last !== null) metrics?.rebalances.inc({ direction: 'out' });
        return;
      }
      const runner = await local.stop(partition, abandon);
      if (runner === null) return;
      exporter?.forget(partition, runner.stats());
      metrics?.rebalances.inc({ direction: 'out' });
    },
    renewed(partition, expiresAt) {
      if (pool !== null) pool.extendLease(partition, expiresAt);
      else runners.get(partition)?.extendLease(expiresAt);
    },
    reports: () =>
      stats().map((s) => ({ partition: s.partition, lag: s.lag, seq: s.seq, checkpointAt: s.checkpointAt ?? null, checkpointBytes: s.checkpointBytes ?? null })),
  };
  let ownership: Ownership;
  if (leased && options.identity !== undefined) {
    const leases = await LeaseTable.open(nc, options.identity, config.worker.leaseMs);
    const loop = new OwnershipLoop({ leases, host, partitions, logger: logger.child({ component: 'leases' }) });
    ownership = { mode: 'leased', identity: options.identity, loop };
    await loop.start();
    logger.info({ workerId: options.identity.id, partitions: loop.owned(), threads, leaseMs: config.worker.leaseMs }, 'worker consuming the partitions it holds leases for');
  } else {
    ownership = { mode: 'manual', partitions: owned };
    if (manual) logger.info({ partitions: owned, threads }, 'worker consuming a manual partition list (partitions.owned / DRIFTWATCH_OWNED_PARTITIONS): no leases, no failover');
    else logger.info({ partitions: owned.length, threads }, 'worker consuming');
  }
  const settled = ownership;
  ownedNow = () => (settled.mode === 'leased' ? settled.loop.owned() : settled.partitions);
  exportStats();
  const timer = setInterval(exportStats, Math.min(1000, config.panes.flushIntervalMs));
  return {
    get runners() {
      return [...runners.values()];
    },
    threads,
    pool,
    ownership,
    owned: ownedNow,
    stats,
    ready: () => stats().every((s) => s.live),
    exportMetrics: exportStats,
    async stop() {
      clearInterval(timer);
      if (ownership.mode === 'leased') await ownership.loop.stop();
      if (pool !== null) await pool.stop();
      else await Promise.all([...runners.values()].map((r) => r.stop()));
      await admission?.close();
      exportStats();
    },
  };
}
