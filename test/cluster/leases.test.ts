import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { provision } from '../../src/cluster/provision.ts';
import { assignPartitions, desiredPartitions, LeaseTable } from '../../src/cluster/leases.ts';
import type { WorkerIdentity } from '../../src/cluster/leases.ts';

const loads = (assignment: Map<number, string>) => {
  const counts = new Map<string, number>();
  for (const m of assignment.values()) counts.set(m, (counts.get(m) ?? 0) + 1);
  return counts;
};

describe('balanced rendezvous assignment', () => {
  it('gives every partition exactly one owner and every member floor or ceil of its share', () => {
    for (const members of [['a'], ['w1', 'w2'], ['host-8081', 'host-8082', 'other-8081'], ['a', 'b', 'c', 'd', 'e']]) {
      for (const count of [1, 7, 16, 64]) {
        const assignment = assignPartitions(members, count);
        expect(assignment.size).toBe(count);
        const share = count / members.length;
        for (const m of members) {
          const n = loads(assignment).get(m) ?? 0;
          expect(n === Math.floor(share) || n === Math.ceil(share)).toBe(true);
        }
      }
    }
  });

  it('does not depend on the order members are listed in, so every worker computes the same', () => {
    expect(assignPartitions(['x', 'y', 'z'], 32)).toEqual(assignPartitions(['z', 'x', 'y'], 32));
  });

  it('moves few partitions when a member joins or leaves', () => {
    const before = assignPartitions(['w1', 'w2', 'w3'], 64);
    const joined = assignPartitions(['w1', 'w2', 'w3', 'w4'], 64);
    const moved = [...before].filter(([p, m]) => joined.get(p) !== m).length;
    // 16 must move to the newcomer; the quotas cost a few more, never a reshuffle
    expect(moved).toBeGreaterThanOrEqual(16);
    expect(moved).toBeLessThanOrEqual(24);
    const left = assignPartitions(['w1', 'w3'], 64);
    const movedOnLeave = [...before].filter(([p, m]) => m !== 'w2' && left.get(p) !== m).length;
    expect(movedOnLeave).toBeLessThanOrEqual(8);
  });

  it('counts the asking worker as a member even before its record is visible', () => {
    expect(desiredPartitions('new', ['old'], 16)).toHaveLength(8);
  });
});

describe('partition leases on NATS KV', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let clock = Date.now();
  const now = () => clock;
  const identity = (id: string): WorkerIdentity => ({ id, instance: `${id}-${Math.random()}`, host: 'test', startedAt: new Date().toISOString() });

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 4 });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('lets one worker hold a lease, renews it, and frees it on release', async () => {
    const a = await LeaseTable.open(nc, identity('a'), 5000, now);
    const b = await LeaseTable.open(nc, identity('b'), 5000, now);
    const lease = await a.acquire(0);
    expect(lease).not.toBeNull();
    expect(await b.acquire(0)).toBeNull();
    const renewed = await a.renew(lease!);
    expect(renewed!.epoch).toBe(lease!.epoch);
    expect(renewed!.revision).toBeGreaterThan(lease!.revision);
    // a renew naming an old revision is a lost lease
    expect(await a.renew(lease!)).toBeNull();
    await a.release(renewed!);
    const taken = await b.acquire(0);
    expect(taken!.epoch).toBeGreaterThan(renewed!.revision);
    expect((await a.holder(0))?.owner).toBe('b');
  });

  it('treats a lease past the expiry in its value as free, whatever the bucket TTL says', async () => {
    const a = await LeaseTable.open(nc, identity('a2'), 5000, now);
    const b = await LeaseTable.open(nc, identity('b2'), 5000, now);
    const held = await a.acquire(1);
    expect(held).not.toBeNull();
    expect(await b.acquire(1)).toBeNull();
    clock += 6000;
    const taken = await b.acquire(1);
    expect(taken).not.toBeNull();
    // the old holder's renewal fails: it has lost the partition
    expect(await a.renew(held!)).toBeNull();
  });

  it('gives a restarted worker (same id, new instance) its own leases back at once', async () => {
    const first = await LeaseTable.open(nc, identity('same'), 5000, now);
    const restarted = await LeaseTable.open(nc, identity('same'), 5000, now);
    const other = await LeaseTable.open(nc, identity('other'), 5000, now);
    expect(await first.acquire(2)).not.toBeNull();
    expect(await other.acquire(2)).toBeNull();
    expect(await restarted.acquire(2)).not.toBeNull();
  });

  it('lists live members only', async () => {
    const a = await LeaseTable.open(nc, identity('m1'), 5000, now);
    const b = await LeaseTable.open(nc, identity('m2'), 5000, now);
    await a.register([0]);
    await b.register([]);
    expect((await a.members()).map((m) => m.id)).toEqual(expect.arrayContaining(['m1', 'm2']));
    await b.deregister();
    expect((await a.members()).map((m) => m.id)).not.toContain('m2');
    clock += 6000;
    expect((await a.members()).map((m) => m.id)).not.toContain('m1');
  });
});
