/**
 * Partition ownership on NATS KV (the DRIFT_LEASES bucket): worker membership records and one lease
 * per partition, in the pattern the NATS maintainers describe (nats-server#3375): acquire with
 * `create`, renew with `update(key, value, revision)`, and a failed renew means the lease is lost.
 * KV TTLs misbehaved on some 2.9 R3 setups (nats-server#3653), so the bucket's TTL is only a
 * backstop: every value carries its own expiry time, and an entry past it is free to take over
 * (with an update on its revision, so exactly one contender wins).
 *
 * The revision at which a worker acquired a lease is its epoch for that partition: it only grows,
 * so anything written under an older epoch can be recognised as stale.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import { jetstream, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { LEASES_BUCKET } from './subjects.ts';

/** Who a worker is, as recorded in its membership entry and in the leases it holds. */
export interface WorkerIdentity {
  id: string;
  /** Distinguishes two runs of the same worker id (a restart): random per process. */
  instance: string;
  host: string;
  startedAt: string;
}

/** What a worker publishes about one partition it runs, in its membership record (for the cluster view). */
export interface PartitionReport {
  partition: number;
  epoch: number;
  /** Messages of the partition not yet consumed (the consumer's pending count). */
  lag: number;
  /** Last stream sequence applied. */
  seq: number;
  /** Epoch ms of the last checkpoint written (or restored), null before the first. */
  checkpointAt: number | null;
  checkpointBytes: number | null;
}

export interface MemberRecord extends WorkerIdentity {
  owned: number[];
  /** Epoch ms after which the member counts as gone, whatever the bucket's TTL does. */
  expiresAt: number;
  /** Per-partition lag and checkpoint figures (absent in records of older workers). */
  partitions?: PartitionReport[];
}

export interface LeaseRecord {
  owner: string;
  instance: string;
  expiresAt: number;
  /**
   * The lease's epoch (the revision it was acquired at) and the server time of that acquisition:
   * written on every renewal (the acquiring write cannot know its own revision), so a reader that
   * starts watching mid-lease learns both. Absent in the acquiring write and in older workers' leases.
   */
  epoch?: number;
  acquiredAt?: number;
  /** Set by workers that stamp their panes and checkpoints with worker id and epoch. */
  fenced?: true;
}

/** A lease this worker holds. */
export interface HeldLease {
  partition: number;
  /** The revision the lease was acquired at: the partition's epoch under this owner. */
  epoch: number;
  /** The latest revision written (renewals move it; the next renew must name it). */
  revision: number;
  expiresAt: number;
  /** Server time (epoch ms) the lease was acquired at, when known. */
  acquiredAt?: number;
}

/** What an attempt to take a lease found: the lease, or (when known) until when its holder has it. */
export type AcquireAttempt = { lease: HeldLease; previous?: PreviousHolder } | { lease: null; heldUntil: number | null };

/** Whose lease an acquisition took over, and when it had expired (its holder's clock): for failover logs. */
export interface PreviousHolder {
  owner: string;
  expiresAt: number;
}

const MEMBER_PREFIX = 'member.';
const LEASE_PREFIX = 'lease.';

export const memberKey = (id: string): string => `${MEMBER_PREFIX}${id}`;
export const leaseKey = (partition: number): string => `${LEASE_PREFIX}${partition}`;

function score(member: string, partition: number): bigint {
  return createHash('sha256').update(`${member}\u0000${partition}`).digest().readBigUInt64BE(0);
}

/**
 * Rendezvous (highest random weight) hashing: each partition goes to the member with the highest
 * hash of (member, partition). Every member computes the same answer from the same member list,
 * and a member joining or leaving moves only the partitions it wins or held (about 1/N).
 */
export function rendezvousOwner(partition: number, members: readonly string[]): string | null {
  return rankMembers(partition, members)[0] ?? null;
}

function rankMembers(partition: number, members: readonly string[]): string[] {
  return members
    .map((m) => ({ m, s: score(m, partition) }))
    .sort((a, b) => (a.s === b.s ? (a.m < b.m ? -1 : 1) : a.s > b.s ? -1 : 1))
    .map((x) => x.m);
}

/**
 * Balanced rendezvous: plain rendezvous hashing is only even on average (16 partitions over 2
 * workers can split 5/11), so each member gets a quota (floor or ceil of count / members, the
 * ceil going to the first members by id) and a partition whose top choices are full goes to its
 * next choice. Still a pure function of the member list: every member agrees, and a join or leave
 * moves few more than the 1/N partitions it must.
 */
export function assignPartitions(members: readonly string[], count: number): Map<number, string> {
  const sorted = [...new Set(members)].sort();
  const assignment = new Map<number, string>();
  if (sorted.length === 0) return assignment;
  const base = Math.floor(count / sorted.length);
  const quota = new Map(sorted.map((m, i) => [m, base + (i < count % sorted.length ? 1 : 0)]));
  for (let p = 0; p < count; p++) {
    for (const m of rankMembers(p, sorted)) {
      const left = quota.get(m) ?? 0;
      if (left > 0) {
        quota.set(m, left - 1);
        assignment.set(p, m);
        break;
      }
    }
  }
  return assignment;
}

/** The partitions `self` should own among `count`, given the live members (self included). */
export function desiredPartitions(self: string, members: readonly string[], count: number): number[] {
  const all = members.includes(self) ? members : [...members, self];
  return [...assignPartitions(all, count)].filter(([, m]) => m === self).map(([p]) => p);
}

function parseJson<T>(bytes: Uint8Array): T | null {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    return null;
  }
}

