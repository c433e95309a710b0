import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/server.ts';
import type { LiveFeedOptions } from '../../src/gateway/live.ts';
import { FakeSource, alert } from './fake-source.ts';
import { TestClient, baseUrl, sleep, upgradeStatus } from './ws-helpers.ts';

const TOKEN = 'live-token';

interface Setup {
  app: FastifyInstance;
  source: FakeSource;
  registry: Registry;
  url: string;
}

const open: Array<{ app: FastifyInstance; clients: TestClient[] }> = [];

async function setup(ws: LiveFeedOptions = {}, token?: string, models?: string[]): Promise<Setup & { connect: (q?: string) => Promise<TestClient> }> {
  const source = new FakeSource(models);
  const registry = new Registry();
  const app = await buildGateway({ source, registry, token, ws });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const entry = { app, clients: [] as TestClient[] };
  open.push(entry);
  const url = `${baseUrl(app)}/v1/live`;
  const connect = async (q = ''): Promise<TestClient> => {
    const c = await TestClient.connect(`${url}${q}`);
    entry.clients.push(c);
    return c;
  };
  return { app, source, registry, url, connect };
}

afterEach(async () => {
  for (const { app, clients } of open.splice(0)) {
    for (const c of clients) c.close();
    await app.close();
  }
});

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const json = await registry.getMetricsAsJSON();
  const metric = json.find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

describe('live feed: subscriptions', () => {
  it('answers a subscribe with an ack and one snapshot per model', async () => {
    const { source, connect } = await setup();
    source.alerts.push(alert('churn', 'psi', 10));
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn', 'fraud'], window: '1h' });
    const snaps = await c.untilCount('snapshot', 2);
    expect(c.frames[0]).toMatchObject({ type: 'subscribed', models: ['churn', 'fraud'], topics: ['metrics', 'drift', 'alerts'], window: '1h', version: null });
    const churn = snaps.find((s) => s.model === 'churn');
    expect(churn?.window).toBe('1h');
    expect(churn?.metrics).toMatchObject({ model: 'churn', window: '1h', count: 100 });
    expect(churn?.alerts).toEqual([alert('churn', 'psi', 10)]);
    expect(snaps.find((s) => s.model === 'fraud')?.alerts).toEqual([]);
  });

  it('"*" snapshots every model and delivers updates of models that appear later', async () => {
    const { source, connect } = await setup();
    const c = await connect();
    c.send({ type: 'subscribe', models: ['*'], topics: ['metrics'] });
    const snaps = await c.untilCount('snapshot', 2);
    expect(snaps.map((s) => s.model).sort()).toEqual(['churn', 'fraud']);
    source.bump('newcomer', 7);
    const [m] = await c.untilCount('metrics', 1);
    expect(m).toMatchObject({ model: 'newcomer', window: '5m' });
    expect(m.metrics?.count).toBe(7);
  });

  it('a snapshot of a model the source does not know yet has metrics null', async () => {
    const { connect } = await setup();
    const c = await connect();
    c.send({ type: 'subscribe', models: ['later'] });
    const [snap] = await c.untilCount('snapshot', 1);
    expect(snap).toMatchObject({ model: 'later', metrics: null, alerts: [] });
  });

  it('throttles metrics to one frame per second per model, sending the latest state', async () => {
    const { source, connect, registry } = await setup();
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['metrics'], version: 'v2' });
    await c.untilCount('snapshot', 1);
    const start = Date.now();
    for (let i = 1; i <= 20; i++) {
      source.bump('churn', i);
      await sleep(15);
    }
    expect(Date.now() - start).toBeLessThan(1000);
    const frames = await c.untilCount('metrics', 2, 3000);
    await sleep(300);
    const metrics = c.ofType('metrics');
    // leading edge with the first change, then the coalesced latest one a second later
    expect(metrics).toHaveLength(2);
    expect(metrics[0].metrics?.count).toBe(1);
    expect(metrics[1].metrics?.count).toBe(20);
    expect(metrics[1].metrics?.version).toBe('v2');
    expect(frames[1].receivedAt - frames[0].receivedAt).toBeGreaterThanOrEqual(950);
    expect(await metricValue(registry, 'drift_ws_frames_sent_total', { type: 'metrics' })).toBe(2);
    expect(await metricValue(registry, 'drift_ws_frames_coalesced_total')).toBe(18);
  });

  it('does not throttle one model by another', async () => {
    const { source, connect } = await setup();
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn', 'fraud'], topics: ['metrics'] });
    await c.untilCount('snapshot', 2);
    source.bump('churn', 1);
    source.bump('fraud', 2);
    const frames = await c.untilCount('metrics', 2, 500);
    expect(frames.map((f) => [f.model, f.metrics?.count])).toEqual([
      ['churn', 1],
      ['fraud', 2],
    ]);
  });

  it('pushes alerts immediately, only to clients subscribed to the model and topic', async () => {
    const { source, connect } = await setup();
    const both = await connect();
    const metricsOnly = await connect();
    const other = await connect();
    both.send({ type: 'subscribe', models: ['churn'] });
    metricsOnly.send({ type: 'subscribe', models: ['churn'], topics: ['metrics'] });
    other.send({ type: 'subscribe', models: ['fraud'] });
    await Promise.all([both.untilCount('snapshot', 1), metricsOnly.untilCount('snapshot', 1), other.untilCount('snapshot', 1)]);
    const sentAt = Date.now();
    source.fire(alert('churn', 'psi', sentAt));
    source.fire(alert('churn', 'psi', sentAt + 1, 'resolved'));
    const alerts = await both.untilCount('alert', 2, 500);
    expect(alerts[0].receivedAt - sentAt).toBeLessThan(200);
    expect(alerts.map((a) => [a.model, a.alert?.rule, a.alert?.at])).toEqual([
      ['churn', 'psi', sentAt],
      ['churn', 'psi', sentAt + 1],
    ]);
    await sleep(100);
    expect(metricsOnly.ofType('alert')).toHaveLength(0);
    expect(other.ofType('alert')).toHaveLength(0);
  });

  it('unsubscribe stops updates', async () => {
    const { source, connect } = await setup({ metricsIntervalMs: 50 });
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'] });
    await c.untilCount('snapshot', 1);
    c.send({ type: 'unsubscribe', models: ['churn'] });
    await c.untilCount('unsubscribed', 1);
    source.bump('churn', 5);
    source.fire(alert('churn', 'psi', 1));
    await sleep(150);
    expect(c.ofType('metrics')).toHaveLength(0);
    expect(c.ofType('alert')).toHaveLength(0);
  });
});

