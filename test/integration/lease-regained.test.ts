/**
 * A partition whose lease this worker loses (under load, its renewal late) and takes again
 * restarts from its checkpoint and replays what its previous runner had consumed: the worker's
 * counters in /metrics still count every event once (consumed, rejected, refused by model). CI saw
 * drift_events_consumed_total + drift_events_rejected_total overshoot the events published when
 * this happened on a loaded machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { startPipeline, eventually, metricSum } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { LEASES_BUCKET } from '../../src/cluster/subjects.ts';
import { leaseKey } from '../../src/cluster/leases.ts';

describe('a partition lost and taken again by the same worker (real nats-server, partition threads)', () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startPipeline({
      partitions: { count: 2 },
      worker: { threads: 2, leaseMs: 3000 },
      // checkpoints far apart: the partition restarts well behind where it had got to
      checkpoint: { intervalMs: 600_000 },
      limits: { maxModels: 1 },
      reference: { autoCaptureMs: 0 },
      alerts: { rules: [] },
    }, {}, { deduplicate: true });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('counts every consumed, rejected and refused event once', async () => {
    const { publisher, baseUrl } = pipeline;
    const ts = Date.now();
    let published = 0;
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await publisher.publishPrediction({ id: `a${i}`, model: 'admitted', ts, output: 0.5 });
        await publisher.publishPrediction({ id: `r${i}`, model: 'refused', ts, output: 0.5 });
        published += 2;
      }
      await publisher.flush();
    };
    const counts = async () => ({
      consumed: await metricSum(baseUrl, 'drift_events_consumed_total', { kind: 'pred' }),
      rejected: await metricSum(baseUrl, 'drift_events_rejected_total'),
      refused: await metricSum(baseUrl, 'drift_model_events_refused_total'),
    });
    // the first model seen takes the only slot: wait for it before the other one comes
    await publisher.publishPrediction({ id: 'first', model: 'admitted', ts, output: 0.5 });
    published += 1;
    await eventually(async () => ((await counts()).consumed === 1 ? true : undefined), 30_000, 'the first event consumed');
    await publish(0, 300);
    const before = await eventually(async () => {
      const c = await counts();
      return c.consumed + c.rejected === published ? c : undefined;
    }, 60_000, `${published} events consumed or rejected`);
    expect(before).toEqual({ consumed: 301, rejected: 300, refused: 300 });
    const movedIn = await metricSum(baseUrl, 'drift_partition_rebalances_total', { direction: 'in' });

    // every lease taken away (as when another worker took it while this one's renewal was late):
    // each renewal is refused, its partition abandoned, and then taken again from its checkpoint
    const kv = await new Kvm(pipeline.nc).open(LEASES_BUCKET);
    for (const partition of [0, 1]) await kv.delete(leaseKey(partition));
    await eventually(async () => ((await metricSum(baseUrl, 'drift_partition_rebalances_total', { direction: 'in' })) >= movedIn + 2 ? true : undefined), 60_000, 'both partitions taken again');

    await publish(300, 400);
    const after = await eventually(async () => {
      const c = await counts();
      if (c.consumed + c.rejected > published) throw new Error(`counted beyond the ${published} events published: ${JSON.stringify(c)}`);
      return c.consumed + c.rejected === published ? c : undefined;
    }, 60_000, `${published} events consumed or rejected`);
    expect(after).toEqual({ consumed: 401, rejected: 400, refused: 400 });
    // and they stay so once the replay is over
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await counts()).toEqual({ consumed: 401, rejected: 400, refused: 400 });
  }, 180_000);
});