const encode = (value: object): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** Membership and leases of one worker, on the DRIFT_LEASES bucket. All I/O is here. */
export class LeaseTable {
  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    readonly self: WorkerIdentity,
    readonly leaseMs: number,
    private readonly now: () => number,
  ) {}

  static async open(nc: NatsConnection, self: WorkerIdentity, leaseMs: number, now: () => number = Date.now): Promise<LeaseTable> {
    const kv = await new Kvm(nc).open(LEASES_BUCKET);
    return new LeaseTable(kv, await jetstream(nc).jetstreamManager(), self, leaseMs, now);
  }

  /** Writes (or refreshes) this worker's membership record. */
  async register(owned: number[], partitions: PartitionReport[] = []): Promise<void> {
    const record: MemberRecord = { ...this.self, owned, expiresAt: this.now() + this.leaseMs, partitions };
    await this.kv.put(memberKey(this.self.id), encode(record));
  }

  async deregister(): Promise<void> {
    await this.kv.delete(memberKey(this.self.id)).catch(() => undefined);
  }

  /** Membership records not past their expiry. */
  async members(): Promise<MemberRecord[]> {
    const now = this.now();
    // the keys from one stream-info request (bounded by its timeout), not kv.keys(): that iterates
    // an ephemeral consumer, and one lost while this process was paused (SIGSTOP, a stall) never
    // ends, which froze the lease loop for good
    const prefix = `$KV.${LEASES_BUCKET}.`;
    const info = await this.jsm.streams.info(`KV_${LEASES_BUCKET}`, { subjects_filter: `${prefix}${MEMBER_PREFIX}>` });
    const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
    const records = await Promise.all(keys.map((k) => this.kv.get(k)));
    const live: MemberRecord[] = [];
    for (const entry of records) {
      if (entry === null || entry.operation !== 'PUT') continue;
      const record = parseJson<MemberRecord>(entry.value);
      if (record !== null && typeof record.id === 'string' && record.expiresAt > now) live.push(record);
    }
    return live;
  }

  /** Current holder of a partition's lease, if any is unexpired. */
  async holder(partition: number): Promise<LeaseRecord | null> {
    const entry = await this.kv.get(leaseKey(partition));
    if (entry === null || entry.operation !== 'PUT') return null;
    const record = parseJson<LeaseRecord>(entry.value);
    return record !== null && record.expiresAt > this.now() ? record : null;
  }

  private value(expiresAt: number, held?: HeldLease): Uint8Array {
    const record: LeaseRecord = { owner: this.self.id, instance: this.self.instance, expiresAt, fenced: true };
    if (held !== undefined) {
      record.epoch = held.epoch;
      if (held.acquiredAt !== undefined) record.acquiredAt = held.acquiredAt;
    }
    return encode(record);
  }

  /** The lease as acquired at `revision`, with the server time of that write when it can be read back. */
  private async acquired(partition: number, revision: number, expiresAt: number): Promise<HeldLease> {
    const lease: HeldLease = { partition, epoch: revision, revision, expiresAt };
    const entry = await this.kv.get(leaseKey(partition)).catch(() => null);
    if (entry !== null && entry.revision === revision) lease.acquiredAt = entry.created.getTime();
    return lease;
  }

  /**
   * Takes a partition's lease if it is free: absent, deleted, past its expiry, or left by an earlier
   * run of this same worker id (which cannot still be alive: see the worker's id). Null when
   * another worker holds it or won the race.
   */
  async acquire(partition: number): Promise<HeldLease | null> {
    return (await this.tryAcquire(partition)).lease;
  }

  /**
   * As acquire, and when the lease is held by someone else, until when (by the holder's word):
   * the caller can try again the moment it expires instead of on its next round.
   */
  async tryAcquire(partition: number): Promise<AcquireAttempt> {
    const key = leaseKey(partition);
    const expiresAt = this.now() + this.leaseMs;
    const entry = await this.kv.get(key);
    try {
      if (entry === null || entry.operation !== 'PUT') {
        const revision = await this.kv.create(key, this.value(expiresAt));
        return { lease: await this.acquired(partition, revision, expiresAt) };
      }
      const held = parseJson<LeaseRecord>(entry.value);
      const free = held === null || held.expiresAt <= this.now() || (held.owner === this.self.id && held.instance !== this.self.instance);
      if (!free) return { lease: null, heldUntil: held.expiresAt };
      const revision = await this.kv.update(key, this.value(expiresAt), entry.revision);
      const lease = await this.acquired(partition, revision, expiresAt);
      return held === null ? { lease } : { lease, previous: { owner: held.owner, expiresAt: held.expiresAt } };
    } catch {
      // someone else wrote the key between our read and our write: theirs
      return { lease: null, heldUntil: null };
    }
  }

  /**
   * Extends a held lease; null when it was lost: the update was refused because the key changed
   * since our last write (another owner took it, or a NATS restart lost our last renewal). Throws
   * when there was no answer (NATS unreachable, JetStream still recovering): the lease may still be
   * ours until its expiry, and the caller tries again. Treating no answer as a loss abandoned every
   * partition of every worker on each NATS restart, and restarted them all from their checkpoints.
   */
  async renew(lease: HeldLease): Promise<HeldLease | null> {
    const expiresAt = this.now() + this.leaseMs;
    try {
      const revision = await this.kv.update(leaseKey(lease.partition), this.value(expiresAt, lease), lease.revision);
      return { ...lease, revision, expiresAt };
    } catch (error) {
      if (error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) return null;
      throw error;
    }
  }

  /** Gives a lease up at once (only if still ours, at the revision we last wrote). */
  async release(lease: HeldLease): Promise<void> {
    await this.kv.delete(leaseKey(lease.partition), { previousSeq: lease.revision }).catch(() => undefined);
  }
}
