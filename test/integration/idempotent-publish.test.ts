/**
 * A publish whose ack is lost, retried by the publisher, is stored once: a TCP proxy between the
 * publisher and a real nats-server cuts the connection at the moment JetStream's ack for the
 * stored event comes back, so the publisher never sees it, reconnects and publishes again. With
 * `Nats-Msg-Id` the stream drops the retry; without it (the control) the stream holds the event
 * twice, which shows the retry really happened, and the worker still counts the id once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect as tcpConnect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import { EVENTS_STREAM, predictionSubject } from '../../src/cluster/subjects.ts';
import { partitionOf } from '../../src/partition/hash.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

const PARTITIONS = 2;

/** A loopback proxy to a NATS server that, when armed, drops the connection instead of relaying the next JetStream publish ack. */
class AckDroppingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #armed = false;
  connections = 0;
  dropped = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number): Promise<AckDroppingProxy> {
    const server = createServer();
    const proxy = new AckDroppingProxy(server);
    server.on('connection', (client) => proxy.#relay(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    const address = this.#server.address();
    return `nats://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  }

  /** The next publish ack from the stream is not relayed: the connection is cut instead. */
  arm(): void {
    this.#armed = true;
  }

  #relay(client: Socket, targetPort: number): void {
    this.connections++;
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      // a JetStream publish ack is a message to the publisher's inbox: {"stream":"DRIFT_EVENTS","seq":N}
      if (this.#armed && chunk.includes(`{"stream":"${EVENTS_STREAM}"`)) {
        this.#armed = false;
        this.dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describe('a publish whose ack is lost and that is retried', () => {
  let pipeline: Pipeline;
  let proxy: AckDroppingProxy;
  let nc: NatsConnection;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: PARTITIONS }, reference: { autoCaptureMs: 0 } });
    proxy = await AckDroppingProxy.start(pipeline.server.port);
    nc = await connect({ servers: proxy.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  });

  afterAll(async () => {
    await nc?.close();
    await proxy?.stop();
    await pipeline?.stop();
  });

  async function storedOn(subject: string): Promise<number> {
    const info = await (await jetstreamManager(pipeline.nc)).streams.info(EVENTS_STREAM, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  async function countOf(model: string): Promise<number> {
    return eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/${model}/metrics?window=5m`);
      if (status !== 200 || body.count === 0) throw new Error(`status ${status}: ${JSON.stringify(body).slice(0, 300)}`);
      return body.count;
    }, 30_000, `${model} in the metrics`);
  }

  /** Publishes one prediction with the proxy armed; resolves once the publisher has its (retried) ack. */
  async function publishThroughLostAck(id: string, model: string, deduplicate: boolean | undefined): Promise<void> {
    const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS, timeoutMs: 1000, retryForMs: 15_000, deduplicate });
    const connectionsBefore = proxy.connections;
    const droppedBefore = proxy.dropped;
    proxy.arm();
    await publisher.publishPrediction({ id, model, output: 0.7 });
    await publisher.flush(); // resolves only once a retry was acknowledged
    expect(proxy.dropped).toBe(droppedBefore + 1);
    expect(proxy.connections).toBeGreaterThan(connectionsBefore); // the publisher reconnected to retry
  }

  it('is stored once with Nats-Msg-Id (the default), and counted once', async () => {
    await publishThroughLostAck('req-1', 'acked', undefined);
    expect(await storedOn(predictionSubject(partitionOf('req-1', PARTITIONS), 'acked'))).toBe(1);
    expect(await countOf('acked')).toBe(1);
  }, 60_000);

  it('without Nats-Msg-Id is stored twice, and the worker still counts the id once', async () => {
    await publishThroughLostAck('req-2', 'no-msg-id', false);
    expect(await storedOn(predictionSubject(partitionOf('req-2', PARTITIONS), 'no-msg-id'))).toBe(2);
    expect(await countOf('no-msg-id')).toBe(1);
    // both copies reached the worker (the first test's prediction is the third): the worker saw
    // the repeated id and counted it once. Counters are exported once a second.
    const consumed = await eventually(async () => {
      const text = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
      const value = Number(/^drift_events_consumed_total\{kind="pred"\} (\d+)$/m.exec(text)?.[1]);
      return value >= 3 ? value : undefined;
    }, 10_000, 'the consumed counter');
    expect(consumed).toBe(3);
  }, 60_000);
});
