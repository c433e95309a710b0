import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { OwnershipLoop } from '../../src/app/ownership.ts';
import type { PartitionHost } from '../../src/app/ownership.ts';
import type { HeldLease, LeaseTable, MemberRecord } from '../../src/cluster/leases.ts';

/** A lease table in memory whose membership listing can be made to hang, as a KV listing can under load. */
function fakeLeases(leaseMs: number, clock: { now: number }) {
  let hang = false;
  let revision = 0;
  const table = {
    self: { id: 'w1', instance: 'i1', host: 'h', startedAt: '' },
    leaseMs,
    register: async () => undefined,
    deregister: async () => undefined,
    members: (): Promise<MemberRecord[]> => (hang ? new Promise<MemberRecord[]>(() => undefined) : Promise.resolve([])),
    acquire: async (partition: number): Promise<HeldLease> => ({ partition, epoch: ++revision, revision, expiresAt: clock.now + leaseMs }),
    renew: async (lease: HeldLease): Promise<HeldLease> => ({ ...lease, revision: ++revision, expiresAt: clock.now + leaseMs }),
    release: async () => undefined,
  };
  return { table: table as unknown as LeaseTable, hangListing: () => (hang = true) };
}

describe('ownership loop', () => {
  it('abandons its partitions once their leases expire even while a lease round hangs, so it never consumes a partition another worker took', async () => {
    const clock = { now: 1_000_000 };
    const { table, hangListing } = fakeLeases(1_000, clock);
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
    // the next round hangs in its membership listing (after renewing): nothing renews from now on
    clock.now += 600;
    hangListing();
    await new Promise((r) => setTimeout(r, 60));
    expect(loop.owned()).toEqual([0, 1, 2, 3]);
    // past the expiry of the last renewal, by this worker's clock
    clock.now += 1_100;
    await new Promise((r) => setTimeout(r, 100));
    expect(loop.owned()).toEqual([]);
    expect([...running]).toEqual([]);
    expect(abandoned.sort()).toEqual([0, 1, 2, 3]);
    // and a SIGTERM still ends: stop() does not wait for the hung round beyond a lease period
    await loop.stop();
  });
});
