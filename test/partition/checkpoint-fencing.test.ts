import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { ObjectStore } from '@nats-io/obj';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/pipeline.ts';
import { provision } from '../../src/cluster/provision.ts';
import { CHECKPOINTS_BUCKET, PANES_STREAM } from '../../src/cluster/subjects.ts';
import { PartitionRunner, checkpointName, checkpointOwnerOf, FencedError } from '../../src/partition/runner.ts';
import type { PartitionOwner } from '../../src/partition/processor.ts';
import { decodeCheckpoint } from '../../src/partition/checkpoint.ts';
import { DEFAULT_PANE_LIMITS } from '../../src/window/pane.ts';
import { mixedStream, processorOptions } from '../contract/pane-stream.ts';

const { partition: _p, ...processor } = processorOptions;
const stream = mixedStream(600);

describe('checkpoint writes under a lease epoch (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: ObjectStore;
  const runners: PartitionRunner[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 2 });
    store = await new Objm(nc).open(CHECKPOINTS_BUCKET);
  });
  afterAll(async () => {
    for (const r of runners) await r.abandon().catch(() => undefined);
    await nc?.close();
    await server?.stop();
  });

  const runner = (owner?: PartitionOwner, partition = 0, leaseExpiresAt?: number) => {
    // timers far away: the test flushes and checkpoints by hand
    const r = new PartitionRunner({ nc, processor, partition, flushIntervalMs: 3_600_000, checkpointIntervalMs: 3_600_000, logger: pino({ level: 'silent' }), owner, leaseExpiresAt });
    runners.push(r);
    return r;
  };
  const publish = async (from: number, to: number, partition = 0) => {
    const js = jetstream(nc);
    for (let i = from; i < to; i++) await js.publish(stream[i].subject.replace('drift.in.0.', `drift.in.${partition}.`), stream[i].data);
  };
  const consumed = (r: PartitionRunner, seq: number) => eventually(() => (r.processor.seq >= seq ? true : undefined), 30_000, `runner to reach sequence ${seq}`);
  const stored = async (partition = 0) => {
    const info = await store.info(checkpointName(partition));
    const bytes = await store.getBlob(checkpointName(partition));
    return { info, owner: checkpointOwnerOf(info), checkpoint: bytes === null ? null : decodeCheckpoint(bytes, partition, DEFAULT_PANE_LIMITS) };
  };
  const panesOfEpoch = async (epoch: number, partition = 0) => {
    const jsm = await jetstream(nc).jetstreamManager();
    const info = await jsm.streams.info(PANES_STREAM, { subjects_filter: `drift.pane.${partition}.*.*.*.*.${epoch}` });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  };

  it("never lets a stale owner overwrite a newer owner's checkpoint, and the stale owner stops writing", async () => {
    const a = runner({ worker: 'a', epoch: 5 });
    await a.start();
    await publish(0, 200);
    await consumed(a, 200);
    await a.checkpoint();
    expect((await stored()).owner).toEqual({ worker: 'a', epoch: 5 });
    expect(a.stats().checkpointBytes).toBeGreaterThan(0);

    // a is presumed dead; b acquires the lease at epoch 7 and restores a's checkpoint
    const b = runner({ worker: 'b', epoch: 7 });
    await b.start();
    expect(b.processor.seq).toBe(200);
    await publish(200, 400);
    await consumed(b, 400);
    await b.checkpoint();
    const afterB = await stored();
    expect(afterB.owner).toEqual({ worker: 'b', epoch: 7 });
    expect(afterB.checkpoint?.owner).toEqual({ worker: 'b', epoch: 7 });
    expect(afterB.checkpoint?.seq).toBe(400);

    // a was only paused: it consumed the same events and now tries to write
    await consumed(a, 400);
    await a.flush();
    const aPanes = await panesOfEpoch(5);
    await publish(400, 450);
    await consumed(a, 450);
    await a.checkpoint();
    expect(a.fencedBy).toBeInstanceOf(FencedError);
    const afterStale = await stored();
    expect(afterStale.info?.revision).toBe(afterB.info?.revision);
    expect(afterStale.checkpoint?.seq).toBe(400);
    expect(afterStale.owner).toEqual({ worker: 'b', epoch: 7 });
    // and it publishes no more pane states either
    await a.flush();
    expect(await panesOfEpoch(5)).toBe(aPanes);

    // a runner of an epoch older than the stored checkpoint's refuses to start at all
    await expect(runner({ worker: 'c', epoch: 6 }).start()).rejects.toThrow(/newer than this runner's epoch 6/);

    // an unfenced writer (an older worker) overwrote the object: b, the lease holder, overwrites it back
    await store.putBlob({ name: checkpointName(0) }, (await store.getBlob(checkpointName(0)))!);
    await consumed(b, 450);
    await b.checkpoint();
    const afterOld = await stored();
    expect(afterOld.owner).toEqual({ worker: 'b', epoch: 7 });
    expect(afterOld.checkpoint?.seq).toBe(450);
    expect(b.fencedBy).toBeNull();
  }, 120_000);

  it('writes nothing past its lease expiry on its own clock (a resumed process may flush before its lease loop runs)', async () => {
    const r = runner({ worker: 'd', epoch: 3 }, 1, Date.now() - 1);
    await r.start();
    await publish(0, 100, 1);
    await consumed(r, 100);
    await r.flush();
    await r.checkpoint();
    expect(await panesOfEpoch(3, 1)).toBe(0);
    expect((await stored(1)).info).toBeNull();
    // renewed: it writes again
    r.extendLease(Date.now() + 60_000);
    await r.flush();
    await r.checkpoint();
    expect(await panesOfEpoch(3, 1)).toBeGreaterThan(0);
    expect((await stored(1)).owner).toEqual({ worker: 'd', epoch: 3 });
  }, 60_000);
});
