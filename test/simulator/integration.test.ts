/**
 * The simulator publishing through the real DriftPublisher into a real JetStream: starts its own
 * nats-server on a free loopback port, creates the stream and the cluster metadata itself, runs
 * the simulator for 2 s at 500 predictions/s and checks what landed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decode } from '@msgpack/msgpack';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftPublisher } from '../../src/client/index.ts';
import { runSimulator } from '../../src/simulator/run.ts';

const NATS_SERVER = '/usr/sbin/nats-server';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function connectWithRetry(url: string, deadlineMs: number): Promise<NatsConnection> {
  for (;;) {
    try {
      return await connect({ servers: url, timeout: 1000 });
    } catch (err) {
      if (Date.now() > deadlineMs) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('simulator -> DriftPublisher -> JetStream', () => {
  let server: ChildProcess;
  let storeDir: string;
  let nc: NatsConnection;

  beforeAll(async () => {
    storeDir = mkdtempSync(path.join(tmpdir(), 'driftwatch-sim-'));
    const port = await freePort();
    server = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
    nc = await connectWithRetry(`nats://127.0.0.1:${port}`, Date.now() + 15_000);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'DRIFT_EVENTS', subjects: ['drift.in.>'] });
    const kv = await new Kvm(nc).create('DRIFT_META');
    await kv.put('cluster', JSON.stringify({ partitions: 4, schemaVersion: 1, createdAt: new Date().toISOString() }));
  });

  afterAll(async () => {
    await nc?.close();
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('publishes every prediction and label to its partition subject', async () => {
    // the simulator's duplicate predictions are meant for the worker: keep them in the stream
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 256, deduplicate: false });
    expect(publisher.partitions).toBe(4);
    const summary = await runSimulator({
      publisher,
      rate: 500,
      durationMs: 2000,
      seed: 21,
      models: ['fraud', 'churn'],
      labels: { delayMedianMs: 200 },
      drift: [{ at: 1000, kind: 'latency' }],
      logger: { info: () => {} },
    });
    await publisher.close();
    expect(summary.predictions).toBe(1000);
    expect(summary.skipped).toBe(0);

    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('DRIFT_EVENTS', { subjects_filter: '>' });
    expect(info.state.messages).toBe(summary.predictions + summary.duplicates + summary.labelsEmitted);
    const subjects = Object.keys(info.state.subjects ?? {}).sort();
    const expected = [0, 1, 2, 3].flatMap((p) =>
      ['churn', 'fraud'].flatMap((m) => [`drift.in.${p}.${m}.label`, `drift.in.${p}.${m}.pred`]),
    );
    expect(subjects).toEqual(expected.sort());

    const first = await jsm.streams.getMessage('DRIFT_EVENTS', { last_by_subj: 'drift.in.0.fraud.pred' });
    const event = decode(first!.data) as Record<string, unknown>;
    expect(event).toMatchObject({ model: 'fraud', segment: { group: expect.stringMatching(/^[ab]$/) } });
    expect(['v1', 'v2']).toContain(event.version);
    expect(typeof event.output).toBe('number');
    expect(Object.keys(event.features as object)).toContain('amount');
    // latency drift was on for the second half: the last prediction carries it
    expect(event.latencyMs as number).toBeGreaterThan(80);
  });
});
