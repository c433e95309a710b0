/**
 * Fencing on the gateway's side of the pane changelog: decides, message by message in stream order,
 * whether a pane state may be folded into the windows, from the worker id and lease epoch it carries
 * (src/contract/pane-wire.ts) and what the lease directory knows about the partition.
 *
 * Refused:
 * - a pane of an older epoch than the newest seen for its partition in the stream (its owner lost
 *   the lease; DRIFT_PANES is one total order, so every legitimate pane of an older owner precedes
 *   the first pane of the newer one);
 * - a pane of the partition's current epoch from another worker than the lease holder;
 * - a pane of an older epoch than the current lease, stored after that lease was acquired (the
 *   stale owner wrote after losing its lease, before the new owner's first pane): compared on the
 *   server's clock, with `skewMs` of tolerance for servers of a cluster;
 * - a pane of an epoch newer than the directory knows from a worker that is not a member (no known
 *   owner: forged). A member's newer epoch is accepted: the new owner's first panes may arrive
 *   before the directory reports its lease;
 * - in a deployment whose workers fence (the directory has seen a fencing worker's lease), a pane
 *   without worker and epoch (an older worker, or a forger): `unfenced` when a fencing worker holds
 *   or has held the partition's lease, or wrote a pane of it earlier in the stream; `unknown_owner`
 *   when nobody ever held it. Closed by default: neither the lease's expiry (the directory's view
 *   of it lags behind renewals on a loaded gateway) nor an unknown acquisition time lets one in.
 *   Accepted only when an older, non-fencing worker holds the lease, or as history: stored before
 *   the current fencing lease was acquired (its time known) and before any fenced pane of the
 *   partition. Without a fencing deployment (a manual partition list or `npm start`, which take no
 *   leases and stamp no worker or epoch; older workers only) such panes are accepted: nothing could
 *   judge them. A switch from leases to a manual list needs the gateways restarted once the lease
 *   entries have aged out of the bucket.
 *
 * Panes of epochs older than the current lease stored before it (history, replayed by a starting
 * gateway) are accepted: the directory keeps only the current lease, and stream order fences them.
 * The epoch is also part of the pane subject, so a stale owner's publish never replaces the newer
 * owner's state in DRIFT_PANES (which keeps one message per subject).
 */
import type { PaneMessage } from '../contract/pane-wire.ts';
import type { DirectoryLease } from '../cluster/lease-directory.ts';

/** What the fence asks of the lease directory. */
export interface OwnershipOracle {
  lease(partition: number): DirectoryLease | undefined;
  /** The worker has a membership record (it took part in the cluster). */
  knows(worker: string): boolean;
  /** A fencing worker holds or has held the partition's lease (as far as the directory has seen). */
  everFenced(partition: number): boolean;
  /** Some fencing worker's lease was seen: the deployment's panes carry worker and epoch. */
  readonly fencing: boolean;
  /** Highest bucket revision seen: no epoch above it has been granted yet, as far as the directory knows. */
  readonly lastRevision: number;
}

export type FenceReason = 'stale_epoch' | 'not_owner' | 'after_handover' | 'unknown_owner' | 'unfenced';

export interface FenceRefusal {
  reason: FenceReason;
  detail: string;
}

export interface PaneFenceOptions {
  /** Tolerance between the clocks of the servers storing leases and panes (default 1000 ms). */
  skewMs?: number;
}

export class PaneFence {
  private readonly newest = new Map<number, { epoch: number; worker: string }>();
  private readonly skewMs: number;
  /** Panes refused, by reason. */
  readonly refusedBy: Record<FenceReason, number> = { stale_epoch: 0, not_owner: 0, after_handover: 0, unknown_owner: 0, unfenced: 0 };

  constructor(
    private readonly directory?: OwnershipOracle,
    options: PaneFenceOptions = {},
  ) {
    this.skewMs = options.skewMs ?? 1000;
  }

  get refused(): number {
    return Object.values(this.refusedBy).reduce((a, b) => a + b, 0);
  }

