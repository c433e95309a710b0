import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encode } from '@msgpack/msgpack';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import { pino } from 'pino';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startGateway } from '../../src/app/gateway.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { SeededRandom } from '../../src/simulator/random.ts';
import type { AlertEvent, ModelMetrics } from '../../src/contract/metrics.ts';
import type { ActiveAlert } from '../../src/contract/alerting.ts';

// minCount 200: the quiet phase's 300 values arrive over a few flushes of two partitions, and a
// window holding part of them is evaluated too. Over every such part (a prefix of each partition's
// values, the seeded data below), PSI against the baseline reaches 0.32 at 102 values (82 + 20) and
// tops 0.2 in 1,173 of the 17,751 parts of 100 or more, where no part of 200 or more passes 0.112: at
// minCount 100 the rule could fire on the quiet phase, and the test then took that alert for the drift's.
const RULES = [
  { name: 'feature_psi', description: 'PSI of a feature above 0.2', metric: 'drift.feature.psi', scope: 'feature', window: '1m', op: '>', threshold: 0.2, minCount: 200, for: '0s', severity: 'warning' },
];

describe('alerts and dead letters against a real nats-server', () => {
  let pipeline: Pipeline;
  const seeded = new SeededRandom(11);
  const random = () => seeded.next();
  const normal = () => seeded.normal();
  const T1 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 }, alerts: { rules: RULES } });
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  async function publishPhase(prefix: string, startTs: number, shift: number, n = 300): Promise<void> {
    for (let i = 0; i < n; i++) {
      await pipeline.publisher.publishPrediction({ id: `${prefix}-${i}`, model: 'credit', ts: startTs + i * 100, output: random(), features: { x: normal() + shift } });
    }
    await pipeline.publisher.flush();
  }

  it('an injected covariate drift fires the PSI alert once on NATS and on the WebSocket, and resolving traffic resolves it', async () => {
    const rows = Array.from({ length: 1000 }, () => ({ features: { x: normal() } }));
    const upload = await fetch(`${pipeline.baseUrl}/v1/baselines`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'credit', rows }),
    });
    expect(upload.status).toBe(201);

    await publishPhase('a', T1, 0);
    await eventually(async () => {
      const { body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/credit/metrics?window=1m`);
      return body.count === 300 ? body : undefined;
    });

    const ws = new WebSocket(`${pipeline.baseUrl.replace('http', 'ws')}/v1/live`);
    const frames: Array<{ type: string; alert?: AlertEvent }> = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe', models: ['credit'], topics: ['alerts'] }));
    await eventually(() => frames.find((f) => f.type === 'snapshot'), 5000, 'snapshot');

    // drift statistics are refreshed once a second: wait for the ones computed on the whole quiet phase
    const quiet = await eventually(async () => {
      const { body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/credit/metrics?window=1m`);
      return body.drift.features.x?.count === 300 ? body : undefined;
    });
    expect(quiet.drift.features.x.tests.psi.statistic).toBeLessThan(0.2);
    expect(quiet.drift.reference).toMatch(/^credit\.all\.file\./);
    // the default significance level: half a false alarm per million values, spread over the 60
    // evaluations the gateway makes of a 1m window as it slides (one a second)
    const entry = quiet.drift.features.x;
    const alpha = (0.5 * 300) / (1e6 * 60);
    for (const test of Object.values(entry.tests).filter((t) => t.pValue !== undefined)) expect(test.threshold).toBeCloseTo(alpha, 15);
    expect(entry.drift).toBe(entry.tests[entry.primary].drift && (entry.confirmedBy === undefined || entry.tests[entry.confirmedBy].drift));

    // no alert on the quiet phase, while it came in or since
    expect(frames.filter((f) => f.type === 'alert')).toEqual([]);
    const active = await getJson<{ active: ActiveAlert[] }>(`${pipeline.baseUrl}/v1/alerts`);
    expect(active.body.active).toEqual([]);

    await publishPhase('b', T1 + 60_000, 2);
    const firing = await eventually(() => frames.find((f) => f.type === 'alert' && f.alert?.state === 'firing'), 20_000, 'a firing alert frame');
    expect(firing.alert).toMatchObject({ model: 'credit', rule: 'feature_psi', scope: 'feature:x', severity: 'warning', threshold: 0.2, window: '1m' });
    expect(firing.alert?.value).toBeGreaterThan(0.2);

    // against a rolling reference (the minute before the window: the quiet phase) the shift shows too
    const rolling = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/credit/metrics?window=1m&reference=rolling`);
    expect(rolling.status).toBe(200);
    expect(rolling.body.drift.reference).toMatch(/rolling-1m/);
    expect(rolling.body.drift.features.x.tests.psi.statistic).toBeGreaterThan(0.2);

    // event time moves on while the alert fires; then a second gateway starts: it must continue the
    // alert's lifecycle (same start, same id) rather than announce it again from where time is now
    await publishPhase('b2', T1 + 90_000, 2, 100);
    await eventually(async () => {
      const { body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/credit/metrics?window=1m`);
      return body.to > (firing.alert?.at ?? Infinity) ? true : undefined;
    });
    const config = loadConfig({ env: { NATS_URL: pipeline.server.url, PORT: '0', LOG_LEVEL: 'warn' }, overrides: { reference: { autoCaptureMs: 0 }, alerts: { rules: RULES } } });
    const replica = await startGateway(pipeline.nc, config, pino({ level: 'warn' }));
    try {
      const replayed = await eventually(async () => {
        const { body } = await getJson<{ active: ActiveAlert[] }>(`${replica.url}/v1/alerts?model=credit`);
        return body.active.find((a) => a.state === 'firing');
      }, 10_000, 'the replica to know the firing alert');
      expect(replayed.id).toBe(firing.alert?.id);
      await new Promise((r) => setTimeout(r, 2500)); // a few evaluation ticks of the replica

      await publishPhase('c', T1 + 240_000, 0);

      const resolved = await eventually(() => frames.find((f) => f.type === 'alert' && f.alert?.state === 'resolved'), 20_000, 'a resolved alert frame');
      expect(resolved.alert?.startsAt).toBe(firing.alert?.startsAt);
      await eventually(async () => {
        const { body } = await getJson<{ active: ActiveAlert[]; history: AlertEvent[] }>(`${replica.url}/v1/alerts?model=credit`);
        return body.history.some((a) => a.state === 'resolved') && body.active.length === 0 ? true : undefined;
      }, 20_000, 'the replica to resolve the alert too');
    } finally {
      await replica.stop();
    }
    ws.close();

    // on NATS: exactly one firing and one resolved transition, with the documented payload
    const js = jetstream(pipeline.nc);
    const consumer = await js.consumers.get('DRIFT_ALERTS', { filter_subjects: 'drift.alert.credit.>', deliver_policy: DeliverPolicy.All });
    const seen: AlertEvent[] = [];
    await new Promise((r) => setTimeout(r, 1500));
    const messages = await consumer.fetch({ max_messages: 100, expires: 2000 });
    for await (const msg of messages) {
      expect(msg.subject).toBe('drift.alert.credit.feature_psi');
      seen.push(msg.json<AlertEvent>());
    }
    expect(seen.map((a) => a.state)).toEqual(['firing', 'resolved']);
    for (const alert of seen) {
      for (const key of ['id', 'model', 'rule', 'state', 'severity', 'value', 'threshold', 'window', 'startsAt', 'at']) expect(alert).toHaveProperty(key);
    }
  });

  it('malformed inputs are counted by reason and land in the DLQ while valid traffic around them is fully counted', async () => {
    const js = jetstream(pipeline.nc);
    const subject = 'drift.in.0.junk.pred';
    // after the drift phases: event time of partition 0 is now past T1 + 240 s (earlier panes are closed)
    const T2 = T1 + 300_000;
    const good = (i: number) => encode({ id: `g-${i}`, model: 'junk', ts: T2 + i * 10, output: 0.5 });
    const bad: Array<[string, Uint8Array]> = [
      ['undecodable', new Uint8Array([0xc1, 0x00, 0x01])],
      ['undecodable', new TextEncoder().encode('{"id": "x", ')],
      ['missing_field', encode({ model: 'junk', ts: T1, output: 1 })],
      ['wrong_type', encode({ id: 'w', model: 'junk', ts: 'yesterday', output: 1 })],
      ['non_finite', encode({ id: 'n', model: 'junk', ts: T1, output: Number.NaN })],
      ['oversized', encode({ id: 'o', model: 'junk', ts: T1, output: 1, features: { blob: 'x'.repeat(70_000) } })],
      ['model_mismatch', encode({ id: 'm', model: 'other', ts: T1, output: 1 })],
    ];
    let g = 0;
    for (const [, payload] of bad) {
      for (let k = 0; k < 10; k++) await js.publish(subject, good(g++));
      await js.publish(subject, payload);
    }
    for (let k = 0; k < 10; k++) await js.publish(subject, good(g++));
    // a JSON event is accepted too
    await js.publish(subject, new TextEncoder().encode(JSON.stringify({ id: `g-${g++}`, model: 'junk', ts: T2, output: 0.25 })));

    const metrics = await eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/junk/metrics?window=1h`);
      return status === 200 && body.count === g ? body : undefined;
    });
    expect(metrics.count).toBe(g);

    const expected = new Map<string, number>();
    for (const [reason] of bad) expected.set(reason, (expected.get(reason) ?? 0) + 1);
    const patterns = [...expected].map(([reason, n]) => new RegExp(`^drift_events_rejected_total\\{reason="${reason}"\\} ${n}$`, 'm'));
    // partition counters reach Prometheus once a second
    const text = await eventually(async () => {
      const body = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
      return patterns.every((p) => p.test(body)) ? body : undefined;
    }, 10_000, 'rejected counters on /metrics');
    for (const pattern of patterns) expect(text).toMatch(pattern);

    const dlq = await js.consumers.get('DRIFT_DLQ', { filter_subjects: 'drift.dlq.>', deliver_policy: DeliverPolicy.All });
    const dead: Array<{ subject: string; reason: string | undefined; detail: string | undefined }> = [];
    await eventually(async () => {
      const info = await (await js.jetstreamManager()).streams.info('DRIFT_DLQ');
      return info.state.messages === bad.length ? true : undefined;
    });
    const batch = await dlq.fetch({ max_messages: bad.length, expires: 2000 });
    for await (const msg of batch) dead.push({ subject: msg.subject, reason: msg.headers?.get('Driftwatch-Reason'), detail: msg.headers?.get('Driftwatch-Detail') });
    expect(dead.map((d) => d.subject).sort()).toEqual(bad.map(([reason]) => `drift.dlq.${reason}`).sort());
    const wrongType = dead.find((d) => d.reason === 'wrong_type');
    expect(wrongType?.detail).toMatch(/ts/);
  });
});
