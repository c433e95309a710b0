/**
 * The live feed's topics, heartbeats, rate limit and resume seam, against a real gateway with an
 * in-memory source (and an in-memory alerts stream where the seam is tested; the same paths over
 * NATS are in test/integration/live-feed.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/server.ts';
import type { LiveFeedOptions } from '../../src/gateway/live.ts';
import type { AlertStream, SequencedAlert } from '../../src/alerts/alert-stream.ts';
import type { AlertEvent } from '../../src/contract/metrics.ts';
import { parseClientMessage } from '../../src/gateway/live-protocol.ts';
import { TokenBucket } from '../../src/gateway/token-bucket.ts';
import { FakeSource, alert } from './fake-source.ts';
import { TestClient, baseUrl, sleep } from './ws-helpers.ts';

const open: Array<{ app: FastifyInstance; clients: TestClient[] }> = [];

async function setup(ws: LiveFeedOptions = {}, models?: string[]) {
  const source = new FakeSource(models);
  const registry = new Registry();
  const app = await buildGateway({ source, registry, ws });
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.liveFeed.ready();
  const entry = { app, clients: [] as TestClient[] };
  open.push(entry);
  const url = `${baseUrl(app)}/v1/live`;
  const connect = async (): Promise<TestClient> => {
    const c = await TestClient.connect(url);
    entry.clients.push(c);
    return c;
  };
  return { app, source, registry, connect };
}

afterEach(async () => {
  for (const { app, clients } of open.splice(0)) {
    for (const c of clients) c.close();
    await app.close();
  }
});

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

/** DRIFT_ALERTS in memory: sequences from 1, a read that can be held open, and aging out. */
class MemoryAlertStream implements AlertStream {
  readonly stored: SequencedAlert[] = [];
  private listener: ((a: SequencedAlert) => void) | undefined;
  private next = 1;
  firstSeq = 1;
  reads = 0;
  /** While set, read() waits for it: alerts published meanwhile test the seam. */
  gate: Promise<void> | undefined;

  append(a: AlertEvent): number {
    const entry = { seq: this.next++, alert: a };
    this.stored.push(entry);
    this.listener?.(entry);
    return entry.seq;
  }

  async lastSeq(): Promise<number> {
    return this.next - 1;
  }

  async follow(afterSeq: number, onAlert: (a: SequencedAlert) => void): Promise<() => Promise<void>> {
    for (const e of this.stored) if (e.seq > afterSeq) onAlert(e);
    this.listener = onAlert;
    return async () => {
      this.listener = undefined;
    };
  }

  async read(afterSeq: number, uptoSeq: number, onAlert: (a: SequencedAlert) => void): Promise<{ firstSeq: number }> {
    this.reads++;
    await this.gate;
    for (const e of this.stored) if (e.seq > afterSeq && e.seq <= uptoSeq && e.seq >= this.firstSeq) onAlert(e);
    return { firstSeq: this.firstSeq };
  }
}

const alertN = (model: string, n: number): AlertEvent => ({ ...alert(model, 'psi', n), id: `${model}:psi:model:${n}:firing` });

describe('live protocol: parsing', () => {
  const ctx = { windows: ['1m', '5m'], defaultWindow: '5m', maxSubscriptions: 10 };
  it('names the field and gives a code for each kind of bad message', () => {
    const cases: Array<[string, string, string]> = [
      ['{', 'invalid_json', 'invalid JSON'],
      ['"x"', 'invalid_message', 'message must be a JSON object'],
      ['{"type":"hello"}', 'unknown_type', 'unknown message type "hello"'],
      ['{"type":"subscribe","topics":["metrics"]}', 'invalid_message', 'subscribe.models must be'],
      ['{"type":"subscribe","models":["a"],"topics":["cluster"]}', 'invalid_message', 'subscribe.models needs a model topic'],
      ['{"type":"subscribe","models":["a"],"lastSeq":-1}', 'invalid_message', 'subscribe.lastSeq must be a non-negative integer'],
      ['{"type":"subscribe","models":["a"],"topics":["metrics"],"lastSeq":3}', 'invalid_message', 'subscribe.lastSeq resumes alerts'],
      ['{"type":"unsubscribe","topics":["nope"]}', 'invalid_message', 'unsubscribe.topics must be'],
      ['{"type":"ping","id":{}}', 'invalid_message', 'ping.id must be'],
      [JSON.stringify({ type: 'subscribe', models: Array.from({ length: 11 }, (_, i) => `m${i}`) }), 'too_many_subscriptions', 'more than maxSubscriptions 10'],
    ];
    for (const [text, code, message] of cases) {
      const parsed = parseClientMessage(text, ctx);
      expect(parsed, text).toMatchObject({ kind: 'error', code });
      expect(parsed.kind === 'error' && parsed.message, text).toContain(message);
    }
  });

  it('accepts a cluster-only subscribe without models, and defaults to the model topics', () => {
    expect(parseClientMessage('{"type":"subscribe","topics":["cluster"]}', ctx)).toMatchObject({ kind: 'subscribe', models: [], topics: ['cluster'] });
    expect(parseClientMessage('{"type":"subscribe","models":["a"],"lastSeq":0}', ctx)).toMatchObject({ topics: ['metrics', 'drift', 'alerts'], window: '5m', lastSeq: 0 });
    expect(parseClientMessage('{"type":"unsubscribe","topics":["cluster"]}', ctx)).toMatchObject({ kind: 'unsubscribe', models: [], topics: ['cluster'] });
    expect(parseClientMessage('{"type":"ping","id":"a1"}', ctx)).toEqual({ kind: 'ping', id: 'a1' });
  });

  it('token bucket: a burst of capacity, then the refill rate', () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(Array.from({ length: 7 }, () => bucket.take(0)).filter(Boolean)).toHaveLength(5);
    expect(bucket.take(50)).toBe(false); // half a token
    expect(bucket.take(100)).toBe(true); // one token after 100 ms at 10/s
    expect(bucket.take(100)).toBe(false);
    expect(Array.from({ length: 20 }, () => bucket.take(10_000)).filter(Boolean)).toHaveLength(5); // capped at capacity
  });
});

