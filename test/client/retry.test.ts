import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { provision } from '../../src/cluster/provision.ts';
import { EVENTS_STREAM } from '../../src/cluster/subjects.ts';
import { DriftPublisher } from '../../src/client/index.ts';

describe('DriftPublisher across a server restart', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, reconnectTimeWait: 200, maxReconnectAttempts: -1 });
    await provision(nc, { partitions: 2 });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('keeps retrying while the server is down, then every publish is stored', async () => {
    const publisher = await DriftPublisher.connect(nc, { timeoutMs: 500, maxInFlight: 8, retryForMs: 20_000 });
    await server.kill('SIGKILL');
    // the window (8) fills with publishes that cannot be acknowledged yet; the rest wait for room
    const publishing = (async () => {
      for (let i = 0; i < 20; i++) await publisher.publishPrediction({ id: `retry-${i}`, model: 'm', output: 1 });
    })();
    await new Promise((r) => setTimeout(r, 1000));
    expect(publisher.inFlight).toBe(8);
    await server.restart();
    await publishing;
    await publisher.flush();
    const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
    expect(info.state.messages).toBeGreaterThanOrEqual(20);
  });

  it('with retries off, a publish to a server that is down fails at flush', async () => {
    const publisher = await DriftPublisher.connect(nc, { timeoutMs: 300, maxInFlight: 8, retryForMs: 0 });
    await server.kill('SIGKILL');
    await publisher.publishPrediction({ id: 'lost', model: 'm', output: 1 });
    await expect(publisher.flush()).rejects.toThrow(/1 /);
    await server.restart();
  });
});
