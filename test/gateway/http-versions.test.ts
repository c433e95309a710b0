/**
 * ?version= of the per-model routes over the gateway's real windows: a version never seen answers
 * 404 naming the model and listing its versions; a version seen whose panes left the window (or
 * the whole retention) is known and answers empty figures.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/server.ts';
import { MetricsView } from '../../src/gateway/metrics-view.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { REMEMBERED_VERSIONS, WindowStore } from '../../src/gateway/window-store.ts';
import { AlertLog } from '../../src/gateway/alert-log.ts';
import { GatewaySource } from '../../src/gateway/gateway-source.ts';
import { LIMITS, PANE_MS, inputPane, recordingLogger, spread } from './panes.ts';

const MINUTE = 60_000;

describe('?version= over the gateway windows', () => {
  let app: FastifyInstance;
  let windows: WindowStore;

  beforeEach(async () => {
    windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    const view = new MetricsView(windows, references, { overrides: {} });
    const alerts = new AlertLog({ rules: [], logger: recordingLogger().logger });
    app = await buildGateway({ source: new GatewaySource({ windows, references, view, alerts }), registry: new Registry() });
  });
  afterEach(async () => {
    await app.close();
  });

  const get = async (url: string) => {
    const res = await app.inject({ url });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };

  it('a version seen answers 200; one never seen answers 404 on metrics and segments', async () => {
    windows.applyPaneMessage(inputPane('churn', 0, spread(40, 1, 10), 'v1'));
    windows.applyPaneMessage(inputPane('churn', 0, spread(10, 1, 10), 'canary-7'));

    const seen = await get('/v1/models/churn/metrics?window=1m&version=canary-7');
    expect(seen.status).toBe(200);
    expect(seen.body.count).toBe(10);

    const expected = { error: 'Not Found', message: "unknown version 'canary-8' of model 'churn' (known versions: canary-7, v1)", statusCode: 404 };
    expect(await get('/v1/models/churn/metrics?window=1m&version=canary-8')).toEqual({ status: 404, body: expected });
    expect(await get('/v1/models/churn/segments?window=1m&version=canary-8')).toEqual({ status: 404, body: expected });
    expect((await get('/v1/models/churn/segments?window=1m&version=v1')).status).toBe(200);
    // all versions merged (no ?version=) is not a version query
    expect((await get('/v1/models/churn/metrics?window=1m')).body.count).toBe(50);
    expect(await get('/v1/models/fraud/metrics?version=v1')).toEqual({ status: 404, body: { error: 'Not Found', message: "unknown model 'fraud'", statusCode: 404 } });
  });

  it('a version whose panes left the window, then the retention, stays known: 200 with count 0', async () => {
    windows.applyPaneMessage(inputPane('churn', 0, spread(10, 1, 10), 'v1'));
    windows.applyPaneMessage(inputPane('churn', 0, spread(30, 1, 10), 'v2'));
    // v1 alone goes on: v2's only pane leaves the 1m window, not the 5m one
    windows.applyPaneMessage(inputPane('churn', MINUTE + PANE_MS, spread(10, 1, 10), 'v1'));
    expect((await get('/v1/models/churn/metrics?window=1m&version=v2')).body).toMatchObject({ count: 0, version: 'v2' });
    expect((await get('/v1/models/churn/metrics?window=5m&version=v2')).body).toMatchObject({ count: 30, version: 'v2' });

    // past the retention (twice the longest window) the windows forget v2 entirely...
    windows.applyPaneMessage(inputPane('churn', 11 * MINUTE, spread(10, 1, 10), 'v1'));
    expect(windows.windowsOf('churn')?.versions.has('v2')).toBe(false);
    expect(((await get('/v1/models')).body.models as Array<{ versions: string[] }>)[0].versions).toEqual(['v1']);
    // ...but it was seen: empty figures, not "unknown version"
    const gone = await get('/v1/models/churn/metrics?window=5m&version=v2');
    expect(gone.status).toBe(200);
    expect(gone.body).toMatchObject({ count: 0, version: 'v2' });
    expect((await get('/v1/models/churn/segments?window=5m&version=v2')).status).toBe(200);
    expect((await get('/v1/models/churn/metrics?window=5m&version=v3')).status).toBe(404);
  });

  it(`remembers the latest ${REMEMBERED_VERSIONS} versions seen once their panes are gone`, async () => {
    const versions = Array.from({ length: REMEMBERED_VERSIONS + 1 }, (_, i) => `r${String(i).padStart(3, '0')}`);
    for (const version of versions) windows.applyPaneMessage(inputPane('churn', 0, [5], version));
    // every pane of the others leaves the retention
    windows.applyPaneMessage(inputPane('churn', 11 * MINUTE, [5], versions[REMEMBERED_VERSIONS]));
    expect(windows.windowsOf('churn')?.versions).toEqual(new Set([versions[REMEMBERED_VERSIONS]]));
    expect(windows.knownVersions('churn')).toEqual(versions.slice(1));
    const first = await get(`/v1/models/churn/metrics?version=${versions[0]}`);
    expect(first.status).toBe(404);
    expect(first.body.message).toMatch(new RegExp(`^unknown version '${versions[0]}' of model 'churn' \\(known versions: ${versions.slice(1, 21).join(', ')} and ${REMEMBERED_VERSIONS - 20} more\\)$`));
    expect((await get(`/v1/models/churn/metrics?version=${versions[1]}`)).status).toBe(200);
  });

  it('forgets the versions of a model removed for idleness with it', async () => {
    let now = 0;
    const store = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 1, idleMs: 1000, now: () => now });
    store.applyPaneMessage(inputPane('churn', 0, [5], 'v1'));
    now = 5000;
    store.applyPaneMessage(inputPane('fraud', 0, [5], 'v9'));
    expect(store.knownVersions('churn')).toBeUndefined();
    expect(store.knownVersions('fraud')).toEqual(['v9']);
  });
});