describe('live feed: bad client messages', () => {
  it('answers each bad message with an error frame and keeps the connection open', async () => {
    const { connect } = await setup({ maxSubscriptions: 3, maxMessageBytes: 1024 });
    const c = await connect();
    const bad: Array<[unknown, string | RegExp]> = [
      ['{"type": "subscribe", ', /^invalid JSON: /],
      [[1, 2], 'message must be a JSON object with a "type" field'],
      [{ type: 'hello' }, 'unknown message type "hello": expected one of "subscribe", "unsubscribe", "ping", "pong"'],
      [{ type: 'subscribe' }, 'subscribe.models must be a non-empty array of model names or "*"'],
      [{ type: 'subscribe', models: ['ok', 'a.b'] }, /^subscribe\.models\[1\] must be "\*" or a model name/],
      [{ type: 'subscribe', models: ['churn'], topics: ['prices'] }, 'subscribe.topics must be a non-empty array of "metrics", "drift", "alerts", "cluster"'],
      [{ type: 'subscribe', models: ['churn'], window: '2m' }, 'subscribe.window must be one of: 1m, 5m, 1h'],
      [{ type: 'subscribe', models: ['churn'], version: 3 }, /^subscribe\.version must be a version name/],
      [{ type: 'subscribe', models: ['a', 'b', 'c', 'd'] }, 'subscribe.models has 4 entries, more than maxSubscriptions 3'],
      [{ type: 'subscribe', models: ['x'.repeat(2000)] }, 'message of 2034 bytes is larger than the limit of 1024 bytes'],
    ];
    for (const [msg, expected] of bad) {
      const before = c.ofType('error').length;
      c.send(msg);
      const errors = await c.untilCount('error', before + 1);
      expect(errors[before].message).toMatch(expected);
    }
    c.send({ type: 'subscribe', models: ['a', 'b'] });
    c.send({ type: 'subscribe', models: ['c', 'd'] });
    const errors = await c.untilCount('error', bad.length + 1);
    expect(errors[bad.length].message).toBe('too many subscriptions: 2 + 2 new would exceed maxSubscriptions 3');
    // still open and working
    c.send({ type: 'subscribe', models: ['churn'] });
    const snaps = await c.untilCount('snapshot', 3);
    expect(snaps.map((s) => s.model)).toEqual(['a', 'b', 'churn']);
    expect(c.closeCode).toBeUndefined();
  });

  it('closes a client flooding bad messages with 1008 and counts it', async () => {
    const { connect, registry } = await setup();
    const c = await connect();
    for (let i = 0; i < 60; i++) c.send('nope');
    expect(await c.closed).toBe(1008);
    expect(c.ofType('error')).toHaveLength(50);
    expect(await metricValue(registry, 'drift_ws_clients_dropped_total', { reason: 'flood' })).toBe(1);
  });
});

