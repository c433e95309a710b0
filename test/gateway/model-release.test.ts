/**
 * What the gateway keeps of a model it gives up for idleness (models.idleMs, when the window store
 * is full): nothing in memory. Its firing alerts resolve with the reason, announced like any
 * resolution; its references leave memory and come back from the store when the model does.
 */
import { describe, expect, it } from 'vitest';
import { AlertLog } from '../../src/gateway/alert-log.ts';
import { GatewaySource } from '../../src/gateway/gateway-source.ts';
import { MetricsView } from '../../src/gateway/metrics-view.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import type { AlertEvent } from '../../src/contract/metrics.ts';
import type { ReferenceProfile } from '../../src/reference/profile.ts';
import { LIMITS, PANE_MS, inputPane, profile, recordingLogger, spread } from './panes.ts';

const IDLE_MS = 1000;
const AUTO_MS = 10_000;
/** Fires at once for a model with more than 100 predictions in 1m. */
const BUSY_RULE = { name: 'busy', metric: 'count', window: '1m', op: '>', threshold: 100, minCount: 0 };
/** Holds for any traffic, fires only after an hour: pending meanwhile. */
const SLOW_RULE = { name: 'slow', metric: 'count', window: '1m', op: '>', threshold: 0, minCount: 0, for: '1h' };
/** Reads drift, so the tick keeps the model's drift fresh (MetricsView's per-model bookkeeping). */
const DRIFT_RULE = { name: 'x_psi', metric: 'drift.feature.psi', window: '1m', op: '>', threshold: 0.2, minCount: 0 };

/** The gateway's units as app/gateway.ts composes them, over an in-memory object store of profiles. */
function compose({ maxModels = 2, autoCaptureMs = 0, gatedLoads = false } = {}) {
  const gate = { on: gatedLoads };
  const { logger } = recordingLogger();
  const clock = { now: 0 };
  const stored = new Map<string, ReferenceProfile>();
  const loads: Array<{ models: string[]; release: () => void }> = [];
  const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels, idleMs: IDLE_MS, now: () => clock.now });
  const references = new ReferenceRegistry({
    autoCaptureMs,
    logger,
    saveReference: async (p) => void stored.set(p.id, p),
    loadReferences: async (models) => {
      if (gate.on) await new Promise<void>((release) => loads.push({ models: [...models], release }));
      return [...stored.values()].filter((p) => models.has(p.model));
    },
  });
  const view = new MetricsView(windows, references, { overrides: {}, now: () => clock.now });
  const rules = validateAlertRules([BUSY_RULE, SLOW_RULE, DRIFT_RULE], ['1m', '5m'], (key) => new Error(key));
  const published: AlertEvent[] = [];
  const notified: AlertEvent[] = [];
  const alerts = new AlertLog({ rules, logger, publishAlert: async (a) => void published.push(a), onTransition: (a) => notified.push(a) });
  const source = new GatewaySource({ windows, references, view, alerts }, { now: () => clock.now });
  const announced: AlertEvent[] = [];
  source.on('alert', (alert) => announced.push(alert));
  /** A model receives traffic: 150 predictions in a pane at `paneStart` (wall clock `at`). */
  const traffic = (model: string, at: number, paneStart = 0) => {
    clock.now = at;
    windows.applyPaneMessage(inputPane(model, paneStart, spread(150, 0, 10)));
  };
  return { clock, gate, stored, loads, windows, references, view, alerts, source, published, notified, announced, traffic };
}

/** Entries of every Map and Set the units hold (one level into each unit, and the alert log's evaluator). */
function entriesHeld(units: ReturnType<typeof compose>): number {
  const objects: object[] = [units.windows, units.references, units.view, units.alerts, Reflect.get(units.alerts, 'evaluator') as object, units.source];
  let entries = 0;
  for (const object of objects) for (const value of Object.values(object)) if (value instanceof Map || value instanceof Set) entries += value.size;
  return entries;
}

