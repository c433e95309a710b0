/**
 * Multivariate drift end to end in one process: a file reference fits the PCA model, a worker's
 * scorers add each event's reconstruction error to its pane, the gateway's windows sum the panes
 * and report drift.multivariate. Two features whose correlation flips while each marginal stays
 * the same: no univariate test fires, the multivariate verdict does; nothing changed: no alarm.
 */
import { describe, expect, it } from 'vitest';
import { MetricsView } from '../../src/gateway/metrics-view.ts';
import { multivariateDriftOf } from '../../src/gateway/multivariate-drift.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { parseMetricSelector } from '../../src/alerts/selector.ts';
import { profileFromRows, profileFromBytes, profileToBytes } from '../../src/reference/profile.ts';
import type { TrainingRow } from '../../src/reference/profile.ts';
import { WorkerReferences } from '../../src/reference/worker-references.ts';
import { mulberry32 } from '../../src/sketch/random.ts';
import { PaneInput, addInput, inputFromWire, inputToWire } from '../../src/window/pane.ts';
import type { FeatureRow } from '../../src/stats/pca-reconstruction.ts';
import { LIMITS, PANE_MS, recordingLogger } from './panes.ts';

const EVENTS_PER_PANE = 500;

/** a and b move together (or, flipped, against each other: the same marginals), c and d on their own, a plan tied to a. */
function makeEvents(seed: number) {
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return (flipped: boolean): FeatureRow => {
    const a = normal();
    const b = (flipped ? -0.9 : 0.9) * a + Math.sqrt(1 - 0.81) * normal();
    return { a: 10 + 2 * a, b: 3 * b, c: normal(), d: 5 + normal(), plan: random() < 0.05 ? null : random() < 0.5 ? 'basic' : 'pro' };
  };
}

function setup() {
  const events = makeEvents(11);
  const rows: TrainingRow[] = Array.from({ length: 20_000 }, () => ({ features: events(false) as TrainingRow['features'] }));
  // through its stored form, as workers and gateways read it
  const reference = profileFromBytes(profileToBytes(profileFromRows('ref', 'm', null, rows)));
  const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 10 });
  const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
  references.setReference(reference);
  const view = new MetricsView(windows, references, { overrides: {} });
  const scorers = new WorkerReferences();
  scorers.setReference(reference);
  let paneStart = 0;
  /** One pane of events as a worker builds it (features, then the one multivariate call), applied at the gateway. */
  const addPane = (flipped: boolean) => {
    const pane = new PaneInput(LIMITS);
    for (let i = 0; i < EVENTS_PER_PANE; i++) {
      const features = events(flipped);
      pane.count++;
      for (const name in features) pane.addFeature(name, features[name] as number | string | null);
      scorers.observe(pane, 'm', 'v1', features);
    }
    windows.applyPaneMessage({ model: 'm', version: 'v1', partition: 0, paneStart, paneMs: PANE_MS, part: 'in', seq: 0, state: inputToWire(pane), final: false });
    paneStart += PANE_MS;
  };
  return { reference, view, windows, addPane };
}

function univariateDrifting(metrics: ReturnType<MetricsView['getMetrics']>): string[] {
  return Object.entries(metrics?.drift.features ?? {}).filter(([, entry]) => entry.drift).map(([name]) => name);
}

