import type { Logger } from 'pino';
import { desiredPartitions } from '../cluster/leases.ts';
import type { AcquireAttempt, HeldLease, LeaseTable, PartitionReport } from '../cluster/leases.ts';

/** Where partitions run once their lease is held: runners on this thread or on partition threads. */
export interface PartitionHost {
  /** expiresAt: the lease's expiry on this process's clock; past it the partition writes nothing (see renewed). */
  start(partition: number, epoch: number, expiresAt: number): Promise<void>;
  /** The lease was renewed until `expiresAt`. */
  renewed?(partition: number, expiresAt: number): void;
  /**
   * abandon: the lease is lost, write nothing more; otherwise drain, flush and checkpoint. A stop
   * while the partition's start is under way cancels that start (it fails, and nothing consumes).
   */
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
  /**
   * Deadline of each KV call of the loop (default half a lease, at least 1 s): past it the call
   * counts as failed and the round or renewal is retried, so a reply that never comes (lost across
   * a NATS restart) cannot stop the loop.
   */
  callTimeoutMs?: number;
  /**
   * Deadline of a partition's start or graceful stop on the host (checkpoint restore, consumer
   * creation; flush and final checkpoint; default 90 s): a start past it is abandoned and its lease
   * released, to be taken again; a stop past it gives the lease up to expire.
   */
  startTimeoutMs?: number;
  now?: () => number;
}

type Slot = {
  lease: HeldLease;
  state: 'starting' | 'running' | 'stopping';
  /** A renewal still awaiting its answer: no second one is sent beside it (it would be refused). */
  renewal?: Promise<unknown>;
};

/** A call that had not settled by its deadline. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/**
 * `work`, or a DeadlineError naming `what` once `ms` have passed. Nothing cancels `work` itself:
 * callers that care about a late result handle it on `work`.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Keeps this worker's partitions in line with the cluster: every tick it refreshes its membership,
 * renews its leases (well inside their expiry; a failed renew or a lease past its expiry is lost
 * at once, and the partition is abandoned without another write), hands over the partitions that
 * rendezvous hashing gives to another live member (stop, checkpoint, then release), and acquires
 * the ones it should own that are free. Starting and stopping run beside the ticks, so a slow
 * checkpoint never delays the renewal of the other leases.
 *
 * Every KV call has a deadline (callTimeoutMs) and every start or stop one too (startTimeoutMs):
 * no single call that never settles can leave a partition unowned. The starts and stops of one
 * partition run one after the other on the host: a lease lost while its partition was starting and
 * taken again must not start a second runner beside the first (see onHost).
 */
export class OwnershipLoop {
  private readonly held = new Map<number, Slot>();
  /** The latest start or stop of each partition handed to the host (settled, never rejected). */
  private readonly hostWork = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  /** Wakes a round when a lease or member record this worker waits for expires before the next tick. */
  private wake: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /** A wake-up came during a round: another round runs as soon as it ends. */
  private roundAgain = false;
  private renewing: Promise<void> | null = null;
  private readonly busy = new Set<Promise<void>>();
  /** When the tick timer last fired, and how late (ms; an event loop held up by CPU work delays renewals). */
  private lastTickAt = 0;
  private tickLateMs = 0;
  /** The members the last round saw (to log who left). */
  private lastMembers = new Set<string>();
  private closed = false;
  /** Partitions moved in and out since the start (for logs and metrics). */
  rebalances = 0;

  constructor(private readonly options: OwnershipOptions) {}

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  private get tickMs(): number {
    return this.options.tickMs ?? Math.min(1000, Math.floor(this.options.leases.leaseMs / 4));
  }

  private get callTimeoutMs(): number {
    return this.options.callTimeoutMs ?? Math.max(1000, Math.floor(this.options.leases.leaseMs / 2));
  }

  private get startTimeoutMs(): number {
    // beyond the runner's own checkpoint-read retries (4 × 15 s): this is the last resort
    return this.options.startTimeoutMs ?? 90_000;
  }