describe('a model the gateway gives up for idleness', () => {
  it('its firing alert resolves with the reason, announced, published and notified like any resolution; its pending one goes', () => {
    const units = compose();
    const { source, alerts, traffic, announced, published, notified } = units;
    traffic('a', 0);
    source.tick();
    const firing = announced.find((a) => a.model === 'a' && a.rule === 'busy');
    expect(firing?.state).toBe('firing');
    expect(source.activeAlerts('a').map((a) => [a.rule, a.state]).sort()).toEqual([['busy', 'firing'], ['slow', 'pending']]);
    const end = units.windows.windowsOf('a')?.end;

    traffic('b', 500);
    traffic('c', IDLE_MS + 1); // the store is full and 'a' idle: it gives its place to 'c'
    expect(units.windows.windowsOf('a')).toBeUndefined();

    const resolved = announced.filter((a) => a.model === 'a' && a.state === 'resolved');
    expect(resolved.map((a) => [a.rule, a.scope])).toEqual([['busy', 'model']]);
    const [resolution] = resolved;
    expect(resolution.id).toBe(`a:busy:model:${firing?.startsAt}:resolved`);
    expect(resolution.message).toMatch(/^resolved \(model evicted: no data for models\.idleMs \(1 s\)\): .*\(a, model\)/);
    expect(resolution.at).toBe(end);
    expect(published).toContainEqual(resolution);
    expect(notified).toContainEqual(resolution);
    expect(source.activeAlerts('a')).toEqual([]);
    expect(source.recentAlerts('a').at(-1)).toEqual(resolution);
    expect(alerts.history({ model: 'a', state: 'resolved' })).toEqual([resolution]);
    // the model coming back starts afresh: a new episode fires (its own start), not the old one continued
    traffic('a', 2 * IDLE_MS + 2, 3 * PANE_MS);
    source.tick();
    const again = announced.filter((a) => a.model === 'a' && a.rule === 'busy');
    expect(again.map((a) => a.state)).toEqual(['firing', 'resolved', 'firing']);
    expect(again[2].startsAt).toBeGreaterThan(again[0].startsAt);
  });

  it('an uploaded reference leaves memory and is served again when the model returns (read back from the store)', async () => {
    const { references, stored, source, traffic } = compose();
    const uploaded = profile('a.all.file.1', 'a', 1);
    // as the baselines route does: stored, then set
    stored.set(uploaded.id, uploaded);
    references.setReference(uploaded);
    traffic('a', 0);
    traffic('b', 100);
    traffic('c', IDLE_MS + 1);
    expect(references.knowsModel('a')).toBe(false);
    expect(references.referenceFor('a')).toBeNull();

    traffic('a', 2 * IDLE_MS + 2);
    await references.settled();
    expect(references.referenceFor('a')?.id).toBe(uploaded.id);
    expect(source.getMetrics('a', '1m')?.drift.reference).toBe(uploaded.id);
  });

  it('an automatic reference comes back from the store rather than being captured again from the returning traffic', async () => {
    const units = compose({ autoCaptureMs: AUTO_MS, gatedLoads: true });
    const { references, stored, loads, source, traffic } = units;
    traffic('a', 0);
    loads.shift()?.release();
    await references.settled();
    traffic('a', 10, 3 * PANE_MS);
    source.tick();
    const captured = references.referenceFor('a');
    expect(captured?.source).toBe('auto');
    expect([...stored.keys()]).toEqual([captured?.id]);

    units.gate.on = false;
    traffic('b', IDLE_MS);
    traffic('c', 2 * IDLE_MS - 1); // 'a' idle, 'b' not
    expect(units.windows.windowsOf('a')).toBeUndefined();
    expect(references.referenceFor('a')).toBeNull();
    for (const load of loads.splice(0)) load.release();
    await references.settled();

    // back, with a capture due on its new traffic while the store is being read: none is taken
    units.gate.on = true;
    traffic('a', 4 * IDLE_MS, 100 * PANE_MS);
    traffic('a', 4 * IDLE_MS + 1, 103 * PANE_MS);
    source.tick();
    expect(references.referenceFor('a')).toBeNull();
    expect(loads.map((l) => l.models)).toEqual([['a']]);
    loads.shift()?.release();
    await references.settled();
    source.tick();
    expect(references.referenceFor('a')?.id).toBe(captured?.id);
    expect(stored.size).toBe(1);
  });

  it('a new model whose capture was due while the store was read is captured once the read finds nothing, without more traffic', async () => {
    const { references, stored, loads, source, traffic } = compose({ autoCaptureMs: AUTO_MS, gatedLoads: true });
    traffic('a', 0);
    traffic('a', 1, 3 * PANE_MS);
    source.tick();
    expect(references.referenceFor('a')).toBeNull();
    loads.shift()?.release();
    await references.settled();
    source.tick();
    expect(references.referenceFor('a')?.source).toBe('auto');
    expect(stored.size).toBe(1);
  });

  it('a read of the store still running when the model is given up again sets nothing', async () => {
    const units = compose({ gatedLoads: true });
    const { references, stored, loads, traffic } = units;
    stored.set('a.all.file.1', profile('a.all.file.1', 'a', 1));
    const { gate } = units;
    traffic('a', 0);
    traffic('b', 100);
    traffic('c', IDLE_MS + 1); // 'a' released while its read is waiting
    expect(units.windows.windowsOf('a')).toBeUndefined();
    expect(loads.map((l) => l.models)).toEqual([['a']]);
    gate.on = false;
    for (const load of loads.splice(0)) load.release();
    await references.settled();
    expect(references.knowsModel('a')).toBe(false);
  });

  it('a flood of models that fire, capture references and go idle leaves the units no larger than a few of them did', async () => {
    const units = compose({ maxModels: 5, autoCaptureMs: AUTO_MS });
    const { references, source, traffic, announced } = units;
    const flood = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const model = `m${i}`;
        traffic(model, i * 600);
        await references.settled();
        traffic(model, i * 600 + 1, 3 * PANE_MS);
        source.tick();
        // a request (REST, the live feed) as well as the tick's reads
        source.getMetrics(model, '5m');
      }
    };
    await flood(0, 20);
    const after20 = entriesHeld(units);
    await flood(20, 200);
    const after200 = entriesHeld(units);
    expect(after200, `Map and Set entries after 20 models: ${after20}, after 200: ${after200}`).toBeLessThanOrEqual(after20);
    // every model fired, and every one given up resolved
    expect(announced.filter((a) => a.state === 'firing').length).toBe(200);
    expect(announced.filter((a) => a.state === 'resolved').length).toBe(200 - units.windows.listModels().length);
    expect(units.stored.size).toBe(200);
  });

  it('models dropped beyond limits.maxModels (none idle) are counted and logged, not remembered one by one', () => {
    const { logger, lines } = recordingLogger();
    const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 1, logger });
    windows.applyPaneMessage(inputPane('kept', 0, [1]));
    for (let i = 0; i < 500; i++) windows.applyPaneMessage(inputPane(`dropped-${i}`, 0, [1]));
    expect(windows.droppedMessages).toBe(500);
    expect(lines.filter((l) => String(l.msg).includes('dropped')).length).toBe(101);
    const remembered = Object.values(windows).filter((v): v is Set<string> => v instanceof Set).reduce((n, s) => n + s.size, 0);
    expect(remembered).toBeLessThanOrEqual(101);
  });
});
