import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { getJson, eventually } from '../helpers/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startAllInOne } from '../../src/app/all-in-one.ts';
import type { AllInOne } from '../../src/app/all-in-one.ts';
import { DriftPublisher } from '../../src/client/index.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

describe('restarts: state resumes from checkpoints and the pane changelog', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dataDir: string;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 240_000;

  function config() {
    const c = loadConfig({
      env: { NATS_URL: server.url, DRIFTWATCH_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' },
      overrides: { partitions: { count: 3 }, panes: { flushIntervalMs: 200 }, checkpoint: { intervalMs: 300 }, reference: { autoCaptureMs: 0 } },
    });
    c.partitionsExplicit = true;
    return c;
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    dataDir = mkdtempSync(join(tmpdir(), 'driftwatch-restart-'));
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function publish(from: number, to: number, labelled: boolean): Promise<void> {
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 64 });
    for (let i = from; i < to; i++) {
      await publisher.publishPrediction({ id: `r${i}`, model: 'churn', ts: T0 + i * 50, output: i % 3 === 0 ? 'stay' : 'leave', latencyMs: 10 });
      if (labelled) await publisher.publishLabel({ id: `r${i}`, model: 'churn', ts: T0 + i * 50 + 1000, label: 'stay' });
    }
    await publisher.flush();
  }

  async function waitFor(app: AllInOne, count: number, joined: number): Promise<ModelMetrics> {
    return eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${app.gateway.url}/v1/models/churn/metrics?window=1h`);
      return status === 200 && body.count === count && body.labels.joined === joined ? body : undefined;
    });
  }

  it('a restarted process counts every event exactly once, including events published while it was down', async () => {
    let app = await startAllInOne(config(), pino({ level: 'warn' }));
    await publish(0, 600, true);
    const before = await waitFor(app, 600, 600);
    expect(before.accuracy).toBeCloseTo(200 / 600, 12);
    await app.stop();

    await publish(600, 900, false); // while nothing consumes
    app = await startAllInOne(config(), pino({ level: 'warn' }));
    const after = await waitFor(app, 900, 600);
    expect(after.accuracy).toBeCloseTo(200 / 600, 12);
    expect(after.quality.confusion?.classes).toEqual(['leave', 'stay']);
    expect(after.labels.pending).toBe(300);

    // labels for the predictions made while it was down still join after the restart
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: 64 });
    for (let i = 600; i < 900; i++) await publisher.publishLabel({ id: `r${i}`, model: 'churn', ts: T0 + i * 50 + 1000, label: 'leave' });
    await publisher.flush();
    const joined = await waitFor(app, 900, 900);
    expect(joined.accuracy).toBeCloseTo((200 + 200) / 900, 12);
    await app.stop();
  });
});

describe('a partition thread that dies', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dataDir: string;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 240_000;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    dataDir = mkdtempSync(join(tmpdir(), 'driftwatch-thread-'));
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is replaced, and its partitions resume from their checkpoints without loss or double count', async () => {
    const config = loadConfig({
      env: { NATS_URL: server.url, DRIFTWATCH_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', DRIFTWATCH_WORKER_THREADS: '2' },
      overrides: { partitions: { count: 4 }, panes: { flushIntervalMs: 100 }, checkpoint: { intervalMs: 200 }, reference: { autoCaptureMs: 0 } },
    });
    config.partitionsExplicit = true;
    const app = await startAllInOne(config, pino({ level: 'silent' }));
    try {
      expect(app.worker.pool?.threadCount).toBe(2);
      const publisher = await DriftPublisher.connect(nc, { maxInFlight: 64 });
      const publish = async (from: number, to: number) => {
        for (let i = from; i < to; i++) await publisher.publishPrediction({ id: `t${i}`, model: 'lane', ts: T0 + i * 20, output: 0.5 });
        await publisher.flush();
      };
      const counted = (n: number) =>
        eventually(async () => {
          const { status, body } = await getJson<ModelMetrics>(`${app.gateway.url}/v1/models/lane/metrics?window=1h`);
          return status === 200 && body.count === n ? body : undefined;
        }, 60_000, `${n} predictions`);
      await publish(0, 1000);
      await counted(1000);
      await new Promise((r) => setTimeout(r, 400));
      await app.worker.pool?.crashThread(0);
      await publish(1000, 2000);
      await counted(2000);
      expect(app.worker.pool?.restarts).toBe(1);
      await new Promise((r) => setTimeout(r, 500));
      const { body } = await getJson<ModelMetrics>(`${app.gateway.url}/v1/models/lane/metrics?window=1h`);
      expect(body.count).toBe(2000);
    } finally {
      await app.stop();
    }
  });
});
