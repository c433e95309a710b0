import { describe, expect, it } from 'vitest';
import { MetricsView, driftRecomputeMs } from '../../src/gateway/metrics-view.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { profileFromWindow } from '../../src/reference/profile.ts';
import { LIMITS, PANE_MS, inputPane, recordingLogger, spread } from './panes.ts';

describe('drift freshness', () => {
  it('each drift entry says when and on how many predictions it was computed, and keeps that while reused', () => {
    const windows = new WindowStore({ windows: ['5m'], limits: LIMITS, maxModels: 10 });
    const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
    const clock = { now: 1_000_000 };
    const view = new MetricsView(windows, references, { overrides: {}, now: () => clock.now });
    for (let i = 0; i < 6; i++) windows.applyPaneMessage(inputPane('m', i * PANE_MS, spread(50, 0, 100)));
    const aggregate = windows.aggregateRange('m', 0, 6 * PANE_MS)!;
    references.setReference(profileFromWindow('baseline', 'm', null, 'window', aggregate.input, aggregate.outcome, 0, 6 * PANE_MS));

    const fresh = view.getMetrics('m', '5m')!;
    const entry = fresh.drift.features.x;
    expect(entry.computedAt).toBe(1_000_000);
    expect(entry.computedOn).toBe(fresh.count);
    expect(fresh.count).toBe(300);

    // a new pane: counts move at once, drift is reused and still says it was computed on 300
    windows.applyPaneMessage(inputPane('m', 6 * PANE_MS, spread(50, 0, 100)));
    clock.now += driftRecomputeMs(300_000) - 1;
    const reused = view.getMetrics('m', '5m')!;
    expect(reused.count).toBe(350);
    expect(reused.drift.features.x.computedOn).toBe(300);
    expect(reused.drift.features.x.computedAt).toBe(1_000_000);

    clock.now += 1;
    const recomputed = view.getMetrics('m', '5m')!;
    expect(recomputed.drift.features.x.computedOn).toBe(350);
    expect(recomputed.drift.features.x.computedAt).toBe(clock.now);
  });
});
