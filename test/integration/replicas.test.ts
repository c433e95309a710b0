import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startGateway } from '../../src/app/gateway.ts';
import type { Gateway } from '../../src/app/gateway.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

describe('gateway replicas', () => {
  let pipeline: Pipeline;
  let second: Gateway;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 } });
    // a second gateway started after traffic flowed rebuilds its windows from the pane changelog
    for (let i = 0; i < 200; i++) {
      await pipeline.publisher.publishPrediction({ id: `q${i}`, model: 'ads', ts: T0 + i * 100, output: i % 2, features: { bid: i % 17 } });
    }
    await pipeline.publisher.flush();
    await eventually(async () => {
      const { body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/ads/metrics?window=5m`);
      return body.count === 200 ? true : undefined;
    });
    const config = loadConfig({ env: { NATS_URL: pipeline.server.url, PORT: '0', LOG_LEVEL: 'warn' }, overrides: { reference: { autoCaptureMs: 0 } } });
    second = await startGateway(pipeline.nc, config, pino({ level: 'warn' }));
  });

  afterAll(async () => {
    await second?.stop();
    await pipeline?.stop();
  });

  it('serve the same windows, and share reference profiles through the object store', async () => {
    const replayed = await eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${second.url}/v1/models/ads/metrics?window=5m`);
      return status === 200 && body.count === 200 ? body : undefined;
    });
    const { body: first } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/ads/metrics?window=5m`);
    expect(replayed.latency).toEqual(first.latency);
    expect(replayed.from).toBe(first.from);

    const created = await fetch(`${pipeline.baseUrl}/v1/models/ads/baseline`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ window: '5m' }) });
    expect(created.status).toBe(201);
    const profile = (await created.json()) as { id: string; count: number };
    expect(profile.count).toBe(200);
    const seen = await eventually(async () => {
      const { body } = await getJson<ModelMetrics>(`${second.url}/v1/models/ads/metrics?window=5m`);
      return body.drift.reference === profile.id ? body : undefined;
    }, 20_000, 'the second replica to use the new reference');
    expect(seen.drift.features.bid.reference).toBe(profile.id);
    // identical data against itself: no drift
    expect(seen.drift.features.bid.tests.psi.statistic).toBeLessThan(0.01);
    // statistics from sketches say how far they can be from the exact ones
    expect(seen.drift.features.bid.tests.ks.statistic).toBeLessThanOrEqual(seen.drift.features.bid.tests.ks.errorBound as number);
    expect(seen.drift.features.bid.tests.ks.errorBound).toBeGreaterThan(0);

    const deleted = await fetch(`${second.url}/v1/baselines/${profile.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    await eventually(async () => {
      const { body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/ads/metrics?window=5m`);
      return body.drift.reference === null ? true : undefined;
    }, 20_000, 'the first replica to drop the deleted reference');
    const missing = await fetch(`${second.url}/v1/baselines/${profile.id}`, { method: 'DELETE' });
    expect(missing.status).toBe(404);
  });
});
