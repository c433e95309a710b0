import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/server.ts';
import { createGatewayMetrics } from '../../src/gateway/prometheus.ts';
import { FakeSource, alert, fullMetrics } from './fake-source.ts';

const TOKEN = 's3cret-token-value';

describe('gateway REST routes (no auth)', () => {
  let source: FakeSource;
  let app: FastifyInstance;
  let registry: Registry;

  beforeEach(async () => {
    source = new FakeSource();
    registry = new Registry();
    app = await buildGateway({ source, registry });
  });
  afterEach(async () => {
    await app.close();
  });

  it('GET /healthz answers ok', async () => {
    const res = await app.inject({ url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz follows source.ready() and gives the reason when not ready', async () => {
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
    source.isReady = false;
    const res = await app.inject({ url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      status: 'not_ready',
      error: 'Service Unavailable',
      message: 'restoring partition checkpoints (3 of 8 left)',
      statusCode: 503,
    });
  });

  it('GET /v1/models lists the source models', async () => {
    const res = await app.inject({ url: '/v1/models' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      models: [
        { model: 'churn', versions: ['v1', 'v2'], lastEventAt: 1_700_000_300_000, count5m: 100 },
        { model: 'fraud', versions: ['v1', 'v2'], lastEventAt: 1_700_000_300_000, count5m: 100 },
      ],
      windows: ['1m', '5m', '1h'],
      defaultWindow: '5m',
    });
  });

  it('GET /v1/models/:model/metrics serves every ModelMetrics field unchanged, default window 5m', async () => {
    const res = await app.inject({ url: '/v1/models/churn/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    // The response schema must not drop or coerce anything: nulls stay null, optional fields survive.
    expect(res.json()).toEqual(fullMetrics('churn', '5m', 100));
  });

  it('passes window and version through', async () => {
    const res = await app.inject({ url: '/v1/models/churn/metrics?window=1h&version=v2' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.window).toBe('1h');
    expect(body.windowMs).toBe(3_600_000);
    expect(body.version).toBe('v2');
    // versions are free-form like the wire format's ('1.2.0'): they never become a subject token as such
    source.versions.push('1.2.0');
    const dotted = await app.inject({ url: '/v1/models/churn/metrics?version=1.2.0' });
    expect(dotted.statusCode).toBe(200);
    expect(dotted.json().version).toBe('1.2.0');
  });

  it('rejects a window the source does not have with 400 listing the valid ones', async () => {
    const res = await app.inject({ url: '/v1/models/churn/metrics?window=2m' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'Bad Request', message: 'querystring/window must be one of: 1m, 5m, 1h', statusCode: 400 });
  });

  it('rejects a malformed version and model name naming the field', async () => {
    const v = await app.inject({ url: `/v1/models/churn/metrics?version=${'v'.repeat(65)}` });
    expect(v.statusCode).toBe(400);
    expect(v.json().message).toBe('querystring/version must NOT have more than 64 characters');
    const m = await app.inject({ url: `/v1/models/${'x'.repeat(200)}/metrics` });
    expect(m.statusCode).toBe(400);
    expect(m.json().message).toBe('params/model must NOT have more than 128 characters');
    const a = await app.inject({ url: '/v1/alerts?model=bad%20name' });
    expect(a.statusCode).toBe(400);
    expect(a.json().message).toMatch(/^querystring\/model must be a name/);
  });

  it('answers 404 JSON for an unknown model', async () => {
    const res = await app.inject({ url: '/v1/models/nope/metrics?window=1m' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'Not Found', message: "unknown model 'nope'", statusCode: 404 });
  });

  it('answers 404 for a version never seen of a known model, listing the known ones', async () => {
    const res = await app.inject({ url: '/v1/models/churn/metrics?window=1m&version=nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'Not Found', message: "unknown version 'nope' of model 'churn' (known versions: v1, v2)", statusCode: 404 });
    // the model is checked first: an unknown model is not reported as an unknown version
    const model = await app.inject({ url: '/v1/models/nope/metrics?version=v1' });
    expect(model.json().message).toBe("unknown model 'nope'");
    // no metrics were computed for either
    expect(source.getMetricsCalls).toBe(0);
  });

  it('lists at most 20 known versions in the 404', async () => {
    source.versions = Array.from({ length: 25 }, (_, i) => `v${String(i).padStart(2, '0')}`);
    const res = await app.inject({ url: '/v1/models/fraud/metrics?version=v99' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toBe(`unknown version 'v99' of model 'fraud' (known versions: ${source.versions.slice(0, 20).join(', ')} and 5 more)`);
  });

  it('answers 404 JSON for an unknown route without echoing the query', async () => {
    const res = await app.inject({ url: '/v2/whatever?token=abc' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'Not Found', message: 'no route GET /v2/whatever', statusCode: 404 });
  });

  it('GET /v1/alerts returns the active alerts and, separately, the history, for all models or one', async () => {
    source.alerts.push(alert('churn', 'psi', 5000), alert('fraud', 'accuracy_drop', 6000, 'resolved'));
    const all = await app.inject({ url: '/v1/alerts' });
    expect(all.statusCode).toBe(200);
    const body = all.json();
    // a source that reports transitions only: its latest firing ones are the active alerts
    expect(body.active.map((a: { model: string; state: string; silenced: boolean }) => [a.model, a.state, a.silenced])).toEqual([['churn', 'firing', false]]);
    expect(body.history).toEqual([...source.alerts].reverse());
    const one = await app.inject({ url: '/v1/alerts?model=fraud' });
    expect(one.json().active).toEqual([]);
    expect(one.json().history.map((a: { rule: string; state: string }) => [a.rule, a.state])).toEqual([['accuracy_drop', 'resolved']]);
    const resolvedOnly = await app.inject({ url: '/v1/alerts?state=resolved' });
    expect(resolvedOnly.json().history.map((a: { model: string }) => a.model)).toEqual(['fraud']);
    expect(resolvedOnly.json().active).toEqual([]);
    expect((await app.inject({ url: '/v1/alerts?since=5500' })).json().history.map((a: { model: string }) => a.model)).toEqual(['fraud']);
    const badSince = await app.inject({ url: '/v1/alerts?since=yesterday' });
    expect(badSince.statusCode).toBe(400);
    expect(badSince.json().message).toMatch(/since/);
  });

  it('turns a source exception into a JSON 500 without internals', async () => {
    source.getMetrics = () => {
      throw new Error('window state corrupted at pane 17');
    };
    const res = await app.inject({ url: '/v1/models/churn/metrics' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'Internal Server Error', message: 'internal error', statusCode: 500 });
  });

  it('a response missing a contract field is a 500, not a silently incomplete body', async () => {
    const broken = fullMetrics('churn', '5m', 1) as unknown as Record<string, unknown>;
    delete broken.labels;
    source.getMetrics = () => broken as never;
    const res = await app.inject({ url: '/v1/models/churn/metrics' });
    expect(res.statusCode).toBe(500);
  });

  it('GET /metrics serves the registry in Prometheus text format with model gauges', async () => {
    source.featureCount = 3;
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(registry.contentType);
    const text = res.body;
    // a gateway exports what it knows: no worker series frozen at zero
    expect(text).not.toContain('drift_events_consumed_total');
    expect(text).toContain('# TYPE drift_ws_clients gauge');
    expect(text).toContain('drift_feature_drift{model="fraud",version="all",window="1m",feature="f2",test="psi"} 0');
    expect(text).toContain('drift_output_drift{model="churn",version="all",window="5m",test="psi"} 1');
    expect(text).toContain('drift_model_predictions{model="churn",version="all",window="5m"} 100');
    expect(text).toContain('drift_model_latency_seconds{model="churn",version="all",window="1h",quantile="0.99"} 0.08825');
    expect(text).toContain('drift_feature_psi{model="fraud",version="all",window="1m",feature="f2"} 0.03');
    expect(text).toContain('drift_model_accuracy{model="churn",version="all",window="1m"} 0.91');
    expect(text).toContain('drift_output_psi{model="churn",version="all",window="5m"} 0.3');
  });
});

describe('GET /metrics at many models', () => {
  /** 100 models whose metrics take `ms` each to build (drift computed on demand): 300 builds a scrape. */
  function slowSource(ms: number): FakeSource {
    const source = new FakeSource(Array.from({ length: 100 }, (_, i) => `model-${i}`));
    const getMetrics = source.getMetrics.bind(source);
    source.getMetrics = (...args) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
      return getMetrics(...args);
    };
    return source;
  }

  it('collects the model gauges in slices: a request arriving during a long scrape is answered before it ends', async () => {
    // ~0.6 s of work in all
    const source = slowSource(2);
    const app = await buildGateway({ source, registry: new Registry() });
    try {
      const finished: string[] = [];
      const started = performance.now();
      const scrape = app.inject({ url: '/metrics' }).then((res) => {
        finished.push('scrape');
        return res;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const requestedAt = performance.now();
      const models = await app.inject({ url: '/v1/models' });
      const answeredIn = performance.now() - requestedAt;
      finished.push('request');
      const res = await scrape;
      expect(models.statusCode).toBe(200);
      expect(res.statusCode).toBe(200);
      expect(finished).toEqual(['request', 'scrape']);
      expect(answeredIn).toBeLessThan((performance.now() - started) / 2);
      // every model's gauges are there all the same
      expect(res.body).toContain('drift_model_predictions{model="model-99",version="all",window="1h"} 100');
      expect(res.body.match(/^drift_model_predictions\{/gm)).toHaveLength(300);
    } finally {
      await app.close();
    }
  });

  it('answers scrapes arriving during one with its text: one refresh, never gauges half set', async () => {
    const source = slowSource(1);
    const app = await buildGateway({ source, registry: new Registry() });
    try {
      const first = app.inject({ url: '/metrics' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await app.inject({ url: '/metrics' });
      const firstBody = (await first).body;
      expect(second.body).toBe(firstBody);
      expect(source.getMetricsCalls).toBe(300);
      expect(firstBody.match(/^drift_model_predictions\{/gm)).toHaveLength(300);
      // the next scrape is a new one
      await app.inject({ url: '/metrics' });
      expect(source.getMetricsCalls).toBe(600);
    } finally {
      await app.close();
    }
  });

  it('computes the metrics only of the models that get series (limits.maxModels): the others are counted as dropped', async () => {
    const source = new FakeSource(['a', 'b', 'c', 'd', 'e']);
    const registry = new Registry();
    const app = await buildGateway({ source, registry, metrics: createGatewayMetrics(registry, { maxModels: 2 }) });
    try {
      const res = await app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      // two models x three windows computed, not five x three
      expect(source.getMetricsCalls).toBe(6);
      expect([...new Set([...res.body.matchAll(/^drift_model_predictions\{model="(\w+)"/gm)].map((m) => m[1]))]).toEqual(['a', 'b']);
      expect(res.body).toContain('drift_metric_series_dropped_total{kind="model"} 3');
      await app.inject({ url: '/metrics' });
      expect(source.getMetricsCalls).toBe(12);
    } finally {
      await app.close();
    }
  });

  it("computes a window's costly part in steps when the source offers them, yielding between steps, then reads its metrics", async () => {
    const source = new FakeSource(['churn']);
    const steps: string[] = [];
    let turnsBetweenSteps = 0;
    let stepping = false;
    source.metricsSteps = (model, window) => {
      let left = 3;
      return () => {
        // each step burns past the slice, so the scrape yields after every one
        const until = performance.now() + 12;
        while (performance.now() < until);
        stepping = true;
        steps.push(`${model}/${window}`);
        return --left === 0;
      };
    };
    const getMetrics = source.getMetrics.bind(source);
    const readAfterSteps: boolean[] = [];
    source.getMetrics = (model, window, ...rest) => {
      readAfterSteps.push(steps.filter((s) => s === `${model}/${window}`).length === 3);
      return getMetrics(model, window, ...rest);
    };
    const timer = setInterval(() => {
      if (stepping) turnsBetweenSteps++;
    }, 1);
    const app = await buildGateway({ source, registry: new Registry() });
    try {
      const res = await app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(steps).toEqual(['churn/1m', 'churn/1m', 'churn/1m', 'churn/5m', 'churn/5m', 'churn/5m', 'churn/1h', 'churn/1h', 'churn/1h']);
      expect(readAfterSteps).toEqual([true, true, true]);
      // a timer ran between the steps: the event loop turned
      expect(turnsBetweenSteps).toBeGreaterThanOrEqual(6);
      expect(res.body).toContain('drift_model_predictions{model="churn",version="all",window="1h"}');
    } finally {
      clearInterval(timer);
      await app.close();
    }
  });

  it('a scrape that fails answers 500, and the next scrape is a fresh one', async () => {
    const source = new FakeSource(['churn', 'fraud']);
    const getMetrics = source.getMetrics.bind(source);
    let failing = true;
    source.getMetrics = (...args) => {
      if (failing && args[0] === 'fraud') throw new Error('statistics failed');
      return getMetrics(...args);
    };
    const app = await buildGateway({ source, registry: new Registry() });
    try {
      const failed = await app.inject({ url: '/metrics' });
      expect(failed.statusCode).toBe(500);
      expect(failed.body).not.toContain('drift_model_predictions');
      failing = false;
      const next = await app.inject({ url: '/metrics' });
      expect(next.statusCode).toBe(200);
      expect(next.body).toContain('drift_model_predictions{model="fraud",version="all",window="5m"} 100');
      // the API is not held by the failed scrape
      expect((await app.inject({ url: '/v1/models' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('gateway auth', () => {
  let app: FastifyInstance;
  const source = new FakeSource();

  beforeEach(async () => {
    app = await buildGateway({
      source,
      registry: new Registry(),
      token: TOKEN,
      extraRoutes: async (scope) => {
        scope.get('/dashboard', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
      },
    });
  });
  afterEach(async () => {
    await app.close();
  });

  it('keeps the probes open', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  for (const url of ['/v1/models', '/v1/models/churn/metrics', '/v1/alerts', '/metrics', '/dashboard']) {
    it(`${url}: 401 JSON without a token`, async () => {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="driftwatch"');
      expect(res.json()).toEqual({
        error: 'Unauthorized',
        message: 'missing token: send "Authorization: Bearer <token>" or ?token=<token>',
        statusCode: 401,
      });
    });
  }

  it('401 for a wrong token, in the header or the query, including a prefix of the right one', async () => {
    for (const headers of [{ authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: `Bearer ${TOKEN}x` }]) {
      const res = await app.inject({ url: '/v1/models', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe('invalid token');
    }
    const q = await app.inject({ url: '/v1/models?token=wrong' });
    expect(q.statusCode).toBe(401);
    expect(q.json().message).toBe('invalid token');
  });

  it('401 for a non-bearer Authorization scheme', async () => {
    const res = await app.inject({ url: '/v1/models', headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } });
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toBe('Authorization header must be "Bearer <token>"');
  });

  it('accepts the bearer header and the query token', async () => {
    const bearer = await app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bearer.statusCode).toBe(200);
    expect(bearer.json().models).toHaveLength(2);
    const query = await app.inject({ url: `/v1/models/churn/metrics?window=1m&token=${TOKEN}` });
    expect(query.statusCode).toBe(200);
    expect(query.json().window).toBe('1m');
    const metrics = await app.inject({ url: '/metrics', headers: { authorization: `bearer ${TOKEN}` } });
    expect(metrics.statusCode).toBe(200);
    const extra = await app.inject({ url: `/dashboard?token=${TOKEN}` });
    expect(extra.json()).toEqual({ ok: true });
  });

  it('checks auth before validation: bad input without a token is a 401, not a 400', async () => {
    const res = await app.inject({ url: '/v1/models/churn/metrics?window=nope' });
    expect(res.statusCode).toBe(401);
  });

  it('serves over a real socket too', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const res = await fetch(`http://127.0.0.1:${address.port}/v1/alerts`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ active: [], history: [] });
  });
});

describe('buildGateway option checks', () => {
  it('refuses an empty token and a source without windows', async () => {
    await expect(buildGateway({ source: new FakeSource(), registry: new Registry(), token: '' })).rejects.toThrow(/non-empty/);
    const noWindows = new FakeSource();
    noWindows.windows = () => [];
    await expect(buildGateway({ source: noWindows, registry: new Registry() })).rejects.toThrow(/non-empty array of window names/);
  });
});

describe('gateway logging', () => {
  it('logs requests without the query string, so a ?token= never reaches the log', async () => {
    const { pino } = await import('pino');
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const app = await buildGateway({ source: new FakeSource(), registry: new Registry(), token: TOKEN, logger: pino({ level: 'info' }, sink) });
    await app.inject({ url: `/v1/models?token=${TOKEN}` });
    await app.inject({ url: '/v1/models?token=guess' });
    await app.close();
    const requestLines = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requestLines.map((l) => [l.path, l.statusCode])).toEqual([
      ['/v1/models', 200],
      ['/v1/models', 401],
    ]);
    expect(lines.join('')).not.toContain(TOKEN);
    expect(lines.join('')).not.toContain('guess');
  });
});
