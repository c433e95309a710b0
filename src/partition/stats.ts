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
  /** Pulls the server ended without its 408, asked again for (LiveConsumer.pullsWrittenOff: nats-server before 2.9.16). */
  pullsWrittenOff: number;
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

/** The totals of a partition that follow from its stream, restored by its checkpoint and replayed alike. */
const STREAM_TOTALS = ['predictions', 'labels', 'late', 'duplicates', 'duplicateLabels', 'joined', 'expired', 'unmatchedLabels'] as const;

/** How much of a partition's stream-derived totals this process has counted (kept across owners). */
interface CountedTotals {
  totals: Record<(typeof STREAM_TOTALS)[number], number>;
  rejected: Map<string, number>;
  refusedByModel: Map<string, number>;
}

/** Raises `counted`'s total for `key` to `total` if below it; returns by how much (0 when not). */
function countBeyond(counted: Map<string, number>, key: string, total: number): number {
  const beyond = total - (counted.get(key) ?? 0);
  if (beyond <= 0) return 0;
  counted.set(key, total);
  return beyond;
}

/**
 * Turns runner totals into Prometheus counters and gauges. Runners only count (cheaply, in
 * plain fields, possibly on another thread); this exporter adds the difference since the last
 * snapshot of each partition, so counters stay monotonic across polls.
 *
 * A partition that comes back to this process (its lease lost under load and taken again) restarts
 * from its checkpoint and replays what its previous runner had already counted here: the totals
 * that follow from the stream (restored by the checkpoint, replayed alike) are counted only beyond
 * the highest this process has counted of them, so a replayed event is not counted twice. The
 * runner's own totals (pane flushes, consumer recreations) start again with each runner.
 */
export class PipelineStatsExporter {
  private readonly last = new Map<number, RunnerStats>();
  private readonly counted = new Map<number, CountedTotals>();
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
    const counted = this.countedOf(stats.partition);
    const beyond = (key: (typeof STREAM_TOTALS)[number]): number => {
      const d = delta(stats[key], counted.totals[key]);
      counted.totals[key] += d;
      return d;
    };
    m.eventsConsumed.inc({ kind: 'pred' }, beyond('predictions'));
    m.eventsConsumed.inc({ kind: 'label' }, beyond('labels'));
    m.eventsLate.inc(beyond('late'));
    m.eventsDuplicate.inc({ kind: 'pred' }, beyond('duplicates'));
    m.eventsDuplicate.inc({ kind: 'label' }, beyond('duplicateLabels'));
    for (const [reason, n] of Object.entries(stats.rejected)) {
      const d = countBeyond(counted.rejected, reason, n);
      if (d > 0) m.eventsRejected.inc({ reason }, d);
    }
    m.labelsJoined.inc(beyond('joined'));
    m.labelsExpired.inc(beyond('expired'));
    m.labelsUnmatched.inc(beyond('unmatchedLabels'));
    m.paneFlushes.inc(delta(stats.paneFlushes, previous?.paneFlushes));
    m.consumerRecreations.inc(delta(stats.recreations, previous?.recreations));
    m.consumerPullsWrittenOff.inc(delta(stats.pullsWrittenOff, previous?.pullsWrittenOff));
    for (const [name, n] of stats.refusedByModel) {
      const d = countBeyond(counted.refusedByModel, name, n);
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
   * consumed them, so only what this process consumes from now on is added; and of what it
   * replays, only what goes beyond what this process counted of it before.
   */
  rebase(stats: RunnerStats): void {
    this.last.set(stats.partition, stats);
    const counted = this.countedOf(stats.partition);
    for (const key of STREAM_TOTALS) counted.totals[key] = Math.max(counted.totals[key], stats[key]);
    for (const [reason, n] of Object.entries(stats.rejected)) countBeyond(counted.rejected, reason, n);
    for (const [name, n] of stats.refusedByModel) countBeyond(counted.refusedByModel, name, n);
  }

  private countedOf(partition: number): CountedTotals {
    let counted = this.counted.get(partition);
    if (counted === undefined) {
      const totals = {} as CountedTotals['totals'];
      for (const key of STREAM_TOTALS) totals[key] = 0;
      counted = { totals, rejected: new Map(), refusedByModel: new Map() };
      this.counted.set(partition, counted);
    }
    return counted;
  }

  /**
   * A partition stopped running here: count its last totals and drop its gauges. What was counted
   * of its stream stays known, should it come back here and replay from its checkpoint.
   */
  forget(partition: number, last: RunnerStats | null): void {
    if (last !== null) this.apply(last);
    this.last.delete(partition);
    const labels = { partition: String(partition) };
    const m = this.metrics;
    for (const gauge of [m.pendingJoins, m.earlyLabels, m.eventsHeld, m.consumerLag, m.consumerLive, m.partitionSequence, m.checkpointAgeSeconds, m.checkpointBytes]) gauge.remove(labels);
  }
}
