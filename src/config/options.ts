import { DEFAULT_PANES_MAX_AGE_MS } from '../cluster/provision.ts';
import type { ProvisionOptions } from '../cluster/provision.ts';
import type { RunnerOptions } from '../partition/runner.ts';
import type { AdmissionSettings } from '../partition/model-admission.ts';
import type { PaneLimits } from '../window/pane.ts';
import type { DriftwatchConfig } from './types.ts';
import { DEFAULT_COARSE_PANE_MS, coarseGridOf, paneLayout } from '../window/coarse-panes.ts';
import type { CoarseGrid } from '../window/coarse-panes.ts';
import { parseDuration } from '../contract/duration.ts';

/**
 * The options every part of driftwatch is started with, derived from the configuration in one
 * place: `npm start`, `npm run worker` and `npm run gateway` all call these, so processes started
 * separately against the same cluster agree (provisioning updates stream limits in place, so two
 * derivations would reset each other on every start).
 */

/** Slack kept in the pane changelog beyond the label horizon. */
const PANES_RETENTION_SLACK_MS = 10 * 60_000;

/**
 * How long DRIFT_PANES keeps a pane's latest state. A pane's outcome part changes while labels for
 * its predictions can still arrive (join.labelHorizonMs), so its last state must outlive that for a
 * restarting gateway to rebuild it; never shorter than the provisioning default.
 */
export function panesRetentionMs(labelHorizonMs: number): number {
  return Math.max(DEFAULT_PANES_MAX_AGE_MS, labelHorizonMs + PANES_RETENTION_SLACK_MS);
}

/** What provisioning needs from the configuration (the logger is the caller's). */
export type ClusterProvisioning = Pick<ProvisionOptions, 'partitions' | 'replicas' | 'panesMaxAgeMs' | 'eventsMaxAgeMs'>;

export function provisionOptionsOf(config: DriftwatchConfig): ClusterProvisioning {
  return {
    // Only an explicit count is checked against the cluster's; otherwise the stored one is used.
    partitions: config.partitionsExplicit ? config.partitions.count : undefined,
    replicas: config.nats.replicas,
    panesMaxAgeMs: panesRetentionMs(config.join.labelHorizonMs),
    eventsMaxAgeMs: config.nats.eventsRetentionMs,
  };
}

/** Bounds on a pane's contents: the worker builds panes within them, the gateway merges them. */
export function paneLimitsOf(config: DriftwatchConfig): PaneLimits {
  const { limits, sketch } = config;
  return {
    relativeAccuracy: sketch.relativeAccuracy,
    featureRelativeAccuracy: sketch.featureRelativeAccuracy,
    maxFeatures: limits.maxFeatures,
    maxCategories: limits.maxCategories,
    maxSegmentKeys: limits.maxSegmentKeys,
    maxSegmentValues: limits.maxSegmentValues,
    segmentSketchValues: limits.segmentSketchValues,
    maxClasses: limits.maxClasses,
    threshold: config.classification.threshold,
  };
}

/** A partition runner's settings, the same for every partition (the runner adds its own). */
export type PartitionRunnerSettings = Omit<RunnerOptions, 'nc' | 'partition' | 'logger'>;

export function runnerOptionsOf(config: DriftwatchConfig): PartitionRunnerSettings {
  return {
    flushIntervalMs: config.panes.flushIntervalMs,
    flushPacing: { minIntervalMs: config.panes.minFlushIntervalMs, messagesPerSecond: config.panes.flushMessagesPerSecond },
    sparseHold: { maxMs: config.panes.sparseHoldMs, events: config.panes.sparseEvents, outcomeMs: config.panes.outcomeHoldMs },
    checkpointIntervalMs: config.checkpoint.intervalMs,
    processor: {
      paneMs: config.panes.paneMs,
      allowedLatenessMs: config.panes.allowedLatenessMs,
      maxFutureMs: config.panes.maxFutureMs,
      maxClockSkewMs: config.panes.maxClockSkewMs,
      labelHorizonMs: config.join.labelHorizonMs,
      maxPending: config.join.maxPending,
      maxEarlyLabels: config.join.maxEarlyLabels,
      maxEventBytes: config.limits.maxEventBytes,
      maxModels: config.limits.maxModels,
      maxVersionsPerModel: config.limits.maxVersionsPerModel,
      threshold: config.classification.threshold,
      limits: paneLimitsOf(config),
      errorDetectors: config.detectors.errorStream,
      outcomeGrid: outcomeGridOf(config),
    },
    admissionSettings: admissionSettingsOf(config),
  };
}

/**
 * The coarse grid the gateways fold panes into, from the windows they are configured with (the
 * same configuration): workers count labels for predictions past its fine span in the first fine
 * pane of their coarse interval (outcomePaneStartOf), which no gateway window tells apart.
 */
export function outcomeGridOf(config: DriftwatchConfig): CoarseGrid {
  const windows = new Map(config.windows.map((name) => [name, parseDuration(name) as number]));
  return coarseGridOf(paneLayout(windows, DEFAULT_COARSE_PANE_MS), config.panes.paneMs);
}

/** Cluster-wide model admission: the caps of limits.*, models.allow and models.idleMs. */
export function admissionSettingsOf(config: DriftwatchConfig): AdmissionSettings {
  return {
    maxModels: config.limits.maxModels,
    maxVersionsPerModel: config.limits.maxVersionsPerModel,
    idleMs: config.models.idleMs,
    allow: config.models.allow,
  };
}
