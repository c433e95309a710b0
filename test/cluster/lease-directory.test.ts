import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/pipeline.ts';
import { provision } from '../../src/cluster/provision.ts';
import { LeaseTable } from '../../src/cluster/leases.ts';
import { LeaseDirectory } from '../../src/cluster/lease-directory.ts';

const identity = (id: string) => ({ id, instance: `${id}-1`, host: 'test-host', startedAt: new Date().toISOString() });

describe('lease directory on a real DRIFT_LEASES bucket', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 4 });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('shows members with their reports, owners with the epochs they hold, and changes as they happen', async () => {
    const a = await LeaseTable.open(nc, identity('a'), 10_000);
    const b = await LeaseTable.open(nc, identity('b'), 10_000);
    await a.register([]);
    const held0 = (await a.acquire(0))!;
    const held1 = (await a.acquire(1))!;
    await a.register([0, 1], [{ partition: 0, epoch: held0.epoch, lag: 12, seq: 40, checkpointAt: 1000, checkpointBytes: 2048 }]);
    expect(held0.acquiredAt).toBeGreaterThan(0);

    // opened after the leases were taken: it reads the bucket's current entries before it returns
    const directory = await LeaseDirectory.open(nc, { logger: pino({ level: 'silent' }) });
    try {
      expect(directory.members().map((m) => m.id)).toEqual(['a']);
      expect(directory.members()[0].partitions).toEqual([{ partition: 0, epoch: held0.epoch, lag: 12, seq: 40, checkpointAt: 1000, checkpointBytes: 2048 }]);
      expect(directory.lease(0)).toMatchObject({ owner: 'a', epoch: held0.epoch, acquiredAt: held0.acquiredAt, fenced: true });
      expect(directory.lease(1)).toMatchObject({ owner: 'a', epoch: held1.epoch });

      // a renewal keeps the epoch; a hand-over to b gives a higher one
      const renewed = (await a.renew(held1))!;
      await eventually(() => (directory.lastRevision >= renewed.revision ? true : undefined), 10_000, 'the renewal');
      expect(directory.lease(1)).toMatchObject({ owner: 'a', epoch: held1.epoch, acquiredAt: held1.acquiredAt });
      await b.register([]);
      await a.release(renewed);
      const taken = (await b.acquire(1))!;
      expect(taken.epoch).toBeGreaterThan(held1.epoch);
      await eventually(() => (directory.lease(1)?.owner === 'b' ? true : undefined), 10_000, "b's lease in the directory");
      expect(directory.lease(1)?.epoch).toBe(taken.epoch);
      expect(directory.members().map((m) => m.id)).toEqual(['a', 'b']);
      expect(directory.changes().slice(-2)).toMatchObject([
        { partition: 1, from: 'a', to: null },
        { partition: 1, from: null, to: 'b', epoch: taken.epoch },
      ]);
      await a.deregister();
      await eventually(() => (directory.members().length === 1 ? true : undefined), 10_000, "a's membership to go");
      expect(directory.knows('a')).toBe(false);
    } finally {
      await directory.stop();
    }
  }, 60_000);
});