describe('multivariate drift (PCA reconstruction error)', () => {
  it('a flipped correlation fires the multivariate verdict in the first flipped window, no univariate test', () => {
    const { reference, view, addPane } = setup();
    expect(reference.multivariate?.errors.chunks).toBe(20);
    for (let i = 0; i < 6; i++) addPane(false);
    const before = view.getMetrics('m', '1m');
    expect(before?.drift.multivariate?.drift).toBe(false);
    expect(before?.drift.multivariate?.count).toBe(6 * EVENTS_PER_PANE);
    expect(univariateDrifting(before)).toEqual([]);
    for (let i = 0; i < 6; i++) addPane(true);
    const after = view.getMetrics('m', '1m');
    expect(after?.from).toBe(6 * PANE_MS);
    expect(univariateDrifting(after)).toEqual([]);
    const multivariate = after?.drift.multivariate;
    expect(multivariate?.drift).toBe(true);
    expect(multivariate?.errorMean).toBeGreaterThan(multivariate?.upper ?? Infinity);
    expect(multivariate?.reference).toBe('ref');
    // about 5 % of events miss their plan: imputed and counted
    expect(multivariate?.imputedEvents).toBeGreaterThan(0.03 * 6 * EVENTS_PER_PANE);
    expect(multivariate?.imputedEvents).toBeLessThan(0.07 * 6 * EVENTS_PER_PANE);
    expect(multivariate?.imputedValues).toBe(multivariate?.imputedEvents);
  });

  it('nothing changed: no multivariate alarm over ten windows', () => {
    const { view, addPane } = setup();
    const verdicts: boolean[] = [];
    for (let w = 0; w < 10; w++) {
      for (let i = 0; i < 6; i++) addPane(false);
      const multivariate = view.getMetrics('m', '1m')?.drift.multivariate;
      expect(multivariate).not.toBeNull();
      verdicts.push(multivariate?.drift ?? true);
    }
    expect(verdicts).toEqual(Array(10).fill(false));
  });

  it("bounds the window at the drift budget's alpha by default, NannyML's 3 std on request", () => {
    const { reference, windows, addPane } = setup();
    for (let i = 0; i < 2; i++) addPane(false);
    const input = windows.windowsOf('m')?.get('1m', undefined)?.input;
    const errors = reference.multivariate?.errors;
    if (errors === undefined) throw new Error('no multivariate reference');
    const count = 2 * EVENTS_PER_PANE;
    const once = multivariateDriftOf(input, reference, { evaluationsPerWindow: 1 });
    const sliding = multivariateDriftOf(input, reference, { evaluationsPerWindow: 60 });
    const nannyml = multivariateDriftOf(input, reference, { bound: 'nannyml' });
    // alpha = 0.5 x 1000 / 1e6 = 5e-4 two-sided: z = 3.48; re-evaluated 60 times per window: alpha / 60, z = 4.46
    const spread = Math.max(errors.chunkStd, errors.rowStd / Math.sqrt(errors.chunkSize)) * Math.sqrt(errors.chunkSize / count);
    const referenceSpread = errors.rowStd / Math.sqrt(reference.multivariate?.model.fittedOn ?? NaN);
    expect(once?.upper).toBeCloseTo(errors.chunkMean + 3.4808 * Math.hypot(spread, referenceSpread), 3);
    expect(sliding?.upper).toBeCloseTo(errors.chunkMean + 4.4566 * Math.hypot(spread, referenceSpread), 3);
    expect(nannyml?.upper).toBeCloseTo(errors.chunkMean + 3 * errors.chunkStd * Math.sqrt(errors.chunkSize / count), 9);
    expect(once?.errorMean).toBe(nannyml?.errorMean);
  });

  it('a reference without a multivariate model reports none', () => {
    const { view, addPane } = setup();
    addPane(false);
    const metrics = view.getMetrics('m', '1m');
    expect(metrics?.drift.multivariate).toBeDefined();
    const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 10 });
    const bare = new MetricsView(windows, new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger }), { overrides: {} });
    const pane = new PaneInput(LIMITS);
    pane.count = 1;
    windows.applyPaneMessage({ model: 'm', version: 'v1', partition: 0, paneStart: 0, paneMs: PANE_MS, part: 'in', seq: 0, state: inputToWire(pane), final: false });
    expect(bare.getMetrics('m', '1m')?.drift.multivariate).toBeUndefined();
  });
});

describe('multivariate pane sums', () => {
  it('survive the wire form, add per reference id and subtract back', () => {
    const pane = new PaneInput(LIMITS);
    pane.addReconstructionError('r1', 2, 0);
    pane.addReconstructionError('r1', 4, 2);
    pane.addReconstructionError('r2', 1, 0);
    const copy = inputFromWire(inputToWire(pane), LIMITS);
    expect([...(copy.multivariate?.get('r1') ?? [])]).toEqual([2, 6, 20, 1, 2]);
    const window = new PaneInput(LIMITS);
    addInput(window, copy, 1);
    addInput(window, pane, 1);
    expect([...(window.multivariate?.get('r2') ?? [])]).toEqual([2, 2, 2, 0, 0]);
    addInput(window, pane, -1);
    expect([...(window.multivariate?.get('r1') ?? [])]).toEqual([2, 6, 20, 1, 2]);
  });

  it('a pane of an older worker (no sums) reads as none', () => {
    const wire = inputToWire(new PaneInput(LIMITS));
    expect('multivariate' in wire).toBe(false);
    expect(inputFromWire(wire, LIMITS).multivariate).toBeNull();
  });
});

describe('drift.multivariate in alert rules', () => {
  it('parses the verdict and the mean error, and refuses other readings', () => {
    expect(parseMetricSelector('drift.multivariate')).toEqual({ ok: true, selector: { kind: 'multivariate', reading: 'verdict' } });
    expect(parseMetricSelector('drift.multivariate.drift')).toEqual({ ok: true, selector: { kind: 'multivariate', reading: 'verdict' } });
    expect(parseMetricSelector('drift.multivariate.error')).toEqual({ ok: true, selector: { kind: 'multivariate', reading: 'error' } });
    const refused = parseMetricSelector('drift.multivariate.psi');
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.expected).toMatch(/drift.multivariate.error/);
  });
});