describe('live feed: topics', () => {
  it('metrics frames carry no drift; drift frames come only when the drift changed', async () => {
    const { source, connect } = await setup({ metricsIntervalMs: 20 });
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['metrics', 'drift'] });
    const [snap] = await c.untilCount('snapshot', 1);
    expect(snap.metrics).toHaveProperty('drift');
    // the drift entries hold the window's count: a new count is a new drift; the same count is not
    source.bump('churn', 200);
    await c.untilCount('drift', 1);
    await sleep(60);
    source.bump('churn', 200);
    await c.untilCount('metrics', 2, 3000);
    await sleep(100);
    const metrics = c.ofType('metrics');
    expect(metrics.every((f) => f.metrics !== null && !('drift' in (f.metrics as object)))).toBe(true);
    const drift = c.ofType('drift');
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatchObject({ model: 'churn', window: '5m', version: null });
    expect(drift[0].drift?.features).toHaveProperty('f0');
  });

  it('a drift-only subscription gets no metrics frames; unsubscribing a topic keeps the others', async () => {
    const { source, connect } = await setup({ metricsIntervalMs: 20 });
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['drift', 'alerts'] });
    await c.untilCount('snapshot', 1);
    source.bump('churn', 300);
    await c.untilCount('drift', 1);
    c.send({ type: 'unsubscribe', models: ['churn'], topics: ['drift'] });
    const [ack] = await c.untilCount('unsubscribed', 1);
    expect(ack).toMatchObject({ models: ['churn'], topics: ['drift'] });
    source.bump('churn', 301);
    source.fire(alert('churn', 'psi', 5));
    await c.untilCount('alert', 1);
    await sleep(100);
    expect(c.ofType('metrics')).toHaveLength(0);
    expect(c.ofType('drift')).toHaveLength(1);
  });

  it('cluster: a snapshot on subscribe, then a frame when the view changes; an error frame without a provider', async () => {
    let members = ['w1'];
    const { connect } = await setup({ clusterSnapshot: () => ({ workers: members }), clusterIntervalMs: 50 });
    const c = await connect();
    c.send({ type: 'subscribe', topics: ['cluster'] });
    const [first] = await c.untilCount('cluster', 1);
    expect(first.cluster).toEqual({ workers: ['w1'] });
    expect(c.ofType('subscribed')[0]).toMatchObject({ models: [], topics: ['cluster'] });
    await sleep(150);
    expect(c.ofType('cluster')).toHaveLength(1); // unchanged: not resent
    members = ['w1', 'w2'];
    const frames = await c.untilCount('cluster', 2);
    expect(frames[1].cluster).toEqual({ workers: ['w1', 'w2'] });
    c.send({ type: 'unsubscribe', topics: ['cluster'] });
    await c.untilCount('unsubscribed', 1);
    members = ['w2'];
    await sleep(200);
    expect(c.ofType('cluster')).toHaveLength(2);

    const without = await setup();
    const d = await without.connect();
    d.send({ type: 'subscribe', models: ['churn'], topics: ['alerts', 'cluster'] });
    const [error] = await d.untilCount('error', 1);
    expect(error).toMatchObject({ code: 'cluster_unavailable', message: expect.stringContaining('cluster view is unavailable') });
    expect(d.ofType('subscribed')[0].topics).toEqual(['alerts']);
    await d.untilCount('snapshot', 1); // the model part of the subscribe stands
  });
});

