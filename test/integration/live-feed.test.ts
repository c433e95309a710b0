/**
 * The WebSocket feed under load, with alerts coming from NATS: a real nats-server, DRIFT_ALERTS
 * provisioned as in production, alert transitions published the way the gateway's AlertLog does,
 * and a real gateway (its window computation replaced by an in-memory source so the update rate
 * is under the test's control). Timeouts are generous: the machine may be loaded; assertions are
 * on outcomes (every alert, once, in order; who was closed; rates relative to each other).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { startPipeline, eventually } from '../helpers/pipeline.ts';
import { provision } from '../../src/cluster/provision.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { ALERTS_STREAM } from '../../src/cluster/subjects.ts';
import { natsAlertPublisher } from '../../src/alerts/publisher.ts';
import { NatsAlertStream } from '../../src/alerts/alert-stream.ts';
import { buildGateway } from '../../src/gateway/server.ts';
import type { LiveFeedOptions } from '../../src/gateway/live.ts';
import type { AlertEvent } from '../../src/contract/metrics.ts';
import { FakeSource } from '../gateway/fake-source.ts';
import { TestClient, baseUrl, sleep } from '../gateway/ws-helpers.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let server: NatsServerHandle;
let nc: NatsConnection;
let publish: (alert: AlertEvent) => Promise<void>;
let alertCounter = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await provision(nc, { partitions: 2 });
  publish = natsAlertPublisher(nc);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const gateways: Array<{ app: FastifyInstance; clients: TestClient[] }> = [];

afterEach(async () => {
  for (const { app, clients } of gateways.splice(0)) {
    for (const c of clients) c.close();
    await app.close();
  }
});

function models(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `m${i}`);
}

async function gateway(ws: LiveFeedOptions = {}, modelNames = models(2)) {
  const source = new FakeSource(modelNames);
  const registry = new Registry();
  const app = await buildGateway({ source, registry, ws: { alertStream: new NatsAlertStream(nc, logger), ...ws } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.liveFeed.ready();
  const entry = { app, clients: [] as TestClient[] };
  gateways.push(entry);
  const url = `${baseUrl(app)}/v1/live`;
  const connectClient = async (): Promise<TestClient> => {
    const c = await TestClient.connect(url);
    entry.clients.push(c);
    return c;
  };
  const dropped = async (reason: string): Promise<number> =>
    (await registry.getMetricsAsJSON()).find((m) => m.name === 'drift_ws_clients_dropped_total')?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { app, source, url, dropped, connect: connectClient, http: url.replace('ws://', 'http://').replace('/v1/live', '') };
}

/** A transition as the AlertLog publishes it: a unique id per transition. */
function transition(model: string): AlertEvent {
  const n = ++alertCounter;
  return {
    id: `${model}:psi:model:${n}:firing`,
    model,
    rule: 'psi',
    scope: 'model',
    state: 'firing',
    severity: 'warning',
    value: 0.3,
    threshold: 0.2,
    window: '5m',
    startsAt: n,
    at: n,
    message: `transition ${n}`,
  };
}

async function lastStreamSeq(): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(ALERTS_STREAM)).state.last_seq;
}

