import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/server.ts';
import type { AlertRuleStatus } from '../../src/contract/metrics.ts';
import { FakeSource } from './fake-source.ts';

/** A source whose alert rules report a reference too small for one model. */
class SourceWithRuleStatus extends FakeSource {
  statuses: AlertRuleStatus[] = [
    {
      rule: 'accuracy_drop', model: 'churn', scope: 'model', state: 'insufficient_reference', baselineLabels: 300, neededLabels: 1700, since: 1_700_000_000_000,
      message: "accuracy_drop (churn, model) cannot judge its baseline: the reference's accuracy rests on 300 labels; telling a drop of 0.05 from noise at alpha 1.7e-5 needs at least 1700",
    },
  ];

  ruleStatuses(model?: string): AlertRuleStatus[] {
    return this.statuses.filter((status) => model === undefined || status.model === model);
  }
}

describe('GET /v1/alerts: rules that cannot judge their baseline', () => {
  let app: FastifyInstance;
  afterEach(async () => {
    await app.close();
  });

  it("lists them under `rules` with state 'insufficient_reference', per model", async () => {
    const source = new SourceWithRuleStatus();
    app = await buildGateway({ source, registry: new Registry() });
    const all = await app.inject({ url: '/v1/alerts' });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toEqual({ active: [], history: [], rules: source.statuses });
    expect((await app.inject({ url: '/v1/alerts?model=fraud' })).json()).toEqual({ active: [], history: [], rules: [] });
  });
});
