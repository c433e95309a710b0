/**
 * Copies that JetStream cannot drop, because they arrive after its duplicate window, reach the
 * worker: a prediction copy that comes after its label has joined, and a label copy after the join,
 * must each be counted once. And the join keys on model + id: two models that reuse an id each join
 * their own prediction. Real nats-server; the stream's duplicate window is shortened to 1 s so the
 * copies (published with the same `Nats-Msg-Id`) get past JetStream, which the test checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import { EVENTS_STREAM, labelSubject, predictionSubject } from '../../src/cluster/subjects.ts';
import { partitionOf } from '../../src/partition/hash.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

const PARTITIONS = 2;
const DUPLICATE_WINDOW_MS = 1000;

describe('copies arriving after the duplicate window and after the join', () => {
  let pipeline: Pipeline;
  let publisher: DriftPublisher;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: PARTITIONS }, reference: { autoCaptureMs: 0 } });
    const jsm = await jetstreamManager(pipeline.nc);
    const info = await jsm.streams.info(EVENTS_STREAM);
    await jsm.streams.update(EVENTS_STREAM, { ...info.config, duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000 });
    // Nats-Msg-Id on (the SDK's default): the copies are the very retries JetStream would drop in its window
    publisher = await DriftPublisher.connect(pipeline.nc, { partitions: PARTITIONS });
  }, 60_000);

  afterAll(async () => {
    await publisher?.close().catch(() => undefined);
    await pipeline?.stop();
  });

  async function storedOn(subject: string): Promise<number> {
    const info = await (await jetstreamManager(pipeline.nc)).streams.info(EVENTS_STREAM, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  async function metricsOf(model: string, ready: (m: ModelMetrics) => boolean): Promise<ModelMetrics> {
    return eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/${model}/metrics?window=5m`);
      if (status !== 200 || !ready(body)) throw new Error(`status ${status}: ${JSON.stringify(body).slice(0, 300)}`);
      return body;
    }, 30_000, `${model} in the metrics`);
  }

  async function consumed(kind: 'pred' | 'label', atLeast: number): Promise<number> {
    return eventually(async () => {
      const text = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
      const value = Number(new RegExp(`^drift_events_consumed_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return value >= atLeast ? value : undefined;
    }, 20_000, `${atLeast} consumed ${kind} events`);
  }

  it('counts a prediction copy and a label copy that come after the join once', async () => {
    const ts = Date.now();
    const prediction = { id: 'late-copy-1', model: 'copies', ts, output: 0.2 };
    const label = { id: 'late-copy-1', model: 'copies', ts: ts + 100, label: 1 };
    await publisher.publishPrediction(prediction);
    await publisher.publishLabel(label);
    await publisher.flush();
    const first = await metricsOf('copies', (m) => m.count === 1 && m.labels.joined === 1);
    expect(first.accuracy).toBe(0); // 0.2 predicts 0, the label is 1

    // after JetStream's window, the same publishes (same Nats-Msg-Id) are stored again
    await new Promise((resolve) => setTimeout(resolve, DUPLICATE_WINDOW_MS * 2));
    await publisher.publishPrediction(prediction);
    await publisher.publishLabel(label);
    await publisher.flush();
    const partition = partitionOf(prediction.id, PARTITIONS);
    expect(await storedOn(predictionSubject(partition, 'copies'))).toBe(2);
    expect(await storedOn(labelSubject(partition, 'copies'))).toBe(2);

    // the worker saw both copies (consumed), and counts each event once
    expect(await consumed('pred', 2)).toBeGreaterThanOrEqual(2);
    expect(await consumed('label', 2)).toBeGreaterThanOrEqual(2);
    // a marker event published after the copies: once it shows, the copies have been applied
    await publisher.publishPrediction({ id: 'marker', model: 'copies-marker', ts: Date.now(), output: 0.5 });
    await publisher.flush();
    await metricsOf('copies-marker', (m) => m.count === 1);
    const after = await metricsOf('copies', () => true);
    expect(after.count).toBe(1);
    expect(after.labels).toMatchObject({ joined: 1, pending: 0, expired: 0 });
    expect(after.accuracy).toBe(0);
    // counters are exported once a second
    await eventually(async () => {
      const text = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
      const pred = Number(/^drift_events_duplicate_total\{kind="pred"\} (\d+)$/m.exec(text)?.[1]);
      const labels = Number(/^drift_events_duplicate_total\{kind="label"\} (\d+)$/m.exec(text)?.[1]);
      return pred === 1 && labels === 1 ? true : undefined;
    }, 10_000, 'one duplicate prediction and one duplicate label in /metrics');
  }, 90_000);

  it('joins each of two models that reuse an id with its own prediction', async () => {
    const ts = Date.now();
    await publisher.publishPrediction({ id: 'shared-7', model: 'model-a', ts, output: 0.9 });
    await publisher.publishPrediction({ id: 'shared-7', model: 'model-b', ts, output: 0.1 });
    await publisher.publishLabel({ id: 'shared-7', model: 'model-a', ts: ts + 50, label: 1 });
    await publisher.publishLabel({ id: 'shared-7', model: 'model-b', ts: ts + 50, label: 0 });
    await publisher.flush();
    const a = await metricsOf('model-a', (m) => m.labels.joined === 1);
    const b = await metricsOf('model-b', (m) => m.labels.joined === 1);
    expect([a.count, b.count]).toEqual([1, 1]);
    // each label met its own model's prediction: both right (0.9 -> 1, 0.1 -> 0)
    expect([a.accuracy, b.accuracy]).toEqual([1, 1]);
    expect([a.labels.pending, b.labels.pending]).toEqual([0, 0]);
  }, 60_000);
});
