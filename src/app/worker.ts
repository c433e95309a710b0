import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { DriftwatchConfig } from '../config/types.ts';
import { PartitionRunner } from '../partition/runner.ts';
import type { PipelineMetrics } from '../gateway/prometheus.ts';
import type { PaneLimits } from '../window/pane.ts';

export function paneLimitsOf(config: DriftwatchConfig): PaneLimits {
  const { limits, sketch } = config;
  return {
    relativeAccuracy: sketch.relativeAccuracy,
    maxFeatures: limits.maxFeatures,
    maxCategories: limits.maxCategories,
    maxSegmentKeys: limits.maxSegmentKeys,
    maxSegmentValues: limits.maxSegmentValues,
    maxClasses: limits.maxClasses,
    threshold: config.classification.threshold,
  };
}

export interface Worker {
  runners: PartitionRunner[];
  stop(): Promise<void>;
}

/** Starts one runner per owned partition (all of them by default). */
export async function startWorker(nc: NatsConnection, config: DriftwatchConfig, partitions: number, logger: Logger, metrics?: PipelineMetrics): Promise<Worker> {
  const owned = config.partitions.owned === 'all' ? Array.from({ length: partitions }, (_, p) => p) : config.partitions.owned;
  for (const p of owned) {
    if (p >= partitions) throw new Error(`partitions.owned lists partition ${p}, but DRIFT_EVENTS has ${partitions} partitions (0..${partitions - 1})`);
  }
  const runners = owned.map(
    (partition) =>
      new PartitionRunner({
        nc,
        partition,
        flushIntervalMs: config.panes.flushIntervalMs,
        checkpointIntervalMs: config.checkpoint.intervalMs,
        logger: logger.child({ partition }),
        metrics,
        processor: {
          paneMs: config.panes.paneMs,
          allowedLatenessMs: config.panes.allowedLatenessMs,
          maxFutureMs: config.panes.maxFutureMs,
          labelHorizonMs: config.join.labelHorizonMs,
          maxPending: config.join.maxPending,
          maxEarlyLabels: config.join.maxEarlyLabels,
          maxEventBytes: config.limits.maxEventBytes,
          maxModels: config.limits.maxModels,
          maxVersionsPerModel: config.limits.maxVersionsPerModel,
          threshold: config.classification.threshold,
          limits: paneLimitsOf(config),
          errorDetectors: config.detectors.errorStream,
        },
      }),
  );
  await Promise.all(runners.map((r) => r.start()));
  logger.info({ partitions: owned.length }, 'worker consuming');
  return {
    runners,
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
    },
  };
}