  /** One KV call of the loop, failed if it has not settled within callTimeoutMs. */
  private kv<T>(work: Promise<T>, what: string): Promise<T> {
    return withDeadline(work, this.callTimeoutMs, what);
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
    await this.kv(this.options.leases.register([]), 'registering this worker');
    await this.tick();
    this.lastTickAt = Date.now();
    this.timer = setInterval(() => {
      this.tickLateMs = Date.now() - this.lastTickAt - this.tickMs;
      this.lastTickAt = Date.now();
      this.dropExpired();
      this.renewTick();
      void this.tick();
    }, this.tickMs);
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

  /** The lease is gone: forget it and abandon the partition at once (cancelling its start if it is starting). */
  private lose(partition: number, slot: Slot, message: string): void {
    const { logger, host } = this.options;
    logger.warn({ partition, epoch: slot.lease.epoch, state: slot.state, tickLateMs: this.tickLateMs, renewing: slot.renewal !== undefined }, message);
    this.held.delete(partition);
    this.rebalances++;
    this.track(this.onHost(partition, () => host.stop(partition, true), true).catch((error: unknown) => logger.error({ partition, err: errorText(error) }, 'abandoning partition failed')));
  }

  /**
   * Runs a start or stop of `partition` on the host once the previous one of that partition has
   * settled, so a start never overlaps an earlier start or stop of the same partition. It did: a
   * lease lost while its partition was still starting (a NATS restart failing the renewals) was
   * taken again at once, and when the first start was the slower one, its runner replaced the
   * second's on the host, the abandon meant for the first stopped the second, and the partition
   * stayed held, renewed and unconsumed for good. `cancels`: an abandon, which runs at once (the
   * host cancels a start under way) and which the next call waits for as well. A previous call
   * that has not settled within startTimeoutMs is waited for no longer.
   */
  private onHost(partition: number, call: () => Promise<void>, cancels = false): Promise<void> {
    const previous = this.hostWork.get(partition);
    const run = (async () => {
      if (previous !== undefined && !cancels) {
        await withDeadline(previous, this.startTimeoutMs, `the previous start or stop of partition ${partition}`).catch((error: unknown) =>
          this.options.logger.error({ partition, err: errorText(error) }, 'a start or stop of this partition hangs: going ahead without it'),
        );
      }
      await call();
    })();
    const mine = run.catch(() => undefined);
    // an abandon did not wait for the previous call: the next one waits for both (bounded, so a
    // call that never settles delays the partition's next start once, not every one after it)
    const settled =
      previous === undefined || !cancels ? mine : Promise.all([withDeadline(previous, this.startTimeoutMs, 'a previous call').catch(() => undefined), mine]).then(() => undefined);
    this.hostWork.set(partition, settled);
    void settled.then(() => {
      if (this.hostWork.get(partition) === settled) this.hostWork.delete(partition);
    });
    return run;
  }

  /**
   * Renewals run on their own, beside the rounds: a round lists members and acquires leases (several
   * KV calls, seconds under load), and renewals queued behind it expired (seen under load: a worker
   * losing and retaking its leases over and over, replaying from its checkpoints each time).
   */
  private renewTick(): void {
    if (this.renewing || this.closed) return;
    this.renewing = this.renewDue()
      .catch((error: unknown) => this.options.logger.warn({ err: errorText(error) }, 'lease renewal failed; retrying'))
      .finally(() => {
        this.renewing = null;
      });
  }

  /** One round; never overlaps itself. */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.round()
      .catch((error: unknown) => this.options.logger.warn({ err: errorText(error) }, 'lease round failed; retrying'))
      .finally(() => {
        this.ticking = null;
        if (this.roundAgain && !this.closed) {
          this.roundAgain = false;
          void this.tick();
        }
      });
    return this.ticking;
  }

  /**
   * Sets the wake-up for the moment `at` (this worker's clock) when a lease or member record it
   * waits for expires, if that comes before the next tick: a dead worker's partitions are taken
   * the moment they are free rather than up to a tick later.
   */
  private wakeAt(at: number): void {
    if (this.wake !== null) clearTimeout(this.wake);
    this.wake = null;
    const delay = at - this.now;
    if (this.closed || !Number.isFinite(delay) || delay >= this.tickMs) return;
    // a few ms past it: an entry expires when the clock passes its expiresAt
    this.wake = setTimeout(
      () => {
        this.wake = null;
        if (this.ticking) this.roundAgain = true;
        else void this.tick();
      },
      Math.max(20, delay + 5),
    );
  }

  private track(work: Promise<void>): void {
    this.busy.add(work);
    void work.finally(() => this.busy.delete(work));
  }

