/**
 * Worst segments end to end in-process: predictions and joined labels folded into panes as a
 * worker does, the panes' wire states through the gateway's windows, and GET /v1/models/:model/segments.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/server.ts';
import { MetricsView } from '../../src/gateway/metrics-view.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { PaneInput, PaneOutcome, inputToWire, outcomeToWire } from '../../src/window/pane.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';
import type { ModelSegments } from '../../src/contract/metrics.ts';
import { FakeSource } from './fake-source.ts';
import { LIMITS, PANE_MS, recordingLogger } from './panes.ts';

/** Correct predictions out of each region's 100 per pane. */
const CORRECT_PER_100: Record<string, number> = { north: 90, south: 90, west: 90, east: 75 };

/**
 * Six panes (one minute) of binary predictions, every one labelled: each region sends 100 per pane
 * with CORRECT_PER_100 of them right, plus 'tiny', 20 predictions over the minute of which 14 right.
 */
function panes(model: string): PaneMessage[] {
  const out: PaneMessage[] = [];
  for (let p = 0; p < 6; p++) {
    const input = new PaneInput(LIMITS);
    const outcome = new PaneOutcome(LIMITS);
    const predict = (region: string, correct: boolean, label: 0 | 1): void => {
      const score = correct === (label === 1) ? 0.9 : 0.1;
      input.addPrediction(score, score, LIMITS.threshold, 10, false, { region });
      outcome.addJoined(score, label, LIMITS.threshold, 500, false, ['region', region]);
    };
    for (const [region, correct] of Object.entries(CORRECT_PER_100)) {
      for (let i = 0; i < 100; i++) predict(region, i < correct, (i % 2) as 0 | 1);
    }
    // tiny: 4, 4, 3, 3, 3, 3 predictions; 14 of the 20 right
    const tiny = p < 2 ? 4 : 3;
    for (let i = 0; i < tiny; i++) predict('tiny', i > 0, 1);
    const base = { model, version: 'v1', partition: 0, paneStart: p * PANE_MS, paneMs: PANE_MS, seq: 0, final: false };
    out.push({ ...base, part: 'in', state: inputToWire(input) }, { ...base, part: 'out', state: outcomeToWire(outcome) });
  }
  return out;
}

