/**
 * Cluster-wide model admission against a real nats-server: with more models (and versions) than
 * limits.maxModels (maxVersionsPerModel), each model is counted in full by every partition or
 * refused in full by every partition (dead-lettered and counted by model), never split between
 * them; an idle model's slot is released, so a newcomer is admitted once the flood has aged out;
 * models.allow refuses the others with their own dead-letter reason.
 *
 * Partitions run on two worker threads, each with its own NATS connection and its own mirror of
 * the registry: two independent deciders racing for the same models.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, DeliverPolicy, AckPolicy } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { startPipeline, getJson, eventually, metricSamples } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { DLQ_STREAM } from '../../src/cluster/subjects.ts';
import type { ModelMetrics, ModelSummary } from '../../src/contract/metrics.ts';

const BASE = {
  partitions: { count: 4 },
  worker: { threads: 2 },
  reference: { autoCaptureMs: 0 },
  alerts: { rules: [] },
};

/** Every dead letter so far: reason and model of each (from the Driftwatch-Subject header). */
async function deadLetters(nc: NatsConnection, expected: number): Promise<Array<{ reason: string; model: string }>> {
  const jsm = await jetstreamManager(nc);
  await eventually(async () => ((await jsm.streams.info(DLQ_STREAM)).state.messages >= expected ? true : undefined), 120_000, `${expected} dead letters`);
  const js = jetstream(nc);
  const name = `dlq-reader-${Math.random().toString(36).slice(2)}`;
  await jsm.consumers.add(DLQ_STREAM, { durable_name: name, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
  const consumer = await js.consumers.get(DLQ_STREAM, name);
  const total = (await jsm.streams.info(DLQ_STREAM)).state.messages;
  const out: Array<{ reason: string; model: string }> = [];
  while (out.length < total) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 5000 });
    for await (const msg of batch) {
      const subject = msg.headers?.get('Driftwatch-Subject') ?? '';
      out.push({ reason: msg.headers?.get('Driftwatch-Reason') ?? '', model: subject.split('.')[3] ?? '' });
    }
  }
  await jsm.consumers.delete(DLQ_STREAM, name);
  return out;
}

/**
 * Polls `read` until `progress` of it reaches `target`; fails if it goes beyond it, or if it has not
 * moved for `stallMs` (the message says where it stopped), or after `timeoutMs` in all.
 */
async function whileProgressing<T>(read: () => Promise<T>, progress: (value: T) => number, target: number, what: string, stallMs = 90_000, timeoutMs = 480_000): Promise<T> {
  const began = Date.now();
  let last = -1;
  let movedAt = began;
  for (;;) {
    const value = await read();
    const reached = progress(value);
    if (reached === target) return value;
    if (reached > target) throw new Error(`${what}: ${reached} counted, beyond the ${target} published (${JSON.stringify(value)})`);
    if (reached !== last) {
      last = reached;
      movedAt = Date.now();
    }
    if (Date.now() - movedAt > stallMs || Date.now() - began > timeoutMs) {
      throw new Error(`${what}: stuck at ${reached} of ${target} for ${Math.round((Date.now() - movedAt) / 1000)} s, ${Math.round((Date.now() - began) / 1000)} s in all (${JSON.stringify(value)})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

describe('cluster-wide model admission (real nats-server, two partition threads)', () => {
  let pipeline: Pipeline;
  const MODELS = 2000;
  const EVENTS = 10;
  const VERSIONS = 500;

  beforeAll(async () => {
    pipeline = await startPipeline({ ...BASE, limits: { maxModels: 101, maxVersionsPerModel: 10 } }, {}, { deduplicate: true });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
  });

  it(`${MODELS} models and ${VERSIONS} versions of another: every admitted one exact, every refused one fully refused, dead-lettered and counted`, async () => {
    const { publisher } = pipeline;
    const ts = Date.now();
    // round-robin over the models, so every model's first events reach several partitions at once
    for (let round = 0; round < EVENTS; round++) {
      for (let v = 0; v < VERSIONS; v++) await publisher.publishPrediction({ id: `v${v}-${round}`, model: 'versioned', version: `v${v}`, ts, output: 0.5 });
      for (let m = 0; m < MODELS; m++) await publisher.publishPrediction({ id: `m${m}-${round}`, model: `flood-${m}`, ts, output: 0.5 });
    }
    await publisher.flush();

    // 101 model slots: 'versioned' (published first) and 100 flood models, or 101 flood models
    // should 'versioned' have lost every race
    // on a loaded machine the 2,500 registry decisions take minutes: wait while the count moves,
    // fail when it stalls (a held event never settled) or overshoots (an event counted twice)
    const consumed = await whileProgressing(async () => {
      const total = (await metricSamples(pipeline.baseUrl, 'drift_events_consumed_total')).find((s) => s.labels.kind === 'pred')?.value ?? 0;
      const rejected = (await metricSamples(pipeline.baseUrl, 'drift_events_rejected_total')).reduce((sum, s) => sum + s.value, 0);
      return { total, rejected };
    }, (c) => c.total + c.rejected, (MODELS + VERSIONS) * EVENTS, 'every event consumed or rejected');
    const letters = await deadLetters(pipeline.nc, consumed.rejected);
    expect(letters.every((l) => l.reason === 'limit_exceeded')).toBe(true);
    expect(letters.length).toBe(consumed.rejected);
    const refusedByModel = countBy(letters.filter((l) => l.model.startsWith('flood-')), (l) => l.model);

    const listed = await eventually(async () => {
      const { body } = await getJson<{ models: ModelSummary[] }>(`${pipeline.baseUrl}/v1/models`);
      const counted = body.models.reduce((sum, m) => sum + m.count5m, 0);
      return counted === consumed.total ? body.models : undefined;
    }, 60_000, 'the gateway to show every consumed event');
    const admitted = new Map(listed.map((m) => [m.model, m]));
    expect(admitted.size).toBe(101);
    for (let m = 0; m < MODELS; m++) {
      const model = `flood-${m}`;
      const summary = admitted.get(model);
      // never split: all of a model's events counted, or all of them refused
      if (summary !== undefined) {
        expect(summary.count5m, model).toBe(EVENTS);
        expect(refusedByModel.get(model) ?? 0, model).toBe(0);
      } else {
        expect(refusedByModel.get(model), model).toBe(EVENTS);
      }
    }

    // versions of 'versioned': 10 admitted with every event, the other 490 refused with every event
    const versionLetters = letters.filter((l) => l.model === 'versioned').length;
    if (admitted.has('versioned')) {
      const versions = admitted.get('versioned')?.versions ?? [];
      expect(versions.length).toBe(10);
      for (const version of versions) {
        const { body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/versioned/metrics?window=5m&version=${version}`);
        expect(body.count, version).toBe(EVENTS);
      }
      expect(admitted.get('versioned')?.count5m).toBe(10 * EVENTS);
      expect(versionLetters).toBe((VERSIONS - 10) * EVENTS);
    } else {
      expect(versionLetters).toBe(VERSIONS * EVENTS);
    }

    // counted by model in /metrics: 20 models with their own series, the rest as "other"
    const refusals = await eventually(async () => {
      const samples = await metricSamples(pipeline.baseUrl, 'drift_model_events_refused_total');
      return samples.reduce((sum, s) => sum + s.value, 0) === letters.length ? samples : undefined;
    }, 30_000, 'refusals counted by model');
    const labelled = refusals.filter((s) => s.labels.model !== 'other');
    expect(labelled.length).toBeLessThanOrEqual(20);
    expect(refusals.some((s) => s.labels.model === 'other')).toBe(true);
    for (const sample of labelled) {
      expect(sample.labels.reason).toBe('limit_exceeded');
      expect(sample.value, sample.labels.model).toBe(sample.labels.model === 'versioned' ? versionLetters : EVENTS);
    }
  }, 900_000);
});