describe('live feed: auth and paths at upgrade', () => {
  it('refuses an upgrade without or with a wrong token (401) and on another path (404)', async () => {
    const { url, connect, registry } = await setup({}, TOKEN);
    const none = await upgradeStatus(url);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toEqual({
      error: 'Unauthorized',
      message: 'missing token: send "Authorization: Bearer <token>" or ?token=<token>',
      statusCode: 401,
    });
    expect((await upgradeStatus(`${url}?token=nope`)).status).toBe(401);
    expect((await upgradeStatus(url, { authorization: 'Bearer nope' })).status).toBe(401);
    const wrongPath = await upgradeStatus(url.replace('/v1/live', '/v1/other'));
    expect(wrongPath.status).toBe(404);
    expect(JSON.parse(wrongPath.body).message).toBe('no WebSocket endpoint at /v1/other (use /v1/live)');

    const byQuery = await connect(`?token=${TOKEN}`);
    byQuery.send({ type: 'subscribe', models: ['churn'] });
    await byQuery.untilCount('snapshot', 1);
    const byHeader = await TestClient.connect(url, { authorization: `Bearer ${TOKEN}` });
    byHeader.close();
    expect(await metricValue(registry, 'drift_ws_connections_total', { result: 'unauthorized' })).toBe(3);
    expect(await metricValue(registry, 'drift_ws_connections_total', { result: 'accepted' })).toBe(2);
  });

  it('closes clients with 1001 when the gateway closes', async () => {
    const { app, connect, registry } = await setup();
    const c = await connect();
    expect(await metricValue(registry, 'drift_ws_clients')).toBe(1);
    open.splice(0);
    await app.close();
    expect(await c.closed).toBe(1001);
    expect(await metricValue(registry, 'drift_ws_clients')).toBe(0);
  });
});

describe('live feed: limits and failures', () => {
  it('refuses upgrades beyond maxClients with 503', async () => {
    const { url, connect } = await setup({ maxClients: 1 });
    await connect();
    const refused = await upgradeStatus(url);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).message).toBe('too many live clients (max 1)');
  });

  it('survives a source whose getMetrics throws: the emitter is not affected, the error is logged', async () => {
    const { source, connect } = await setup({ metricsIntervalMs: 50 });
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'] });
    await c.untilCount('snapshot', 1);
    const original = source.getMetrics.bind(source);
    source.getMetrics = () => {
      throw new Error('boom');
    };
    expect(() => source.bump('churn', 2)).not.toThrow();
    c.send({ type: 'subscribe', models: ['fraud'] });
    const [err] = await c.untilCount('error', 1);
    expect(err.message).toBe('internal error handling subscribe');
    source.getMetrics = original;
    await sleep(60);
    source.bump('churn', 3);
    await c.until((fs) => fs.some((f) => f.type === 'metrics' && f.metrics?.count === 3), 1000, 'metrics after recovery');
    expect(c.closeCode).toBeUndefined();
  });
});

