/**
 * The cluster as a gateway sees it, for `GET /v1/cluster` (and the WebSocket `cluster` topic): the
 * live workers, every partition's owner and lease epoch with the lag and checkpoint age its owner
 * reports, the ownership changes the lease directory has seen, and the panes this gateway refused
 * by fencing. Plain data, computed on demand from the directory's current state.
 */
import type { DirectoryLease, DirectoryMember, OwnershipChange } from '../cluster/lease-directory.ts';
import type { FenceReason } from './pane-fence.ts';

export interface ClusterWorker {
  id: string;
  host: string;
  /** When the worker process started (ISO 8601, its own clock). */
  startedAt: string;
  owned: number[];
  /** Server time of its last membership refresh (epoch ms). */
  lastSeenAt: number;
}

export interface ClusterPartition {
  partition: number;
  /** The lease holder; null when no lease is held. */
  owner: string | null;
  epoch: number | null;
  /** Server time the lease was acquired (epoch ms), when known. */
  acquiredAt: number | null;
  /** The lease is past its expiry and nobody has taken it over yet (its owner stopped renewing). */
  expired: boolean;
  /** Messages not yet consumed, as the owner last reported (null: no report). */
  lag: number | null;
  /** Last stream sequence applied, as the owner last reported. */
  seq: number | null;
  /** Age of the partition's last checkpoint (ms), and its size. */
  checkpointAgeMs: number | null;
  checkpointBytes: number | null;
}

export interface ClusterSnapshot {
  /** When the snapshot was taken (epoch ms). */
  at: number;
  /** The lease directory's consumer is receiving (false while NATS is away: figures may be stale). */
  live: boolean;
  workers: ClusterWorker[];
  partitions: ClusterPartition[];
  /** Ownership changes seen since this gateway started (bounded, oldest first). */
  rebalances: OwnershipChange[];
  /** Pane messages this gateway refused by fencing, in total and by reason. */
  fencedPanes: { total: number; byReason: Record<FenceReason, number> };
}

/** What the view reads: the lease directory (src/cluster/lease-directory.ts). */
export interface ClusterDirectory {
  members(): DirectoryMember[];
  leases(): DirectoryLease[];
  changes(): OwnershipChange[];
  readonly live?: boolean;
}

export interface ClusterViewOptions {
  directory: ClusterDirectory;
  /** The partition count (DRIFT_META); unknown, partitions are those with a lease or a report. */
  partitions?: number;
  /** The changelog's fence, for the refused-pane counts. */
  fence?: { refusedBy: Record<FenceReason, number> };
  now?: () => number;
}

export class ClusterView {
  constructor(private readonly options: ClusterViewOptions) {}

  snapshot(): ClusterSnapshot {
    const { directory, fence } = this.options;
    const now = (this.options.now ?? Date.now)();
    const members = directory.members();
    const leases = new Map(directory.leases().map((l) => [l.partition, l]));
    const reports = new Map<number, NonNullable<DirectoryMember['partitions']>[number] & { worker: string }>();
    for (const m of members) for (const r of m.partitions ?? []) reports.set(r.partition, { ...r, worker: m.id });
    const count = this.options.partitions ?? Math.max(0, ...[...leases.keys(), ...reports.keys()].map((p) => p + 1));
    const partitions: ClusterPartition[] = [];
    for (let p = 0; p < count; p++) {
      const lease = leases.get(p);
      const report = reports.get(p);
      // a report counts only from the lease holder at its epoch (a worker that lost it may still list it)
      const current = report !== undefined && lease !== undefined && report.worker === lease.owner && report.epoch === lease.epoch ? report : undefined;
      partitions.push({
        partition: p,
        owner: lease?.owner ?? null,
        epoch: lease?.epoch ?? null,
        acquiredAt: lease?.acquiredAt ?? null,
        expired: lease !== undefined && lease.expiresAt <= now,
        lag: current?.lag ?? null,
        seq: current?.seq ?? null,
        checkpointAgeMs: current?.checkpointAt == null ? null : Math.max(0, now - current.checkpointAt),
        checkpointBytes: current?.checkpointBytes ?? null,
      });
    }
    const byReason = { stale_epoch: 0, not_owner: 0, after_handover: 0, unknown_owner: 0, unfenced: 0, ...fence?.refusedBy };
    return {
      at: now,
      live: directory.live ?? true,
      workers: members.map((m) => ({ id: m.id, host: m.host, startedAt: m.startedAt, owned: [...m.owned].sort((a, b) => a - b), lastSeenAt: m.lastSeen })),
      partitions,
      rebalances: directory.changes(),
      fencedPanes: { total: Object.values(byReason).reduce((a, b) => a + b, 0), byReason },
    };
  }
}
