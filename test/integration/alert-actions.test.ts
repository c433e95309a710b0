/**
 * Alerts an operator acts on, against a real nats-server with two gateway replicas: a webhook
 * receiver that fails twice first gets each transition exactly once; a silence made on one replica
 * holds on the other and after a restart, and its alerts are recorded (marked silenced, published on
 * NATS) but not delivered; an acknowledgement shows on both replicas; the audit trail has each fact once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startGateway } from '../../src/app/gateway.ts';
import type { Gateway } from '../../src/app/gateway.ts';
import type { ActiveAlert, AuditEntry, Silence } from '../../src/contract/alerting.ts';
import type { AlertEvent } from '../../src/contract/metrics.ts';

const RULES = [{ name: 'error_burst', description: 'Error rate above 50 %', metric: 'errorRate', window: '1m', op: '>', threshold: 0.5, minCount: 10, for: '0s', severity: 'critical' }];

interface Received {
  attempts: Map<string, number>;
  delivered: Array<{ receiver: string; alert: AlertEvent }>;
  /** The configured header of each delivered request. */
  teams: string[];
}

/** A receiver that answers 503 to the first two attempts of each transition id, then 200. */
async function startReceiver(): Promise<{ server: Server; url: string; received: Received }> {
  const received: Received = { attempts: new Map(), delivered: [], teams: [] };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const id = String(req.headers['idempotency-key']);
      const attempt = (received.attempts.get(id) ?? 0) + 1;
      received.attempts.set(id, attempt);
      if (attempt <= 2) {
        res.writeHead(503).end('busy');
        return;
      }
      received.delivered.push(JSON.parse(body) as { receiver: string; alert: AlertEvent });
      received.teams.push(String(req.headers['x-team']));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

describe('silences, acknowledgements, webhooks and audit with two gateway replicas', () => {
  let pipeline: Pipeline;
  let second: Gateway;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let alertsConfig: Record<string, unknown>;
  const T = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    receiver = await startReceiver();
    alertsConfig = { rules: RULES, webhooks: [{ name: 'oncall', url: receiver.url, retries: 4, backoff: '200ms', timeout: '5s', headers: { 'X-Team': 'ml' } }] };
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 }, alerts: alertsConfig });
    const config = loadConfig({ env: { NATS_URL: pipeline.server.url, PORT: '0', LOG_LEVEL: 'warn' }, overrides: { reference: { autoCaptureMs: 0 }, alerts: alertsConfig } });
    second = await startGateway(pipeline.nc, config, pino({ level: 'warn' }));
  }, 60_000);

  afterAll(async () => {
    await second?.stop();
    await pipeline?.stop();
    await new Promise((resolve) => receiver?.server.close(resolve));
  }, 60_000);

  async function publish(model: string, prefix: string, start: number, failing: boolean, n = 30): Promise<void> {
    for (let i = 0; i < n; i++) {
      const base = { id: `${model}-${prefix}-${i}`, model, ts: start + i * 200, latencyMs: 5, features: { x: i % 7 } };
      await pipeline.publisher.publishPrediction(failing ? { ...base, error: 'timeout' } : { ...base, output: 0.5 });
    }
    await pipeline.publisher.flush();
  }

  const alertsOf = async (url: string, model: string) => (await getJson<{ active: ActiveAlert[]; history: AlertEvent[] }>(`${url}/v1/alerts?model=${model}`)).body;
  const post = async (url: string, body: unknown) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('delivers each transition once to a receiver that fails twice first, although both replicas compute it', async () => {
    await publish('pay', 'bad', T, true);
    const firing = await eventually(async () => (await alertsOf(second.url, 'pay')).active.find((a) => a.state === 'firing'), 30_000, 'the alert on the second replica');
    await eventually(async () => ((await alertsOf(pipeline.baseUrl, 'pay')).active.some((a) => a.id === firing.id) ? true : undefined), 30_000, 'the alert on the first replica');
    await eventually(() => (receiver.received.delivered.some((d) => d.alert.id === firing.id) ? true : undefined), 30_000, 'the firing delivery');

    await publish('pay', 'good', T + 120_000, false);
    const resolved = await eventually(async () => (await alertsOf(pipeline.baseUrl, 'pay')).history.find((a) => a.state === 'resolved'), 30_000, 'the resolution');
    await eventually(() => (receiver.received.delivered.some((d) => d.alert.id === resolved.id) ? true : undefined), 30_000, 'the resolved delivery');
    await eventually(async () => ((await alertsOf(second.url, 'pay')).history.some((a) => a.id === resolved.id) ? true : undefined), 30_000, 'the second replica to resolve');
    // time for a second replica's duplicate delivery (and its retries) to show, were there one
    await new Promise((r) => setTimeout(r, 2500));

    const pay = receiver.received.delivered.filter((d) => d.alert.model === 'pay');
    expect(pay.map((d) => [d.alert.id, d.alert.state])).toEqual([
      [firing.id, 'firing'],
      [resolved.id, 'resolved'],
    ]);
    expect(pay[0].receiver).toBe('oncall');
    expect(receiver.received.teams).toEqual(['ml', 'ml']);
    // two refusals and one success per transition: one replica delivered, and retried
    expect(receiver.received.attempts.get(firing.id)).toBe(3);
    expect(receiver.received.attempts.get(resolved.id)).toBe(3);
  }, 120_000);

  it('a silence made on one replica holds on the other: the alert is recorded and shown silenced, published on NATS, never delivered', async () => {
    const created = await post(`${second.url}/v1/silences`, { matchers: { model: 'quiet' }, duration: '1h', comment: 'load test', createdBy: 'ana' });
    expect(created.status).toBe(201);
    const silence = created.body as unknown as Silence & { state: string };
    expect(silence).toMatchObject({ matchers: { model: 'quiet' }, comment: 'load test', createdBy: 'ana', state: 'active', expiredAt: null });
    expect(silence.endsAt - silence.startsAt).toBe(3_600_000);
    await eventually(async () => {
      const { body } = await getJson<{ silences: Silence[] }>(`${pipeline.baseUrl}/v1/silences?state=active`);
      return body.silences.some((s) => s.id === silence.id) ? true : undefined;
    }, 10_000, 'the first replica to see the silence');

    const refused = await post(`${pipeline.baseUrl}/v1/silences`, { matchers: {}, duration: '1h', comment: 'x', createdBy: 'y' });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/at least one of model, rule, scope/);

    await publish('quiet', 'bad', T, true);
    for (const url of [pipeline.baseUrl, second.url]) {
      const alert = await eventually(async () => (await alertsOf(url, 'quiet')).active.find((a) => a.state === 'firing'), 30_000, 'the silenced alert');
      expect(alert).toMatchObject({ silenced: true, silencedBy: [silence.id] });
      const { history } = await alertsOf(url, 'quiet');
      expect(history.map((a) => [a.state, a.silenced])).toEqual([['firing', true]]);
    }
    await new Promise((r) => setTimeout(r, 2500));
    expect(receiver.received.delivered.filter((d) => d.alert.model === 'quiet')).toEqual([]);
    expect([...receiver.received.attempts.keys()].filter((id) => id.startsWith('quiet:'))).toEqual([]);

    // on NATS the transition is there once, marked silenced
    const consumer = await jetstream(pipeline.nc).consumers.get('DRIFT_ALERTS', { filter_subjects: 'drift.alert.quiet.>', deliver_policy: DeliverPolicy.All });
    const onNats: AlertEvent[] = [];
    for await (const msg of await consumer.fetch({ max_messages: 10, expires: 2000 })) onNats.push(msg.json<AlertEvent>());
    expect(onNats.map((a) => [a.state, a.silenced, a.silencedBy])).toEqual([['firing', true, [silence.id]]]);
  }, 120_000);

  it('an acknowledgement made on one replica shows on the other; the audit trail has the transition, silence and ack once each', async () => {
    const [alert] = (await alertsOf(pipeline.baseUrl, 'quiet')).active;
    const missing = await post(`${pipeline.baseUrl}/v1/alerts/${encodeURIComponent('quiet:nope:model:1:firing')}/ack`, { by: 'bob' });
    expect(missing.status).toBe(404);
    const acked = await post(`${pipeline.baseUrl}/v1/alerts/${encodeURIComponent(alert.id)}/ack`, { by: 'bob', comment: 'expected during the load test' });
    expect(acked.status).toBe(200);
    expect(acked.body.acknowledged).toMatchObject({ by: 'bob', comment: 'expected during the load test' });
    const seen = await eventually(async () => (await alertsOf(second.url, 'quiet')).active.find((a) => a.acknowledged !== null), 10_000, 'the ack on the second replica');
    expect(seen.acknowledged).toMatchObject({ by: 'bob' });

    const entries = await eventually(async () => {
      const { body } = await getJson<{ entries: AuditEntry[] }>(`${second.url}/v1/audit?model=quiet`);
      return body.entries.some((e) => e.kind === 'ack') ? body.entries : undefined;
    }, 10_000, 'the audit entries');
    expect(entries.map((e) => [e.kind, e.action, e.actor])).toEqual([
      ['silence', 'created', 'ana'],
      ['transition', 'firing', 'driftwatch'],
      ['ack', 'acknowledged', 'bob'],
    ]);
    expect(entries[1]).toMatchObject({ alertId: alert.id, model: 'quiet', rule: 'error_burst', scope: 'model' });
    const { body: transitions } = await getJson<{ entries: AuditEntry[] }>(`${pipeline.baseUrl}/v1/audit?kind=transition&model=pay`);
    expect(transitions.entries.map((e) => e.action)).toEqual(['firing', 'resolved']);
    expect((await fetch(`${pipeline.baseUrl}/v1/audit?since=someday`)).status).toBe(400);
  }, 60_000);

  it('silences survive a gateway restart, and expiring one is shared and audited', async () => {
    const { body } = await getJson<{ silences: Silence[] }>(`${second.url}/v1/silences`);
    const [silence] = body.silences;
    await second.stop();
    const config = loadConfig({ env: { NATS_URL: pipeline.server.url, PORT: '0', LOG_LEVEL: 'warn' }, overrides: { reference: { autoCaptureMs: 0 }, alerts: alertsConfig } });
    second = await startGateway(pipeline.nc, config, pino({ level: 'warn' }));
    const after = await getJson<{ silences: Silence[] }>(`${second.url}/v1/silences?state=active`);
    expect(after.body.silences.map((s) => s.id)).toEqual([silence.id]);

    const expired = await fetch(`${second.url}/v1/silences/${silence.id}?by=carol`, { method: 'DELETE' });
    expect(expired.status).toBe(200);
    expect(await expired.json()).toMatchObject({ id: silence.id, state: 'expired', expiredBy: 'carol' });
    await eventually(async () => {
      const { body: first } = await getJson<{ silences: Silence[] }>(`${pipeline.baseUrl}/v1/silences?state=expired`);
      return first.silences.some((s) => s.id === silence.id) ? true : undefined;
    }, 10_000, 'the first replica to see the expiry');
    expect((await fetch(`${second.url}/v1/silences/${silence.id}`, { method: 'DELETE' })).status).toBe(409);
    expect((await fetch(`${second.url}/v1/silences/nope`, { method: 'DELETE' })).status).toBe(404);
    const audit = await getJson<{ entries: AuditEntry[] }>(`${pipeline.baseUrl}/v1/audit?kind=silence`);
    expect(audit.body.entries.map((e) => [e.action, e.actor])).toEqual([
      ['created', 'ana'],
      ['expired', 'carol'],
    ]);
  }, 60_000);
});