const alertSeqs = (c: TestClient): number[] => c.ofType('alert').map((f) => f.seq as number);
const socketOf = (c: TestClient): { pause(): void; resume(): void } => (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;

describe('live feed over NATS: fan-out', () => {
  it('500 concurrent clients each receive every alert, once and in stream order', async () => {
    const gw = await gateway();
    const clients: TestClient[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const connected = await Promise.all(Array.from({ length: 50 }, () => gw.connect()));
      for (const c of connected) c.send({ type: 'subscribe', models: ['*'], topics: ['alerts'] });
      clients.push(...connected);
    }
    await Promise.all(clients.map((c) => c.untilCount('subscribed', 1, 30_000)));
    expect(gw.app.liveFeed.clientCount).toBe(500);

    const first = (await lastStreamSeq()) + 1;
    const alerts = 40;
    for (let i = 0; i < alerts; i++) await publish(transition(i % 2 === 0 ? 'm0' : 'm1'));
    const expected = Array.from({ length: alerts }, (_, i) => first + i);
    await Promise.all(clients.map((c) => c.untilCount('alert', alerts, 60_000)));
    await sleep(200);
    for (const c of clients) expect(alertSeqs(c)).toEqual(expected);
    expect(clients.every((c) => c.closeCode === undefined)).toBe(true);
  }, 180_000);
});

describe('live feed over NATS: a slow client', () => {
  it('a client that stops reading is closed with 1013; the others keep their update rate and get every alert', async () => {
    const names = models(20);
    // a long close grace: the paused client is resumed once the gateway dropped it, and must
    // then read what was buffered for it and the close frame
    const gw = await gateway({ maxBufferedBytes: 256 * 1024, slowClientTimeoutMs: 2000, metricsIntervalMs: 200, closeGraceMs: 20_000 }, names);
    gw.source.featureCount = 60; // drift frames of ~15 KB
    const healthy = await Promise.all(Array.from({ length: 5 }, () => gw.connect()));
    const slow = await gw.connect();
    for (const c of [...healthy, slow]) c.send({ type: 'subscribe', models: ['*'] });
    await Promise.all([...healthy, slow].map((c) => c.untilCount('snapshot', names.length, 30_000)));
    socketOf(slow).pause();

    const first = (await lastStreamSeq()) + 1;
    let published = 0;
    let round = 0;
    const marks: Array<{ at: number; counts: number[] }> = [];
    const snapshot = (): void => void marks.push({ at: Date.now(), counts: healthy.map((c) => c.ofType('metrics').length) });
    snapshot();
    let droppedAt: number | undefined;
    const deadline = Date.now() + 60_000;
    // updates every 50 ms, an alert through NATS every 10 rounds, until the slow client is gone
    // and as long again after
    while (Date.now() < deadline) {
      round++;
      for (const m of names) gw.source.bump(m, round);
      if (round % 10 === 0) {
        await publish(transition(names[round % names.length]));
        published++;
      }
      if (droppedAt === undefined && (await gw.dropped('slow')) > 0) {
        droppedAt = Date.now();
        snapshot();
        socketOf(slow).resume();
      }
      if (droppedAt !== undefined && Date.now() - droppedAt > marks[1].at - marks[0].at) break;
      await sleep(50);
    }
    snapshot();
    expect(droppedAt, 'the slow client was dropped').toBeDefined();
    expect(await slow.closed).toBe(1013);
    expect(slow.closeReason).toBe('client too slow: send buffer stayed full');
    expect(gw.app.liveFeed.clientCount).toBe(5);

    // frames per second per healthy client while the slow one was connected, and after it left
    const [start, dropped, end] = marks;
    for (let i = 0; i < healthy.length; i++) {
      const during = (dropped.counts[i] - start.counts[i]) / ((dropped.at - start.at) / 1000);
      const after = (end.counts[i] - dropped.counts[i]) / ((end.at - dropped.at) / 1000);
      expect(during, `client ${i}: ${during.toFixed(1)} frames/s during, ${after.toFixed(1)} after`).toBeGreaterThan(after * 0.5);
      expect(healthy[i].closeCode).toBeUndefined();
    }
    const expected = Array.from({ length: published }, (_, i) => first + i);
    await Promise.all(healthy.map((c) => c.untilCount('alert', published, 30_000)));
    for (const c of healthy) expect(alertSeqs(c)).toEqual(expected);
  }, 120_000);
});

describe('live feed over NATS: reconnect with the last sequence', () => {
  it('delivers the missed alerts exactly once, from memory or from the stream, with live ones at the seam', async () => {
    const gw = await gateway({ replayBufferSize: 8 });
    const c1 = await gw.connect();
    c1.send({ type: 'subscribe', models: ['m0'], topics: ['alerts'] });
    const [ack] = await c1.untilCount('subscribed', 1);
    expect(ack.lastSeq).toBe(await lastStreamSeq());
    const startSeq = ack.lastSeq as number;
    for (let i = 0; i < 5; i++) await publish(transition('m0'));
    await c1.untilCount('alert', 5, 20_000);
    const lastSeen = Math.max(...alertSeqs(c1));
    c1.close();

    // missed while away: more than the memory ring holds, so they are read from DRIFT_ALERTS;
    // alerts of another model in between are not the client's
    for (let i = 0; i < 30; i++) await publish(transition(i % 3 === 0 ? 'm1' : 'm0'));
    const c2 = await gw.connect();
    c2.send({ type: 'subscribe', models: ['m0'], topics: ['alerts'], lastSeq: lastSeen });
    // and live ones while the missed ones are being replayed
    const during = Array.from({ length: 10 }, () => publish(transition('m0')));
    await Promise.all(during);
    const [resumed] = await c2.untilCount('resumed', 1, 20_000);
    expect(resumed.complete).toBe(true);
    await eventually(async () => (alertSeqs(c2).at(-1) === (await lastStreamSeq()) ? true : undefined), 20_000, 'the live alerts after the replay');

    // every m0 transition after lastSeen, once, in order: the same as the stream holds
    const stored = await storedSeqsOf('m0', startSeq);
    const all = [...alertSeqs(c1), ...alertSeqs(c2)];
    expect(all).toEqual(stored);
    expect(new Set(all).size).toBe(all.length);

    // a short absence is answered from memory
    const seen = Math.max(...alertSeqs(c2));
    const watcher = await gw.connect();
    watcher.send({ type: 'subscribe', models: ['m0'], topics: ['alerts'] });
    await watcher.untilCount('subscribed', 1);
    c2.close();
    for (let i = 0; i < 3; i++) await publish(transition('m0'));
    // once a live client has them the gateway has followed them: the replay's memory holds all three
    await watcher.untilCount('alert', 3, 20_000);
    watcher.close();
    const c3 = await gw.connect();
    c3.send({ type: 'subscribe', models: ['m0'], topics: ['alerts'], lastSeq: seen });
    const [again] = await c3.untilCount('resumed', 1, 20_000);
    expect(again).toMatchObject({ lastSeq: seen, replayed: 3, complete: true });
    expect(alertSeqs(c3)).toEqual((await storedSeqsOf('m0', seen)).slice(0, 3));
  }, 120_000);

  it('works through the composed gateway (npm start wiring): alert frames carry the DRIFT_ALERTS sequence', async () => {
    const pipeline = await startPipeline();
    try {
      const publishThere = natsAlertPublisher(pipeline.nc);
      const url = `${pipeline.baseUrl.replace('http', 'ws')}/v1/live`;
      const c = await TestClient.connect(url);
      c.send({ type: 'subscribe', models: ['wired'], topics: ['alerts'] });
      await c.untilCount('subscribed', 1, 10_000);
      await publishThere(transition('wired'));
      const [frame] = await c.untilCount('alert', 1, 20_000);
      const seq = frame.seq as number;
      expect(seq).toBeGreaterThan(0);
      c.close();
      await publishThere(transition('wired'));
      await publishThere(transition('wired'));
      const d = await TestClient.connect(url);
      d.send({ type: 'subscribe', models: ['wired'], topics: ['alerts'], lastSeq: seq });
      // the replay holds what the gateway had followed when it began; an alert it had not yet
      // followed comes live right after the marker, still once and in order
      await d.untilCount('resumed', 1, 20_000);
      await d.untilCount('alert', 2, 20_000);
      const resumedSeqs = alertSeqs(d);
      expect(resumedSeqs).toHaveLength(2);
      expect(resumedSeqs[0]).toBeGreaterThan(seq);
      expect(resumedSeqs[1]).toBeGreaterThan(resumedSeqs[0] as number);
      d.close();
    } finally {
      await pipeline.stop();
    }
  }, 120_000);
});

/** The sequences DRIFT_ALERTS holds for one model after `afterSeq`, read directly. */
async function storedSeqsOf(model: string, afterSeq: number): Promise<number[]> {
  const seqs: number[] = [];
  await new NatsAlertStream(nc, logger).read(afterSeq, await lastStreamSeq(), ({ seq, alert }) => {
    if (alert.model === model) seqs.push(seq);
  });
  return seqs;
}

describe('live feed over NATS: a flood of malformed frames', () => {
  async function flood(ws: LiveFeedOptions) {
    const gw = await gateway(ws);
    const observer = await gw.connect();
    observer.send({ type: 'subscribe', models: ['m0'] });
    await observer.untilCount('snapshot', 1, 10_000);
    const flooder = await gw.connect();
    const garbage = ['{', 'null', '[]', '{"type":"hello"}', '{"type":"subscribe","models":[".."]}', 'x'.repeat(100)];
    for (let i = 0; i < 10_000; i++) {
      if (flooder.ws.readyState !== WebSocket.OPEN) break;
      flooder.ws.send(garbage[i % garbage.length]);
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    // meanwhile and after: the observer gets its updates and alerts, REST answers
    const before = observer.ofType('metrics').length;
    const seq = (await lastStreamSeq()) + 1;
    for (let round = 1; round <= 5; round++) {
      gw.source.bump('m0', 1000 + round);
      await sleep(250);
    }
    await publish(transition('m0'));
    const response = await fetch(`${gw.http}/v1/models`);
    expect(response.status).toBe(200);
    await observer.until((fs) => fs.some((f) => f.type === 'alert' && f.seq === seq), 20_000, 'the alert after the flood');
    await observer.until((fs) => fs.some((f) => f.type === 'metrics' && f.metrics?.count === 1005), 20_000, 'the latest metrics');
    expect(observer.ofType('metrics').length).toBeGreaterThan(before);
    expect(observer.closeCode).toBeUndefined();
    return { gw, flooder };
  }

  it('10,000 malformed frames with default limits: the sender is closed with 1008; the gateway and other clients go on', async () => {
    const { flooder } = await flood({ metricsIntervalMs: 100 });
    expect(await flooder.closed).toBe(1008);
    const errors = flooder.ofType('error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.length).toBeLessThanOrEqual(51);
  }, 120_000);

  it('10,000 malformed frames with the limits raised: each is answered with an error frame naming the problem', async () => {
    const { flooder } = await flood({ metricsIntervalMs: 100, badMessageLimit: 1_000_000, messageRatePerSecond: 1_000_000, messageBurst: 1_000_000 });
    await flooder.untilCount('error', 10_000, 60_000);
    const codes = new Set(flooder.ofType('error').map((e) => e.code));
    expect([...codes].sort()).toEqual(['invalid_json', 'invalid_message', 'unknown_type']);
    expect(flooder.closeCode).toBeUndefined();
  }, 120_000);
});
