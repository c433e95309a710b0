import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager, type PubAck } from '@nats-io/jetstream';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.ts';
import { connectNats } from '../../src/cluster/connect.ts';
import { provision } from '../../src/cluster/provision.ts';
import { EVENTS_STREAM, LEASES_BUCKET } from '../../src/cluster/subjects.ts';

describe('3-node JetStream cluster', () => {
  let cluster: NatsCluster;
  const started = Date.now();
  let startupMs = 0;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    startupMs = Date.now() - started;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts three distinct clustered servers quickly', () => {
    expect(cluster).toHaveLength(3);
    expect(new Set(cluster.map((s) => s.port)).size).toBe(3);
    expect(cluster.map((s) => s.serverName)).toEqual(['n1', 'n2', 'n3']);
    expect(cluster.url).toBe(cluster.urls.join(','));
    expect(startupMs).toBeLessThan(20_000);
  });

  it('provisions R3 streams and KV that survive losing one server', async () => {
    const nc = await connectNats({ url: cluster.url, reconnectTimeWaitMs: 100 });
    try {
      const meta = await provision(nc, { partitions: 4, replicas: 3 });
      expect(meta.partitions).toBe(4);
      const jsm = await jetstreamManager(nc);
      const events = await jsm.streams.info(EVENTS_STREAM);
      expect(events.config.num_replicas).toBe(3);
      expect(1 + (events.cluster?.replicas?.length ?? 0)).toBe(3);
      expect((await jsm.streams.info(`KV_${LEASES_BUCKET}`)).config.num_replicas).toBe(3);

      // kill a server that is not the one we are connected to: R3 keeps accepting writes
      const connectedPort = Number(new URL(`nats://${nc.getServer()}`).port);
      const victim = cluster.find((s) => s.port !== connectedPort)!;
      await victim.kill('SIGKILL');
      const js = jsm.jetstream();
      // If the victim led the stream, publishes see "no responders" until a new leader is elected
      // (a few seconds): publishers retry, as a worker must.
      const killedAt = Date.now();
      let ack: PubAck | undefined;
      while (ack === undefined && Date.now() - killedAt < 15_000) {
        ack = await js.publish('drift.in.0.m.pred', 'x', { timeout: 2_000, msgID: 'failover-1' }).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 250));
          return undefined;
        });
      }
      expect(ack?.stream).toBe(EVENTS_STREAM);
      expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(1);
      await victim.restart({ waitJetStream: false });
    } finally {
      await nc.close();
    }
  });
});
