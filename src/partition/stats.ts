import type { RejectReason } from '../events/types.ts';
import type { WorkerMetrics } from '../contract/pipeline-metrics.ts';
import { REFUSED_OTHER } from './processor.ts';

/** Totals and levels of one partition runner, as plain data (it crosses thread boundaries). */
export interface RunnerStats {
  partition: number;
  predictions: number;
  labels: number;
  late: number;
  duplicates: number;
  /** Label copies dropped: one already waiting for its prediction, or already joined. */
  duplicateLabels: number;
  rejected: Record<RejectReason, number>;
  joined: number;
  expired: number;
  unmatchedLabels: number;
  pendingJoins: number;
  earlyLabels: number;
  lag: number;
  /** The partition's consumer is receiving messages or heartbeats (false while NATS is away). */
  live: boolean;
  /** Consumers recreated after the first (NATS restarts, leader changes, stalls). */
  recreations: number;
  seq: number;
  paneFlushes: number;
  /** When the partition's stored checkpoint was last known current (epoch ms); null before the first one. */
  checkpointAt: number | null;
  /** Size of the last checkpoint written or restored, bytes (0 before the first one). */
  checkpointBytes: number;
  /** Refused events by `${reason}|${model}` (bounded per partition), since the partition started. */
  refusedByModel: Array<[string, number]>;
  /** Events waiting for their models' admission. */
  held: number;
}

/** Models refused that get their own label in drift_model_events_refused_total; later ones are `other`. */
export const MAX_REFUSED_MODEL_LABELS = 20;

/**
 * Turns runner totals into Prometheus counters and gauges. Runners only count (cheaply, in
 * plain fields, possibly on another thread); this exporter adds the difference since the last
 * snapshot of each partition, so counters stay monotonic across polls.
 */
export class PipelineStatsExporter {
  private readonly last = new Map<number, RunnerStats>();
  /** Models with their own refusal series (the first MAX_REFUSED_MODEL_LABELS refused). */
  private readonly refusedLabels = new Set<string>();

  /** now: the clock checkpoint ages are measured with (tests pass their own). */
  constructor(
    private readonly metrics: WorkerMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  apply(stats: RunnerStats): void {
    const previous = this.last.get(stats.partition);
    const delta = (now: number, before: number | undefined) => Math.max(0, now - (before ?? 0));
    const m = this.metrics;
    m.eventsConsumed.inc({ kind: 'pred' }, delta(stats.predictions, previous?.predictions));
    m.eventsConsumed.inc({ kind: 'label' }, delta(stats.labels, previous?.labels));
    m.eventsLate.inc(delta(stats.late, previous?.late));
    m.eventsDuplicate.inc({ kind: 'pred' }, delta(stats.duplicates, previous?.duplicates));
    m.eventsDuplicate.inc({ kind: 'label' }, delta(stats.duplicateLabels, previous?.duplicateLabels));
    for (const [reason, n] of Object.entries(stats.rejected)) {
      const d = delta(n, previous?.rejected[reason as RejectReason]);
      if (d > 0) m.eventsRejected.inc({ reason }, d);
    }
    m.labelsJoined.inc(delta(stats.joined, previous?.joined));
    m.labelsExpired.inc(delta(stats.expired, previous?.expired));
    m.labelsUnmatched.inc(delta(stats.unmatchedLabels, previous?.unmatchedLabels));
    m.paneFlushes.inc(delta(stats.paneFlushes, previous?.paneFlushes));
    m.consumerRecreations.inc(delta(stats.recreations, previous?.recreations));
    if (stats.refusedByModel.length > 0) {
      const before = new Map(previous?.refusedByModel ?? []);
      for (const [name, n] of stats.refusedByModel) {
        const d = delta(n, before.get(name));
        if (d === 0) continue;
        const bar = name.indexOf('|');
        const reason = name.slice(0, bar);
        let model = name.slice(bar + 1);
        if (!this.refusedLabels.has(model)) {
          if (this.refusedLabels.size < MAX_REFUSED_MODEL_LABELS && model !== REFUSED_OTHER) this.refusedLabels.add(model);
          else model = 'other';
        }
        m.modelEventsRefused.inc({ model, reason }, d);
      }
    }
    const p = String(stats.partition);
    m.pendingJoins.set({ partition: p }, stats.pendingJoins);
    m.earlyLabels.set({ partition: p }, stats.earlyLabels);
    m.eventsHeld.set({ partition: p }, stats.held);
    m.consumerLag.set({ partition: p }, stats.lag);
    m.consumerLive.set({ partition: p }, stats.live ? 1 : 0);
    m.partitionSequence.set({ partition: p }, stats.seq);
    if (stats.checkpointAt !== null) {
      m.checkpointAgeSeconds.set({ partition: p }, Math.max(0, (this.now() - stats.checkpointAt) / 1000));
      m.checkpointBytes.set({ partition: p }, stats.checkpointBytes);
    }
    this.last.set(stats.partition, stats);
  }

  /**
   * A partition just started here from a checkpoint: its restored totals were counted by whoever
   * consumed them, so only what this process consumes from now on is added.
   */
  rebase(stats: RunnerStats): void {
    this.last.set(stats.partition, stats);
  }

  /** A partition stopped running here: count its last totals and drop its gauges. */
  forget(partition: number, last: RunnerStats | null): void {
    if (last !== null) this.apply(last);
    this.last.delete(partition);
    const labels = { partition: String(partition) };
    const m = this.metrics;
    for (const gauge of [m.pendingJoins, m.earlyLabels, m.eventsHeld, m.consumerLag, m.consumerLive, m.partitionSequence, m.checkpointAgeSeconds, m.checkpointBytes]) gauge.remove(labels);
  }
}
