import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { getJson, eventually } from '../helpers/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import { provision } from '../../src/cluster/provision.ts';
import { startGateway } from '../../src/app/gateway.ts';
import type { Gateway } from '../../src/app/gateway.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

describe('worker crash (kill -9) while consuming', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let gateway: Gateway;
  let dir: string;
  let configFile: string;
  const children: ChildProcess[] = [];
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provision(nc, { partitions: 2 });
    dir = mkdtempSync(join(tmpdir(), 'driftwatch-crash-'));
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ panes: { flushIntervalMs: 100, allowedLatenessMs: '10m' }, checkpoint: { intervalMs: 150 }, reference: { autoCaptureMs: 0 } }));
    const config = loadConfig({ env: { NATS_URL: server.url, PORT: '0', LOG_LEVEL: 'warn', DRIFTWATCH_CONFIG: configFile } });
    gateway = await startGateway(nc, config, pino({ level: 'warn' }));
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await gateway?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function startWorkerProcess(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], {
      env: { ...process.env, NATS_URL: server.url, PORT: '0', LOG_LEVEL: 'warn', DRIFTWATCH_CONFIG: configFile, DRIFTWATCH_WORKER_THREADS: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  }

  it('loses nothing and counts nothing twice', async () => {
    const N = 6000;
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 256 });
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await publisher.publishPrediction({ id: `c${i}`, model: 'risk', ts: T0 + i * 50, output: (i % 10) / 10, latencyMs: i % 100 });
        await publisher.publishLabel({ id: `c${i}`, model: 'risk', ts: T0 + i * 50 + 500, label: i % 3 === 0 ? 1 : 0 });
      }
      await publisher.flush();
    };
    const counted = async () => {
      const { status, body } = await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`);
      return status === 200 ? body.count : 0;
    };
    let worker = startWorkerProcess();
    // phase 1: consumed and checkpointed
    await publish(0, N / 3);
    await eventually(async () => ((await counted()) === N / 3 ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    // phase 2: crash while consuming it
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await publish(N / 3, (2 * N) / 3);
    await eventually(async () => ((await counted()) > N / 3 ? true : undefined), 30_000, 'the worker to consume part of phase 2');
    worker.kill('SIGKILL');
    await exited;
    // phase 3: published while no worker runs
    await publish((2 * N) / 3, N);
    worker = startWorkerProcess();

    const metrics = await eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`);
      return status === 200 && body.count >= N && body.labels.joined >= N ? body : undefined;
    }, 60_000, 'every event to be counted after the restart');
    // exact figures: any double count or loss would show here
    let correct = 0;
    for (let i = 0; i < N; i++) if ((((i % 10) / 10 >= 0.5) ? 1 : 0) === (i % 3 === 0 ? 1 : 0)) correct++;
    expect(metrics.count).toBe(N);
    expect(metrics.labels.joined).toBe(N);
    expect(metrics.labels.pending).toBe(0);
    expect(metrics.accuracy).toBeCloseTo(correct / N, 12);
    await new Promise((r) => setTimeout(r, 1000));
    const { body: settled } = await getJson<ModelMetrics>(`${gateway.url}/v1/models/risk/metrics?window=1h`);
    expect(settled.count).toBe(N);
    expect(settled.labels.joined).toBe(N);
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
    await publisher.close();
  });
});
