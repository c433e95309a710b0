import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { ProcessorOptions } from '../../src/partition/processor.ts';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import { encodeLabel, encodePrediction } from '../../src/events/encode.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { DEFAULT_COARSE_PANE_MS, coarseGridOf, outcomePaneClosed, outcomePaneStartOf, paneLayout } from '../../src/window/coarse-panes.ts';
import { DEFAULT_PANE_LIMITS, outcomeToWire } from '../../src/window/pane.ts';
import { outcomeGridOf } from '../../src/config/options.ts';
import { loadConfig } from '../../src/config/load.ts';
import { parseDuration } from '../../src/contract/duration.ts';
import { PANE_MS, T0, processorOptions } from '../contract/pane-stream.ts';

const WINDOWS = ['1m', '5m', '1h'];
const GRID = coarseGridOf(paneLayout(new Map(WINDOWS.map((w) => [w, parseDuration(w) as number])), DEFAULT_COARSE_PANE_MS), PANE_MS);
const HORIZON_MS = 30 * 60_000;
const OPTIONS: ProcessorOptions = { ...processorOptions, labelHorizonMs: HORIZON_MS, maxPending: 50_000, now: () => T0 + 10 * 3_600_000 };

describe('the coarse grid a worker counts late labels on', () => {
  it('is the gateway layout on whole panes: 1 min coarse panes, a 10 min fine span for 1m / 5m / 1h', () => {
    expect(GRID).toEqual({ coarseMs: 60_000, fineSpanMs: 600_000 });
    // panes of 7 s: coarse panes of 63 s, the fine span on whole coarse panes
    expect(coarseGridOf(paneLayout(new Map([['5m', 300_000], ['1h', 3_600_000]]), 60_000), 7_000)).toEqual({ coarseMs: 63_000, fineSpanMs: 630_000 });
    // no window long enough for coarse panes: nothing moves
    expect(coarseGridOf(paneLayout(new Map([['5m', 300_000]]), 60_000), PANE_MS).coarseMs).toBe(0);
  });

  it('comes from the configuration the gateways read (its windows and panes)', () => {
    const config = loadConfig({ env: {} });
    expect(config.windows).toEqual(WINDOWS);
    expect(outcomeGridOf(config)).toEqual(GRID);
  });

  it('moves a label only once its whole coarse interval is past the fine span, to the interval start', () => {
    const interval = T0 - (T0 % 60_000);
    const last = interval + 50_000;
    // the interval ends at interval + 60 s; past the fine span from interval + 660 s
    expect(outcomePaneStartOf(last, interval + 659_999, GRID)).toBe(last);
    expect(outcomePaneStartOf(last, interval + 660_000, GRID)).toBe(interval);
    expect(outcomePaneStartOf(interval, interval + 660_000, GRID)).toBe(interval);
    expect(outcomePaneStartOf(last, interval + 660_000, { coarseMs: 0, fineSpanMs: 0 })).toBe(last);
    expect(outcomePaneStartOf(last, interval + 660_000, null)).toBe(last);
    // a pane whose labels go elsewhere is closed at once; an interval's first pane stays open as long as its last
    const horizon = 3_600_000;
    expect(outcomePaneClosed(last, PANE_MS, horizon, interval + 659_999, interval + 659_999, GRID)).toBe(false);
    expect(outcomePaneClosed(last, PANE_MS, horizon, interval + 660_000, interval + 660_000, GRID)).toBe(true);
    expect(outcomePaneClosed(interval, PANE_MS, horizon, interval + 660_000, interval + 60_000 + horizon, GRID)).toBe(false);
    expect(outcomePaneClosed(interval, PANE_MS, horizon, interval + 660_000, interval + 60_001 + horizon, GRID)).toBe(true);
    expect(outcomePaneClosed(interval, PANE_MS, horizon, interval, interval + 10_001 + horizon, null)).toBe(true);
  });

  it('refuses a grid that is not on whole panes, naming it', () => {
    expect(() => new PartitionProcessor({ ...OPTIONS, outcomeGrid: { coarseMs: 65_000, fineSpanMs: 650_000 } })).toThrow(/outcomeGrid.coarseMs must be a whole number of panes \(paneMs 10000\), got 65000/);
    expect(() => new PartitionProcessor({ ...OPTIONS, outcomeGrid: { coarseMs: 60_000, fineSpanMs: 90_000 } })).toThrow(/outcomeGrid.fineSpanMs .* got 90000/);
  });
});

interface Message {
  subject: string;
  data: Uint8Array;
}

/** A 32-bit hash of i in [0, 1), so the stream is the same every run. */
function unit(i: number): number {
  return ((Math.imul(i + 1, 2654435761) >>> 0) % 1_000_003) / 1_000_003;
}

/**
 * 70 minutes of predictions (two versions, one every 400 ms), 9 of 10 labelled 0 to 29.5 min
 * later (the horizon is 30 min: labels of a coarse interval's last pane come after its first
 * pane's own horizon), the rest expiring; in arrival order.
 */
