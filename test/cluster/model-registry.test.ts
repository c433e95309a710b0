/**
 * The model registry on a real nats-server: two processes (two connections, two mirrors) racing
 * to decide the same models agree on every decision and never admit more than the cap; an idle
 * record is released with its slot, a touched one is not; ClusterAdmission answers on the hot path
 * from the mirror and settles pending models asynchronously.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { provision } from '../../src/cluster/provision.ts';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { ModelRegistry, deleteMarkersOf, modelKey, purgeMarkersRead, versionKey } from '../../src/cluster/model-registry.ts';
import { MODELS_BUCKET } from '../../src/cluster/subjects.ts';
import { ClusterAdmission } from '../../src/partition/model-admission.ts';
import { eventually } from '../helpers/pipeline.ts';

describe('ModelRegistry (real nats-server)', () => {
  let server: NatsServerHandle;
  let a: NatsConnection;
  let b: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    a = await connect({ servers: server.url });
    b = await connect({ servers: server.url });
    await provision(a, { partitions: 2 });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
  });

  it('two processes deciding the same 40 models at once agree on each, and admit exactly the cap', async () => {
    const options = { maxModels: 10, maxVersionsPerModel: 2, idleMs: 60_000 };
    const [left, right] = await Promise.all([ModelRegistry.open(a, options), ModelRegistry.open(b, options)]);
    const models = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const [fromLeft, fromRight] = await Promise.all([
      Promise.all(models.map((m) => left.resolve(m, null))),
      Promise.all([...models].reverse().map((m) => right.resolve(m, null))).then((r) => r.reverse()),
    ]);
    expect(fromLeft.map((r) => r.decision)).toEqual(fromRight.map((r) => r.decision));
    expect(fromLeft.filter((r) => r.decision === 'admitted').length).toBe(10);
    // each decision was written by exactly one of them
    models.forEach((_, i) => expect(Number(fromLeft[i].decidedHere) + Number(fromRight[i].decidedHere)).toBe(1));
    // both mirrors hold the same records
    await eventually(() => (models.every((m) => left.lookup(modelKey(m))?.record.decision === right.lookup(modelKey(m))?.record.decision) ? true : undefined), 5000, 'mirrors agree');
    // versions: two per admitted model
    const admitted = models.find((_, i) => fromLeft[i].decision === 'admitted') as string;
    const versions: string[] = [];
    for (const v of ['1', '2', '3']) versions.push((await right.resolve(admitted, v)).decision);
    expect(versions).toEqual(['admitted', 'admitted', 'refused']);
    await eventually(() => (left.lookup(versionKey(admitted, '3'))?.record.decision === 'refused' ? true : undefined), 5000, 'version refusal mirrored');
    left.close();
    right.close();
  });

  it('releases a record idle for idleMs with its slot (a new model takes it), but not one touched meanwhile', async () => {
    // ten minutes ahead: the previous test's records are idle at this clock and are released first
    let now = Date.now() + 600_000;
    const options = { maxModels: 2, maxVersionsPerModel: 1, idleMs: 5000, now: () => now };
    const registry = await ModelRegistry.open(b, options);
    expect((await registry.sweep()).length).toBeGreaterThanOrEqual(40);
    expect((await registry.resolve('idle', null)).decision).toBe('admitted');
    expect((await registry.resolve('busy', null)).decision).toBe('admitted');
    expect((await registry.resolve('waiting', null)).decision).toBe('refused');
    now += 4000;
    expect(await registry.touch(modelKey('busy'))).toBe(true);
    now += 2000;
    const released = await registry.sweep();
    expect(released.sort()).toEqual([modelKey('idle'), modelKey('waiting')].sort());
    expect(registry.lookup(modelKey('busy'))?.record.decision).toBe('admitted');
    // the slot of 'idle' is free: a newcomer is admitted; 'waiting' is decided anew
    expect((await registry.resolve('newcomer', null)).decision).toBe('admitted');
    expect((await registry.resolve('waiting', null)).decision).toBe('refused');
    // a touch of a released record says so
    expect(await registry.touch(modelKey('idle'))).toBe(false);
    registry.close();
  });

  it('ClusterAdmission: pending on the hot path, settled asynchronously, then answered from the mirror', async () => {
    const admission = await ClusterAdmission.open(a, { maxModels: 100, maxVersionsPerModel: 5, idleMs: 60_000, allow: ['ok-*'] }, pino({ level: 'silent' }));
    const settled: string[] = [];
    admission.onResolved((model) => settled.push(model));
    expect(admission.verdict('ok-model', 'v1')).toBe('pending');
    await eventually(() => (settled.includes('ok-model') ? true : undefined), 10_000, 'model settled');
    // the model is decided; its version is the next question
    expect(await eventually(() => { const v = admission.verdict('ok-model', 'v1'); return v === 'pending' ? undefined : v; }, 10_000, 'version settled')).toBe('admitted');
    expect(admission.verdict('ok-model', null)).toBe('admitted');
    expect(admission.verdict('stranger', 'v1')).toBe('not_allowed');
    await admission.close();
  });

  it('purges the delete markers it read, but not a key written again after the read (a slot claimed by a newcomer meanwhile)', async () => {
    const kv = await new Kvm(a).open(MODELS_BUCKET);
    const jsm = await jetstreamManager(a);
    await kv.put('ms.purge-0', new TextEncoder().encode('{"owner":"gone","claimedAt":0}'));
    await kv.put('ms.purge-1', new TextEncoder().encode('{"owner":"gone","claimedAt":0}'));
    await kv.delete('ms.purge-0');
    await kv.delete('ms.purge-1');
    const markers = (await deleteMarkersOf(kv)).filter((m) => m.key.startsWith('ms.purge-'));
    expect(markers.map((m) => m.key).sort()).toEqual(['ms.purge-0', 'ms.purge-1']);
    // a newcomer claims slot purge-0 between the read of the markers and the purge
    const claim = await kv.create('ms.purge-0', new TextEncoder().encode('{"owner":"newcomer","claimedAt":1}'));
    await purgeMarkersRead(jsm, markers, Date.now() + 1);
    const kept = await kv.get('ms.purge-0');
    expect(kept?.operation).toBe('PUT');
    expect(kept?.revision).toBe(claim);
    // the other marker is gone with its key, as the client's purgeDeletes would do
    expect(await kv.get('ms.purge-1')).toBeNull();
  });
});
