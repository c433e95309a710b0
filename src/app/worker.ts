import { cpus } from 'node:os';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { DriftwatchConfig } from '../config/types.ts';
import type { NatsConnectOptions } from '../cluster/connect.ts';
import { PartitionRunner } from '../partition/runner.ts';
import { PartitionThreadPool } from '../partition/pool.ts';
import { PipelineStatsExporter } from '../partition/stats.ts';
import type { RunnerStats } from '../partition/stats.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import { runnerOptionsOf } from '../config/options.ts';
import { resolveLogFormat } from '../logging/logger.ts';

export interface Worker {
  /** Runners in this thread (empty when partitions run on worker threads). */
  runners: PartitionRunner[];
  threads: number;
  /** The partition threads, when partitions run on worker threads. */
  pool: PartitionThreadPool | null;
  stats(): RunnerStats[];
  /** Every partition's consumer is live (receiving messages or heartbeats): for /readyz. */
  ready(): boolean;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  nc: NatsConnection;
  /** How partition threads connect to the same NATS (they cannot share a connection). */
  connect: NatsConnectOptions;
  config: DriftwatchConfig;
  partitions: number;
  logger: Logger;
  metrics?: PipelineMetrics;
  /** How often threads report their counters (default 1 s). */
  statsIntervalMs?: number;
}

/** 'auto': one thread per core when there are several partitions; 0 keeps them on this thread. */
export function threadCount(config: DriftwatchConfig, owned: number): number {
  const wanted = config.worker.threads === 'auto' ? (owned > 1 ? cpus().length : 0) : config.worker.threads;
  return wanted <= 1 ? 0 : Math.min(wanted, owned);
}

/** Starts one runner per owned partition (all of them by default), on worker threads or in-process. */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const { nc, config, partitions, logger, metrics } = options;
  const owned = config.partitions.owned === 'all' ? Array.from({ length: partitions }, (_, p) => p) : config.partitions.owned;
  for (const p of owned) {
    if (p >= partitions) throw new Error(`partitions.owned lists partition ${p}, but DRIFT_EVENTS has ${partitions} partitions (0..${partitions - 1})`);
  }
  const runnerOptions = runnerOptionsOf(config);
  const threads = threadCount(config, owned.length);
  let runners: PartitionRunner[] = [];
  let pool: PartitionThreadPool | null = null;
  if (threads > 0) {
    pool = await PartitionThreadPool.start(
      owned,
      threads,
      { connect: options.connect, runner: runnerOptions, logLevel: config.log.level, logFormat: resolveLogFormat(config.log.format), statsIntervalMs: options.statsIntervalMs ?? Math.min(1000, config.panes.flushIntervalMs) },
      logger,
    );
  } else {
    runners = owned.map((partition) => new PartitionRunner({ ...runnerOptions, nc, partition, logger: logger.child({ partition }) }));
    await Promise.all(runners.map((r) => r.start()));
  }
  const stats = () => (pool !== null ? pool.stats() : runners.map((r) => r.stats()));
  const exporter = metrics ? new PipelineStatsExporter(metrics) : null;
  const exportStats = () => {
    if (exporter) for (const s of stats()) exporter.apply(s);
  };
  const timer = setInterval(exportStats, Math.min(1000, config.panes.flushIntervalMs));
  logger.info({ partitions: owned.length, threads }, 'worker consuming');
  return {
    runners,
    threads,
    pool,
    stats,
    ready: () => stats().every((s) => s.live),
    async stop() {
      clearInterval(timer);
      if (pool !== null) await pool.stop();
      else await Promise.all(runners.map((r) => r.stop()));
      exportStats();
    },
  };
}
