import { describe, expect, it } from 'vitest';
import { AlertLog } from '../../src/gateway/alert-log.ts';
import { GatewaySource } from '../../src/gateway/gateway-source.ts';
import { LoopTurns } from '../../src/gateway/time-slice.ts';
import { MetricsView } from '../../src/gateway/metrics-view.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import type { AlertEvent } from '../../src/contract/metrics.ts';
import { LIMITS, PANE_MS, inputPane, profile, recordingLogger, spread, widePane } from './panes.ts';
import { profileFromWindow } from '../../src/reference/profile.ts';
import { PaneInput, inputToWire } from '../../src/window/pane.ts';

/** The units composed as app/gateway.ts does, with one rule: more than 100 predictions in 1m. */
const BUSY_RULE = { name: 'busy', metric: 'count', window: '1m', op: '>', threshold: 100, minCount: 0 };
const DRIFT_RULE = { name: 'x_psi', metric: 'drift.feature.psi', window: '1m', op: '>', threshold: 0.2, minCount: 0 };

function compose(extraRules: Array<Record<string, unknown>> = [], autoCaptureMs = 0, sliceMs?: number) {
  const { logger } = recordingLogger();
  const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
  const references = new ReferenceRegistry({ autoCaptureMs, logger });
  const clock = { now: 0 };
  const view = new MetricsView(windows, references, { overrides: {}, now: () => clock.now });
  const rules = validateAlertRules([BUSY_RULE, ...extraRules], ['1m', '5m'], (key) => new Error(key));
  const alerts = new AlertLog({ rules, logger });
  const source = new GatewaySource({ windows, references, view, alerts }, { sliceMs, now: () => clock.now });
  const announced: string[] = [];
  const transitions: AlertEvent[] = [];
  source.on('metrics', (model) => announced.push(model));
  source.on('alert', (alert) => transitions.push(alert));
  return { windows, references, view, alerts, source, clock, announced, transitions };
}

/**
 * compose() with `rule` added, six panes of x in [0, 100) on 'churn' taken as its reference, and each
 * metrics build the gateway makes noted as "<window> <data quality demand>: <what its x shares hold>".
 */
function withBaselineAndReads(rule: Record<string, unknown>) {
  const composed = compose([rule]);
  const { windows, references, view } = composed;
  for (let i = 0; i < 6; i++) windows.applyPaneMessage(inputPane('churn', i * PANE_MS, spread(50, 0, 100)));
  const aggregate = windows.aggregateRange('churn', 0, 6 * PANE_MS)!;
  references.setReference(profileFromWindow('baseline', 'churn', null, 'window', aggregate.input, aggregate.outcome, 0, 6 * PANE_MS));
  const reads: string[] = [];
  /** Each build's metrics, by its data quality demand. */
  const built: Array<{ dataQuality: string; metrics: ReturnType<typeof view.getMetrics> }> = [];
  const getMetrics = view.getMetrics.bind(view);
  view.getMetrics = ((...args: Parameters<typeof view.getMetrics>) => {
    const metrics = getMetrics(...args);
    built.push({ dataQuality: args[5] ?? 'full', metrics });
    const x = metrics?.dataQuality?.features.x;
    reads.push(`${args[1]} ${args[5] ?? 'full'}: ${metrics?.dataQuality === undefined ? 'no data quality' : x?.outOfRangeShare === null ? 'ranges null' : 'ranges built'}`);
    return metrics;
  }) as typeof view.getMetrics;
  return { ...composed, reads, built, getMetrics };
}

