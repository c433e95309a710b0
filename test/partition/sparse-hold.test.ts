import { describe, expect, it } from 'vitest';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import { encodeLabel, encodePrediction } from '../../src/events/encode.ts';
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
    expect(runnerOptionsOf(config).sparseHold).toEqual({ maxMs: 2000, events: 8, outcomeMs: 10_000 });
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

/**
 * A changed outcome pane waits `panes.outcomeHoldMs` after the first flush that found it changed:
 * labels for an hour of predictions land on hundreds of open outcome panes per partition, and each
 * changed pane was a message at the next flush (one per label at any label rate).
 */
describe('changed outcome panes (panes.outcomeHoldMs)', () => {
  const OUTCOME_HOLD: SparseHold = { maxMs: 2000, events: 8, outcomeMs: 10_000 };

  /** Predictions 0..n-1, one per pane (10 s apart), and a function labelling prediction i. */
  function labelled(n: number): { processor: PartitionProcessor; label: (i: number) => void; later: (ts: number) => void } {
    const processor = new PartitionProcessor(processorOptions);
    let seq = 0;
    for (let i = 0; i < n; i++) {
      const data = encodePrediction({ id: `p${i}`, model: 'm', version: 'v1', ts: T0 + 100 + i * PANE_MS, output: 0.8, latencyMs: 5, features: { x: i } });
      expect(processor.process(++seq, 'drift.in.0.m.pred', data)).toBeNull();
    }
    processor.drainDirty(null, 0);
    const label = (i: number): void => {
      expect(processor.process(++seq, 'drift.in.0.m.label', encodeLabel({ id: `p${i}`, model: 'm', ts: T0 + 200 + i * PANE_MS, label: 1 }))).toBeNull();
    };
    const later = (ts: number): void => {
      expect(processor.process(++seq, 'drift.in.0.m.pred', encodePrediction({ id: `clock-${ts}`, model: 'm', version: 'v1', ts, output: 0.8, latencyMs: 5, features: { x: 0 } }))).toBeNull();
    };
    return { processor, label, later };
  }

  /** Labels joined per outcome pane state published by one drain, by pane start. */
  function outcomes(processor: PartitionProcessor, hold: SparseHold | null, now: number): Record<number, number> {
    const out: Record<number, number> = {};
    for (const update of processor.drainDirty(hold, now)) {
      const message = decodePaneMessage(update.payload);
      if (message.part === 'out') out[message.paneStart] = (message.state as { joined: number }).joined;
    }
    return out;
  }

  const paneOf = (i: number): number => T0 - (T0 % PANE_MS) + i * PANE_MS;

  it('holds a changed outcome pane until the hold has passed, then publishes all its labels of that span in one state', () => {
    const { processor, label } = labelled(4);
    label(0);
    expect(outcomes(processor, OUTCOME_HOLD, 0)).toEqual({});
    label(1);
    expect(outcomes(processor, OUTCOME_HOLD, 5_000)).toEqual({});
    expect(processor.dirtyPanes).toBe(2);
    // waiting out their hold, they do not hurry the runner's flushes (flush pacing)
    expect(processor.duePanes).toBe(0);
    label(2);
    expect(processor.duePanes).toBe(1);
    expect(outcomes(processor, OUTCOME_HOLD, 5_000)).toEqual({});
    // pane 0 has waited 10 s since the flush that first found it changed; pane 1 since 5 s
    expect(outcomes(processor, OUTCOME_HOLD, 10_000)).toEqual({ [paneOf(0)]: 1 });
    expect(outcomes(processor, OUTCOME_HOLD, 15_000)).toEqual({ [paneOf(1)]: 1, [paneOf(2)]: 1 });
    expect(processor.dirtyPanes).toBe(0);
    // without an outcome hold (unset or 0), as before: at the next flush
    label(3);
    expect(outcomes(processor, HOLD, 15_250)).toEqual({ [paneOf(3)]: 1 });
  });

  it('does not hold a closed outcome pane, a failed publication, nor a drain without a hold', () => {
    const { processor, label, later } = labelled(2);
    label(0);
    label(1);
    expect(outcomes(processor, OUTCOME_HOLD, 0)).toEqual({});
    // an event past pane 0's end and the label horizon closes it: its final state goes out now,
    // pane 1 (still open) keeps waiting
    later(paneOf(0) + PANE_MS + processorOptions.labelHorizonMs + 1000);
    const closing = processor.drainDirty(OUTCOME_HOLD, 1).map((update) => decodePaneMessage(update.payload)).filter((m) => m.part === 'out');
    expect(closing.map((m) => [m.paneStart, m.final, (m.state as { joined: number }).joined])).toEqual([[paneOf(0), true, 1]]);
    const sent = processor.drainDirty(OUTCOME_HOLD, 10_000);
    expect(sent.filter((update) => update.part === 'out').map((update) => update.paneStart)).toEqual([paneOf(1)]);
    processor.restoreDirty(sent);
    expect(outcomes(processor, OUTCOME_HOLD, 10_250)).toEqual({ [paneOf(1)]: 1 });

    const other = labelled(1);
    other.label(0);
    expect(outcomes(other.processor, null, 0)).toEqual({ [paneOf(0)]: 1 });
  });

  it('does not hold an outcome pane in which the error-stream detectors signalled a change', () => {
    const run = (wrongFrom: number): Array<{ joined: number; detections: Record<string, number> }> => {
      const processor = new PartitionProcessor(processorOptions);
      let seq = 0;
      for (let i = 0; i < 400; i++) {
        const data = encodePrediction({ id: `p${i}`, model: 'm', version: 'v1', ts: T0 + 100 + i * 10, output: 0.8, latencyMs: 5, features: { x: i } });
        expect(processor.process(++seq, 'drift.in.0.m.pred', data)).toBeNull();
      }
      processor.drainDirty(null, 0);
      for (let i = 0; i < 400; i++) {
        const label = encodeLabel({ id: `p${i}`, model: 'm', ts: T0 + 200 + i * 10, label: i < wrongFrom ? 1 : 0 });
        expect(processor.process(++seq, 'drift.in.0.m.label', label)).toBeNull();
      }
      return processor
        .drainDirty(OUTCOME_HOLD, 1)
        .map((update) => decodePaneMessage(update.payload))
        .filter((m) => m.part === 'out')
        .map((m) => m.state as { joined: number; detections: Record<string, number> });
    };
    // every prediction right: nothing to signal, the pane waits
    expect(run(400)).toEqual([]);
    // right, then wrong from the 200th: the detectors signal, and the pane goes out at this flush
    const [state] = run(200);
    expect(state.joined).toBe(400);
    expect(Object.values(state.detections).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('defaults to 10 s, 0 turns it off, and a bad value is refused with the key', () => {
    const off = loadConfig({ env: {}, overrides: { panes: { outcomeHoldMs: 0 } } });
    expect(runnerOptionsOf(off).sparseHold?.outcomeMs).toBe(0);
    const { processor, label } = labelled(1);
    label(0);
    expect(outcomes(processor, runnerOptionsOf(off).sparseHold ?? null, 0)).toEqual({ [paneOf(0)]: 1 });
    expect(() => loadConfig({ env: {}, overrides: { panes: { outcomeHoldMs: -5 } } })).toThrow(/panes\.outcomeHoldMs/);
  });
});