function lateLabelStream(): Message[] {
  const events: Array<{ at: number; message: Message }> = [];
  for (let i = 0; i < 10_500; i++) {
    const ts = T0 + i * 400;
    const version = i % 5 === 0 ? 'v2' : 'v1';
    const score = unit(i);
    events.push({ at: ts, message: { subject: 'drift.in.0.m.pred', data: encodePrediction({ id: `p${i}`, model: 'm', version, ts, output: score, latencyMs: 5, segment: { region: i % 2 ? 'eu' : 'us' } }) } });
    if (i % 10 === 9) continue;
    const at = ts + Math.floor(unit(i + 7_919) * 29.5 * 60_000);
    const label = unit(i + 104_729) < 0.2 ? Number(score < 0.5) : Number(score >= 0.5);
    events.push({ at, message: { subject: 'drift.in.0.m.label', data: encodeLabel({ id: `p${i}`, model: 'm', ts: at, label }) } });
  }
  events.sort((a, b) => a.at - b.at);
  return events.map((event) => event.message);
}

/** What a gateway's windows hold of the outcomes, per window and version (floats to 9 digits: summing order). */
function outcomeFigures(store: WindowStore): unknown {
  const windows = store.windowsOf('m');
  const figures: Record<string, unknown> = {};
  for (const window of WINDOWS) {
    for (const version of [undefined, 'v1', 'v2']) {
      const aggregate = windows?.get(window, version);
      if (aggregate === undefined) continue;
      const wire = outcomeToWire(aggregate.outcome);
      figures[`${window}/${version ?? 'all'}`] = JSON.parse(
        JSON.stringify({ ...wire, labelDelay: wire.labelDelay.length > 0 }, (_key, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(9)) : value)),
      );
    }
  }
  return figures;
}

describe('late labels counted on the coarse grid', () => {
  it('leave every gateway window as it is, lose no label, and hold under half the open outcome states', () => {
    const messages = lateLabelStream();
    const plain = new PartitionProcessor(OPTIONS);
    const gridded = new PartitionProcessor({ ...OPTIONS, outcomeGrid: GRID });
    const plainStore = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: 10 });
    const griddedStore = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: 10 });
    const livePanes = { plain: 0, gridded: 0 };
    let compared = 0;
    let openPlain = 0;
    let openGridded = 0;
    const apply = (processor: PartitionProcessor, store: WindowStore): void => {
      for (const update of processor.drainDirty()) store.applyPaneMessage(decodePaneMessage(update.payload));
      processor.dropClosed();
    };
    for (let i = 0; i < messages.length; i++) {
      expect(plain.process(i + 1, messages[i].subject, messages[i].data)).toBeNull();
      expect(gridded.process(i + 1, messages[i].subject, messages[i].data)).toBeNull();
      if (i % 250 !== 249 && i !== messages.length - 1) continue;
      apply(plain, plainStore);
      apply(gridded, griddedStore);
      if (i % 2_000 < 250 || i === messages.length - 1) {
        expect(outcomeFigures(griddedStore)).toEqual(outcomeFigures(plainStore));
        compared++;
      }
      livePanes.plain = Math.max(livePanes.plain, plain.liveRanges);
      livePanes.gridded = Math.max(livePanes.gridded, gridded.liveRanges);
      openPlain = Math.max(openPlain, plainStore.windowsOf('m')?.openOutcomeStates ?? 0);
      openGridded = Math.max(openGridded, griddedStore.windowsOf('m')?.openOutcomeStates ?? 0);
    }
    expect(compared).toBeGreaterThan(8);
    expect(gridded.counters).toEqual(plain.counters);
    // labels counted: the same in both, and some came past the first pane's own horizon
    const hour = plainStore.windowsOf('m')?.get('1h')?.outcome;
    expect(hour?.joined).toBeGreaterThan(5_000);
    expect(hour?.expired).toBeGreaterThan(0);
    expect(griddedStore.windowsOf('m')?.get('1h')?.outcome.joined).toBe(hour?.joined);
    // a gateway holds each open outcome state per partition until its final one; so does the worker
    expect(openGridded).toBeLessThan(0.55 * openPlain);
    expect(livePanes.gridded).toBeLessThan(0.6 * livePanes.plain);
  });

  it('are the same after a restore from a checkpoint and a replay of the rest', () => {
    const messages = lateLabelStream().slice(0, 12_000);
    const options = { ...OPTIONS, outcomeGrid: GRID };
    const run = (processor: PartitionProcessor, from: number, to: number, sink: Map<string, Uint8Array>): void => {
      for (let i = from; i < to; i++) {
        processor.process(i + 1, messages[i].subject, messages[i].data);
        if (i % 250 === 249) drain(processor, sink);
      }
      drain(processor, sink);
    };
    const drain = (processor: PartitionProcessor, sink: Map<string, Uint8Array>): void => {
      for (const update of processor.drainDirty()) {
        const { seq: _seq, ...message } = decodePaneMessage(update.payload);
        sink.set(update.subject, encode(message));
      }
      processor.dropClosed();
    };
    const straight = new Map<string, Uint8Array>();
    run(new PartitionProcessor(options), 0, messages.length, straight);
    for (const cut of [3_000, 9_001]) {
      const sink = new Map<string, Uint8Array>();
      const first = new PartitionProcessor(options);
      run(first, 0, cut, sink);
      const restored = PartitionProcessor.restore(first.snapshot(), options);
      run(restored, cut, messages.length, sink);
      expect(sink).toEqual(straight);
    }
  });
});