describe('GatewaySource', () => {
  it('goes on when a statistics unit throws: the other models are evaluated, the failure is counted and logged once', () => {
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    const { logger } = recordingLogger();
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger });
    const view = new MetricsView(windows, references, { overrides: {} });
    const rules = validateAlertRules([BUSY_RULE], ['1m', '5m'], (key) => new Error(key));
    const alerts = new AlertLog({ rules, logger });
    // the rules of 'broken' throw, as a statistic written for no such data would
    const evaluate = alerts.evaluate.bind(alerts);
    alerts.evaluate = ((...args: Parameters<typeof alerts.evaluate>) => {
      if (args[0] === 'broken') throw new RangeError('no statistic for this data');
      return evaluate(...args);
    }) as typeof alerts.evaluate;
    const errors: Array<{ obj: object; msg: string }> = [];
    const source = new GatewaySource({ windows, references, view, alerts }, { logger: { error: (obj, msg) => errors.push({ obj, msg }) } });
    const announced: string[] = [];
    source.on('metrics', (model) => announced.push(model));
    windows.applyPaneMessage(inputPane('broken', 0, [1]));
    windows.applyPaneMessage(inputPane('churn', 0, [1]));
    expect(() => source.tick()).not.toThrow();
    expect(announced).toEqual(['churn']);
    windows.applyPaneMessage(inputPane('broken', PANE_MS, [1]));
    source.tick();
    expect(source.failedUnits).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toBe("computing the metrics of model 'broken' failed; its other figures and the other models go on");
    expect(errors[0].obj).toMatchObject({ model: 'broken', err: 'no statistic for this data' });
  });

  it('reads through the units: windows, models, metrics, alerts, readiness', () => {
    const { windows, source } = compose();
    windows.applyPaneMessage(inputPane('churn', 0, [1, 2]));
    expect(source.windows()).toEqual(['1m', '5m']);
    expect(source.listModels().map((m) => m.model)).toEqual(['churn']);
    expect(source.getMetrics('churn', '5m')?.count).toBe(2);
    expect(source.recentAlerts()).toEqual([]);
    expect(source.ready()).toBe(false);
    expect(source.notReadyReason()).toBe('replaying the pane changelog (DRIFT_PANES)');
    windows.markCaughtUp();
    expect(source.ready()).toBe(true);
    windows.markLive(false);
    expect(source.ready()).toBe(false);
    expect(source.notReadyReason()).toMatch(/pane changelog consumer is not live/);
  });

  it('on a tick announces each changed model once, and only changed models', () => {
    const { windows, source, announced } = compose();
    windows.applyPaneMessage(inputPane('churn', 0, [1]));
    windows.applyPaneMessage(inputPane('churn', PANE_MS, [1]));
    windows.applyPaneMessage(inputPane('fraud', 0, [1]));
    source.tick();
    expect(announced).toEqual(['churn', 'fraud']);
    source.tick();
    expect(announced).toEqual(['churn', 'fraud']);
    windows.applyPaneMessage(inputPane('fraud', PANE_MS, [1]));
    source.tick();
    expect(announced).toEqual(['churn', 'fraud', 'fraud']);
  });

  it('evaluates the rules of a changed model and announces the transitions, which the alert log lists', () => {
    const { windows, source, transitions } = compose();
    windows.applyPaneMessage(inputPane('churn', 0, spread(150, 0, 10)));
    source.tick();
    expect(transitions.map((a) => [a.model, a.rule, a.state])).toEqual([['churn', 'busy', 'firing']]);
    expect(source.recentAlerts('churn')).toEqual(transitions);
  });

  it('builds data quality for the rules that read it alone, and those fire on it', () => {
    const outOfRange = { name: 'x_out_of_range', metric: 'dataQuality.outOfRangeShare', window: '5m', scope: 'feature', op: '>', threshold: 0.5, minCount: 0 };
    const { windows, source, transitions, reads } = withBaselineAndReads(outOfRange);
    // values far beyond the reference's range: the 5m window is mostly out of range
    windows.applyPaneMessage(inputPane('churn', 6 * PANE_MS, spread(400, 1000, 100)));
    source.tick();
    expect(reads).toEqual(['1m none: no data quality', '5m full: ranges built']);
    expect(transitions.map((a) => [a.rule, a.scope, a.state])).toEqual([
      ['busy', 'model', 'firing'],
      ['x_out_of_range', 'feature:x', 'firing'],
    ]);
    // what the API serves has it, whatever the rules read
    expect(source.getMetrics('churn', '1m')?.dataQuality?.features.x.outOfRangeShare).toBeGreaterThan(0.5);
  });

  it('builds data quality without the range shares for a rule on missing values, which fires on it', () => {
    const missing = { name: 'x_missing', metric: 'dataQuality.missingShare', window: '5m', scope: 'feature', op: '>', threshold: 0.3, minCount: 0 };
    const { windows, source, transitions, reads } = withBaselineAndReads(missing);
    // 400 predictions, 300 of them without x and the rest far beyond the reference's range: x missing
    // in two fifths of the 5m window's predictions
    const next = inputPane('churn', 6 * PANE_MS, []);
    const pane = new PaneInput(LIMITS);
    for (let i = 0; i < 400; i++) {
      pane.count++;
      pane.latency.add(1);
      if (i % 4 === 0) pane.addFeature('x', 1000 + i / 4);
    }
    windows.applyPaneMessage({ ...next, state: inputToWire(pane) });
    source.tick();
    expect(reads.filter((read) => read.startsWith('5m'))).toEqual(['5m noRanges: ranges null']);
    expect(transitions.map((a) => [a.rule, a.scope, a.state])).toContainEqual(['x_missing', 'feature:x', 'firing']);
    // what the API serves has the range shares, whatever the rules read
    expect(source.getMetrics('churn', '5m')?.dataQuality?.features.x.outOfRangeShare).toBeCloseTo(100 / 400, 2);
  });

  it('keeps no metrics built for the rules once they are evaluated: the next read builds its own', () => {
    const missing = { name: 'x_missing', metric: 'dataQuality.missingShare', window: '5m', scope: 'feature', op: '>', threshold: 0.3, minCount: 0 };
    const { windows, source, built, getMetrics } = withBaselineAndReads(missing);
    windows.applyPaneMessage(inputPane('churn', 6 * PANE_MS, [1, 2]));
    source.tick();
    const forRules = built.filter((build) => build.dataQuality === 'noRanges');
    expect(forRules).toHaveLength(1);
    // read past the recording wrapper: what the view holds now
    const read = getMetrics('churn', '5m', undefined, undefined, 'none', 'noRanges');
    expect(read).not.toBe(forRules[0].metrics);
    expect(read).toEqual(forRules[0].metrics);
  });

  it('a reference change makes the model due again; a new reference shows in the next metrics', () => {
    const { windows, references, source, announced } = compose();
    windows.applyPaneMessage(inputPane('churn', 0, [1]));
    source.tick();
    references.setReference(profile('uploaded', 'churn', 1));
    source.tick();
    expect(announced).toEqual(['churn', 'churn']);
    expect(source.getMetrics('churn', '1m')?.drift.reference).toBe('uploaded');
  });

  it('captures an automatic reference on the tick once the first minute is complete', () => {
    const { windows, references, source, announced } = compose([], 60_000);
    for (let i = 0; i < 7; i++) windows.applyPaneMessage(inputPane('churn', i * PANE_MS, spread(10, 0, 100)));
    source.tick();
    expect(references.referenceFor('churn')?.id).toBe('churn.all.auto.0');
    expect(source.getMetrics('churn', '1m')?.drift.reference).toBe('churn.all.auto.0');
    // the capture changed the model again: it is re-announced on the next tick
    source.tick();
    expect(announced).toEqual(['churn', 'churn']);
  });

  it('evaluates a model again while a drift rule sees reused drift, until the drift is recomputed', () => {
    const { windows, references, source, clock, announced } = compose([DRIFT_RULE]);
    references.setReference(profile('uploaded', 'churn', 1));
    windows.applyPaneMessage(inputPane('churn', 0, [1]));
    source.tick();
    windows.applyPaneMessage(inputPane('churn', PANE_MS, [2]));
    source.tick(); // drift reused (clock unchanged): due again
    source.tick(); // and again, while the clock stands still
    expect(announced).toEqual(['churn', 'churn', 'churn']);
    clock.now = 1000;
    source.tick(); // drift recomputed: final
    source.tick();
    expect(announced).toEqual(['churn', 'churn', 'churn', 'churn']);
  });

  it('computes drift on the tick only for the pairs a rule reads; another pair is computed on a request', () => {
    const { windows, references, view, source } = compose([DRIFT_RULE]);
    for (let i = 0; i < 6; i++) windows.applyPaneMessage(inputPane('churn', i * PANE_MS, spread(50, 0, 100)));
    const aggregate = windows.aggregateRange('churn', 0, 6 * PANE_MS)!;
    references.setReference(profileFromWindow('baseline', 'churn', null, 'window', aggregate.input, aggregate.outcome, 0, 6 * PANE_MS));
    source.tick();
    // the count rule reads no drift; the psi rule reads 1m over all versions: one computation
    expect(view.computations).toBe(1);
    source.tick();
    expect(view.computations).toBe(1);
    const requested = source.getMetrics('churn', '5m')!;
    expect(view.computations).toBe(2);
    expect(requested.drift.features.x.tests.psi.statistic).toBeLessThan(0.01);
  });

  it('works through many changed models in slices, the changelog applying between them, and reports the backlog', async () => {
    const { windows, references, view, source, clock, announced } = compose([DRIFT_RULE], 0, 0);
    const models = Array.from({ length: 10 }, (_, i) => `m${i}`); // the store's maxModels
    for (const model of models) {
      for (let i = 0; i < 6; i++) windows.applyPaneMessage(inputPane(model, i * PANE_MS, spread(50, 0, 100)));
      const aggregate = windows.aggregateRange(model, 0, 6 * PANE_MS)!;
      references.setReference(profileFromWindow(`ref-${model}`, model, null, 'window', aggregate.input, aggregate.outcome, 0, 6 * PANE_MS));
    }
    clock.now = 5000;
    source.tick();
    // a slice of 0 ms does one unit (m0's reference check), then yields; m0 is in progress
    expect(announced).toEqual([]);
    expect(view.computations).toBe(0);
    clock.now = 7000;
    expect(source.backlog()).toEqual({ models: 10, oldestAgeMs: 2000 });
    // the changelog keeps applying while the pass goes on: one pane message per turn of the event loop
    const appliedDuringPass: number[] = [];
    let pane = 6;
    while (source.backlog().models > 0) {
      windows.applyPaneMessage(inputPane('m0', pane++ * PANE_MS, spread(50, 0, 100)));
      appliedDuringPass.push(announced.length);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // three units per model (reference check, the 1m drift the rule reads, the rules): the
    // changelog applied a pane message between every two of them
    expect(appliedDuringPass.length).toBeGreaterThanOrEqual(29);
    expect(new Set(appliedDuringPass).size).toBe(10); // 0..9 models announced when a pane message was applied
    expect(view.computations).toBeGreaterThanOrEqual(10);
    expect([...announced].sort()).toEqual([...models].sort());
    expect(source.backlog()).toEqual({ models: 0, oldestAgeMs: 0 });
    // m0 changed meanwhile: the next tick queues it again
    source.tick();
    while (source.backlog().models > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(announced.slice(10)).toEqual(['m0']);
  });

  it("works through a window's drift a feature per slice: the changelog applies between the features of one model", async () => {
    const { windows, references, view, source, clock, announced } = compose([{ ...DRIFT_RULE, metric: 'drift.feature.psi' }], 0, 0);
    for (let i = 0; i < 6; i++) windows.applyPaneMessage(widePane('wide', i * PANE_MS, spread(50, 0, 100), 30));
    const aggregate = windows.aggregateRange('wide', 0, 6 * PANE_MS)!;
    references.setReference(profileFromWindow('ref-wide', 'wide', null, 'window', aggregate.input, aggregate.outcome, 0, 6 * PANE_MS));
    clock.now = 5000;
    source.tick();
    let turns = 0;
    while (source.backlog().models > 0) {
      turns++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // a slice of 0 ms does one unit: the reference check, 30 features of the 1m drift, the rules
    expect(turns).toBeGreaterThanOrEqual(31);
    expect(announced).toEqual(['wide']);
    expect(view.computations).toBe(1);
    expect(Object.keys(view.getMetrics('wide', '1m')!.drift.features)).toHaveLength(30);
  });

  it('sharing turns of the event loop, a tick runs no slice itself: its first slice takes a turn like the others', async () => {
    const { logger } = recordingLogger();
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger });
    const view = new MetricsView(windows, references, { overrides: {} });
    const alerts = new AlertLog({ rules: validateAlertRules([BUSY_RULE], ['1m', '5m'], (key) => new Error(key)), logger });
    const source = new GatewaySource({ windows, references, view, alerts }, { sliceMs: 10, turns: new LoopTurns() });
    const announced: string[] = [];
    source.on('metrics', (model) => announced.push(model));
    windows.applyPaneMessage(inputPane('churn', 0, [1, 2, 3]));
    source.tick();
    // run from a timer, a slice here would share that turn with another slicer's
    expect(announced).toEqual([]);
    expect(source.backlog().models).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(announced).toEqual(['churn']);
  });
});
