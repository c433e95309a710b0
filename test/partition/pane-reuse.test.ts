import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';
import { encodePrediction } from '../../src/events/encode.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import { PaneInput } from '../../src/window/pane.ts';
import { T0, processorOptions } from '../contract/pane-stream.ts';

/**
 * A new pane takes over the feature sketches of the pane its producer dropped last (cleared). What
 * a gateway receives must not change: every pane's state equals the one of a processor that never
 * drops a pane (so never reuses one). The features move between panes (a drifting mean, a sign
 * flip, a range 1,000 times wider), so a sketch that kept anything of its previous pane shows.
 */
const EVENTS = 6000;
const SPACING_MS = 25; // 40 events/s: 400 per 10 s pane, 15 panes

function predictions(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const pane = Math.floor((i * SPACING_MS) / 10_000);
    const wiggle = ((i * 7919) % 1000) / 1000;
    const features: Record<string, number | string> = {
      drifting: 100 + pane * 3 + wiggle,
      flipping: (pane % 2 === 0 ? 1 : -1) * (5 + wiggle),
      widening: (pane % 3 === 0 ? 1000 : 1) * (wiggle - 0.5),
      ...(pane % 4 === 1 ? {} : { sometimes: 42 + wiggle }),
      country: ['US', 'FR', 'DE'][i % 3],
    };
    out.push(encodePrediction({ id: `p${i}`, model: 'm', version: 'v1', ts: T0 + i * SPACING_MS, output: (i % 100) / 100, latencyMs: i % 50, features }));
  }
  return out;
}

/** The latest state of each pane subject, without the fields that say when it was published. */
function run(processor: PartitionProcessor, payloads: readonly Uint8Array[]): Map<string, unknown> {
  const latest = new Map<string, PaneMessage>();
  const flush = (): void => {
    for (const update of processor.drainDirty()) latest.set(update.subject, decodePaneMessage(update.payload));
    processor.dropClosed();
  };
  payloads.forEach((data, i) => {
    const rejected = processor.process(i + 1, 'drift.in.0.m.pred', data);
    if (rejected !== null) throw new Error(`${rejected.reason}: ${rejected.detail}`);
    if (i % 100 === 99) flush(); // every 2.5 s of event time, as a runner flushes
  });
  flush();
  const out = new Map<string, unknown>();
  for (const [subject, message] of latest) {
    if (message.part === 'in') out.set(subject, { ...message, seq: undefined, final: undefined });
  }
  return out;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a new pane reusing the sketches of the pane dropped before it', () => {
  it('publishes the same states as new sketches, pane by pane', () => {
    const payloads = predictions();
    const reuse = vi.spyOn(PaneInput.prototype, 'reuseSketchesOf');
    // panes close 20 s after their end: most of the 15 are dropped and their sketches reused
    const reusing = run(new PartitionProcessor({ ...processorOptions, allowedLatenessMs: 20_000 }), payloads);
    const reuses = reuse.mock.calls.length;
    reuse.mockClear();
    const keeping = run(new PartitionProcessor({ ...processorOptions, allowedLatenessMs: 3_600_000 }), payloads);

    expect(reuses).toBeGreaterThanOrEqual(10);
    expect(reuse.mock.calls.length).toBe(0);
    expect(reusing.size).toBe(15);
    expect([...reusing.keys()].sort()).toEqual([...keeping.keys()].sort());
    for (const [subject, state] of reusing) expect(state, subject).toEqual(keeping.get(subject));
  });
});
