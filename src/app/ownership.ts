import type { Logger } from 'pino';
import { desiredPartitions } from '../cluster/leases.ts';
import type { HeldLease, LeaseTable, PartitionReport } from '../cluster/leases.ts';

/** Where partitions run once their lease is held: runners on this thread or on partition threads. */
export interface PartitionHost {
  /** expiresAt: the lease's expiry on this process's clock; past it the partition writes nothing (see renewed). */
  start(partition: number, epoch: number, expiresAt: number): Promise<void>;
  /** The lease was renewed until `expiresAt`. */
  renewed?(partition: number, expiresAt: number): void;
  /** abandon: the lease is lost, write nothing more; otherwise drain, flush and checkpoint. */
  stop(partition: number, abandon: boolean): Promise<void>;
  /** Lag and checkpoint figures of the partitions running here, published in the membership record. */
  reports?(): Array<Omit<PartitionReport, 'epoch'>>;
}

export interface OwnershipOptions {
  leases: LeaseTable;
  host: PartitionHost;
  partitions: number;
  logger: Logger;
  /** How often membership is refreshed and leases are checked (default min(1 s, lease / 4)). */
  tickMs?: number;
  now?: () => number;
}

type Slot = { lease: HeldLease; state: 'starting' | 'running' | 'stopping' };

/**
 * Keeps this worker's partitions in line with the cluster: every tick it refreshes its membership,
 * renews its leases (well inside their expiry; a failed renew or a lease past its expiry is lost
 * at once, and the partition is abandoned without another write), hands over the partitions that
 * rendezvous hashing gives to another live member (stop, checkpoint, then release), and acquires
 * the ones it should own that are free. Starting and stopping run beside the ticks, so a slow
 * checkpoint never delays the renewal of the other leases.
 */
export class OwnershipLoop {
  private readonly held = new Map<number, Slot>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private renewing: Promise<void> | null = null;
  private readonly busy = new Set<Promise<void>>();
  private closed = false;
  /** Partitions moved in and out since the start (for logs and metrics). */
  rebalances = 0;

  constructor(private readonly options: OwnershipOptions) {}

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Partitions this worker runs now, ascending. */
  owned(): number[] {
    return [...this.held.entries()].filter(([, s]) => s.state === 'running').map(([p]) => p).sort((a, b) => a - b);
  }

  /** Epoch of each partition running here. */
  epochs(): Map<number, number> {
    return new Map([...this.held.entries()].filter(([, s]) => s.state === 'running').map(([p, s]) => [p, s.lease.epoch]));
  }

  /** Registers, takes the first leases, and resolves once their partitions have started (or failed to). */
  async start(): Promise<void> {
    await this.options.leases.register([]);
    await this.tick();
    const tickMs = this.options.tickMs ?? Math.min(1000, Math.floor(this.options.leases.leaseMs / 4));
    this.timer = setInterval(() => {
      this.dropExpired();
      this.renewTick();
      void this.tick();
    }, tickMs);
    // renewals already run on the timer: a slow first restore cannot let the leases expire
    await Promise.allSettled([...this.busy]);
  }

  /**
   * Abandons every lease past its expiry by this worker's clock, whether or not a round is under
   * way: a round waits on KV calls, and one that hangs (a KV listing under heavy load) must not
   * leave this worker consuming partitions whose leases others have taken since.
   */
  private dropExpired(): void {
    if (this.closed) return;
    for (const [partition, slot] of this.held) {
      if (slot.lease.expiresAt > this.now) continue;
      this.lose(partition, slot, 'partition lease expired before it was renewed: abandoning the partition without further writes');
    }
  }

  private lose(partition: number, slot: Slot, message: string): void {
    const { logger, host } = this.options;
    logger.warn({ partition, epoch: slot.lease.epoch }, message);
    this.held.delete(partition);
    this.rebalances++;
    this.track(host.stop(partition, true).catch((error: unknown) => logger.error({ partition, err: (error as Error).message }, 'abandoning partition failed')));
  }

