import { describe, expect, it } from 'vitest';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { Registry } from 'prom-client';
import { createGatewayMetrics } from '../../src/gateway/prometheus.ts';
import { LIMITS, PANE_MS, inputPane, recordingLogger, spread, widePane } from './panes.ts';

function store(maxModels = 10): WindowStore {
  return new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels });
}

describe('WindowStore', () => {
  it('keeps each model\'s windows from its pane messages and lists the models', () => {
    const windows = store();
    windows.applyPaneMessage(inputPane('churn', 0, [1, 2, 3], 'v2'));
    windows.applyPaneMessage(inputPane('churn', PANE_MS, [4], 'v1'));
    windows.applyPaneMessage(inputPane('fraud', 0, [5, 6]));
    expect(windows.listModels()).toEqual([
      { model: 'churn', versions: ['v1', 'v2'], lastEventAt: 2 * PANE_MS, count5m: 4 },
      { model: 'fraud', versions: ['v1'], lastEventAt: PANE_MS, count5m: 2 },
    ]);
    expect(windows.windowsOf('churn')?.get('1m', 'v2')?.input.count).toBe(3);
    expect(windows.windowsOf('nope')).toBeUndefined();
  });

  it("windows' feature sketches share one bucket mapping (of the panes' accuracy), whatever the models, windows and features", () => {
    const store = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    for (const model of ['a', 'b']) {
      for (let i = 0; i < 3; i++) store.applyPaneMessage(widePane(model, i * PANE_MS, spread(40, 10 * i, 100), 6));
    }
    const mappings = new Set<unknown>();
    let sketches = 0;
    for (const model of ['a', 'b']) {
      for (const window of ['1m', '5m']) {
        for (const summary of store.windowsOf(model)!.get(window)!.input.features.values()) {
          expect(summary.numeric!.count).toBe(120);
          mappings.add(summary.numeric!.bucketMapping);
          sketches++;
        }
      }
    }
    expect(sketches).toBe(2 * 2 * 6);
    // one mapping, not one per window and feature (~420 bytes each at 300 models x 30 features x 3 windows)
    expect(mappings.size).toBe(1);
  });

  it('gives window bounds and the sum of panes over an event-time range', () => {
    const windows = store();
    for (let i = 0; i < 9; i++) windows.applyPaneMessage(inputPane('m', i * PANE_MS, [i + 1]));
    expect(windows.bounds('m', '1m')).toEqual({ from: 9 * PANE_MS - 60_000, to: 9 * PANE_MS });
    // panes starting in [20 s, 50 s): the 3rd, 4th and 5th
    expect(windows.aggregateRange('m', 2 * PANE_MS, 5 * PANE_MS)?.input.latency.sum).toBe(3 + 4 + 5);
    expect(windows.aggregateRange('m', 2 * PANE_MS, 5 * PANE_MS, 'v9')?.input.count).toBe(0);
    expect(windows.bounds('other', '1m')).toBeUndefined();
    expect(windows.aggregateRange('other', 0, PANE_MS)).toBeUndefined();
  });

  it('keeps at most maxModels models, counting the messages of the models it drops', () => {
    const windows = store(2);
    const changed: string[] = [];
    windows.onModelChanged((model) => changed.push(model));
    windows.applyPaneMessage(inputPane('a', 0, [1]));
    windows.applyPaneMessage(inputPane('b', 0, [1]));
    windows.applyPaneMessage(inputPane('c', 0, [1]));
    windows.applyPaneMessage(inputPane('c', PANE_MS, [1]));
    windows.applyPaneMessage(inputPane('a', PANE_MS, [1, 2]));
    expect(windows.listModels().map((m) => [m.model, m.count5m])).toEqual([['a', 3], ['b', 1]]);
    expect(windows.droppedMessages).toBe(2);
    expect(changed).toEqual(['a', 'b', 'a']);
  });

  it('counts dropped pane messages in drift_pane_messages_dropped_total and logs each dropped model once', async () => {
    const { logger, lines } = recordingLogger();
    const registry = new Registry();
    const metrics = createGatewayMetrics(registry);
    const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 1, metrics, logger });
    windows.applyPaneMessage(inputPane('a', 0, [1]));
    for (let i = 0; i < 3; i++) windows.applyPaneMessage(inputPane('b', i * PANE_MS, [1]));
    windows.applyPaneMessage(inputPane('c', 0, [1]));
    const dropped = (await registry.getSingleMetric('drift_pane_messages_dropped_total')?.get())?.values;
    expect(dropped).toEqual([{ labels: { reason: 'model_limit' }, value: 4 }]);
    const logged = lines.filter((l) => String(l.msg).includes('dropped'));
    expect(logged.map((l) => l.model)).toEqual(['b', 'c']);
  });

  it('gives the place of a model idle for idleMs to a new model, and forgets the idle one', () => {
    let now = 0;
    const evicted: string[] = [];
    const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 2, idleMs: 5000, now: () => now });
    windows.onModelEvicted((model) => evicted.push(model));
    windows.applyPaneMessage(inputPane('a', 0, [1]));
    now = 3000;
    windows.applyPaneMessage(inputPane('b', 0, [1]));
    windows.applyPaneMessage(inputPane('c', 0, [1]));
    expect(windows.droppedMessages).toBe(1);
    now = 5001 + 1;
    windows.applyPaneMessage(inputPane('c', 0, [1, 2]));
    expect(evicted).toEqual(['a']);
    expect(windows.listModels().map((m) => [m.model, m.count5m])).toEqual([['b', 1], ['c', 2]]);
    expect(windows.windowsOf('c')?.get('1m')?.input.count).toBe(2);
    expect(windows.windowsOf('a')).toBeUndefined();
  });

  it('forgets a version once none of its panes is retained', () => {
    const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 2 });
    windows.applyPaneMessage(inputPane('m', 0, [1], 'old'));
    windows.applyPaneMessage(inputPane('m', PANE_MS, [1], 'new'));
    expect(windows.listModels()[0].versions).toEqual(['new', 'old']);
    // panes are retained for two lengths of the longest window (2 minutes here)
    windows.applyPaneMessage(inputPane('m', 200_000, [1], 'new'));
    expect(windows.listModels()[0].versions).toEqual(['new']);
    expect(windows.windowsOf('m')?.get('1m', 'old')).toBeUndefined();
  });

  it('is caught up only once the changelog reader says so', () => {
    const windows = store();
    windows.applyPaneMessage(inputPane('a', 0, [1]));
    expect(windows.isCaughtUp()).toBe(false);
    windows.markCaughtUp();
    expect(windows.isCaughtUp()).toBe(true);
  });

  it('is ready while caught up and its consumer live, and says which is missing', () => {
    const windows = store();
    expect(windows.isReady()).toBe(false);
    expect(windows.notReadyReason()).toMatch(/replaying the pane changelog/);
    windows.markCaughtUp();
    expect(windows.isReady()).toBe(true);
    windows.markLive(false);
    expect(windows.isReady()).toBe(false);
    expect(windows.isCaughtUp()).toBe(true);
    expect(windows.notReadyReason()).toMatch(/not live.*figures may be stale/);
    windows.markLive(true);
    expect(windows.isReady()).toBe(true);
  });

  it('names its windows and summarizes the 5m one when configured, else the first', () => {
    expect(store().windowNames()).toEqual(['1m', '5m']);
    expect(store().summaryWindow()).toBe('5m');
    expect(store().lengthOf('5m')).toBe(300_000);
    expect(store().lengthOf('2m')).toBeUndefined();
    const hourly = new WindowStore({ windows: ['1h', '1d'], limits: LIMITS, maxModels: 1 });
    expect(hourly.summaryWindow()).toBe('1h');
  });
});