describe('live feed: slow and dead clients', () => {
  it('terminates a client that stops reading, with bounded memory, while others keep receiving', async () => {
    const maxBufferedBytes = 64 * 1024;
    const models = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const { source, connect, app, registry } = await setup({ maxBufferedBytes, slowClientTimeoutMs: 400, metricsIntervalMs: 20 }, undefined, models);
    source.featureCount = 400; // ~100 KB frames
    const healthy = await connect();
    healthy.send({ type: 'subscribe', models: ['m0'], topics: ['metrics', 'drift'] });
    const slow = await connect();
    slow.send({ type: 'subscribe', models: ['*'], topics: ['metrics', 'drift'] });
    await slow.untilCount('snapshot', 10);
    await healthy.untilCount('snapshot', 1);
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const frameBytes = JSON.stringify(source.getMetrics('m0', '5m')?.drift).length;

    let maxBuffered = 0;
    let maxPending = 0;
    let round = 0;
    const deadline = Date.now() + 15_000;
    while (slow.closeCode === undefined && app.liveFeed.clientCount === 2 && Date.now() < deadline) {
      round++;
      for (const m of models) source.bump(m, round);
      for (const s of app.liveFeed.clientStats()) {
        maxBuffered = Math.max(maxBuffered, s.bufferedAmount);
        maxPending = Math.max(maxPending, s.pendingFrames);
      }
      await sleep(25);
    }
    expect(app.liveFeed.clientCount).toBe(1);
    expect(await metricValue(registry, 'drift_ws_clients_dropped_total', { reason: 'slow' })).toBe(1);
    // Bounded: bufferedAmount is checked before every send, so the buffer never exceeds the limit
    // by more than one frame (plus its small envelope); the coalesced backlog is one mark per model.
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes + frameBytes + 1024);
    expect(maxPending).toBeLessThanOrEqual(models.length);
    expect(await metricValue(registry, 'drift_ws_frames_coalesced_total')).toBeGreaterThan(0);

    // The healthy client got updates all along and still does, with the latest data.
    // one metrics frame per round for m0 (20 ms throttle, 25 ms rounds): allow timer slack
    expect(healthy.ofType('metrics').length).toBeGreaterThanOrEqual(Math.floor(round / 2));
    source.bump('m0', 99_999);
    await healthy.until((fs) => fs.some((f) => f.type === 'metrics' && f.metrics?.count === 99_999), 2000, 'latest metrics');
  }, 30_000);

  it('drops a slow client whose alert queue overflows; other clients get every alert in order', async () => {
    // headroom for the healthy client on a loaded machine (it may read late), none for the paused one
    const { source, connect, app, registry } = await setup({ maxBufferedBytes: 256 * 1024, maxQueuedAlerts: 64 });
    const healthy = await connect();
    const slow = await connect();
    for (const c of [healthy, slow]) c.send({ type: 'subscribe', models: ['churn'], topics: ['alerts'] });
    await healthy.untilCount('snapshot', 1);
    await slow.untilCount('snapshot', 1);
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    const big = 'x'.repeat(16 * 1024);
    let sent = 0;
    while (app.liveFeed.clientCount === 2 && sent < 8000) {
      source.fire(alert('churn', 'psi', ++sent, 'firing', big));
      if (sent % 10 === 0) await sleep(5);
    }
    expect(app.liveFeed.clientCount).toBe(1);
    expect(await metricValue(registry, 'drift_ws_clients_dropped_total', { reason: 'alert_overflow' })).toBe(1);
    for (const s of app.liveFeed.clientStats()) expect(s.queuedAlerts).toBeLessThanOrEqual(64);

    const received = await healthy.untilCount('alert', sent, 10_000);
    expect(received.map((f) => f.alert?.at)).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
  }, 30_000);

  it('a client that pauses then catches up gets the coalesced latest state, not every update', async () => {
    const { source, connect, app } = await setup({ maxBufferedBytes: 16 * 1024, metricsIntervalMs: 20 });
    source.featureCount = 400;
    const c = await connect();
    c.send({ type: 'subscribe', models: ['churn'], topics: ['metrics', 'drift'] });
    await c.untilCount('snapshot', 1);
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    let bumps = 0;
    const deadline = Date.now() + 10_000;
    // Update until the server holds a coalesced mark for this client, then some more.
    while (app.liveFeed.clientStats()[0].pendingFrames === 0 && Date.now() < deadline) {
      source.bump('churn', ++bumps);
      await sleep(25);
    }
    expect(app.liveFeed.clientStats()[0].pendingFrames).toBe(1);
    for (let i = 0; i < 10; i++) {
      source.bump('churn', ++bumps);
      await sleep(25);
    }
    expect(app.liveFeed.clientStats()[0].pendingFrames).toBe(1);
    socket.resume();
    await c.until((fs) => fs.some((f) => f.type === 'metrics' && f.metrics?.count === bumps), 5000, 'the latest metrics');
    expect(c.ofType('metrics').length).toBeLessThan(bumps);
    expect(c.closeCode).toBeUndefined();
  }, 20_000);

  it('a client that keeps writing requests but never reads is dropped without growing our buffer', async () => {
    const maxBufferedBytes = 16 * 1024;
    const { source, connect, app, registry } = await setup({ maxBufferedBytes, slowClientTimeoutMs: 300 });
    source.featureCount = 400; // ~100 KB snapshots
    const frameBytes = JSON.stringify(source.getMetrics('churn', '5m')).length;
    const c = await connect();
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    let maxBuffered = 0;
    const deadline = Date.now() + 10_000;
    while (app.liveFeed.clientCount === 1 && Date.now() < deadline) {
      for (let i = 0; i < 20; i++) c.send({ type: 'subscribe', models: ['*'] });
      await sleep(10);
      for (const s of app.liveFeed.clientStats()) {
        maxBuffered = Math.max(maxBuffered, s.bufferedAmount);
        expect(s.pendingFrames).toBeLessThanOrEqual(2);
      }
    }
    expect(app.liveFeed.clientCount).toBe(0);
    expect(await metricValue(registry, 'drift_ws_clients_dropped_total', { reason: 'slow' })).toBe(1);
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes + frameBytes + 1024);
  }, 20_000);

  it('terminates a client that does not answer pings', async () => {
    const { connect, app, registry } = await setup({ pingIntervalMs: 100 });
    const c = await connect();
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const deadline = Date.now() + 3000;
    while (app.liveFeed.clientCount > 0 && Date.now() < deadline) await sleep(50);
    expect(app.liveFeed.clientCount).toBe(0);
    expect(await metricValue(registry, 'drift_ws_clients_dropped_total', { reason: 'heartbeat' })).toBe(1);
  });
});