  /**
   * Renewals run on their own, beside the rounds: a round lists members and acquires leases (several
   * KV calls, seconds under load), and renewals queued behind it expired (seen under load: a worker
   * losing and retaking its leases over and over, replaying from its checkpoints each time).
   */
  private renewTick(): void {
    if (this.renewing || this.closed) return;
    this.renewing = this.renewDue()
      .catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message }, 'lease renewal failed; retrying'))
      .finally(() => {
        this.renewing = null;
      });
  }

  /** One round; never overlaps itself. */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.round()
      .catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message }, 'lease round failed; retrying'))
      .finally(() => {
        this.ticking = null;
      });
    return this.ticking;
  }

  private track(work: Promise<void>): void {
    this.busy.add(work);
    void work.finally(() => this.busy.delete(work));
  }

  private async round(): Promise<void> {
    if (this.closed) return;
    const { leases, partitions, logger } = this.options;
    const members = await leases.members();
    const desired = new Set(desiredPartitions(leases.self.id, members.map((m) => m.id), partitions));
    for (const [partition, slot] of this.held) {
      if (!desired.has(partition) && slot.state === 'running') this.track(this.handOver(partition, slot));
    }
    const wanted = [...desired].filter((p) => !this.held.has(p));
    const acquired = await Promise.all(wanted.map((p) => leases.acquire(p)));
    for (const lease of acquired) {
      if (lease === null || this.closed) {
        if (lease !== null) await leases.release(lease);
        continue;
      }
      const slot: Slot = { lease, state: 'starting' };
      this.held.set(lease.partition, slot);
      this.track(this.startPartition(slot));
    }
    if (acquired.some((l) => l !== null)) logger.info({ acquired: acquired.filter((l) => l !== null).map((l) => l.partition) }, 'acquired partition leases');
    await leases.register([...this.held.keys()].sort((a, b) => a - b), this.reports());
  }

  /** What the membership record says about each running partition (for the cluster view). */
  private reports(): PartitionReport[] {
    const epochs = this.epochs();
    return (this.options.host.reports?.() ?? []).flatMap((r) => {
      const epoch = epochs.get(r.partition);
      return epoch === undefined ? [] : [{ ...r, epoch }];
    });
  }

  /** Renews leases past half their life; drops the ones that are lost. */
  private async renewDue(all = false): Promise<void> {
    const { leases } = this.options;
    const due = [...this.held.values()].filter((s) => all || s.lease.expiresAt - this.now < leases.leaseMs / 2);
    await Promise.all(
      due.map(async (slot) => {
        const { partition } = slot.lease;
        // a lease past its own expiry may already be someone else's: stop before trying to renew
        const renewed = slot.lease.expiresAt <= this.now ? null : await leases.renew(slot.lease);
        if (this.held.get(partition) !== slot) return;
        if (renewed !== null) {
          slot.lease = renewed;
          this.options.host.renewed?.(partition, renewed.expiresAt);
          return;
        }
        this.lose(partition, slot, 'partition lease lost: abandoning the partition without further writes');
      }),
    );
  }

  private async startPartition(slot: Slot): Promise<void> {
    const { host, leases, logger } = this.options;
    const { partition, epoch } = slot.lease;
    try {
      await host.start(partition, epoch, slot.lease.expiresAt);
      // renewed while starting: the runner learns the newer expiry
      host.renewed?.(partition, slot.lease.expiresAt);
      if (this.held.get(partition) !== slot) {
        // lost while starting
        await host.stop(partition, true);
        return;
      }
      slot.state = 'running';
      this.rebalances++;
      logger.info({ partition, epoch }, 'partition started under lease');
    } catch (error) {
      logger.error({ partition, err: (error as Error).message }, 'partition did not start: releasing its lease');
      if (this.held.get(partition) === slot) this.held.delete(partition);
      await leases.release(slot.lease);
    }
  }

  /** Drain, checkpoint, then release: the next owner restores exactly where this one stopped. */
  private async handOver(partition: number, slot: Slot): Promise<void> {
    const { host, leases, logger } = this.options;
    slot.state = 'stopping';
    try {
      await host.stop(partition, false);
    } catch (error) {
      logger.error({ partition, err: (error as Error).message }, 'partition did not stop cleanly');
    }
    if (this.held.get(partition) !== slot) return;
    this.held.delete(partition);
    await leases.release(slot.lease);
    this.rebalances++;
    logger.info({ partition, epoch: slot.lease.epoch }, 'partition handed over');
  }

  /** Graceful stop: hands every partition over at once and leaves the membership. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    // a round stuck on a KV call must not keep the process from stopping (a SIGTERM that never ends)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([this.ticking, this.renewing]), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.leases.leaseMs)))]);
    clearTimeout(timer);
    await Promise.allSettled([...this.busy]);
    // the renewal timer is gone: a fresh lease term covers the last flushes and checkpoints
    await this.renewDue(true).catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message }, 'renewing leases before the hand-over failed'));
    await Promise.all([...this.held.entries()].map(([p, slot]) => this.handOver(p, slot)));
    await this.options.leases.deregister();
  }
}
