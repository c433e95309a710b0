/**
 * Counts per value (ExactValueCounts) in a model's windows and the sums of panes they hold: at most
 * SUM_VALUES_CAP values listed per feature, whatever the traffic, and never more of a value than
 * the window holds.
 */
import { describe, expect, it } from 'vitest';
import { SUM_VALUES_CAP } from '../../src/sketch/exact-values.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome, inputToWire, outcomeToWire } from '../../src/window/pane.ts';
import { ModelWindows } from '../../src/window/windows.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';

const PANE = 10_000;
const MINUTE = 60_000;
const WINDOWS = new Map([['1m', MINUTE], ['5m', 5 * MINUTE], ['1h', 60 * MINUTE]]);

function pane(partition: number, paneStart: number, values: readonly number[], final = true): PaneMessage {
  const state = new PaneInput(DEFAULT_PANE_LIMITS);
  for (const v of values) {
    state.count++;
    state.latency.add(1);
    state.addFeature('x', v);
  }
  return { model: 'm', version: 'v1', partition, paneStart, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(state), final };
}

describe('values counted one by one in windows', () => {
  it('at sparse traffic (16 partitions, 12 values a pane, every pane\'s values its own) a window lists at most SUM_VALUES_CAP of them, never more of one than it holds, and counts them all', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    const truth = new Map<number, number[]>();
    let seed = 3;
    const next = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    // 2 h 20 min: past the retention, so panes are folded, made coarse and made history
    for (let p = 0; p < 840; p++) {
      const paneStart = p * PANE;
      const values: number[] = [];
      for (let partition = 0; partition < 16; partition++) {
        // ten values of their own and a sentinel twice: a value every pane repeats
        const own = Array.from({ length: 10 }, () => Math.round(next() * 1e6) / 100);
        const paneValues = [...own, -1, -1];
        values.push(...paneValues);
        windows.applyMessage(pane(partition, paneStart, paneValues));
      }
      truth.set(paneStart, values);
      if (p % 7 !== 6) continue;
      for (const name of WINDOWS.keys()) {
        const { from, to } = windows.bounds(name);
        const held = new Map<number, number>();
        for (const [start, inPane] of truth) if (start >= from && start < to) for (const v of inPane) held.set(v, (held.get(v) ?? 0) + 1);
        const exact = windows.get(name)!.input.features.get('x')!.exact!;
        const count = [...held.values()].reduce((a, b) => a + b, 0);
        expect(exact.size, `${name} at pane ${p}`).toBeLessThanOrEqual(SUM_VALUES_CAP);
        expect(exact.total, `${name} at pane ${p}`).toBe(count);
        expect(windows.get(name)!.input.features.get('x')!.numeric!.count).toBe(count);
        expect(exact.other).toBeGreaterThanOrEqual(exact.folded);
        expect(exact.folded).toBeGreaterThanOrEqual(0);
        for (const [value, n] of exact.counts) {
          expect(n, `${name} at pane ${p}: ${value}`).toBeGreaterThan(0);
          expect(n, `${name} at pane ${p}: ${value}`).toBeLessThanOrEqual(held.get(value) ?? 0);
        }
      }
    }
    expect(windows.heldStates.coarse).toBeGreaterThan(0);
    expect(windows.heldStates.history).toBeGreaterThan(0);
    // the 1h window still lists its sentinel, repeated in every pane
    expect(windows.get('1h')!.input.features.get('x')!.exact!.counts.get(-1)).toBeGreaterThan(0);
  });

  it('a continuous feature at sparse traffic is not summed again from its states: their values are more than a sum lists', () => {
    // every value new, a dozen per partition and pane, the partitions' panes open (as between two
    // flushes of a busy worker): panes leaving take the window's list down to a pane's again and
    // again, and a sum of the states it holds would fold as much as before
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    let seed = 5;
    const next = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    let stuck = 0;
    for (let p = 0; p < 60; p++) {
      for (let partition = 0; partition < 16; partition++) {
        windows.applyMessage(pane(partition, p * PANE, Array.from({ length: 12 }, () => Math.round(next() * 1e6) / 100), false));
        const exact = windows.get('1m')!.input.features.get('x')!.exact!;
        if (exact.folded > 0 && exact.size <= 16) stuck++;
      }
      expect(windows.get('1m')!.input.features.get('x')!.exact!.total).toBe(Math.min(p + 1, 6) * 16 * 12);
    }
    expect(windows.recountedSums).toBe(0);
    // the window's list did fall to a pane's, with values left unlisted
    expect(stuck).toBeGreaterThan(0);
  });

  it('a partition\'s state of an older pane, held packed while its final state is awaited, is replaced and taken away as it was', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    const count = (name: string) => windows.get(name)!.input.count;
    const listed = (name: string) => Object.fromEntries([...windows.get(name)!.input.features.get('x')!.exact!.counts].sort((a, b) => a[0] - b[0]));
    windows.applyMessage(pane(0, 0, [1, 2, 3], false));
    windows.applyMessage(pane(0, PANE, [7], false));
    windows.applyMessage(pane(0, 2 * PANE, [7, 8], false));
    // pane 0's state is older than the newest pane: held packed; late events replace it, then its final state
    windows.applyMessage(pane(0, 0, [1, 2, 3, 4, 4], false));
    windows.applyMessage(pane(0, 0, [1, 2, 3, 4, 4, 5], true));
    expect(count('5m')).toBe(6 + 1 + 2);
    expect(listed('5m')).toEqual({ 1: 1, 2: 1, 3: 1, 4: 2, 5: 1, 7: 2, 8: 1 });
    // pane 0 leaves the 1m window, then pane 1's packed open state; the 5m window keeps both
    windows.applyMessage(pane(0, 6 * PANE, [9], false));
    expect(count('1m')).toBe(1 + 2 + 1);
    expect(listed('1m')).toEqual({ 7: 2, 8: 1, 9: 1 });
    windows.applyMessage(pane(0, 7 * PANE, [9], false));
    expect(count('1m')).toBe(2 + 1 + 1);
    expect(listed('1m')).toEqual({ 7: 1, 8: 1, 9: 2 });
    expect(count('5m')).toBe(6 + 1 + 2 + 1 + 1);
    expect(listed('5m')).toEqual({ 1: 1, 2: 1, 3: 1, 4: 2, 5: 1, 7: 2, 8: 1, 9: 2 });
  });

  it('a partition\'s outcome state of an older pane, held packed for the label horizon, is replaced as labels come and leaves whole', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    const outcome = (paneStart: number, joined: number, correct: number): PaneMessage => {
      const state = new PaneOutcome(DEFAULT_PANE_LIMITS);
      state.joined = joined;
      state.correct = correct;
      return { model: 'm', version: 'v1', partition: 3, paneStart, paneMs: PANE, part: 'out', seq: 0, state: outcomeToWire(state), final: false };
    };
    windows.applyMessage(pane(3, 0, [1, 2], false));
    windows.applyMessage(outcome(0, 1, 1));
    for (let p = 1; p <= 3; p++) windows.applyMessage(pane(3, p * PANE, [1], false));
    // labels for pane 0's predictions keep coming while newer panes arrive: its state held packed between them
    windows.applyMessage(outcome(0, 2, 1));
    windows.applyMessage(pane(3, 4 * PANE, [1], false));
    windows.applyMessage(outcome(0, 4, 3));
    const out = (name: string) => windows.get(name)!.outcome;
    expect([out('1m').joined, out('1m').correct]).toEqual([4, 3]);
    expect([out('5m').joined, out('5m').correct]).toEqual([4, 3]);
    // pane 0 leaves the 1m window with the outcome it holds last
    windows.applyMessage(pane(3, 6 * PANE, [1], false));
    expect([out('1m').joined, out('1m').correct]).toEqual([0, 0]);
    expect([out('5m').joined, out('5m').correct]).toEqual([4, 3]);
  });

  it('a discrete feature that showed many values for a while is counted exactly again once they left its window', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    let p = 0;
    const panes = (n: number, values: (k: number) => number[], alongside?: (k: number) => number[]) => {
      for (let i = 0; i < n; i++, p++) {
        windows.applyMessage(pane(0, p * PANE, values(p)));
        // not final: a partition whose pane never closed is never merged with the others (restateExact)
        if (alongside !== undefined) windows.applyMessage(pane(1, p * PANE, alongside(p), false));
      }
    };
    const rating = (k: number) => Array.from({ length: 20 }, (_, i) => (i + k) % 5);
    panes(6, rating);
    expect(windows.get('1m')!.input.features.get('x')!.exact!.exact()).not.toBeNull();
    // a minute and more of 16 new values a pane (a pane still lists them all: the window cannot), then
    // 16 more and, from another partition, the ratings, which come while the window's list is full:
    // the ratings it could not list stay in `other` while ratings keep coming (a pane that leaves
    // takes its values from the list first)
    const fresh = (k: number) => Array.from({ length: 16 }, (_, i) => 100 + k * 16 + i);
    panes(8, fresh);
    panes(1, fresh, rating);
    const during = windows.get('1m')!.input.features.get('x')!.exact!;
    expect(during.size).toBe(SUM_VALUES_CAP);
    expect(during.folded).toBeGreaterThan(0);
    expect(during.counts.get(0)).toBeUndefined();
    panes(12, rating);
    // the 1m window holds ratings alone again: five values, each counted, none left over
    const after = windows.get('1m')!.input.features.get('x')!.exact!;
    expect(after.exact()).not.toBeNull();
    expect([...after.counts.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(after.total).toBe(6 * 20);
    expect(after.folded).toBe(0);
    expect(windows.recountedSums).toBeGreaterThan(0);
  });
});