  private async round(): Promise<void> {
    if (this.closed) return;
    const { leases, partitions, logger } = this.options;
    const members = await this.kv(leases.members(), 'listing the members');
    const memberIds = new Set(members.map((m) => m.id));
    const gone = [...this.lastMembers].filter((id) => !memberIds.has(id));
    if (gone.length > 0) logger.info({ gone }, 'workers left the membership (deregistered, or their records expired)');
    this.lastMembers = memberIds;
    const desired = new Set(desiredPartitions(leases.self.id, members.map((m) => m.id), partitions));
    for (const [partition, slot] of this.held) {
      if (!desired.has(partition) && slot.state === 'running') this.track(this.handOver(partition, slot));
    }
    const wanted = [...desired].filter((p) => !this.held.has(p));
    // each acquisition on its own: one that fails or hangs costs its own partition this round,
    // not the leases the others took (a failed Promise.all dropped those, unused, until they expired)
    const attempts = await Promise.all(wanted.map((p) => this.attemptAcquire(p)));
    let nextExpiry = Infinity;
    const acquired: Array<{ partition: number; from?: string; expiredAgoMs?: number }> = [];
    for (const attempt of attempts) {
      if (attempt.lease === null) {
        if (attempt.heldUntil !== null) nextExpiry = Math.min(nextExpiry, attempt.heldUntil);
        continue;
      }
      const { lease } = attempt;
      if (this.closed || this.held.has(lease.partition)) {
        await this.kv(leases.release(lease), `releasing the lease of partition ${lease.partition}`).catch(() => undefined);
        continue;
      }
      const slot: Slot = { lease, state: 'starting' };
      this.held.set(lease.partition, slot);
      this.track(this.startPartition(slot));
      acquired.push(attempt.previous === undefined ? { partition: lease.partition } : { partition: lease.partition, from: attempt.previous.owner, expiredAgoMs: this.now - attempt.previous.expiresAt });
    }
    // a member that stopped refreshing its record leaves at its expiry: its partitions are ours then
    for (const m of members) if (m.id !== leases.self.id) nextExpiry = Math.min(nextExpiry, m.expiresAt);
    this.wakeAt(nextExpiry);
    if (acquired.length > 0) logger.info({ acquired: acquired.map((a) => a.partition), takenOver: acquired.filter((a) => a.from !== undefined) }, 'acquired partition leases');
    await this.kv(leases.register([...this.held.keys()].sort((a, b) => a - b), this.reports()), 'refreshing the membership record');
  }

  /** tryAcquire within the call deadline; a lease it takes after the deadline is given back. */
  private async attemptAcquire(partition: number): Promise<AcquireAttempt> {
    const { leases, logger } = this.options;
    const attempt = leases.tryAcquire(partition);
    try {
      return await this.kv(attempt, `acquiring the lease of partition ${partition}`);
    } catch (error) {
      if (error instanceof DeadlineError) {
        // not cancelled by the deadline: a lease it takes late is released, not left to expire unused
        void attempt.then((late) => (late.lease === null ? undefined : leases.release(late.lease))).catch(() => undefined);
      }
      logger.warn({ partition, err: errorText(error) }, 'lease acquisition failed; retrying next round');
      return { lease: null, heldUntil: null };
    }
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
    await Promise.all(due.map((slot) => this.renewOne(slot)));
  }

  private async renewOne(slot: Slot): Promise<void> {
    const { leases, logger } = this.options;
    const { partition } = slot.lease;
    // a lease past its own expiry may already be someone else's: stop before trying to renew
    if (slot.lease.expiresAt <= this.now) {
      if (this.held.get(partition) === slot) this.lose(partition, slot, 'partition lease lost: abandoning the partition without further writes');
      return;
    }
    if (slot.renewal !== undefined) return;
    const before = slot.lease;
    const renewal = leases.renew(before);
    slot.renewal = renewal;
    void renewal
      .catch(() => undefined)
      .finally(() => {
        if (slot.renewal === renewal) slot.renewal = undefined;
      });
    const adopt = (renewed: HeldLease): void => {
      slot.lease = renewed;
      this.options.host.renewed?.(partition, renewed.expiresAt);
    };
    let renewed: HeldLease | null;
    try {
      renewed = await this.kv(renewal, `renewing the lease of partition ${partition}`);
    } catch (error) {
      // no answer is not a refusal (NATS restarting, a reply lost): the lease is still ours until
      // its expiry, and the update may yet land. Adopted if it does; else the next renewal tries
      // again, and the expiry check abandons the partition if none gets through in time
      logger.warn({ partition, err: errorText(error), expiresInMs: slot.lease.expiresAt - this.now }, 'lease renewal got no answer; retrying until the lease expires');
      void renewal
        .then((late) => {
          if (late !== null && this.held.get(partition) === slot && slot.lease === before) adopt(late);
        })
        .catch(() => undefined);
      return;
    }
    if (this.held.get(partition) !== slot) return;
    if (renewed !== null) {
      adopt(renewed);
      return;
    }
    this.lose(partition, slot, 'partition lease lost: abandoning the partition without further writes');
  }