describe('live feed: a version never seen', () => {
  it('is subscribed with an empty snapshot, and the client is told which versions were seen', async () => {
    const { connect } = await setup();
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn', 'not-yet', '*'], topics: ['metrics'], version: 'v9' });
    const [error] = await c.untilCount('error', 1);
    expect(error).toMatchObject({
      code: 'unknown_version',
      model: 'churn',
      message: "version 'v9' of model 'churn' has not been seen (known versions: v1, v2): the subscription stands, and its frames stay empty until that version's events arrive",
    });
    expect(c.ofType('subscribed')[0]).toMatchObject({ models: ['churn', 'not-yet', '*'], version: 'v9' });
    await c.untilCount('snapshot', 2);
    await sleep(100);
    // one notice: a model the gateway does not hold yet has no versions to compare with, and '*' names none
    expect(c.ofType('error')).toHaveLength(1);

    const d = await connect();
    d.send({ type: 'subscribe', models: ['churn'], topics: ['metrics'], version: 'v2' });
    await d.untilCount('snapshot', 1);
    await sleep(100);
    expect(d.ofType('error')).toHaveLength(0);
  });
});

describe('live feed: heartbeats', () => {
  it("answers a client's ping with a pong echoing its id", async () => {
    const { connect } = await setup();
    const c = await connect();
    c.send({ type: 'ping', id: 'abc' });
    c.send({ type: 'ping' });
    const pongs = await c.untilCount('pong', 2);
    expect(pongs.map((p) => p.id)).toEqual(['abc', undefined]);
  });

  it('closes a client that stopped answering JSON pings (4000); one that answers stays, one that never did is judged by protocol pongs', async () => {
    const { connect, app, registry } = await setup({ pingIntervalMs: 150 });
    const mute = await connect();
    await mute.untilCount('ping', 1);
    await sleep(20);
    mute.autoPong = false; // answered once, then froze
    const answering = await connect();
    const naive = await connect();
    naive.autoPong = false; // a plain client that ignores JSON pings: protocol pongs keep it alive
    expect(await mute.closed).toBe(4000);
    expect(await metricValue(registry, 'drift_ws_clients_dropped_total', { reason: 'heartbeat' })).toBe(1);
    await sleep(400);
    expect(answering.closeCode).toBeUndefined();
    expect(answering.ofType('ping').length).toBeGreaterThanOrEqual(2);
    expect(naive.closeCode).toBeUndefined();
    expect(naive.ofType('ping').length).toBeGreaterThanOrEqual(2);
    expect(app.liveFeed.clientCount).toBe(2);
  });
});

