/**
 * DriftPublisher against a real nats-server (started here, on a free loopback port, with its
 * own storage dir): routing to partition subjects, round-trip of the payloads, backpressure,
 * validation before publish, the not-provisioned error and aggregated ack failures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { DriftPublisher, NOT_PROVISIONED_MESSAGE, PublishError } from '../../src/client/index.ts';
import type { PredictionInput } from '../../src/client/index.ts';
import { EVENTS_STREAM, META_BUCKET, META_KEY, parseInputSubject, SCHEMA_VERSION } from '../../src/cluster/subjects.ts';
import { EventDecoder } from '../../src/events/decode.ts';
import type { LabelEvent, PredictionEvent } from '../../src/events/types.ts';
import { partitionOf } from '../../src/partition/hash.ts';
import { startLocalNats, type LocalNats } from './local-nats.ts';

const PARTITIONS = 8;

let server: LocalNats;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startLocalNats();
  nc = server.nc;
});

afterAll(async () => {
  await server?.stop();
});

/** Reads every message of the events stream, in stream order. */
async function readStream(expected: number): Promise<Array<{ subject: string; data: Uint8Array }>> {
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM);
  const messages = await consumer.consume();
  const out: Array<{ subject: string; data: Uint8Array }> = [];
  if (expected === 0) return out;
  for await (const m of messages) {
    out.push({ subject: m.subject, data: m.data });
    if (out.length === expected) break;
  }
  await messages.close();
  return out;
}

describe('before provisioning', () => {
  it('connect() without partitions says driftwatch is not provisioned', async () => {
    await expect(DriftPublisher.connect(nc)).rejects.toThrow(NOT_PROVISIONED_MESSAGE);
    await expect(DriftPublisher.connect(nc)).rejects.toThrow(/^driftwatch is not provisioned on this NATS: start a worker/);
  });

  it('rejects bad options with the option named', async () => {
    await expect(DriftPublisher.connect(nc, { partitions: 0 })).rejects.toThrow(/partition count must be an integer from 1/);
    await expect(DriftPublisher.connect(nc, { partitions: 4, maxInFlight: 0 })).rejects.toThrow('DriftPublisher: maxInFlight must be a positive integer, got 0');
  });
});

