import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { ModelMetrics } from '../../src/contract/metrics.ts';
import { buildGateway } from '../../src/gateway/server.ts';
import { FakeSource } from './fake-source.ts';

/** A source whose features are a discrete one with freshness fields. */
class DiscreteSource extends FakeSource {
  override getMetrics(model: string, window: string, version?: string): ModelMetrics | undefined {
    const metrics = super.getMetrics(model, window, version);
    if (metrics === undefined) return undefined;
    metrics.drift.features.rating = {
      type: 'discrete',
      count: 90,
      reference: 'ref-1',
      primary: 'chi2',
      drift: false,
      tests: { chi2: { test: 'chi2', statistic: 3.1, pValue: 0.54, threshold: 0.05, drift: false } },
      computedAt: 1_700_000_123_456,
      computedOn: 95,
    };
    metrics.drift.stale = true;
    return metrics;
  }
}

describe('drift entries over HTTP', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it("keep type 'discrete', computedAt, computedOn and the drift's stale flag through the response schema", async () => {
    app = await buildGateway({ source: new DiscreteSource(), registry: new Registry() });
    const res = await app.inject({ url: '/v1/models/churn/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.json().drift.features.rating).toMatchObject({ type: 'discrete', computedAt: 1_700_000_123_456, computedOn: 95 });
    expect(res.json().drift.stale).toBe(true);
  });
});

/** A source whose reference has labelled binary scores and whose window has a CBPE estimate. */
class ReferenceQualitySource extends FakeSource {
  constructor(private readonly confusion: { tp: number; fp: number; fn: number; tn: number } | null) {
    super();
  }
  override getMetrics(model: string, window: string, version?: string): ModelMetrics | undefined {
    const metrics = super.getMetrics(model, window, version);
    if (metrics === undefined) return undefined;
    metrics.reference = { id: 'ref-1', accuracy: 0.8, labeled: 1000, errorRate: 0, latencyP99: 30, f1: 0.78, auc: 0.86, confusion: this.confusion };
    metrics.quality.estimatedOn = 420;
    return metrics;
  }
}

describe('reference quality over HTTP', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('keeps the reference F1, AUC and confusion counts (or null), and the scored count behind the estimates', async () => {
    app = await buildGateway({ source: new ReferenceQualitySource({ tp: 390, fp: 110, fn: 100, tn: 400 }), registry: new Registry() });
    const body = (await app.inject({ url: '/v1/models/churn/metrics' })).json();
    expect(body.reference).toEqual({ id: 'ref-1', accuracy: 0.8, labeled: 1000, errorRate: 0, latencyP99: 30, f1: 0.78, auc: 0.86, confusion: { tp: 390, fp: 110, fn: 100, tn: 400 } });
    expect(body.quality.estimatedOn).toBe(420);
    await app.close();
    app = await buildGateway({ source: new ReferenceQualitySource(null), registry: new Registry() });
    expect((await app.inject({ url: '/v1/models/churn/metrics' })).json().reference.confusion).toBeNull();
  });
});
