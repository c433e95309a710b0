import type { RejectReason } from '../events/types.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';

/** Totals and levels of one partition runner, as plain data (it crosses thread boundaries). */
export interface RunnerStats {
  partition: number;
  predictions: number;
  labels: number;
  late: number;
  duplicates: number;
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
  /** When the partition's last checkpoint was written or restored (epoch ms; null before), and its bytes. */
  checkpointAt?: number | null;
  checkpointBytes?: number | null;
}

/**
 * Turns runner totals into Prometheus counters and gauges. Runners only count (cheaply, in
 * plain fields, possibly on another thread); this exporter adds the difference since the last
 * snapshot of each partition, so counters stay monotonic across polls.
 */
export class PipelineStatsExporter {
  private readonly last = new Map<number, RunnerStats>();

  constructor(private readonly metrics: PipelineMetrics) {}

  apply(stats: RunnerStats): void {
    const previous = this.last.get(stats.partition);
    const delta = (now: number, before: number | undefined) => Math.max(0, now - (before ?? 0));
    const m = this.metrics;
    m.eventsConsumed.inc({ kind: 'pred' }, delta(stats.predictions, previous?.predictions));
    m.eventsConsumed.inc({ kind: 'label' }, delta(stats.labels, previous?.labels));
    m.eventsLate.inc(delta(stats.late, previous?.late));
    for (const [reason, n] of Object.entries(stats.rejected)) {
      const d = delta(n, previous?.rejected[reason as RejectReason]);
      if (d > 0) m.eventsRejected.inc({ reason }, d);
    }
    m.labelsJoined.inc(delta(stats.joined, previous?.joined));
    m.labelsExpired.inc(delta(stats.expired, previous?.expired));
    m.labelsUnmatched.inc(delta(stats.unmatchedLabels, previous?.unmatchedLabels));
    m.paneFlushes.inc(delta(stats.paneFlushes, previous?.paneFlushes));
    m.consumerRecreations.inc(delta(stats.recreations, previous?.recreations));
    const p = String(stats.partition);
    m.pendingJoins.set({ partition: p }, stats.pendingJoins);
    m.earlyLabels.set({ partition: p }, stats.earlyLabels);
    m.consumerLag.set({ partition: p }, stats.lag);
    m.consumerLive.set({ partition: p }, stats.live ? 1 : 0);
    m.partitionSequence.set({ partition: p }, stats.seq);
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
    for (const gauge of [m.pendingJoins, m.earlyLabels, m.consumerLag, m.partitionSequence]) gauge.remove(labels);
  }
}
