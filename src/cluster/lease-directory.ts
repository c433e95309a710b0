/**
 * A read-only view of partition ownership: follows the DRIFT_LEASES bucket (membership records and
 * partition leases, written by workers: see leases.ts) and answers who the live members are, who
 * owns each partition at which epoch since when, and which ownership changes it has seen. Gateways
 * use it to judge pane messages (a pane from no known owner, or written after its partition moved,
 * is refused) and to serve the cluster view.
 *
 * It reads the bucket's stream with a LiveConsumer rather than a KV watch, so it stays live across
 * NATS restarts like every other consumer here. The state is a pure fold of KV entries
 * (`LeaseDirectoryState.apply`), testable without NATS.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { StreamMessage } from './stream-message.ts';
import type { Logger } from 'pino';
import { LEASES_BUCKET } from './subjects.ts';
import { LiveConsumer } from './live-consumer.ts';
import type { LeaseRecord, MemberRecord } from './leases.ts';

/** One KV entry as the directory folds it. */
export interface DirectoryEntry {
  key: string;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  /** Server time the entry was stored (epoch ms). */
  storedAt: number;
  value: Uint8Array;
}

export interface DirectoryLease {
  partition: number;
  owner: string;
  instance: string;
  /** The revision the lease was acquired at. */
  epoch: number;
  /** Server time of the acquisition (epoch ms); null when neither seen nor reported by the owner. */
  acquiredAt: number | null;
  expiresAt: number;
  /** The owner stamps panes and checkpoints with its id and this epoch. */
  fenced: boolean;
}

export interface DirectoryMember extends MemberRecord {
  /** Server time of the member's last refresh (epoch ms). */
  lastSeen: number;
}

/** An ownership change seen: `from` and `to` are worker ids, null for a released or new lease. */
export interface OwnershipChange {
  partition: number;
  at: number;
  from: string | null;
  to: string | null;
  epoch: number | null;
}

const MEMBER_PREFIX = 'member.';
const LEASE_PREFIX = 'lease.';

function parse<T>(bytes: Uint8Array): T | null {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === 'object' && value !== null ? (value as T) : null;
  } catch {
    return null;
  }
}

/** The fold of DRIFT_LEASES entries in stream order. */
export class LeaseDirectoryState {
  private readonly memberMap = new Map<string, DirectoryMember>();
  private readonly leaseMap = new Map<number, DirectoryLease>();
  private readonly changeLog: OwnershipChange[] = [];
  /** Partitions a fencing worker's lease was seen for (kept after the lease is released or expires). */
  private readonly fencedPartitions = new Set<number>();
  /** Highest bucket revision folded: every epoch ever granted is at or below it. */
  lastRevision = 0;

  constructor(
    private readonly maxChanges = 100,
    private readonly now: () => number = Date.now,
  ) {}

  apply(entry: DirectoryEntry): void {
    this.lastRevision = Math.max(this.lastRevision, entry.revision);
    if (entry.key.startsWith(MEMBER_PREFIX)) this.applyMember(entry.key.slice(MEMBER_PREFIX.length), entry);
    else if (entry.key.startsWith(LEASE_PREFIX)) this.applyLease(Number(entry.key.slice(LEASE_PREFIX.length)), entry);
  }

  private applyMember(id: string, entry: DirectoryEntry): void {
    if (entry.operation !== 'PUT') {
      this.memberMap.delete(id);
      return;
    }
    const record = parse<MemberRecord>(entry.value);
    if (record === null || record.id !== id || !Array.isArray(record.owned)) return;
    this.memberMap.set(id, { ...record, lastSeen: entry.storedAt });
  }

  private applyLease(partition: number, entry: DirectoryEntry): void {
    if (!Number.isSafeInteger(partition) || partition < 0) return;
    const previous = this.leaseMap.get(partition);
    if (entry.operation !== 'PUT') {
      if (previous !== undefined) {
        this.leaseMap.delete(partition);
        this.record({ partition, at: entry.storedAt, from: previous.owner, to: null, epoch: null });
      }
      return;
    }
    const record = parse<LeaseRecord>(entry.value);
    if (record === null || typeof record.owner !== 'string' || typeof record.instance !== 'string') return;
    const fenced = record.fenced === true;
    const sameHolder = previous !== undefined && previous.owner === record.owner && previous.instance === record.instance;
    // a fencing worker's renewal names its epoch, so its write without one is an acquisition (also when
    // the same worker retakes its own lapsed lease), whose own revision is the epoch. An older worker's
    // renewals name none: the same holder keeps its epoch
    const epoch = typeof record.epoch === 'number' ? record.epoch : sameHolder && !fenced ? previous.epoch : entry.revision;
    const acquiredAt = epoch === entry.revision ? entry.storedAt : typeof record.acquiredAt === 'number' ? record.acquiredAt : sameHolder && previous.epoch === epoch ? previous.acquiredAt : null;
    const lease: DirectoryLease = { partition, owner: record.owner, instance: record.instance, epoch, acquiredAt, expiresAt: Number(record.expiresAt), fenced };
    this.leaseMap.set(partition, lease);
    if (fenced) this.fencedPartitions.add(partition);
    if (previous === undefined || previous.epoch !== epoch) {
      this.record({ partition, at: acquiredAt ?? entry.storedAt, from: previous?.owner ?? null, to: record.owner, epoch });
    }
  }

