/**
 * Multivariate drift on a real nats-server: a reference uploaded after the worker started reaches
 * the worker through the object store, the worker scores every event, and the gateway reports
 * drift.multivariate in the API and Prometheus. The correlation of a and b flips while each keeps
 * its distribution: the verdict goes from no drift to drift, and no univariate test fires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelMetrics } from '../../src/contract/metrics.ts';
import { SeededRandom } from '../../src/simulator/random.ts';
import { eventually, getJson, startPipeline } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';

describe('multivariate drift end to end', () => {
  let pipeline: Pipeline;
  const seeded = new SeededRandom(23);
  const features = (flipped: boolean) => {
    const a = seeded.normal();
    const b = (flipped ? -0.9 : 0.9) * a + Math.sqrt(1 - 0.81) * seeded.normal();
    return { a, b, c: seeded.normal() };
  };

  beforeAll(async () => {
    pipeline = await startPipeline();
  }, 120_000);

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('scores events against the uploaded reference and flags the flipped correlation only', async () => {
    const { baseUrl, publisher } = pipeline;
    const rows = Array.from({ length: 5000 }, () => ({ features: features(false) }));
    const upload = await fetch(`${baseUrl}/v1/baselines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'joint', rows }) });
    expect(upload.status).toBe(201);
    const metricsOf = async () => (await getJson<Partial<ModelMetrics>>(`${baseUrl}/v1/models/joint/metrics?window=1m`)).body;
    // phases of 50 s starting on whole minutes: a 1m window (of whole panes) holds the latest phase alone
    const start = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
    const EVENTS = 500;
    const publishPhase = async (prefix: string, minute: number, flipped: boolean) => {
      for (let i = 0; i < EVENTS; i++) await publisher.publishPrediction({ id: `${prefix}-${i}`, model: 'joint', ts: start + minute * 60_000 + i * 100, output: seeded.next(), features: features(flipped) });
      await publisher.flush();
    };

    // the worker learns the reference through its watch: a phase it saw before that is published again, a minute on
    let minute = 0;
    await publishPhase('quiet0', minute, false);
    const quiet = await eventually(async () => {
      const body = await metricsOf();
      if (body.count !== EVENTS) return undefined;
      if (body.drift?.multivariate?.count === EVENTS) return body;
      minute++;
      await publishPhase(`quiet${minute}`, minute, false);
      return undefined;
    }, 90_000, 'a quiet phase scored against the reference');
    expect(quiet.drift?.multivariate?.drift).toBe(false);
    expect(quiet.drift?.multivariate?.reference).toBe(quiet.drift?.reference);
    minute++;
    await publishPhase('flipped', minute, true);
    const flipped = await eventually(async () => {
      const body = await metricsOf();
      return body.from !== undefined && body.from >= start + minute * 60_000 - 10_000 && body.drift?.multivariate?.count === EVENTS ? body : undefined;
    }, 60_000, 'the flipped phase in the window');
    expect(flipped.drift?.multivariate?.drift).toBe(true);
    expect(Object.entries(flipped.drift?.features ?? {}).filter(([, entry]) => entry.drift).map(([name]) => name)).toEqual([]);
    const scrape = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(scrape).toMatch(/drift_multivariate_drift\{model="joint",version="all",window="1m"\} 1/);
    expect(scrape).toMatch(/drift_multivariate_reconstruction_error\{model="joint",version="all",window="1m"\} \d/);
  }, 180_000);
});
