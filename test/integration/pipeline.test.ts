import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { SeededRandom } from '../../src/simulator/random.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

/** The order statistic LogHistogram.quantile is documented against: sorted[floor(q * (n - 1))]. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))];
}

describe('end-to-end: predictions and late labels through NATS to REST and WebSocket', () => {
  let pipeline: Pipeline;
  const N = 400;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 180_000;
  const seeded = new SeededRandom(7);
  const random = () => seeded.next();
  const predictions = Array.from({ length: N }, (_, i) => ({
    id: `pred-${i}`,
    model: 'fraud',
    version: i % 5 === 0 ? 'v2' : 'v1',
    ts: T0 + i * 100,
    output: Math.round(random() * 1000) / 1000,
    latencyMs: 5 + Math.round(random() * 200),
    error: i % 25 === 0 ? 'timeout' : undefined,
    features: { amount: Math.round(random() * 10000) / 100, country: i % 3 === 0 ? 'de' : 'fr' },
  }));
  const labelOf = () => (random() < 0.5 ? 0 : 1);
  const labels = predictions.map((p) => ({ id: p.id, model: 'fraud', ts: p.ts + 2000, label: labelOf() }));
  // i % 4: 0 = label before its prediction, 1 = label after, 2 = label after + prediction re-sent, 3 = never labeled
  const labeled = predictions.filter((_, i) => i % 4 !== 3);

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 4 }, reference: { autoCaptureMs: 0 } });
    const { publisher } = pipeline;
    for (let i = 0; i < N; i += 4) await publisher.publishLabel(labels[i]);
    await publisher.flush();
    // predictions out of order: odd positions first, then even ones
    const order = [...predictions.keys()].sort((a, b) => (a % 2) - (b % 2) || a - b);
    for (const i of order) await publisher.publishPrediction(predictions[i]);
    for (let i = 2; i < N; i += 4) await publisher.publishPrediction(predictions[i]); // duplicates
    for (let i = 0; i < N; i++) if (i % 4 === 1 || i % 4 === 2) await publisher.publishLabel(labels[i]);
    for (let k = 0; k < 5; k++) await publisher.publishLabel({ id: `ghost-${k}`, model: 'fraud', ts: T0, label: 1 });
    await publisher.flush();
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  let lastSeen: unknown;
  async function metrics(query = 'window=5m'): Promise<ModelMetrics> {
    return eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/fraud/metrics?${query}`);
      lastSeen = { status, count: body.count, labels: body.labels };
      return status === 200 && body.count === (query.includes('version=v2') ? N / 5 : N) && body.labels.joined === (query.includes('version=v2') ? labeled.filter((p) => p.version === 'v2').length : labeled.length)
        ? body
        : undefined;
    }, 60_000, 'all events to be reflected in the metrics').catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${JSON.stringify(lastSeen)}`);
    });
  }

  it('counts, error rate, accuracy, confusion, coverage and latency equal exact values', async () => {
    const m = await metrics();
    expect(m.model).toBe('fraud');
    expect(m.window).toBe('5m');
    expect(m.count).toBe(N);
    expect(m.errors).toBe(N / 25);
    expect(m.errorRate).toBeCloseTo(1 / 25, 12);

    let tp = 0, fp = 0, tn = 0, fn = 0;
    for (const p of labeled) {
      const i = Number(p.id.slice(5));
      const predicted = p.output >= 0.5 ? 1 : 0;
      const truth = labels[i].label;
      if (truth === 1 && predicted === 1) tp++;
      else if (truth === 0 && predicted === 1) fp++;
      else if (truth === 0) tn++;
      else fn++;
    }
    expect(m.accuracy).toBeCloseTo((tp + tn) / labeled.length, 12);
    expect(m.quality.confusion).toEqual({ classes: ['0', '1'], matrix: [[tn, fp], [fn, tp]] });
    expect(m.quality.precision).toBeCloseTo(tp / (tp + fp), 12);
    expect(m.quality.recall).toBeCloseTo(tp / (tp + fn), 12);
    expect(m.labelCoverage).toBeCloseTo(labeled.length / N, 12);
    expect(m.labels.joined).toBe(labeled.length);
    expect(m.labels.early).toBe(N / 4);
    expect(m.labels.pending).toBe(N / 4);
    expect(m.labels.expired).toBe(0);
    expect(m.labelDelayMs.p50).toBeGreaterThanOrEqual(2000 * 0.99);
    expect(m.labelDelayMs.p50).toBeLessThanOrEqual(2000 * 1.01);

    const latencies = predictions.map((p) => p.latencyMs);
    for (const [q, key] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
      const exact = exactQuantile(latencies, q);
      expect(Math.abs((m.latency[key] as number) - exact)).toBeLessThanOrEqual(0.01 * exact + 1e-9);
    }
  });

  it('filters by version', async () => {
    const m = await metrics('window=5m&version=v2');
    expect(m.version).toBe('v2');
    expect(m.count).toBe(N / 5);
  });

  it('lists the model with its versions', async () => {
    await metrics();
    const { status, body } = await getJson<{ models: Array<{ model: string; versions: string[] }> }>(`${pipeline.baseUrl}/v1/models`);
    expect(status).toBe(200);
    expect(body.models.find((m) => m.model === 'fraud')?.versions).toEqual(['v1', 'v2']);
  });

  it('rejects an unknown window and an unknown model with 4xx and a message', async () => {
    const bad = await getJson<{ message: string }>(`${pipeline.baseUrl}/v1/models/fraud/metrics?window=7m`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/1m/);
    const missing = await getJson<{ message: string }>(`${pipeline.baseUrl}/v1/models/nope/metrics?window=5m`);
    expect(missing.status).toBe(404);
  });

  it('sends a snapshot with the same figures on the WebSocket feed', async () => {
    const expected = await metrics();
    const ws = new WebSocket(`${pipeline.baseUrl.replace('http', 'ws')}/v1/live`);
    const frames: Array<{ type: string; model?: string; metrics?: ModelMetrics }> = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe', models: ['fraud'], topics: ['metrics', 'alerts'], window: '5m' }));
    const snapshot = await eventually(() => frames.find((f) => f.type === 'snapshot'), 5000, 'a snapshot frame');
    expect(snapshot.model).toBe('fraud');
    // the feed carries the same figures as the REST API: counts, error rate, accuracy, confusion, coverage, latency
    const m = snapshot.metrics as ModelMetrics;
    expect(m.count).toBe(expected.count);
    expect(m.errorRate).toBe(expected.errorRate);
    expect(m.accuracy).toBe(expected.accuracy);
    expect(m.quality.confusion).toEqual(expected.quality.confusion);
    expect(m.labelCoverage).toBe(expected.labelCoverage);
    expect(m.labels).toEqual(expected.labels);
    expect(m.latency).toEqual(expected.latency);
    ws.close();
  });

  it('exposes pipeline figures on /metrics', async () => {
    await metrics();
    // 400 predictions + 100 duplicates + 300 labels + 5 unknown-id labels; exported once a second
    const expected = N + N / 4 + labeled.length + 5;
    let consumed = 0;
    const text = await eventually(async () => {
      const body = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
      consumed = [...body.matchAll(/^drift_events_consumed_total\{kind="(pred|label)"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
      return consumed >= expected ? body : undefined;
    }, 10_000, 'consumed counters');
    expect(consumed).toBe(expected);
    const pending = [...text.matchAll(/^drift_pending_joins\{partition="\d+"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(pending).toBe(N / 4); // the never-labelled predictions wait in the join tables
  });
});

describe('end-to-end: fairness across segments and accuracy estimated before labels', () => {
  let pipeline: Pipeline;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 180_000;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 } });
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('serves a version whose name holds dots (it travels hex-encoded in pane subjects)', async () => {
    for (let i = 0; i < 20; i++) await pipeline.publisher.publishPrediction({ id: `ver-${i}`, model: 'ranker', version: '2.1.0', ts: T0 + i * 100, output: 0.4 });
    await pipeline.publisher.flush();
    const m = await eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/ranker/metrics?window=5m&version=2.1.0`);
      return status === 200 && body.count === 20 ? body : undefined;
    });
    expect(m.version).toBe('2.1.0');
    const { body } = await getJson<{ models: Array<{ model: string; versions: string[] }> }>(`${pipeline.baseUrl}/v1/models`);
    expect(body.models.find((x) => x.model === 'ranker')?.versions).toEqual(['2.1.0']);
  });

  it('selection rates, demographic parity, disparate impact and equal opportunity equal the exact values', async () => {
    // group a: 200 predictions, scores 0.8 for i % 2 == 0 (selected); group b: 100, selected i % 4 == 0
    const events: Array<{ id: string; group: string; score: number; label: number }> = [];
    for (let i = 0; i < 200; i++) events.push({ id: `a${i}`, group: 'a', score: i % 2 === 0 ? 0.8 : 0.3, label: i % 3 === 0 ? 1 : 0 });
    for (let i = 0; i < 100; i++) events.push({ id: `b${i}`, group: 'b', score: i % 4 === 0 ? 0.9 : 0.2, label: i % 2 === 0 ? 1 : 0 });
    for (const [k, e] of events.entries()) {
      await pipeline.publisher.publishPrediction({ id: e.id, model: 'loans', ts: T0 + k * 100, output: e.score, segment: { group: e.group } });
    }
    // labels for all but the last 60 predictions: the estimate covers every prediction, accuracy only the labelled
    for (const [k, e] of events.entries()) {
      if (k < events.length - 60) await pipeline.publisher.publishLabel({ id: e.id, model: 'loans', ts: T0 + k * 100 + 1000, label: e.label });
    }
    await pipeline.publisher.flush();
    const labelled = events.slice(0, events.length - 60);
    const m = await eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/loans/metrics?window=1h`);
      return status === 200 && body.count === events.length && body.labels.joined === labelled.length ? body : undefined;
    });
    const selection = (g: string) => events.filter((e) => e.group === g && e.score >= 0.5).length / events.filter((e) => e.group === g).length;
    const tpr = (g: string) => {
      const positives = labelled.filter((e) => e.group === g && e.label === 1);
      return positives.filter((e) => e.score >= 0.5).length / positives.length;
    };
    const fairness = m.fairness?.group;
    expect(fairness?.groups.a.selectionRate).toBeCloseTo(selection('a'), 12);
    expect(fairness?.groups.b.selectionRate).toBeCloseTo(selection('b'), 12);
    expect(fairness?.demographicParityDifference).toBeCloseTo(selection('a') - selection('b'), 12);
    expect(fairness?.disparateImpactRatio).toBeCloseTo(selection('b') / selection('a'), 12);
    expect(fairness?.equalOpportunityDifference).toBeCloseTo(Math.abs(tpr('a') - tpr('b')), 12);
    // confidence-based estimate (no calibration reference): mean of max(p, 1 - p) over every prediction
    const expected = events.reduce((sum, e) => sum + Math.max(e.score, 1 - e.score), 0) / events.length;
    expect(m.estimatedAccuracy).toBeCloseTo(expected, 9);
  });
});