describe('live feed: models the source gives up', () => {
  /** Entries the feed and its clients keep per model. */
  function perModelEntries(app: FastifyInstance): number {
    const feed = app.liveFeed as unknown as Record<string, unknown>;
    let entries = (feed.driftState as Map<string, unknown>).size + (feed.throttle as Map<string, unknown>).size;
    for (const client of feed.clients as Set<{ lastMetricsAt: Map<string, number>; lastDriftStamp: Map<string, number>; pending: Map<string, unknown> }>) {
      entries += client.lastMetricsAt.size + client.lastDriftStamp.size + client.pending.size;
    }
    return entries;
  }

  it('forgets what it kept for each released model, and sends a model that comes back afresh', async () => {
    const { app, source, connect } = await setup({ metricsIntervalMs: 20 }, undefined, []);
    const c = await connect();
    c.send({ type: 'subscribe', models: ['*'], topics: ['metrics', 'drift'] });
    await c.untilCount('subscribed', 1);
    const MODELS = 200;
    for (let i = 0; i < MODELS; i++) source.bump(`m${i}`, 5);
    await c.untilCount('metrics', MODELS);
    await c.untilCount('drift', MODELS);
    await sleep(50); // the throttles' intervals pass
    expect(perModelEntries(app)).toBeGreaterThanOrEqual(3 * MODELS);
    for (let i = 0; i < MODELS; i++) {
      source.counts.delete(`m${i}`);
      source.emitReleased(`m${i}`);
    }
    expect(perModelEntries(app)).toBe(0);

    const before = c.frames.length;
    source.bump('m0', 9);
    await c.until((frames) => frames.slice(before).some((f) => f.type === 'drift' && f.model === 'm0'));
    expect(c.frames.slice(before).find((f) => f.type === 'metrics' && f.model === 'm0')?.metrics?.count).toBe(9);
  });
});
