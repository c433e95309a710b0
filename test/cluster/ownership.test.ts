import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { OwnershipLoop } from '../../src/app/ownership.ts';
import type { PartitionHost } from '../../src/app/ownership.ts';
import type { AcquireAttempt, HeldLease, LeaseTable, MemberRecord } from '../../src/cluster/leases.ts';

/** A lease table in memory whose calls can be made to hang, as KV calls can under heavy load. */
function fakeLeases(leaseMs: number, clock: { now: number }) {
  let hang = false;
  let revision = 0;
  const table = {
    self: { id: 'w1', instance: 'i1', host: 'h', startedAt: '' },
    leaseMs,
    register: async () => undefined,
    deregister: async () => undefined,
    members: (): Promise<MemberRecord[]> => (hang ? new Promise<MemberRecord[]>(() => undefined) : Promise.resolve([])),
    tryAcquire: async (partition: number): Promise<AcquireAttempt> => ({ lease: { partition, epoch: ++revision, revision, expiresAt: clock.now + leaseMs } }),
    renew: (lease: HeldLease): Promise<HeldLease> => (hang ? new Promise<HeldLease>(() => undefined) : Promise.resolve({ ...lease, revision: ++revision, expiresAt: clock.now + leaseMs })),
    release: async () => undefined,
  };
  return { table: table as unknown as LeaseTable, hangKv: () => (hang = true) };
}

describe('ownership loop', () => {
  it('abandons its partitions once their leases expire even while KV calls hang, so it never consumes a partition another worker took', async () => {
    const clock = { now: 1_000_000 };
    const { table, hangKv } = fakeLeases(1_000, clock);
    const running = new Set<number>();
    const abandoned: number[] = [];
    const host: PartitionHost = {
      start: async (p) => void running.add(p),
      stop: async (p, abandon) => {
        running.delete(p);
        if (abandon) abandoned.push(p);
      },
    };
    const loop = new OwnershipLoop({ leases: table, host, partitions: 4, logger: pino({ level: 'silent' }), tickMs: 20, now: () => clock.now });
    await loop.start();
    await new Promise((r) => setTimeout(r, 60));
    expect(loop.owned()).toEqual([0, 1, 2, 3]);
    // KV calls hang from now on (the round in its membership listing, the renewals in their updates)
    clock.now += 600;
    hangKv();
    await new Promise((r) => setTimeout(r, 60));
    expect(loop.owned()).toEqual([0, 1, 2, 3]);
    // past the expiry of the last renewal, by this worker's clock
    clock.now += 1_100;
    await new Promise((r) => setTimeout(r, 100));
    expect(loop.owned()).toEqual([]);
    expect([...running]).toEqual([]);
    expect(abandoned.sort()).toEqual([0, 1, 2, 3]);
    // and a SIGTERM still ends: stop() does not wait for hung calls beyond a lease period
    await loop.stop();
  });
});

describe('lease renewals', () => {
  it('go on while a lease round is stuck, so a slow membership listing costs no partition', async () => {
    const clock = { now: 1_000_000 };
    let listingHangs = false;
    let revision = 0;
    const table = {
      self: { id: 'w1', instance: 'i1', host: 'h', startedAt: '' },
      leaseMs: 1_000,
      register: async () => undefined,
      deregister: async () => undefined,
      members: (): Promise<MemberRecord[]> => (listingHangs ? new Promise<MemberRecord[]>(() => undefined) : Promise.resolve([])),
      tryAcquire: async (partition: number): Promise<AcquireAttempt> => ({ lease: { partition, epoch: ++revision, revision, expiresAt: clock.now + 1_000 } }),
      renew: async (lease: HeldLease): Promise<HeldLease> => ({ ...lease, revision: ++revision, expiresAt: clock.now + 1_000 }),
      release: async () => undefined,
    } as unknown as LeaseTable;
    const abandoned: number[] = [];
    const host: PartitionHost = { start: async () => undefined, stop: async (p, abandon) => void (abandon && abandoned.push(p)) };
    const loop = new OwnershipLoop({ leases: table, host, partitions: 2, logger: pino({ level: 'silent' }), tickMs: 20, now: () => clock.now });
    await loop.start();
    await new Promise((r) => setTimeout(r, 60));
    listingHangs = true;
    // three lease periods in steps of a fifth of one: each step renews what is past half its life
    for (let step = 0; step < 15; step++) {
      clock.now += 200;
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(abandoned).toEqual([]);
    expect(loop.owned()).toEqual([0, 1]);
    await loop.stop();
  });
});