describe('live feed: rate limit', () => {
  it('drops messages over the rate with one error frame; the client recovers when it slows down', async () => {
    const { connect } = await setup({ messageRatePerSecond: 10, messageBurst: 5 });
    const c = await connect();
    for (let i = 0; i < 30; i++) c.send({ type: 'ping', id: i });
    await c.untilCount('error', 1);
    await sleep(200);
    expect(c.ofType('pong').map((p) => p.id)).toEqual([0, 1, 2, 3, 4]);
    const errors = c.ofType('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('more than 10 messages per second') });
    await sleep(300);
    c.send({ type: 'ping', id: 'later' });
    await c.until((fs) => fs.some((f) => f.type === 'pong' && f.id === 'later'), 3000, 'pong after slowing down');
    expect(c.closeCode).toBeUndefined();
  });

  it('closes a client that keeps flooding past the drop limit with 1008', async () => {
    const { connect, registry } = await setup({ messageRatePerSecond: 10, messageBurst: 5, rateLimitDropLimit: 200 });
    const c = await connect();
    for (let i = 0; i < 400; i++) c.send({ type: 'ping' });
    expect(await c.closed).toBe(1008);
    expect(c.ofType('error').filter((e) => e.code === 'rate_limited')).toHaveLength(1);
    expect(await metricValue(registry, 'drift_ws_clients_dropped_total', { reason: 'rate_limit' })).toBe(1);
  });
});

describe('live feed: alert sequence and resume', () => {
  it('alert frames carry the stream sequence; the ack says where the feed is', async () => {
    const stream = new MemoryAlertStream();
    stream.append(alertN('churn', 1));
    const { connect } = await setup({ alertStream: stream });
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'] });
    const [ack] = await c.untilCount('subscribed', 1);
    expect(ack.lastSeq).toBe(1);
    stream.append(alertN('fraud', 2));
    stream.append(alertN('churn', 3));
    const [frame] = await c.untilCount('alert', 1);
    expect(frame).toMatchObject({ seq: 3, model: 'churn' });
  });

  it('resumes from memory: the missed alerts of the subscribed models once, then live ones', async () => {
    const stream = new MemoryAlertStream();
    const { connect } = await setup({ alertStream: stream });
    const first = await connect();
    first.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'] });
    await first.untilCount('subscribed', 1);
    stream.append(alertN('churn', 1));
    await first.untilCount('alert', 1);
    first.close();
    for (let i = 2; i <= 6; i++) stream.append(alertN(i % 2 === 0 ? 'churn' : 'fraud', i));
    const again = await connect();
    again.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'], lastSeq: 1 });
    const [resumed] = await again.untilCount('resumed', 1);
    expect(resumed).toMatchObject({ lastSeq: 1, to: 6, replayed: 3, complete: true });
    stream.append(alertN('churn', 7));
    await again.untilCount('alert', 4);
    expect(again.ofType('alert').map((f) => f.seq)).toEqual([2, 4, 6, 7]);
    const order = again.frames.filter((f) => f.type === 'alert' || f.type === 'resumed').map((f) => f.type);
    expect(order).toEqual(['alert', 'alert', 'alert', 'resumed', 'alert']);
    expect(stream.reads).toBe(0);
  });

  it('resumes from the stream when memory no longer holds the gap; alerts during the read follow without gap or duplicate', async () => {
    const stream = new MemoryAlertStream();
    const { connect } = await setup({ alertStream: stream, replayBufferSize: 4 });
    for (let i = 1; i <= 10; i++) stream.append(alertN('churn', i));
    let open = (): void => undefined;
    stream.gate = new Promise<void>((resolve) => (open = resolve));
    const c = await connect();
    c.send({ type: 'subscribe', models: ['*'], topics: ['alerts'], lastSeq: 2 });
    await c.untilCount('subscribed', 1);
    await sleep(50);
    expect(stream.reads).toBe(1);
    // published while the missed ones are being read: held, then sent after them
    for (let i = 11; i <= 13; i++) stream.append(alertN('churn', i));
    await sleep(50);
    expect(c.ofType('alert')).toHaveLength(0);
    open();
    const [resumed] = await c.untilCount('resumed', 1);
    expect(resumed).toMatchObject({ lastSeq: 2, to: 10, replayed: 8, complete: true });
    await c.untilCount('alert', 11);
    stream.append(alertN('churn', 14));
    await c.untilCount('alert', 12);
    expect(c.ofType('alert').map((f) => f.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 3));
  });

  it('says so when the missed alerts aged out of the stream, or lastSeq is from another stream', async () => {
    const stream = new MemoryAlertStream();
    const { connect } = await setup({ alertStream: stream, replayBufferSize: 2 });
    for (let i = 1; i <= 8; i++) stream.append(alertN('churn', i));
    stream.firstSeq = 5;
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'], lastSeq: 1 });
    const [resumed] = await c.untilCount('resumed', 1);
    expect(resumed).toMatchObject({ lastSeq: 1, to: 8, replayed: 4, complete: false });
    expect(resumed.message).toContain('alerts 2..4 have aged out');
    expect(c.ofType('alert').map((f) => f.seq)).toEqual([5, 6, 7, 8]);

    const d = await connect();
    d.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'], lastSeq: 50 });
    const [ahead] = await d.untilCount('resumed', 1);
    expect(ahead).toMatchObject({ replayed: 0, complete: false });
    expect(ahead.message).toContain('beyond the last alert sequence 8');
  });

  it('keeps trying to follow the stream when it cannot answer at start', async () => {
    const stream = new MemoryAlertStream();
    let failures = 1;
    const lastSeq = stream.lastSeq.bind(stream);
    stream.lastSeq = async () => {
      if (failures-- > 0) throw new Error('no responders');
      return lastSeq();
    };
    stream.append(alertN('churn', 1));
    const { connect } = await setup({ alertStream: stream });
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'] });
    await c.untilCount('subscribed', 1);
    stream.append(alertN('churn', 2));
    const [frame] = await c.untilCount('alert', 1, 10_000);
    expect(frame.seq).toBe(2);
  }, 20_000);

  it('without an alerts stream a resume is answered with an error frame, the subscription stands', async () => {
    const { source, connect } = await setup();
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'], lastSeq: 4 });
    const [error] = await c.untilCount('error', 1);
    expect(error.code).toBe('resume_unavailable');
    source.fire(alert('churn', 'psi', 9));
    const [frame] = await c.untilCount('alert', 1);
    expect(frame.seq).toBeUndefined();
  });
});