  /** The newest epoch (and its worker) accepted for a partition. */
  newestOf(partition: number): { epoch: number; worker: string } | undefined {
    return this.newest.get(partition);
  }

  /**
   * Null to fold the pane in (and the epoch is remembered), or why it is refused.
   * `storedAt` is the server time the message was stored (epoch ms).
   */
  check(message: Pick<PaneMessage, 'partition' | 'worker' | 'epoch'>, storedAt: number): FenceRefusal | null {
    const refusal = this.judge(message, storedAt);
    if (refusal !== null) {
      this.refusedBy[refusal.reason]++;
      return refusal;
    }
    const { partition, worker, epoch } = message;
    if (worker !== undefined && epoch !== undefined && (this.newest.get(partition)?.epoch ?? 0) < epoch) this.newest.set(partition, { epoch, worker });
    return null;
  }

  private judge({ partition, worker, epoch }: Pick<PaneMessage, 'partition' | 'worker' | 'epoch'>, storedAt: number): FenceRefusal | null {
    const newest = this.newest.get(partition);
    const lease = this.directory?.lease(partition);
    if (worker === undefined || epoch === undefined) return this.judgeUnfenced(partition, newest, lease, storedAt);
    if (newest !== undefined && epoch < newest.epoch) return { reason: 'stale_epoch', detail: `epoch ${epoch} of ${worker} is older than epoch ${newest.epoch} of ${newest.worker}` };
    if (newest !== undefined && epoch === newest.epoch && worker !== newest.worker) return { reason: 'not_owner', detail: `epoch ${epoch} belongs to ${newest.worker}, not ${worker}` };
    if (this.directory === undefined) return null;
    if (lease !== undefined) {
      if (epoch === lease.epoch) return worker === lease.owner ? null : { reason: 'not_owner', detail: `epoch ${epoch} belongs to ${lease.owner}, not ${worker}` };
      if (epoch < lease.epoch) {
        if (lease.acquiredAt !== null && storedAt > lease.acquiredAt + this.skewMs) {
          return { reason: 'after_handover', detail: `${worker} wrote under epoch ${epoch} ${storedAt - lease.acquiredAt} ms after ${lease.owner} acquired epoch ${lease.epoch}` };
        }
        return null;
      }
    } else if (epoch <= this.directory.lastRevision) {
      return null;
    }
    // an epoch the directory has not reported yet: the new owner's first panes, if it is a member
    if (newest?.epoch === epoch || this.directory.knows(worker)) return null;
    return { reason: 'unknown_owner', detail: `${worker} is no known member, and epoch ${epoch} is newer than the partition's lease (${lease === undefined ? 'none' : lease.epoch})` };
  }

  /** A pane without worker and epoch: see the rules at the top. */
  private judgeUnfenced(partition: number, newest: { epoch: number; worker: string } | undefined, lease: DirectoryLease | undefined, storedAt: number): FenceRefusal | null {
    if (this.directory === undefined || !this.directory.fencing) return null;
    if (lease !== undefined && !lease.fenced) return null;
    if (newest !== undefined) return { reason: 'unfenced', detail: `a pane without worker and epoch after panes of ${newest.worker} under epoch ${newest.epoch}` };
    if (lease !== undefined) {
      if (lease.acquiredAt !== null && storedAt <= lease.acquiredAt + this.skewMs) return null;
      const since = lease.acquiredAt === null ? 'since an unknown time' : `since ${new Date(lease.acquiredAt).toISOString()}`;
      return { reason: 'unfenced', detail: `a pane without worker and epoch while ${lease.owner} holds the lease (epoch ${lease.epoch}, ${since})` };
    }
    if (this.directory.everFenced(partition)) return { reason: 'unfenced', detail: `a pane without worker and epoch for a partition fencing workers have held` };
    return { reason: 'unknown_owner', detail: `a pane without worker and epoch for partition ${partition}, which no worker holds, in a deployment whose workers hold leases` };
  }
}
