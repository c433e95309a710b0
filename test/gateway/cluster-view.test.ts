import { describe, expect, it } from 'vitest';
import { LeaseDirectoryState } from '../../src/cluster/lease-directory.ts';
import { ClusterView } from '../../src/gateway/cluster-view.ts';
import { PaneFence } from '../../src/gateway/pane-fence.ts';

const T = 1_800_000_000_000;
const json = (value: object) => new TextEncoder().encode(JSON.stringify(value));

describe('cluster view', () => {
  it("lists every partition, with lag and checkpoint age only from its lease holder's report at the lease's epoch", () => {
    const now = T + 10_000;
    const directory = new LeaseDirectoryState(100, () => now);
    let revision = 0;
    const put = (key: string, value: object, storedAt: number) => {
      revision++;
      directory.apply({ key, revision, operation: 'PUT', storedAt, value: json(value) });
      return revision;
    };
    const epoch0 = put('lease.0', { owner: 'a', instance: 'a1', expiresAt: now + 5000, fenced: true }, T);
    const epoch1 = put('lease.1', { owner: 'a', instance: 'a1', expiresAt: now - 1, fenced: true }, T + 1);
    put('member.a', {
      id: 'a', instance: 'a1', host: 'h1', startedAt: '2027-01-15T08:00:00.000Z', owned: [1, 0], expiresAt: now + 5000,
      partitions: [
        { partition: 0, epoch: epoch0, lag: 7, seq: 99, checkpointAt: now - 1500, checkpointBytes: 4096 },
        // a report of partition 1 under an older epoch than its lease: not the current owner's figures
        { partition: 1, epoch: epoch1 - 1, lag: 3, seq: 5, checkpointAt: now, checkpointBytes: 1 },
      ],
    }, T + 2);
    const fence = new PaneFence();
    fence.check({ partition: 0, worker: 'a', epoch: 9 }, T);
    fence.check({ partition: 0, worker: 'b', epoch: 2 }, T);
    const snapshot = new ClusterView({ directory, fence, partitions: 3, now: () => now }).snapshot();
    expect(snapshot.workers).toEqual([{ id: 'a', host: 'h1', startedAt: '2027-01-15T08:00:00.000Z', owned: [0, 1], lastSeenAt: T + 2 }]);
    expect(snapshot.partitions).toEqual([
      { partition: 0, owner: 'a', epoch: epoch0, acquiredAt: T, expired: false, lag: 7, seq: 99, checkpointAgeMs: 1500, checkpointBytes: 4096 },
      { partition: 1, owner: 'a', epoch: epoch1, acquiredAt: T + 1, expired: true, lag: null, seq: null, checkpointAgeMs: null, checkpointBytes: null },
      { partition: 2, owner: null, epoch: null, acquiredAt: null, expired: false, lag: null, seq: null, checkpointAgeMs: null, checkpointBytes: null },
    ]);
    expect(snapshot.rebalances.map((r) => [r.partition, r.to])).toEqual([[0, 'a'], [1, 'a']]);
    expect(snapshot.fencedPanes).toEqual({ total: 1, byReason: { stale_epoch: 1, not_owner: 0, after_handover: 0, unknown_owner: 0, unfenced: 0 } });
  });
});
