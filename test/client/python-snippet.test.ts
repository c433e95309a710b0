/**
 * Runs the Python publishing example of docs/wire-format.md, as written there, against a private
 * nats-server and checks what it published: right subjects and partition, payloads the worker's
 * decoder accepts. Needs a Python with `nats-py` and `msgpack`: DRIFTWATCH_PYTHON, else python3;
 * the test is skipped (and says so) when neither has them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { EVENTS_STREAM, META_BUCKET, META_KEY, SCHEMA_VERSION } from '../../src/cluster/subjects.ts';
import { EventDecoder } from '../../src/events/decode.ts';
import { partitionOf } from '../../src/partition/hash.ts';
import { startLocalNats, type LocalNats } from './local-nats.ts';

const PARTITIONS = 12;
const python = process.env.DRIFTWATCH_PYTHON ?? 'python3';
const pythonReady = spawnSync(python, ['-c', 'import nats, msgpack'], { stdio: 'ignore' }).status === 0;
if (!pythonReady) console.warn(`skipping the Python wire-format example: ${python} lacks nats-py/msgpack (set DRIFTWATCH_PYTHON)`);

function pythonSnippet(): string {
  const doc = readFileSync(new URL('../../docs/wire-format.md', import.meta.url), 'utf8');
  const match = /```python\n([\s\S]*?)```/.exec(doc);
  if (match === null) throw new Error('docs/wire-format.md has no ```python block');
  return match[1];
}

describe.skipIf(!pythonReady)('the Python example in docs/wire-format.md', () => {
  let server: LocalNats;
  beforeAll(async () => {
    server = await startLocalNats();
    await (await jetstreamManager(server.nc)).streams.add({ name: EVENTS_STREAM, subjects: ['drift.in.>'] });
    const kv = await new Kvm(server.nc).create(META_BUCKET);
    await kv.put(META_KEY, JSON.stringify({ partitions: PARTITIONS, schemaVersion: SCHEMA_VERSION, createdAt: new Date().toISOString() }));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('publishes a prediction and a label the worker accepts, on the partition of the id', async () => {
    const before = Date.now();
    const child = spawn(python, ['-c', pythonSnippet()], { env: { ...process.env, NATS_URL: server.url } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, output).toBe(0);
    expect(output).toContain('prediction stored: DRIFT_EVENTS 1');

    const stream = await jetstream(server.nc).streams.get(EVENTS_STREAM);
    const pred = await stream.getMessage({ seq: 1 });
    const label = await stream.getMessage({ seq: 2 });
    const p = partitionOf('req-8f3a', PARTITIONS);
    expect(pred?.subject).toBe(`drift.in.${p}.fraud_v2.pred`);
    expect(label?.subject).toBe(`drift.in.${p}.fraud_v2.label`);

    const decoder = new EventDecoder();
    const decodedPrediction = decoder.decodePrediction(pred!.data, { expectedModel: 'fraud_v2' });
    if (!decodedPrediction.ok) throw new Error(decodedPrediction.detail);
    expect(decodedPrediction.event).toMatchObject({
      id: 'req-8f3a',
      model: 'fraud_v2',
      version: 'v7',
      output: 0.83,
      features: { amount: 120.5, country: 'FR', merchant: null },
      latencyMs: 12.5,
      segment: { region: 'eu' },
    });
    expect(decodedPrediction.event.ts).toBeGreaterThanOrEqual(before - 1000);
    expect(decodedPrediction.event.ts).toBeLessThanOrEqual(Date.now());
    const decodedLabel = decoder.decodeLabel(label!.data, { expectedModel: 'fraud_v2' });
    expect(decodedLabel.ok && decodedLabel.event.label).toBe(1);
    // every publish carries its Nats-Msg-Id, as the TypeScript SDK writes it
    expect(pred?.header.get('Nats-Msg-Id')).toBe('fraud_v2:req-8f3a:pred');
    expect(label?.header.get('Nats-Msg-Id')).toBe('fraud_v2:req-8f3a:label');
    // the failed inference: an error, no output
    const failed = await stream.getMessage({ seq: 3 });
    expect(failed?.subject).toBe(`drift.in.${partitionOf('req-8f3b', PARTITIONS)}.fraud_v2.pred`);
    expect(failed?.header.get('Nats-Msg-Id')).toBe('fraud_v2:req-8f3b:pred');
    const decodedFailure = decoder.decodePrediction(failed!.data, { expectedModel: 'fraud_v2' });
    if (!decodedFailure.ok) throw new Error(decodedFailure.detail);
    expect(decodedFailure.event).toMatchObject({ id: 'req-8f3b', error: 'timeout' });
    expect(decodedFailure.event.output).toBeUndefined();
  });
});