  private async startPartition(slot: Slot): Promise<void> {
    const { host, leases, logger } = this.options;
    const { partition, epoch } = slot.lease;
    const began = Date.now();
    try {
      await withDeadline(
        this.onHost(partition, () => host.start(partition, epoch, slot.lease.expiresAt)),
        this.startTimeoutMs,
        `starting partition ${partition}`,
      );
    } catch (error) {
      if (this.held.get(partition) !== slot) {
        // the lease was lost while the partition started, and lose() cancelled the start
        logger.info({ partition, epoch, err: errorText(error) }, 'partition start ended: its lease was lost meanwhile');
        return;
      }
      logger.error({ partition, err: errorText(error) }, 'partition did not start: abandoning it and releasing its lease');
      // a start past its deadline may still be under way: cancelled (the host fails it)
      this.track(this.onHost(partition, () => host.stop(partition, true), true).catch(() => undefined));
      this.held.delete(partition);
      await this.kv(leases.release(slot.lease), `releasing the lease of partition ${partition}`).catch(() => undefined);
      return;
    }
    // renewed while starting: the runner learns the newer expiry
    host.renewed?.(partition, slot.lease.expiresAt);
    // lost while starting (and abandoned: see lose)
    if (this.held.get(partition) !== slot || slot.state !== 'starting') return;
    slot.state = 'running';
    this.rebalances++;
    logger.info({ partition, epoch, startMs: Date.now() - began }, 'partition started under lease');
  }

  /** Drain, checkpoint, then release: the next owner restores exactly where this one stopped. */
  private async handOver(partition: number, slot: Slot): Promise<void> {
    const { host, leases, logger } = this.options;
    slot.state = 'stopping';
    try {
      await withDeadline(
        this.onHost(partition, () => host.stop(partition, false)),
        this.startTimeoutMs,
        `stopping partition ${partition}`,
      );
    } catch (error) {
      logger.error({ partition, err: errorText(error) }, 'partition did not stop cleanly');
      if (error instanceof DeadlineError && this.held.get(partition) === slot) {
        // its last writes may still be under way: not released, the lease is left to expire (the
        // runner writes nothing past it), and the next owner takes it then
        this.held.delete(partition);
        return;
      }
    }
    if (this.held.get(partition) !== slot) return;
    this.held.delete(partition);
    await this.kv(leases.release(slot.lease), `releasing the lease of partition ${partition}`).catch((error: unknown) =>
      logger.warn({ partition, err: errorText(error) }, 'releasing a handed-over lease failed: it expires on its own'),
    );
    this.rebalances++;
    logger.info({ partition, epoch: slot.lease.epoch }, 'partition handed over');
  }

  /** Graceful stop: hands every partition over at once and leaves the membership. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.wake) clearTimeout(this.wake);
    // a round stuck on a KV call must not keep the process from stopping (a SIGTERM that never ends)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([this.ticking, this.renewing]), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.leases.leaseMs)))]);
    clearTimeout(timer);
    await Promise.allSettled([...this.busy]);
    // the renewal timer is gone: a fresh lease term covers the last flushes and checkpoints
    await this.renewDue(true).catch((error: unknown) => this.options.logger.warn({ err: errorText(error) }, 'renewing leases before the hand-over failed'));
    await Promise.all([...this.held.entries()].map(([p, slot]) => this.handOver(p, slot)));
    await this.kv(this.options.leases.deregister(), 'leaving the membership').catch(() => undefined);
  }
}
