import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';

describe('NATS restart', () => {
  let pipeline: Pipeline;
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 300_000;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 2 }, reference: { autoCaptureMs: 0 } });
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  async function publish(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      await pipeline.publisher.publishPrediction({ id: `n${i}`, model: 'eta', ts: T0 + i * 100, output: i % 50, latencyMs: 5 });
      await pipeline.publisher.publishLabel({ id: `n${i}`, model: 'eta', ts: T0 + i * 100 + 100, label: (i % 50) + 1 });
    }
    await pipeline.publisher.flush();
  }

  async function counted(n: number): Promise<ModelMetrics> {
    return eventually(async () => {
      const { status, body } = await getJson<ModelMetrics>(`${pipeline.baseUrl}/v1/models/eta/metrics?window=1h`);
      return status === 200 && body.count === n && body.labels.joined === n ? body : undefined;
    }, 60_000, `${n} predictions joined`);
  }

  it('workers and gateways resume after the server restarts, counting every event once', async () => {
    await publish(0, 500);
    await counted(500);
    await pipeline.server.restart();
    await publish(500, 1000);
    const after = await counted(1000);
    expect(after.quality.mae).toBeCloseTo(1, 12);
    expect(after.quality.rmse).toBeCloseTo(1, 12);
  });
});
