import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { SeededRandom } from '../../src/simulator/random.ts';
import type { AlertEvent, ModelMetrics } from '../../src/contract/metrics.ts';

/**
 * Data quality end to end on a real nats-server, with the default alert rules of
 * config/alert-rules.json: a feature going 30 % missing, a new category and a feature vanishing
 * each raise their metric and their default alert exactly once.
 */

const MODEL = 'shop';
const PLANS = ['basic', 'plus', 'pro'];
/** Events per second of event time, and event time published per step (then the gateway's rules run on it). */
const RATE = 5;
const STEP_MS = 20_000;
const DATA_QUALITY_RULES = new Set(['missing_share_jump', 'new_categories', 'feature_vanished']);

type Features = Record<string, number | string | null>;

describe('data-quality monitors against a real nats-server', () => {
  let pipeline: Pipeline;
  const seeded = new SeededRandom(15);
  // event time: 20 minutes ago, on a minute, so every phase is in the past and within maxFutureMs
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000;
  let published = 0;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 } });
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  function normalFeatures(): Features {
    return { amount: 10 + 100 * seeded.next(), plan: PLANS[Math.floor(seeded.next() * PLANS.length)], region: 'eu' };
  }

  async function metricsOf(window: string): Promise<ModelMetrics> {
    const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/${MODEL}/metrics?window=${window}`);
    expect(status).toBe(200);
    return body;
  }

  /**
   * Publishes [from, to) of event time a step at a time, each event's features from `features(i)`;
   * after each step waits until the gateway holds it and for an evaluation tick of the rules (once a
   * second), so the rules see the windows slide as they would live.
   */
  async function publishPhase(from: number, to: number, features: (i: number) => Features): Promise<void> {
    for (let start = from; start < to; start += STEP_MS) {
      const n = (STEP_MS / 1000) * RATE;
      for (let k = 0; k < n; k++) {
        const i = published++;
        await pipeline.publisher.publishPrediction({ id: `e-${i}`, model: MODEL, ts: start + (k * STEP_MS) / n, output: seeded.next(), features: features(k) });
      }
      await pipeline.publisher.flush();
      const expected = published;
      await eventually(async () => ((await metricsOf('1h')).count === expected ? true : undefined), 30_000, `the gateway to hold ${expected} predictions`);
      await new Promise((r) => setTimeout(r, 1100));
    }
  }

  async function dataQualityAlerts(): Promise<AlertEvent[]> {
    const js = jetstream(pipeline.nc);
    const consumer = await js.consumers.get('DRIFT_ALERTS', { filter_subjects: `drift.alert.${MODEL}.>`, deliver_policy: DeliverPolicy.All });
    const info = await consumer.info();
    const seen: AlertEvent[] = [];
    if (info.num_pending === 0) return seen;
    const messages = await consumer.fetch({ max_messages: info.num_pending, expires: 2000 });
    for await (const msg of messages) {
      const alert = msg.json<AlertEvent>();
      if (DATA_QUALITY_RULES.has(alert.rule)) seen.push(alert);
    }
    return seen;
  }

  it('missing values, a new category and a vanished feature each fire their default rule once', async () => {
    const rows = Array.from({ length: 1000 }, () => ({ features: normalFeatures(), output: seeded.next() }));
    const upload = await fetch(`${pipeline.baseUrl}/v1/baselines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, rows }) });
    expect(upload.status).toBe(201);

    const ws = new WebSocket(`${pipeline.baseUrl.replace('http', 'ws')}/v1/live`);
    const frames: Array<{ type: string; metrics?: ModelMetrics }> = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe', models: [MODEL], topics: ['metrics'], window: '5m' }));

    // phase A, 3 minutes as the reference: nothing wrong
    const phaseB = T0 + 180_000;
    await publishPhase(T0, phaseB, () => normalFeatures());
    const quiet = await metricsOf('5m');
    expect(quiet.dataQuality?.reference).toMatch(/^shop\.all\.file\./);
    expect(quiet.dataQuality?.features.amount.missingShare).toBe(0);
    expect(quiet.dataQuality?.features.plan.newCategoryShare).toBe(0);
    expect(quiet.dataQuality?.vanished).toEqual([]);
    expect(quiet.dataQuality?.appeared).toEqual([]);
    expect(await dataQualityAlerts()).toEqual([]);

    // phase B, 5 minutes: amount absent from 30 % of the events, plan 'enterprise' in 5 %
    const phaseC = phaseB + 300_000;
    const degraded = (k: number): Features => {
      const features = normalFeatures();
      if (k % 10 < 3) delete features.amount;
      if (k % 20 === 5) features.plan = 'enterprise';
      return features;
    };
    await publishPhase(phaseB, phaseC, degraded);
    const broken = await metricsOf('5m');
    const amount = broken.dataQuality?.features.amount;
    expect(amount?.missingShare).toBeCloseTo(0.3, 2);
    expect(amount?.missingIncrease).toBeCloseTo(0.3, 2);
    expect(broken.dataQuality?.features.plan.newCategoryShare).toBeCloseTo(0.05, 2);
    expect(broken.dataQuality?.features.plan.newCategories).toEqual(['enterprise']);
    expect(broken.dataQuality?.vanished).toEqual([]);

    // phase C, 2 minutes: region is no longer sent at all
    const end = phaseC + 120_000;
    await publishPhase(phaseC, end, (k) => {
      const features = degraded(k);
      delete features.region;
      return features;
    });
    const gone = await metricsOf('1m');
    expect(gone.dataQuality?.vanished).toEqual(['region']);
    expect(gone.dataQuality?.features.region.missingShare).toBe(1);

    // the metrics frames carry the data quality too
    const frame = await eventually(() => frames.find((f) => f.type === 'metrics' && f.metrics?.dataQuality?.features.plan?.newCategoryShare), 10_000, 'a metrics frame with data quality');
    expect(frame.metrics?.dataQuality?.features.plan.newCategories).toEqual(['enterprise']);
    ws.close();

    // Prometheus
    const text = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
    expect(text).toMatch(/^drift_data_quality_vanished\{model="shop",version="all",window="1m",feature="region"\} 1$/m);
    expect(text).toMatch(/^drift_data_quality_new_category_share\{model="shop",version="all",window="5m",feature="plan"\} 0\.0[45]\d*$/m);

    // on NATS: each default rule fired once for its feature, and the vanished feature, missing from
    // every event, also raised the missing-share rule once; nothing else and nothing twice
    await new Promise((r) => setTimeout(r, 1500));
    const alerts = await dataQualityAlerts();
    const firing = alerts.filter((a) => a.state === 'firing').map((a) => `${a.rule} ${a.scope}`).sort();
    expect(firing).toEqual(['feature_vanished feature:region', 'missing_share_jump feature:amount', 'missing_share_jump feature:region', 'new_categories feature:plan']);
    expect(alerts.filter((a) => a.state === 'resolved')).toEqual([]);
    for (const alert of alerts) expect(alert.startsAt).toBeGreaterThanOrEqual(phaseB);
    const vanished = alerts.find((a) => a.rule === 'feature_vanished');
    expect(vanished).toMatchObject({ severity: 'critical', window: '1m', value: 1, threshold: 0 });
    expect(vanished?.startsAt).toBeGreaterThanOrEqual(phaseC + 60_000);
  });
});