describe('provisioned', () => {
  beforeAll(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: EVENTS_STREAM, subjects: ['drift.in.>'] });
    const kv = await new Kvm(nc).create(META_BUCKET);
    await kv.put(META_KEY, JSON.stringify({ partitions: PARTITIONS, schemaVersion: SCHEMA_VERSION, createdAt: new Date().toISOString() }));
  });

  it('publishes 10k predictions and labels to their partition subjects; they decode back equal', async () => {
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 64 });
    expect(publisher.partitions).toBe(PARTITIONS);

    const models = ['fraud', 'churn-b', 'ctr_v3'];
    const sent = new Map<string, PredictionEvent>();
    let maxSeenInFlight = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = i % 97 === 0 ? `prédiction-${i}-日本` : `pred-${i}`;
      const input: PredictionInput = {
        id,
        model: models[i % 3],
        ts: 1_717_000_000_000 + i,
        output: i % 3 === 0 ? i / 10_000 : i % 3 === 1 ? (i % 2 === 0 ? 'yes' : 'no') : [0.25, 0.75],
        features: { amount: i * 1.5, country: i % 2 === 0 ? 'FR' : 'DE', missing: null },
        latencyMs: i % 50,
        segment: { region: i % 2 === 0 ? 'eu' : 'us' },
        ...(i % 10 === 0 ? { version: 'canary' } : {}),
        ...(i % 500 === 0 ? { error: 'upstream timeout' } : {}),
      };
      await publisher.publishPrediction(input);
      maxSeenInFlight = Math.max(maxSeenInFlight, publisher.inFlight);
      sent.set(id, { ...input, version: input.version ?? 'default', ts: input.ts! });
    }
    // labels for the first 500, with the default ts
    const before = Date.now();
    for (let i = 0; i < 500; i++) {
      const id = i % 97 === 0 ? `prédiction-${i}-日本` : `pred-${i}`;
      await publisher.publishLabel({ id, model: models[i % 3], label: i % 2 });
    }
    await publisher.flush();
    expect(publisher.inFlight).toBe(0);
    expect(maxSeenInFlight).toBeLessThanOrEqual(64);
    expect(maxSeenInFlight).toBeGreaterThan(1); // the window was actually used

    const messages = await readStream(10_500);
    expect(messages).toHaveLength(10_500);
    const decoder = new EventDecoder();
    const partitionsSeen = new Set<number>();
    const idsSeen = new Set<string>();
    let predictions = 0;
    let labels = 0;
    for (const { subject, data } of messages) {
      const parsed = parseInputSubject(subject);
      if (parsed === null) throw new Error(`unexpected subject ${subject}`);
      if (parsed.kind === 'pred') {
        const result = decoder.decodePrediction(data, { expectedModel: parsed.model });
        if (!result.ok) throw new Error(result.detail);
        expect(parsed.partition).toBe(partitionOf(result.event.id, PARTITIONS));
        expect(result.event).toEqual(sent.get(result.event.id));
        partitionsSeen.add(parsed.partition);
        idsSeen.add(result.event.id);
        predictions++;
      } else {
        const result = decoder.decodeLabel(data, { expectedModel: parsed.model });
        if (!result.ok) throw new Error(result.detail);
        const label: LabelEvent = result.event;
        expect(parsed.partition).toBe(partitionOf(label.id, PARTITIONS));
        expect(label.model).toBe(sent.get(label.id)?.model);
        expect(label.ts).toBeGreaterThanOrEqual(before);
        labels++;
      }
    }
    expect([predictions, labels]).toEqual([10_000, 500]);
    expect(partitionsSeen.size).toBe(PARTITIONS);
    expect(idsSeen.size).toBe(sent.size);
    await publisher.close();
    await expect(publisher.publishPrediction({ id: 'late', model: 'fraud', output: 1 })).rejects.toThrow('DriftPublisher is closed');
  });

  it('publishes JSON when asked, with an explicit partition count', async () => {
    const jsm = await jetstreamManager(nc);
    const firstSeq = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq + 1;
    const publisher = await DriftPublisher.connect(nc, { format: 'json', partitions: PARTITIONS });
    await publisher.publishPrediction({ id: 'json-1', model: 'fraud', ts: 42, output: 'approve', features: { a: 1 } });
    await publisher.publishLabel({ id: 'json-1', model: 'fraud', ts: 43, label: 'approve' });
    await publisher.close();
    const stream = await jetstream(nc).streams.get(EVENTS_STREAM);
    const pred = await stream.getMessage({ seq: firstSeq });
    const label = await stream.getMessage({ seq: firstSeq + 1 });
    expect(pred?.subject).toBe(`drift.in.${partitionOf('json-1', PARTITIONS)}.fraud.pred`);
    expect(label?.subject).toBe(`drift.in.${partitionOf('json-1', PARTITIONS)}.fraud.label`);
    expect(JSON.parse(new TextDecoder().decode(pred?.data))).toEqual({ id: 'json-1', model: 'fraud', version: 'default', ts: 42, output: 'approve', features: { a: 1 } });
    expect(JSON.parse(new TextDecoder().decode(label?.data))).toEqual({ id: 'json-1', model: 'fraud', ts: 43, label: 'approve' });
  });

  it("sets Nats-Msg-Id '<model>:<id>:pred' / ':label', so the stream stores a re-published event once", async () => {
    const jsm = await jetstreamManager(nc);
    const firstSeq = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq + 1;
    const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS });
    for (let attempt = 0; attempt < 2; attempt++) {
      await publisher.publishPrediction({ id: 'dedup 1', model: 'fraud', ts: 42, error: 'timeout' });
      await publisher.publishLabel({ id: 'dedup 1', model: 'fraud', ts: 43, label: 0 });
    }
    await publisher.flush();
    const stream = await jetstream(nc).streams.get(EVENTS_STREAM);
    expect((await jsm.streams.info(EVENTS_STREAM)).state.last_seq).toBe(firstSeq + 1);
    const pred = await stream.getMessage({ seq: firstSeq });
    const label = await stream.getMessage({ seq: firstSeq + 1 });
    expect(pred?.header.get('Nats-Msg-Id')).toBe('fraud:dedup%201:pred');
    expect(label?.header.get('Nats-Msg-Id')).toBe('fraud:dedup%201:label');
    // a failed inference without output travels without one
    expect(new EventDecoder().decodePrediction(pred!.data)).toEqual({ ok: true, event: { id: 'dedup 1', model: 'fraud', version: 'default', ts: 42, error: 'timeout' } });

    const plain = await DriftPublisher.connect(nc, { partitions: PARTITIONS, deduplicate: false });
    await plain.publishPrediction({ id: 'dedup 1', model: 'fraud', ts: 42, error: 'timeout' });
    await plain.close();
    const third = await stream.getMessage({ seq: firstSeq + 2 });
    expect(third?.subject).toBe(pred?.subject);
    expect(third?.header?.get('Nats-Msg-Id') ?? '').toBe('');
  });

  it('rejects invalid events with a TypeError naming the field, and publishes nothing', async () => {
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(EVENTS_STREAM)).state.messages;
    const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS });
    await expect(publisher.publishPrediction({ id: 'p', model: 'fraud.v2', output: 1 })).rejects.toThrow(
      new TypeError(`invalid prediction: field 'model': expected 1-128 letters, digits, '_' or '-' (it is a subject token), got string "fraud.v2"`),
    );
    await expect(publisher.publishPrediction({ id: 'p', model: 'fraud', output: NaN })).rejects.toThrow("invalid prediction: field 'output': expected a finite number, got NaN");
    await expect(publisher.publishPrediction({ id: '', model: 'fraud', output: 1 })).rejects.toThrow(TypeError);
    await expect(publisher.publishLabel({ id: 'p', model: 'fraud', label: true as unknown as number })).rejects.toThrow(/invalid label: field 'label'/);
    // an event time under another name than 'ts' would be dropped, the event stamped with the publish time
    const timestamped = { id: 'p', model: 'fraud', output: 1, timestamp: 1_700_000_000_000 } as Parameters<typeof publisher.publishPrediction>[0];
    await expect(publisher.publishPrediction(timestamped)).rejects.toThrow(
      new TypeError("invalid prediction: field 'timestamp' is not read: the event time goes in 'ts' (epoch milliseconds; publish time when absent)"),
    );
    await expect(publisher.publishLabel({ id: 'p', model: 'fraud', label: 1, event_time: 5 } as Parameters<typeof publisher.publishLabel>[0])).rejects.toThrow(/invalid label: field 'event_time' is not read: the event time goes in 'ts'/);
    await expect(
      publisher.publishPrediction({ id: 'p', model: 'fraud', output: 1, error: 'x'.repeat(70_000) }),
    ).rejects.toThrow(/invalid prediction: it encodes to 700\d\d bytes, the limit is 65536/);
    await publisher.close();
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(before);
  });

  it('an ack that arrived while the event loop was blocked past the timeout is not taken for a timeout', async () => {
    const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS, timeoutMs: 300, retryForMs: 0, deduplicate: false });
    await publisher.publishPrediction({ id: 'stalled', model: 'fraud', output: 1 });
    // a long synchronous task: the ack comes in meanwhile and waits, unread, behind the overdue sweeper
    const until = Date.now() + 1000;
    while (Date.now() < until);
    await expect(publisher.flush()).resolves.toBeUndefined();
    await publisher.close();
  });

  it('flush() rejects with the number of failed publishes when acks do not come', async () => {
    const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS, timeoutMs: 1000, maxInFlight: 4, retryForMs: 0 });
    await (await jetstreamManager(nc)).streams.delete(EVENTS_STREAM);
    for (let i = 0; i < 6; i++) await publisher.publishPrediction({ id: `lost-${i}`, model: 'fraud', output: 1 });
    const error = await publisher.flush().then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).failed).toBe(6);
    expect((error as PublishError).message).toMatch(/^6 publishes to JetStream failed since the last flush; first: prediction id="lost-0" on drift\.in\.\d\.fraud\.pred: no responders/);
    // the failures were reported once; the next flush starts clean
    await expect(publisher.flush()).resolves.toBeUndefined();
    expect(publisher.inFlight).toBe(0);
  });

  it("a publish JetStream refuses fails at flush with JetStream's reason, and only that one", async () => {
    const jsm = await jetstreamManager(nc);
    // a stream that stores two events and refuses more (discard new)
    await jsm.streams.add({ name: 'REFUSING', subjects: ['drift.in.>'], max_msgs: 2, discard: 'new' as never });
    try {
      const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS, timeoutMs: 2000, retryForMs: 0 });
      for (let i = 0; i < 3; i++) await publisher.publishPrediction({ id: `full-${i}`, model: 'fraud', output: 1 });
      const error = (await publisher.flush().then(
        () => null,
        (err: unknown) => err,
      )) as PublishError;
      expect(error).toBeInstanceOf(PublishError);
      expect(error.failed).toBe(1);
      expect(error.message).toMatch(/^1 publish to JetStream failed since the last flush; first: prediction id="full-2" on drift\.in\.\d\.fraud\.pred: JetStream refused the publish: maximum messages exceeded \(code 503, err_code \d+\)/);
      expect((await jsm.streams.info('REFUSING')).state.messages).toBe(2);
      await publisher.close();
    } finally {
      await jsm.streams.delete('REFUSING');
    }
  });

});
