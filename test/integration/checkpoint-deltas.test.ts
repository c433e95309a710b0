import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm } from '@nats-io/obj';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { getJson, eventually } from '../helpers/pipeline.ts';
import { exitWithin, loggedLine, spawnEntry } from '../helpers/processes.ts';
import type { Proc } from '../helpers/processes.ts';
import { loadConfig } from '../../src/config/load.ts';
import { provision } from '../../src/cluster/provision.ts';
import { CHECKPOINTS_BUCKET } from '../../src/cluster/subjects.ts';
import { baseCheckpointName, deltaCheckpointName } from '../../src/partition/checkpoint-chain.ts';
import { startGateway } from '../../src/app/gateway.ts';
import type { Gateway } from '../../src/app/gateway.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

const PARTITIONS = 2;

describe('incremental checkpoints across a worker crash (kill -9 between deltas)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let gateway: Gateway;
  let dir: string;
  let configFile: string;
  const workers: Proc[] = [];
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: PARTITIONS });
    dir = mkdtempSync(join(tmpdir(), 'driftwatch-deltas-'));
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ panes: { flushIntervalMs: 100, allowedLatenessMs: '10m' }, checkpoint: { intervalMs: 150 }, reference: { autoCaptureMs: 0 } }));
    const config = loadConfig({ env: { NATS_URL: server.url, PORT: '0', LOG_LEVEL: 'warn', DRIFTWATCH_CONFIG: configFile } });
    gateway = await startGateway(nc, config, pino({ level: 'warn' }));
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await gateway?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function startWorker(): Proc {
    const worker = spawnEntry('worker', { ...process.env, NATS_URL: server.url, PORT: '0', LOG_LEVEL: 'info', DRIFTWATCH_CONFIG: configFile, DRIFTWATCH_WORKER_THREADS: '0' });
    workers.push(worker);
    return worker;
  }

  /** Deltas stored after each partition's current base (by the base object's metadata). */
  async function chainLengths(): Promise<number[]> {
    const store = await new Objm(nc).open(CHECKPOINTS_BUCKET);
    const lengths: number[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const baseId = (await store.info(baseCheckpointName(p)))?.metadata?.baseId;
      let n = 0;
      while (baseId !== undefined && (await store.info(deltaCheckpointName(p, baseId, n + 1))) !== null) n++;
      lengths.push(n);
    }
    return lengths;
  }

  it('restores base + deltas and joins every label exactly once with predictions consumed before the crash', async () => {
    const N = 6000;
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 256 });
    const predictions = async (from: number, to: number) => {
      for (let i = from; i < to; i++) await publisher.publishPrediction({ id: `d${i}`, model: 'risk', ts: T0 + i * 50, output: (i % 10) / 10, latencyMs: i % 100 });
      await publisher.flush();
    };
    const metrics = async () => {
      const { status, body } = await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`);
      return status === 200 ? body : null;
    };
    let worker = startWorker();
    // phase 1: predictions only, so the join table holds them all, pending (checkpointed as a base)
    await predictions(0, N / 2);
    await eventually(async () => ((await metrics())?.count === N / 2 ? true : undefined), 60_000, 'phase 1 counted');
    // phase 2 in slices: each is consumed and checkpointed as a delta after the base (an idle
    // partition writes nothing); once the stored chain has deltas the worker is killed between two
    let sent = N / 2;
    while (sent < N && !(await chainLengths()).some((n) => n > 0)) {
      await predictions(sent, sent + 250);
      sent += 250;
      await new Promise((r) => setTimeout(r, 300));
    }
    worker.child.kill('SIGKILL');
    await exitWithin(worker, 10_000, 'the killed worker');
    expect((await chainLengths()).some((n) => n > 0)).toBe(true);
    // the rest of phase 2 is published while no worker runs
    await predictions(sent, N);

    // the labels come after the restart: each must find its prediction in the restored join table
    worker = startWorker();
    const restored = await loggedLine(worker, 'restored partition checkpoint');
    expect(typeof restored.deltas).toBe('number');
    for (let i = 0; i < N; i++) await publisher.publishLabel({ id: `d${i}`, model: 'risk', ts: T0 + i * 50 + 500, label: i % 3 === 0 ? 1 : 0 });
    await publisher.flush();

    const final = await eventually(async () => {
      const body = await metrics();
      return body !== null && body.count >= N && body.labels.joined >= N ? body : undefined;
    }, 90_000, 'every prediction counted and every label joined after the restart');
    let correct = 0;
    for (let i = 0; i < N; i++) if (((i % 10) / 10 >= 0.5 ? 1 : 0) === (i % 3 === 0 ? 1 : 0)) correct++;
    expect(final.count).toBe(N);
    expect(final.labels.joined).toBe(N);
    expect(final.labels.pending).toBe(0);
    expect(final.accuracy).toBeCloseTo(correct / N, 12);
    // the restores applied deltas (a chain was there to restore)
    const restores = worker.lines.filter((l) => l.msg === 'restored partition checkpoint');
    expect(restores.length).toBe(PARTITIONS);
    expect(restores.reduce((sum, l) => sum + Number(l.deltas), 0)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000));
    const settled = await metrics();
    expect(settled?.count).toBe(N);
    expect(settled?.labels.joined).toBe(N);
    worker.child.kill('SIGTERM');
    await exitWithin(worker, 30_000, 'the worker');
    await publisher.close();
  });
});