describe('release of idle models, and models.allow (real nats-server)', () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startPipeline({ ...BASE, limits: { maxModels: 3 }, models: { idleMs: 8000, allow: ['flood-*', 'newcomer', 'late?'] } }, {}, { deduplicate: true });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
  });

  /** Waits until `total` predictions were consumed or rejected; returns the DLQ's letters. */
  async function settled(total: number): Promise<Array<{ reason: string; model: string }>> {
    const rejected = await eventually(async () => {
      const consumed = (await metricSamples(pipeline.baseUrl, 'drift_events_consumed_total')).find((s) => s.labels.kind === 'pred')?.value ?? 0;
      const rejected = (await metricSamples(pipeline.baseUrl, 'drift_events_rejected_total')).reduce((sum, s) => sum + s.value, 0);
      return consumed + rejected === total ? rejected : undefined;
    }, 60_000, `${total} events consumed or rejected`);
    return deadLetters(pipeline.nc, rejected);
  }

  async function countOf(model: string): Promise<number | undefined> {
    const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/${model}/metrics?window=5m`);
    return status === 200 ? body.count : undefined;
  }

  it('after a flood of one-event models a newcomer is refused, then admitted once the flood has been idle for models.idleMs; models off the allow-list are dead-lettered as model_not_allowed', async () => {
    const { publisher } = pipeline;
    const ts = Date.now();
    for (let m = 0; m < 50; m++) await publisher.publishPrediction({ id: `f${m}`, model: `flood-${m}`, ts, output: 0.5 });
    await publisher.flush();
    let letters = await settled(50);
    expect(letters.length).toBe(47);

    // the flood fills the three slots: a newcomer is refused while they are in use
    await publisher.publishPrediction({ id: 'n0', model: 'newcomer', ts, output: 0.5 });
    await publisher.flush();
    letters = await settled(51);
    expect(letters.filter((l) => l.model === 'newcomer' && l.reason === 'limit_exceeded').length).toBe(1);

    // a model off the allow-list: its own reason, whatever the slots
    for (let i = 0; i < 5; i++) await publisher.publishPrediction({ id: `s${i}`, model: 'stranger', ts, output: 0.5 });
    await publisher.flush();
    letters = await settled(56);
    expect(letters.filter((l) => l.model === 'stranger').map((l) => l.reason)).toEqual(Array(5).fill('model_not_allowed'));

    // nothing for models.idleMs: the flood's records are released cluster-wide; 'late1' (and the
    // refused newcomer, whose refusal was released too) are admitted
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const before = letters.length;
    for (let i = 0; i < 7; i++) await publisher.publishPrediction({ id: `l${i}`, model: 'late1', ts: Date.now(), output: 0.5 });
    await publisher.flush();
    const late = await eventually(async () => ((await countOf('late1')) === 7 ? 7 : undefined), 60_000, 'late1 counted');
    expect(late).toBe(7);
    letters = await settled(63);
    expect(letters.length).toBe(before);
    // counted by reason too (the 47 flood models took the 20 model series first: 'stranger' is under "other")
    const refused = await metricSamples(pipeline.baseUrl, 'drift_model_events_refused_total');
    expect(refused.filter((s) => s.labels.reason === 'model_not_allowed')).toEqual([{ labels: { model: 'other', reason: 'model_not_allowed' }, value: 5 }]);
    expect(refused.filter((s) => s.labels.reason === 'limit_exceeded').reduce((sum, s) => sum + s.value, 0)).toBe(48);
  }, 300_000);
});
