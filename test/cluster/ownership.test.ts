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

/** A lease table in memory for one worker alone, whose calls the test can make hang or fail. */
function soleWorkerLeases(leaseMs: number, calls: Partial<Pick<LeaseTable, 'members' | 'tryAcquire' | 'renew' | 'release'>> = {}) {
  let revision = 0;
  const table = {
    self: { id: 'w1', instance: 'i1', host: 'h', startedAt: '' },
    leaseMs,
    register: async () => undefined,
    deregister: async () => undefined,
    members: async (): Promise<MemberRecord[]> => [],
    tryAcquire: async (partition: number): Promise<AcquireAttempt> => ({ lease: { partition, epoch: ++revision, revision, expiresAt: Date.now() + leaseMs } }),
    renew: async (lease: HeldLease): Promise<HeldLease | null> => ({ ...lease, revision: ++revision, expiresAt: Date.now() + leaseMs }),
    release: async () => undefined,
    ...calls,
  };
  return table as unknown as LeaseTable;
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
const silent = pino({ level: 'silent' });

/** Polls `check` until it holds; fails after `ms` with what it last saw. */
async function within<T>(ms: number, read: () => T, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: last ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('no single stuck call leaves a partition unowned', () => {
  it('a membership listing that never answers fails its round at the call deadline, and the next round acquires', async () => {
    let listings = 0;
    const leases = soleWorkerLeases(6_000, { members: () => (++listings === 1 ? never() : Promise.resolve([])) });
    const running = new Set<number>();
    const host: PartitionHost = { start: async (p) => void running.add(p), stop: async (p) => void running.delete(p) };
    const loop = new OwnershipLoop({ leases, host, partitions: 2, logger: silent, tickMs: 20, callTimeoutMs: 150 });
    const started = loop.start();
    await within(2_000, () => loop.owned(), (owned) => owned.length === 2);
    await started;
    expect([...running].sort()).toEqual([0, 1]);
    await loop.stop();
  });

  it('an acquisition that never answers costs only its own partition, and its lease is taken on a later round', async () => {
    const attempts = new Map<number, number>();
    let revision = 0;
    const leases = soleWorkerLeases(6_000, {
      tryAcquire: async (partition: number): Promise<AcquireAttempt> => {
        attempts.set(partition, (attempts.get(partition) ?? 0) + 1);
        if (partition === 1 && attempts.get(1) === 1) return never();
        if (partition === 2 && attempts.get(2) === 1) throw new Error('JetStream not ready');
        return { lease: { partition, epoch: ++revision, revision, expiresAt: Date.now() + 6_000 } };
      },
    });
    const host: PartitionHost = { start: async () => undefined, stop: async () => undefined };
    const loop = new OwnershipLoop({ leases, host, partitions: 3, logger: silent, tickMs: 20, callTimeoutMs: 150 });
    await loop.start();
    await within(2_000, () => loop.owned(), (owned) => owned.length === 3);
    // partition 0's lease, taken in the first round beside the failures, was kept: acquired once
    expect(attempts.get(0)).toBe(1);
    await loop.stop();
  });

  it('a partition start that never ends is abandoned at its deadline, its lease released, and the partition started again', async () => {
    const released: number[] = [];
    const leases = soleWorkerLeases(6_000, { release: async (lease: HeldLease) => void released.push(lease.partition) });
    const starts: string[] = [];
    const host: PartitionHost = {
      start: (p) => {
        starts.push(`start ${p}`);
        // the first start hangs (a restore across a NATS restart), until the loop abandons it
        return starts.length === 1 ? never() : Promise.resolve();
      },
      stop: async (p, abandon) => void starts.push(`${abandon ? 'abandon' : 'stop'} ${p}`),
    };
    const loop = new OwnershipLoop({ leases, host, partitions: 1, logger: silent, tickMs: 20, callTimeoutMs: 150, startTimeoutMs: 200 });
    void loop.start();
    await within(2_000, () => loop.owned(), (owned) => owned.length === 1);
    expect(starts.slice(0, 3)).toEqual(['start 0', 'abandon 0', 'start 0']);
    expect(released).toEqual([0]);
    await loop.stop();
  });

  it('a lease lost while its partition starts is abandoned at once; the partition, taken again, never starts twice at the same time', async () => {
    let renewals = 0;
    let revision = 0;
    const leaseMs = 400;
    const leases = soleWorkerLeases(leaseMs, {
      // the first renewal is refused while the first start is under way (NATS restarting), then they work again
      renew: async (lease: HeldLease) => (++renewals === 1 ? null : { ...lease, revision: ++revision, expiresAt: Date.now() + leaseMs }),
    });
    const log: string[] = [];
    let startsUnderWay = 0;
    let mostAtOnce = 0;
    const cancel = new Map<number, () => void>();
    const host: PartitionHost = {
      start: async (p) => {
        const n = log.filter((l) => l.startsWith('start')).length + 1;
        log.push(`start ${n}`);
        startsUnderWay++;
        mostAtOnce = Math.max(mostAtOnce, startsUnderWay);
        try {
          // the first start is slow: it ends only when cancelled (a host cancels a start it is told to stop)
          if (n === 1) await new Promise<void>((_, reject) => cancel.set(p, () => reject(new Error('abandoned while starting'))));
        } finally {
          startsUnderWay--;
        }
      },
      stop: async (p, abandon) => {
        log.push(abandon ? 'abandon' : 'stop');
        cancel.get(p)?.();
        cancel.delete(p);
      },
    };
    const loop = new OwnershipLoop({ leases, host, partitions: 1, logger: silent, tickMs: 20, callTimeoutMs: 150, startTimeoutMs: 10_000 });
    void loop.start();
    await within(3_000, () => loop.owned(), (owned) => owned.length === 1);
    expect(log.slice(0, 3)).toEqual(['start 1', 'abandon', 'start 2']);
    expect(mostAtOnce).toBe(1);
    await loop.stop();
  });

  it('takes a lease the moment its holder lets it expire, not a tick later', async () => {
    const expiry = Date.now() + 300;
    let revision = 0;
    const leases = soleWorkerLeases(6_000, {
      tryAcquire: async (partition: number): Promise<AcquireAttempt> =>
        Date.now() < expiry ? { lease: null, heldUntil: expiry } : { lease: { partition, epoch: ++revision, revision, expiresAt: Date.now() + 6_000 } },
    });
    const host: PartitionHost = { start: async () => undefined, stop: async () => undefined };
    // one tick every 5 s: without the wake-up at the expiry, the lease would wait for the next one
    const loop = new OwnershipLoop({ leases, host, partitions: 1, logger: silent, tickMs: 5_000 });
    await loop.start();
    expect(loop.owned()).toEqual([]);
    await within(2_000, () => loop.owned(), (owned) => owned.length === 1);
    await loop.stop();
  });
});