describe('GET /v1/models/:model/segments', () => {
  let app: FastifyInstance;

  beforeEach(async () => {
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    for (const message of panes('churn')) windows.applyPaneMessage(message);
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    const view = new MetricsView(windows, references, { overrides: {} });
    const source = Object.assign(new FakeSource(['churn']), { getSegments: view.getSegments.bind(view) });
    app = await buildGateway({ source, registry: new Registry() });
  });
  afterEach(async () => {
    await app.close();
  });

  it('ranks the region whose accuracy dropped 15 points first, above the 20-event segment with a larger drop', async () => {
    const res = await app.inject({ url: '/v1/models/churn/segments?window=1m' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as ModelSegments;
    expect(body).toMatchObject({ model: 'churn', version: null, window: '1m', windowMs: 60_000, from: 0, to: 60_000, correction: 'holm' });
    // 4 regions x 600 + 20 labels; 3 x 540 + 450 + 14 correct
    expect(body.overall).toEqual({ labeled: 2420, correct: 2084, accuracy: 2084 / 2420 });
    const regions = body.keys.region;
    expect(regions.map((r) => r.value)).toEqual(['east', 'tiny', 'north', 'south', 'west']);
    expect(regions[0]).toMatchObject({ value: 'east', predictions: 600, labeled: 600, correct: 450, accuracy: 0.75, significant: true });
    expect(regions[1]).toMatchObject({ value: 'tiny', predictions: 20, labeled: 20, correct: 14, significant: false });
    expect(regions[1].drop as number).toBeGreaterThan(regions[0].drop as number);
    expect(body.alpha).toBeGreaterThan(0);
    expect(regions[0].adjustedPValue as number).toBeLessThanOrEqual(body.alpha);
    expect(regions[1].adjustedPValue as number).toBeGreaterThan(body.alpha);
    expect(body.worst).toMatchObject({ key: 'region', value: 'east', drop: regions[0].drop });
  });

  it('answers 404 for an unknown model and 400 for an unknown window', async () => {
    expect((await app.inject({ url: '/v1/models/nope/segments' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/models/churn/segments?window=2h' })).statusCode).toBe(400);
  });
});

describe('GET /v1/models/:model/segments: the features that drifted inside the worst segment', () => {
  const limits = { ...LIMITS, segmentSketchValues: 4 };
  let app: FastifyInstance;

  /**
   * Two minutes of panes: north and east at 90 % in the first; in the second east falls to 75 % and
   * its feature x moves from [0, 10) to [5, 15) while its y and north's x stay as they were.
   */
  function panesWithFeatures(): PaneMessage[] {
    const out: PaneMessage[] = [];
    // one producer (a partition's model version) whose center of x is decided
    const centers = new Map([['x', 5]]);
    for (let p = 0; p < 12; p++) {
      const input = new PaneInput(limits, centers);
      const outcome = new PaneOutcome(limits);
      const shifted = p >= 6;
      for (const region of ['north', 'east']) {
        const correct = region === 'east' && shifted ? 75 : 90;
        for (let i = 0; i < 100; i++) {
          const label = (i % 2) as 0 | 1;
          const score = i < correct === (label === 1) ? 0.9 : 0.1;
          const features = { x: (region === 'east' && shifted ? 5 : 0) + (i % 10) + i / 100, y: ['u', 'v', 'w'][i % 3] };
          input.addPrediction(score, score, limits.threshold, 10, false, { region });
          for (const [name, v] of Object.entries(features)) input.addFeature(name, v);
          input.addSegmentFeatures({ region }, features);
          outcome.addJoined(score, label, limits.threshold, 500, false, ['region', region]);
        }
      }
      const base = { model: 'churn', version: 'v1', partition: 0, paneStart: p * PANE_MS, paneMs: PANE_MS, seq: 0, final: false };
      out.push({ ...base, part: 'in', state: inputToWire(input) }, { ...base, part: 'out', state: outcomeToWire(outcome) });
    }
    return out;
  }

  beforeEach(async () => {
    const windows = new WindowStore({ windows: ['1m', '5m'], limits, maxModels: 10 });
    for (const message of panesWithFeatures()) windows.applyPaneMessage(message);
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    const view = new MetricsView(windows, references, { overrides: {} });
    const source = Object.assign(new FakeSource(['churn']), { getSegments: view.getSegments.bind(view) });
    app = await buildGateway({ source, registry: new Registry() });
  });
  afterEach(async () => {
    await app.close();
  });

  it("names x, shifted inside east, first, against east's own window before", async () => {
    const body = (await app.inject({ url: '/v1/models/churn/segments?window=1m' })).json() as ModelSegments;
    expect(body.keys.region.map((r) => [r.value, r.significant])).toEqual([['east', true], ['north', false]]);
    const worst = body.worst!;
    expect(worst).toMatchObject({ key: 'region', value: 'east' });
    expect(worst.featuresNote).toBeUndefined();
    expect(worst.features.map((f) => f.feature)).toEqual(['x', 'y']);
    const [x, y] = worst.features;
    expect(x).toMatchObject({ type: 'numeric', count: 600, referenceCount: 600, drift: true });
    expect(x.psi).toBeGreaterThan(1);
    expect(y).toMatchObject({ type: 'categorical', count: 600, referenceCount: 600, drift: false });
    expect(y.psi).toBeLessThan(0.01);
  });

  it('says why the list is empty when the panes keep no per-segment features', async () => {
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    for (const message of panes('churn')) windows.applyPaneMessage(message);
    const view = new MetricsView(windows, new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger }), { overrides: {} });
    const worst = view.getSegments('churn', '1m')?.worst;
    expect(worst).toMatchObject({ key: 'region', value: 'east', features: [] });
    expect(worst?.featuresNote).toMatch(/limits\.segmentSketchValues/);
  });
});
