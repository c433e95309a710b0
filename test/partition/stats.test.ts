import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createWorkerMetrics } from '../../src/partition/worker-metrics.ts';
import { PipelineStatsExporter } from '../../src/partition/stats.ts';
import type { RunnerStats } from '../../src/partition/stats.ts';

function stats(partition: number, over: Partial<RunnerStats> = {}): RunnerStats {
  return {
    partition, predictions: 0, labels: 0, late: 0, duplicates: 0, duplicateLabels: 0,
    rejected: {} as RunnerStats['rejected'],
    joined: 0, expired: 0, unmatchedLabels: 0, pendingJoins: 0, earlyLabels: 0,
    lag: 0, live: true, recreations: 0, pullsWrittenOff: 0, seq: 0, paneFlushes: 0, checkpointAt: null, checkpointBytes: 0, refusedByModel: [], held: 0, ...over,
  };
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('PipelineStatsExporter', () => {
  it('exports consumer lag, liveness and recreations per partition, counting recreations once', async () => {
    const registry = new Registry();
    const exporter = new PipelineStatsExporter(createWorkerMetrics(registry));
    exporter.apply(stats(0, { lag: 1200, live: false, recreations: 1 }));
    exporter.apply(stats(1, { lag: 0, live: true, recreations: 2 }));
    expect(await value(registry, 'drift_consumer_lag', { partition: '0' })).toBe(1200);
    expect(await value(registry, 'drift_consumer_live', { partition: '0' })).toBe(0);
    expect(await value(registry, 'drift_consumer_live', { partition: '1' })).toBe(1);
    expect(await value(registry, 'drift_consumer_recreations_total')).toBe(3);
    // the same totals again add nothing; the lag follows the latest report
    exporter.apply(stats(0, { lag: 0, live: true, recreations: 1 }));
    expect(await value(registry, 'drift_consumer_recreations_total')).toBe(3);
    expect(await value(registry, 'drift_consumer_lag', { partition: '0' })).toBe(0);
    expect(await value(registry, 'drift_consumer_live', { partition: '0' })).toBe(1);
  });

  it('counts pulls written off across partitions once each, beside recreations', async () => {
    const registry = new Registry();
    const exporter = new PipelineStatsExporter(createWorkerMetrics(registry));
    exporter.apply(stats(0, { pullsWrittenOff: 2 }));
    exporter.apply(stats(1, { pullsWrittenOff: 1 }));
    expect(await value(registry, 'drift_consumer_pulls_written_off_total')).toBe(3);
    // reported again, a partition's running total adds only what is new
    exporter.apply(stats(0, { pullsWrittenOff: 2 }));
    exporter.apply(stats(1, { pullsWrittenOff: 4 }));
    expect(await value(registry, 'drift_consumer_pulls_written_off_total')).toBe(6);
    expect(await value(registry, 'drift_consumer_recreations_total')).toBe(0);
  });

  it('exports checkpoint age and size per partition from the time the checkpoint was last current, and drops them with the partition', async () => {
    const registry = new Registry();
    let now = 1_000_000;
    const exporter = new PipelineStatsExporter(createWorkerMetrics(registry), () => now);
    exporter.apply(stats(3));
    // no checkpoint yet: no age to report
    expect(await value(registry, 'drift_checkpoint_age_seconds', { partition: '3' })).toBeUndefined();
    exporter.apply(stats(3, { checkpointAt: now - 2500, checkpointBytes: 4096 }));
    expect(await value(registry, 'drift_checkpoint_age_seconds', { partition: '3' })).toBe(2.5);
    expect(await value(registry, 'drift_checkpoint_bytes', { partition: '3' })).toBe(4096);
    now += 10_000;
    exporter.apply(stats(3, { checkpointAt: now - 10_000 - 2500, checkpointBytes: 4096 }));
    expect(await value(registry, 'drift_checkpoint_age_seconds', { partition: '3' })).toBe(12.5);
    exporter.forget(3, null);
    expect(await value(registry, 'drift_checkpoint_age_seconds', { partition: '3' })).toBeUndefined();
    expect(await value(registry, 'drift_consumer_live', { partition: '3' })).toBeUndefined();
  });

  it('exports the events held for their model\'s admission per partition, not yet counted as consumed, and drops the gauge with the partition', async () => {
    const registry = new Registry();
    const exporter = new PipelineStatsExporter(createWorkerMetrics(registry));
    exporter.apply(stats(5, { predictions: 100, seq: 140, held: 40 }));
    expect(await value(registry, 'drift_events_held', { partition: '5' })).toBe(40);
    expect(await value(registry, 'drift_events_consumed_total', { kind: 'pred' })).toBe(100);
    // admitted: the held events are counted and the gauge falls back to 0
    exporter.apply(stats(5, { predictions: 140, seq: 140, held: 0 }));
    expect(await value(registry, 'drift_events_held', { partition: '5' })).toBe(0);
    expect(await value(registry, 'drift_events_consumed_total', { kind: 'pred' })).toBe(140);
    exporter.forget(5, null);
    expect(await value(registry, 'drift_events_held', { partition: '5' })).toBeUndefined();
  });

  it('counts once what a partition replays after coming back to this process from its checkpoint (lease lost and taken again)', async () => {
    const registry = new Registry();
    const exporter = new PipelineStatsExporter(createWorkerMetrics(registry));
    const refused = (n: number): RunnerStats['refusedByModel'] => [['limit_exceeded|flood-7', n]];
    const rejected = (n: number) => ({ limit_exceeded: n }) as RunnerStats['rejected'];
    const streamTotals = async () => ({
      predictions: await value(registry, 'drift_events_consumed_total', { kind: 'pred' }),
      joined: await value(registry, 'drift_labels_joined_total'),
      rejected: await value(registry, 'drift_events_rejected_total', { reason: 'limit_exceeded' }),
      refused: await value(registry, 'drift_model_events_refused_total', { model: 'flood-7' }),
    });
    // the first runner: restored from an empty checkpoint, counted 120 predictions, 30 refusals and 4 pane flushes
    exporter.rebase(stats(2));
    exporter.apply(stats(2, { predictions: 120, joined: 40, rejected: rejected(30), refusedByModel: refused(30), paneFlushes: 4, recreations: 1 }));
    // its lease lost: abandoned, its last totals counted
    exporter.forget(2, stats(2, { predictions: 150, joined: 50, rejected: rejected(35), refusedByModel: refused(35), paneFlushes: 5, recreations: 1 }));
    // taken again: restored from the checkpoint at 100 predictions, 20 refusals; it replays from there
    exporter.rebase(stats(2, { predictions: 100, joined: 30, rejected: rejected(20), refusedByModel: refused(20) }));
    exporter.apply(stats(2, { predictions: 140, joined: 45, rejected: rejected(30), refusedByModel: refused(30), paneFlushes: 2 }));
    expect(await streamTotals()).toEqual({ predictions: 150, joined: 50, rejected: 35, refused: 35 });
    // the new runner's own work counts from its start
    expect(await value(registry, 'drift_pane_flushes_total')).toBe(7);
    // past where the first runner had got to, every event counts
    exporter.apply(stats(2, { predictions: 170, joined: 55, rejected: rejected(40), refusedByModel: refused(40), paneFlushes: 3 }));
    expect(await streamTotals()).toEqual({ predictions: 170, joined: 55, rejected: 40, refused: 40 });
    expect(await value(registry, 'drift_consumer_recreations_total')).toBe(1);
  });
});
