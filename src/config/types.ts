import type { LogFormatSetting } from '../logging/logger.ts';
import type { AlertRule } from '../alerts/rules.ts';
import type { RuleOverrides } from '../alerts/overrides.ts';
import type { WebhookReceiver } from '../alerts/webhooks.ts';

import type { DriftTestOverride } from '../stats/select.ts';
import type { DetectorKind } from '../stats/detectors/index.ts';

export interface DriftwatchConfig {
  /** eventsRetentionMs: DRIFT_EVENTS max age, checked at start against checkpoint interval + failover. */
  nats: { url: string | null; replicas: 1 | 3; name: string; eventsRetentionMs: number };
  /** allowUnauthenticated: serve a non-loopback host without a token (logged as a warning at start). */
  http: { host: string; port: number; allowUnauthenticated: boolean };
  auth: { token: string | null };
  partitions: { count: number; owned: 'all' | number[] };
  panes: {
    paneMs: number;
    allowedLatenessMs: number;
    /** The longest a changed pane waits to be published (one with few new events: sparseHoldMs). */
    flushIntervalMs: number;
    /** The shortest flush interval, while few panes changed (src/partition/flush-pacing.ts). */
    minFlushIntervalMs: number;
    /** Pane messages per second a partition sends before its flush interval lengthens toward flushIntervalMs. */
    flushMessagesPerSecond: number;
    /** The longest an open pane with few new events waits to be published (SparseHold in src/partition/processor.ts); 0: none waits. */
    sparseHoldMs: number;
    /** New events at which a pane is published at the next flush, held or not. */
    sparseEvents: number;
    /** How long a changed outcome pane waits to be published (SparseHold.outcomeMs); 0: none waits. */
    outcomeHoldMs: number;
    maxFutureMs: number;
    maxClockSkewMs: number;
  };
  windows: string[];
  join: { labelHorizonMs: number; maxPending: number; maxEarlyLabels: number };
  limits: {
    maxEventBytes: number;
    maxFeatures: number;
    maxCategories: number;
    maxSegmentKeys: number;
    maxSegmentValues: number;
    /** Segment values per key whose features panes summarize on their own (worst-segment feature drift); 0: none. */
    segmentSketchValues: number;
    maxModels: number;
    maxVersionsPerModel: number;
    maxClasses: number;
  };
  /**
   * Cluster-wide model admission: allow: model names or glob patterns (`*`, `?`) whose events are
   * accepted (empty: every model, within limits.maxModels); idleMs: a model or version without an
   * event for this long is released cluster-wide (its slot is free again). Default: the label horizon.
   */
  models: { allow: string[]; idleMs: number };
  sketch: { relativeAccuracy: number; featureRelativeAccuracy: number };
  classification: { threshold: number };
  reference: { autoCaptureMs: number; minRows: number };
  checkpoint: { intervalMs: number };
  ws: { maxBufferedBytes: number; maxSubscriptions: number };
  /**
   * features: per-feature choice of the deciding test; falseAlarmsPerMillion: the budget that sets
   * the default significance level of the p-value tests (see budgetSignificance in stats/select.ts);
   * discreteMaxValues: a numeric feature with at most this many distinct reference values is
   * discrete (exact counts per value, categorical tests; default 5, as Evidently).
   */
  drift: { features: Record<string, DriftTestOverride>; falseAlarmsPerMillion: number; discreteMaxValues: number };
  /**
   * heapGrowingPercent: how far V8 lets the gateway's process heap grow past what its last full
   * collection left before it starts the next (V8's --heap-growing-percent; 0: V8's own choice).
   * V8's own was ~10 % on a gateway's heap (a full collection about every second at 200 models over
   * 16 partitions); at 100 (up to twice the live heap between collections) the gateway's thread was
   * 1-9 points of a core lower in bench gateway (README, Benchmarks).
   */
  gateway: { heapGrowingPercent: number };
  /**
   * threads: partition threads ('auto' = one per core when several partitions are owned, less one
   * when the NATS server is on this machine: see threadCount in src/app/worker.ts; 0 or 1 =
   * the main thread). id: this worker's name in the cluster (null: `<hostname>-<port>`, stable
   * across restarts and unique among the live processes of a host). port: the worker's health and
   * metrics port (a free one when it is taken). leaseMs: how long a partition lease lasts unrenewed.
   */
  worker: { threads: number | 'auto'; id: string | null; port: number; leaseMs: number };
  /** Sequential change detectors run on every model version's error stream in the worker. */
  detectors: { errorStream: DetectorKind[] };
  dataDir: string;
  /** format: 'auto' (readable lines on a terminal, JSON otherwise), 'json' or 'pretty'. */
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'; format: LogFormatSetting };
  /** rules; per-model overrides of named rules; webhook receivers of transitions. */
  alerts: { rules: AlertRule[]; overrides: RuleOverrides; webhooks: WebhookReceiver[] };
  /** Whether DRIFTWATCH_PARTITIONS (or a config file) asked for a partition count explicitly. */
  partitionsExplicit: boolean;
}
