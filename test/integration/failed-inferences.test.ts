/**
 * A failed inference reported as documented: `error` present, no `output`. Through a real
 * nats-server and the whole pipeline, such events count in volume and error rate with the exact
 * figure, their labels are matched (coverage) but not graded, and only an event with neither
 * output nor error goes to the dead-letter subject.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { jetstream } from '@nats-io/jetstream';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { partitionOf } from '../../src/partition/hash.ts';
import { predictionSubject } from '../../src/cluster/subjects.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

const PARTITIONS = 2;
const MODEL = 'scorer';

describe('end-to-end: failed inferences without output', () => {
  let pipeline: Pipeline;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 180_000;
  // 60 served (scores 0.9 / 0.1, all labelled), 20 failed through the SDK (10 labelled), 10 failed as raw events
  const served = Array.from({ length: 60 }, (_, i) => ({ id: `ok-${i}`, ts: T0 + i * 100, output: i % 2 === 0 ? 0.9 : 0.1, label: i % 3 === 0 ? 1 : 0 }));
  const failedSdk = Array.from({ length: 20 }, (_, i) => ({ id: `fail-${i}`, ts: T0 + 6000 + i * 100 }));
  const failedRaw = Array.from({ length: 10 }, (_, i) => ({ id: `raw-fail-${i}`, ts: T0 + 8000 + i * 100 }));
  const total = served.length + failedSdk.length + failedRaw.length;
  const failures = failedSdk.length + failedRaw.length;
  const joined = served.length + 10;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: PARTITIONS }, reference: { autoCaptureMs: 0 } });
    const { publisher, nc } = pipeline;
    for (const p of served) await publisher.publishPrediction({ id: p.id, model: MODEL, ts: p.ts, output: p.output, latencyMs: 10 });
    for (const p of failedSdk) {
      await publisher.publishPrediction({ id: p.id, model: MODEL, ts: p.ts, error: 'upstream timeout', latencyMs: 3000, features: { amount: 5 }, segment: { region: 'eu' } });
    }
    // a publisher in another language: a bare map {id, model, ts, error}, no SDK
    const js = jetstream(nc);
    for (const p of failedRaw) {
      await js.publish(predictionSubject(partitionOf(p.id, PARTITIONS), MODEL), encode({ id: p.id, model: MODEL, ts: p.ts, error: 'OOM' }));
    }
    // neither output nor error: still a bad event
    await js.publish(predictionSubject(partitionOf('broken', PARTITIONS), MODEL), encode({ id: 'broken', model: MODEL, ts: T0 }));
    for (const p of served) await publisher.publishLabel({ id: p.id, model: MODEL, ts: p.ts + 1000, label: p.label });
    for (const p of failedSdk.slice(0, 10)) await publisher.publishLabel({ id: p.id, model: MODEL, ts: p.ts + 1000, label: 1 });
    await publisher.flush();
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('the SDK accepts a failed inference without output, and still refuses a prediction with neither', async () => {
    await expect(pipeline.publisher.publishPrediction({ id: 'neither', model: MODEL })).rejects.toThrow(new TypeError("invalid prediction: field 'output' is missing"));
  });

  it('counts failed inferences in volume and error rate with the exact figure, not in accuracy', async () => {
    const m = await eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/${MODEL}/metrics?window=5m`);
      return status === 200 && body.count === total && body.labels.joined === joined ? body : undefined;
    }, 60_000, 'every event in the metrics');
    expect(m.count).toBe(total);
    expect(m.errors).toBe(failures);
    expect(m.errorRate).toBe(failures / total);

    // accuracy and the confusion matrix cover the 60 served predictions only
    let tp = 0, fp = 0, tn = 0, fn = 0;
    for (const p of served) {
      const predicted = p.output >= 0.5 ? 1 : 0;
      if (p.label === 1 && predicted === 1) tp++;
      else if (p.label === 0 && predicted === 1) fp++;
      else if (p.label === 0) tn++;
      else fn++;
    }
    expect(m.quality.confusion).toEqual({ classes: ['0', '1'], matrix: [[tn, fp], [fn, tp]] });
    expect(m.accuracy).toBeCloseTo((tp + tn) / served.length, 12);
    // the labels of failed inferences are matched (coverage), not graded: no regression figures either
    expect(m.quality).not.toHaveProperty('mae');
    expect(m.labels.joined).toBe(joined);
    expect(m.labels.pending).toBe(total - joined);
    expect(m.labelCoverage).toBeCloseTo(joined / total, 12);
    // output statistics: the score-based estimate sees the served scores only (0.9 confidence each)
    expect(m.estimatedAccuracy).toBeCloseTo(0.9, 12);
    // latency is measured for failures too (a timeout is the slow tail)
    expect(m.latency.p99).toBeGreaterThan(2900);
    // fairness compares decisions: failures without output made none, so no segment is reported
    expect(m.fairness).toBeUndefined();
  });

  it('sends only the event without output and error to drift.dlq.missing_field', async () => {
    const text = await eventually(async () => {
      const body = await (await fetch(`${pipeline.baseUrl}/metrics`)).text();
      return /^drift_events_rejected_total\{reason="missing_field"\} 1$/m.test(body) ? body : undefined;
    }, 10_000, 'the rejected counter');
    const rejected = [...text.matchAll(/^drift_events_rejected_total\{reason="(\w+)"\} (\d+)/gm)].filter((r) => r[2] !== '0');
    expect(rejected.map((r) => [r[1], Number(r[2])])).toEqual([['missing_field', 1]]);
  });
});
