import { describe, expect, it } from 'vitest';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import { encodePrediction } from '../../src/events/encode.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { SparseHold } from '../../src/partition/processor.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runnerOptionsOf } from '../../src/config/options.ts';
import { PANE_MS, T0, processorOptions } from '../contract/pane-stream.ts';

/**
 * An open pane with few new events waits to be published (panes.sparseHoldMs): a model of a few
 * events a second over 16 partitions would otherwise send the gateway 16 pane messages a second.
 * What is held is published later, never lost; its first state, its final one and a change in its
 * errors are not held.
 */
const HOLD: SparseHold = { maxMs: 2000, events: 8 };

function sparse(): { processor: PartitionProcessor; add: (n: number, error?: boolean) => void } {
  const processor = new PartitionProcessor(processorOptions);
  let i = 0;
  let seq = 0;
  const add = (n: number, error = false): void => {
    for (let k = 0; k < n; k++, i++) {
      const data = encodePrediction({ id: `p${i}`, model: 'm', version: 'v1', ts: T0 + 100 + i * 10, output: 0.5, latencyMs: 5, ...(error ? { error: 'timeout' } : {}), features: { x: i } });
      const rejected = processor.process(++seq, 'drift.in.0.m.pred', data);
      if (rejected !== null) throw new Error(`${rejected.reason}: ${rejected.detail}`);
    }
  };
  return { processor, add };
}

/** Predictions counted in the input pane states published by one drain. */
function published(processor: PartitionProcessor, hold: SparseHold | null, now: number): number[] {
  return processor
    .drainDirty(hold, now)
    .map((update) => decodePaneMessage(update.payload))
    .filter((message) => message.part === 'in')
    .map((message) => (message.state as { count: number }).count);
}

describe('open panes with few new events (panes.sparseHoldMs, panes.sparseEvents)', () => {
  it('publishes a pane\'s first state at once, then waits until enough events or the hold has passed, and loses none', () => {
    const { processor, add } = sparse();
    add(2);
    expect(published(processor, HOLD, 0)).toEqual([2]);
    add(2);
    expect(published(processor, HOLD, 250)).toEqual([]);
    expect(processor.dirtyPanes).toBe(1);
    add(1);
    expect(published(processor, HOLD, 1999)).toEqual([]);
    // the hold has passed since the last publication: what came meanwhile goes out
    expect(published(processor, HOLD, 2000)).toEqual([5]);
    expect(processor.dirtyPanes).toBe(0);
    add(8);
    expect(published(processor, HOLD, 2250)).toEqual([13]);
  });

  it('does not hold a change in the errors, nor a drain without a hold (a stopping partition\'s last flush)', () => {
    const { processor, add } = sparse();
    add(3);
    published(processor, HOLD, 0);
    add(1, true);
    expect(published(processor, HOLD, 250)).toEqual([4]);
    add(1);
    expect(published(processor, HOLD, 500)).toEqual([]);
    expect(published(processor, null, 500)).toEqual([5]);
  });

  it('does not hold a pane that closed: its final state goes out at the next flush', () => {
    const { processor, add } = sparse();
    add(3);
    published(processor, HOLD, 0);
    add(1);
    // an event past the pane's end and the allowed lateness closes it
    const later = encodePrediction({ id: 'late-clock', model: 'm', version: 'v1', ts: T0 + PANE_MS + processorOptions.allowedLatenessMs + 1000, output: 0.5, latencyMs: 5, features: { x: 1 } });
    expect(processor.process(1000, 'drift.in.0.m.pred', later)).toBeNull();
    const messages = processor.drainDirty(HOLD, 100).map((update) => decodePaneMessage(update.payload)).filter((m) => m.part === 'in');
    const closed = messages.find((m) => m.paneStart === T0 - (T0 % PANE_MS));
    expect(closed?.final).toBe(true);
    expect((closed?.state as { count: number }).count).toBe(4);
  });

  it('a publication that failed is not held: its pane goes out at the next flush', () => {
    const { processor, add } = sparse();
    add(3);
    const updates = processor.drainDirty(HOLD, 0);
    processor.restoreDirty(updates);
    expect(published(processor, HOLD, 250)).toEqual([3]);
  });

  it('defaults to a 2 s hold below 8 new events, 0 turns it off, and bad values are refused with the key', () => {
    const config = loadConfig({ env: {} });
    expect(runnerOptionsOf(config).sparseHold).toEqual({ maxMs: 2000, events: 8 });
    const off = loadConfig({ env: {}, overrides: { panes: { sparseHoldMs: 0 } } });
    const { processor, add } = sparse();
    add(2);
    published(processor, runnerOptionsOf(off).sparseHold ?? null, 0);
    add(1);
    expect(published(processor, runnerOptionsOf(off).sparseHold ?? null, 10)).toEqual([3]);
    expect(() => loadConfig({ env: {}, overrides: { panes: { sparseHoldMs: -1 } } })).toThrow(/panes\.sparseHoldMs/);
    expect(() => loadConfig({ env: {}, overrides: { panes: { sparseEvents: 0 } } })).toThrow(/panes\.sparseEvents/);
  });
});