  private record(change: OwnershipChange): void {
    this.changeLog.push(change);
    if (this.changeLog.length > this.maxChanges) this.changeLog.splice(0, this.changeLog.length - this.maxChanges);
  }

  /** Members whose record has not expired, by id. */
  members(): DirectoryMember[] {
    const now = this.now();
    return [...this.memberMap.values()].filter((m) => m.expiresAt > now).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A member record still in the bucket (expired or not): the worker took part in the cluster. */
  knows(worker: string): boolean {
    return this.memberMap.has(worker);
  }

  /** The partition's lease as last written (possibly past its expiry: nobody has taken it over yet). */
  lease(partition: number): DirectoryLease | undefined {
    return this.leaseMap.get(partition);
  }

  /**
   * A fencing worker holds or has held the partition's lease, as far as this directory has seen (the
   * bucket's entries when it opened, and every write since): its panes carry worker and epoch.
   */
  everFenced(partition: number): boolean {
    return this.fencedPartitions.has(partition);
  }

  /** Some fencing worker's lease was seen: the deployment uses leases, and its panes carry worker and epoch. */
  get fencing(): boolean {
    return this.fencedPartitions.size > 0;
  }

  leases(): DirectoryLease[] {
    return [...this.leaseMap.values()].sort((a, b) => a.partition - b.partition);
  }

  /** Ownership changes seen, oldest first (at most maxChanges). */
  changes(): OwnershipChange[] {
    return [...this.changeLog];
  }
}

export interface LeaseDirectoryOptions {
  logger: Logger;
  /** Ownership changes kept (default 100). */
  maxChanges?: number;
  /** How long open() waits for the bucket's current entries (default 10 s). */
  syncTimeoutMs?: number;
}

/** LeaseDirectoryState kept current from the DRIFT_LEASES stream. */
export class LeaseDirectory extends LeaseDirectoryState {
  private consumer: LiveConsumer | null = null;
  private lastSeq = 0;

  private constructor(maxChanges: number) {
    super(maxChanges);
  }

  /** Follows the bucket; resolves once the entries present at the start are folded in (or the timeout passed). */
  static async open(nc: NatsConnection, options: LeaseDirectoryOptions): Promise<LeaseDirectory> {
    const directory = new LeaseDirectory(options.maxChanges ?? 100);
    const stream = `KV_${LEASES_BUCKET}`;
    const info = await (await jetstream(nc).jetstreamManager()).streams.info(stream);
    const target = info.state.last_seq;
    let synced: () => void = () => undefined;
    const caughtUp = new Promise<void>((resolve) => (synced = resolve));
    if (info.state.messages === 0) synced();
    directory.consumer = new LiveConsumer({
      nc,
      stream,
      nextSeq: () => directory.lastSeq + 1,
      onMessage: (msg) => {
        directory.fold(msg);
        if (msg.seq >= target || msg.pending === 0) synced();
      },
      logger: options.logger,
      maxMessages: 256,
    });
    await directory.consumer.start();
    const timeoutMs = options.syncTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([caughtUp, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return directory;
  }

  private fold(msg: StreamMessage): void {
    this.lastSeq = msg.seq;
    const prefix = `$KV.${LEASES_BUCKET}.`;
    if (!msg.subject.startsWith(prefix)) return;
    const op = msg.headers?.get('KV-Operation');
    this.apply({
      key: msg.subject.slice(prefix.length),
      revision: msg.seq,
      operation: op === 'DEL' ? 'DEL' : op === 'PURGE' ? 'PURGE' : 'PUT',
      storedAt: msg.storedAtMs,
      value: msg.data,
    });
  }

  /** The directory's consumer is receiving (false while NATS is away). */
  get live(): boolean {
    return this.consumer?.live ?? false;
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}
