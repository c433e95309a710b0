import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ModelWindows } from '../../src/window/windows.ts';
import { StateBytePool } from '../../src/window/state-byte-pool.ts';
import { PaneInput, PaneOutcome, DEFAULT_PANE_LIMITS, inputToWire, outcomeToWire, summaryToWire, summaryFromWire } from '../../src/window/pane.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';
import { decodePaneMessage, encodePaneMessage } from '../../src/contract/pane-codec.ts';
import { MsgpackReader } from '../../src/contract/msgpack-reader.ts';
import { encode } from '@msgpack/msgpack';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { DEFAULT_FEATURE_RELATIVE_ACCURACY, FEATURE_MIN_INDEXABLE, featureAccuracyOf } from '../../src/window/pane.ts';
import { LISTED_SKETCH_DEFAULTS } from '../../src/contract/pane-wire.ts';
import type { ExactValuesWire, FeatureWire, PaneInputWire } from '../../src/contract/pane-wire.ts';

const PANE = 10_000;
const WINDOWS = new Map([['1m', 60_000], ['5m', 300_000]]);

function inputMessage(partition: number, version: string, paneStart: number, values: number[]): PaneMessage {
  const pane = new PaneInput(DEFAULT_PANE_LIMITS);
  for (const v of values) {
    pane.count++;
    pane.latency.add(v);
    pane.addFeature('x', v);
  }
  return { model: 'm', version, partition, paneStart, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(pane), final: false };
}

function outcomeMessage(partition: number, version: string, paneStart: number, joined: number): PaneMessage {
  const pane = new PaneOutcome(DEFAULT_PANE_LIMITS);
  pane.joined = joined;
  pane.correct = joined;
  return { model: 'm', version, partition, paneStart, paneMs: PANE, part: 'out', seq: 0, state: outcomeToWire(pane), final: false };
}

/**
 * The two stores hold the same: partition states and folds, every window's input and outcome
 * figures, and a range summed from what they hold (a reference capture).
 */
function expectSameWindows(a: ModelWindows, b: ModelWindows): void {
  expect(a.heldStates).toEqual(b.heldStates);
  for (const name of WINDOWS.keys()) {
    const x = a.get(name);
    const y = b.get(name);
    expect(x === undefined ? null : encode(inputToWire(x.input))).toEqual(y === undefined ? null : encode(inputToWire(y.input)));
    expect(x === undefined ? null : encode(outcomeToWire(x.outcome))).toEqual(y === undefined ? null : encode(outcomeToWire(y.outcome)));
  }
  const from = Math.max(0, a.end - 300_000);
  const summedA = a.sumRange(from, a.end);
  const summedB = b.sumRange(from, b.end);
  expect(encode(inputToWire(summedA.input))).toEqual(encode(inputToWire(summedB.input)));
  expect(encode(outcomeToWire(summedA.outcome))).toEqual(encode(outcomeToWire(summedB.outcome)));
}

describe('partition states held as the changelog delivered their bytes', () => {
  it('give the same windows as states held as objects, through replacements, finals, folds and coarse panes', () => {
    const update = fc.record({
      partition: fc.integer({ min: 0, max: 3 }),
      pane: fc.integer({ min: 0, max: 80 }),
      values: fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 6 }),
      final: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(update, { minLength: 1, maxLength: 150 }), (updates) => {
        const fromBytes = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const fromObjects = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const reader = new MsgpackReader();
        for (const u of updates) {
          const message = { ...inputMessage(u.partition, 'v1', u.pane * PANE, u.values), final: u.final };
          const decoded = decodePaneMessage(encodePaneMessage(message), reader);
          expect(decoded.stateBytes()).not.toBeNull();
          fromBytes.applyMessage(decoded);
          fromObjects.applyMessage(message);
        }
        expectSameWindows(fromBytes, fromObjects);
      }),
      { numRuns: 100 },
    );
  });

  it('give the same windows as states held as objects for outcome states too, shared by up to 16 partitions of a pane', () => {
    const update = fc.record({
      partition: fc.integer({ min: 0, max: 15 }),
      pane: fc.integer({ min: 0, max: 60 }),
      labels: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 600_000 })), { maxLength: 5 }),
      final: fc.boolean(),
      values: fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(update, { minLength: 1, maxLength: 150 }), (updates) => {
        const fromBytes = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const fromObjects = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const reader = new MsgpackReader();
        // each partition's outcome pane gathers its labels, as a worker's does, and is republished whole
        const outcomes = new Map<string, PaneOutcome>();
        for (const u of updates) {
          const key = `${u.partition}|${u.pane}`;
          const pane = outcomes.get(key) ?? new PaneOutcome(DEFAULT_PANE_LIMITS);
          outcomes.set(key, pane);
          for (const [score, label, delay] of u.labels) pane.addJoined(score, label, 0.5, delay, false, null);
          const messages: PaneMessage[] = [
            inputMessage(u.partition, 'v1', u.pane * PANE, u.values),
            { model: 'm', version: 'v1', partition: u.partition, paneStart: u.pane * PANE, paneMs: PANE, part: 'out', seq: 0, state: outcomeToWire(pane), final: u.final },
          ];
          for (const message of messages) {
            const decoded = decodePaneMessage(encodePaneMessage(message), reader);
            expect(decoded.stateBytes()).not.toBeNull();
            fromBytes.applyMessage(decoded);
            fromObjects.applyMessage(message);
          }
        }
        expect(fromBytes.openOutcomeStates).toBe(fromObjects.openOutcomeStates);
        expectSameWindows(fromBytes, fromObjects);
      }),
      { numRuns: 60 },
    );
  });

  it('give the same windows with quiet outcome panes held deflated, read back for late labels, finals and folds', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 1, max: 30 }), fc.boolean()), { minLength: 20, maxLength: 120 }), (labels) => {
        const deflating = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const never = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, { outcomePackQuietMs: Infinity });
        const reader = new MsgpackReader();
        const apply = (message: PaneMessage): void => {
          const bytes = encodePaneMessage(message);
          deflating.applyMessage(decodePaneMessage(bytes, reader));
          never.applyMessage(decodePaneMessage(bytes, reader));
        };
        const outcomes = new Map<string, PaneOutcome>();
        let fewerBytes = false;
        // one pane of event time a step; label k comes `delay` panes after its prediction's pane
        // (up to 5 minutes: quiet minutes in between), its pane final 32 panes after it ends
        for (let step = 0; step < 70; step++) {
          apply(inputMessage(step % 16, 'v1', step * PANE, [step + 1]));
          labels.forEach(([partition, delay, label], k) => {
            const paneStart = (k % 40) * PANE;
            if (paneStart / PANE + delay !== step) return;
            const key = `${partition}|${paneStart}`;
            const pane = outcomes.get(key) ?? new PaneOutcome(DEFAULT_PANE_LIMITS);
            outcomes.set(key, pane);
            pane.addJoined((k % 10) / 10, label ? 1 : 0, 0.5, delay * PANE, false, null);
            apply({ model: 'm', version: 'v1', partition, paneStart, paneMs: PANE, part: 'out', seq: 0, state: outcomeToWire(pane), final: false });
          });
          for (const [key, pane] of outcomes) {
            const [partition, paneStart] = key.split('|').map(Number);
            if (paneStart / PANE + 32 !== step) continue;
            apply({ model: 'm', version: 'v1', partition, paneStart, paneMs: PANE, part: 'out', seq: 0, state: outcomeToWire(pane), final: true });
            outcomes.delete(key);
          }
          if (deflating.heldStateBytes.perPartition < never.heldStateBytes.perPartition) fewerBytes = true;
          if (step % 10 === 9) expectSameWindows(deflating, never);
        }
        expectSameWindows(deflating, never);
        expect(deflating.openOutcomeStates).toBe(never.openOutcomeStates);
        // at some step a pane's outcome states were held deflated
        expect(fewerBytes).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('deflate an outcome pane once no label changed it for a minute, a few panes per move of the windows', () => {
    const windows = new ModelWindows('m', new Map([['1h', 3_600_000]]), DEFAULT_PANE_LIMITS);
    const reader = new MsgpackReader();
    const apply = (message: PaneMessage): void => windows.applyMessage(decodePaneMessage(encodePaneMessage(message), reader));
    const outcomeOf = (pane: number, partition: number, labels: number): PaneMessage => {
      const outcome = new PaneOutcome(DEFAULT_PANE_LIMITS);
      for (let k = 0; k < labels; k++) outcome.addJoined(((pane + k) % 10) / 10, k % 2, 0.5, 5_000 * k, false, null);
      return { model: 'm', version: 'v1', partition, paneStart: pane * PANE, paneMs: PANE, part: 'out', seq: 0, state: outcomeToWire(outcome), final: false };
    };
    // twelve panes of predictions (the windows end at 120 s), then their labels, 16 partitions each
    for (let pane = 0; pane < 12; pane++) apply(inputMessage(0, 'v1', pane * PANE, [pane + 1]));
    for (let pane = 0; pane < 12; pane++) for (let partition = 0; partition < 16; partition++) apply(outcomeOf(pane, partition, 1 + (partition % 4)));
    expect(windows.outcomePanes).toEqual({ open: 12, deflated: 0 });
    const held = windows.heldStateBytes.perPartition;
    // 50 s without a label: none deflated
    apply(inputMessage(0, 'v1', 16 * PANE, [1]));
    expect(windows.outcomePanes.deflated).toBe(0);
    // a minute: four at this move, four at each of the next
    apply(inputMessage(0, 'v1', 17 * PANE, [1]));
    expect(windows.outcomePanes.deflated).toBe(4);
    apply(inputMessage(0, 'v1', 18 * PANE, [1]));
    expect(windows.outcomePanes.deflated).toBe(8);
    apply(inputMessage(0, 'v1', 19 * PANE, [1]));
    expect(windows.outcomePanes).toEqual({ open: 12, deflated: 12 });
    expect(windows.heldStateBytes.perPartition).toBeLessThan(held * 0.5);
    // a late label: its pane read back and changed, held as it was before
    apply(outcomeOf(3, 5, 6));
    expect(windows.outcomePanes.deflated).toBe(11);
    expect(windows.get('1h')?.outcome.joined).toBe(12 * (1 + 2 + 3 + 4) * 4 - 2 + 6);
  });

  it('are held packed, in about their MessagePack size, from the first message on', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    const bytes = encodePaneMessage(inputMessage(0, 'v1', 0, [1, 2, 3, 40, 500]));
    windows.applyMessage(decodePaneMessage(bytes, new MsgpackReader()));
    expect(windows.heldStates.perPartition).toBe(1);
    const held = windows.heldStateBytes.perPartition;
    expect(held).toBeGreaterThan(bytes.length / 2);
    expect(held).toBeLessThan(bytes.length);
  });
});

describe('partition input states in arrays used again (StateBytePool)', () => {
  const reader = new MsgpackReader();
  const viaBytes = (message: PaneMessage) => decodePaneMessage(encodePaneMessage(message), reader);
  it('give the same windows as states each in an array of its own, the arrays shared by two models', () => {
    let reused = 0;
    const update = fc.record({
      model: fc.integer({ min: 0, max: 1 }),
      partition: fc.integer({ min: 0, max: 3 }),
      // few panes, so that a partition's pane is often republished with more values; some far on (evictions)
      pane: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 60 })),
      // a second of values more: the state often stays within its array's size class
      values: fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 4 }),
      joined: fc.integer({ min: 0, max: 3 }),
      final: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(update, { minLength: 20, maxLength: 150 }), (updates) => {
        const pool = new StateBytePool();
        const pooled = [0, 1].map(() => new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, { stateBytes: pool }));
        const own = [0, 1].map(() => new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS));
        // each republication holds the partition's values so far and a few more, as a worker's does
        const sofar = new Map<string, number[]>();
        for (const u of updates) {
          const key = `${u.model}|${u.partition}|${u.pane}`;
          const values = [...(sofar.get(key) ?? []), ...u.values];
          sofar.set(key, values);
          // the feature centered as in every pane (a producer's centers, as a worker's following the
          // reference): held as its bytes, not moved onto the window's buckets
          const pane = new PaneInput(DEFAULT_PANE_LIMITS, new Map([['x', 1000]]));
          for (const v of values) {
            pane.count++;
            pane.latency.add(v);
            pane.addFeature('x', v);
          }
          const input: PaneMessage = { model: 'm', version: 'v1', partition: u.partition, paneStart: u.pane * PANE, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(pane), final: u.final };
          const messages = [
            input,
            { ...outcomeMessage(u.partition, 'v1', u.pane * PANE, u.joined), final: u.final },
          ];
          for (const message of messages) {
            pooled[u.model].applyMessage(viaBytes(message));
            own[u.model].applyMessage(viaBytes(message));
          }
        }
        for (const m of [0, 1]) expectSameWindows(pooled[m], own[m]);
        for (const m of [0, 1]) expect(pooled[m].rebinnedSketches).toBe(0);
        reused += pool.reused;
      }),
      { numRuns: 150 },
    );
    // the property held with arrays used again, not only around them
    expect(reused).toBeGreaterThan(150);
  });

  it("takes back a pane's partition arrays once their final states are merged into the pane's fold, not a fold's own array", () => {
    const pool = new StateBytePool();
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, { stateBytes: pool });
    const state = (partition: number, paneStart: number, values: number[], final: boolean): PaneMessage => {
      const pane = new PaneInput(DEFAULT_PANE_LIMITS, new Map([['x', 1000]]));
      for (const v of values) {
        pane.count++;
        pane.addFeature('x', v);
      }
      return { model: 'm', version: 'v1', partition, paneStart, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(pane), final };
    };
    const values = [[1, 2, 3], [4, 5, 6]];
    for (const partition of [0, 1]) windows.applyMessage(viaBytes(state(partition, 0, values[partition], false)));
    expect({ made: pool.made, held: pool.heldBytes }).toEqual({ made: 2, held: 0 });
    // the same states, final (byte for byte the held ones: marked final, nothing given back yet)
    for (const partition of [0, 1]) windows.applyMessage(viaBytes(state(partition, 0, values[partition], true)));
    expect(pool.heldBytes).toBe(0);
    // the next pane moves the windows on: the two finals are merged into one fold and their arrays
    // given back, the arriving state written into one of them
    windows.applyMessage(viaBytes(state(0, PANE, values[0], false)));
    expect(windows.heldStates).toMatchObject({ perPartition: 1, folded: 1 });
    expect(pool.made).toBe(2);
    expect(pool.reused).toBe(1);
    expect(pool.heldBytes).toBeGreaterThan(0);
    windows.applyMessage(viaBytes(state(1, PANE, values[1], false)));
    expect({ made: pool.made, reused: pool.reused, held: pool.heldBytes }).toEqual({ made: 2, reused: 2, held: 0 });
    expect(windows.get('1m')!.input.features.get('x')!.numeric!.count).toBe(12);
    // a pane held by one partition: its final state is the fold itself, kept, not given back
    const alone = new StateBytePool();
    const single = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, { stateBytes: alone });
    single.applyMessage(viaBytes(state(0, 0, values[0], true)));
    single.applyMessage(viaBytes(state(0, PANE, values[1], false)));
    expect(single.heldStates).toMatchObject({ perPartition: 1, folded: 1 });
    expect({ made: alone.made, reused: alone.reused, held: alone.heldBytes }).toEqual({ made: 2, reused: 0, held: 0 });
    expect(single.get('1m')!.input.features.get('x')!.numeric!.count).toBe(6);
  });
});

describe('sliding windows kept by add and subtract', () => {
  it('always equal the sum of the latest state of every pane inside them', () => {
    const update = fc.record({
      partition: fc.integer({ min: 0, max: 2 }),
      version: fc.constantFrom('v1', 'v2'),
      pane: fc.integer({ min: 0, max: 60 }),
      values: fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 5 }),
      joined: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(update, { minLength: 1, maxLength: 120 }), (updates) => {
        const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const latest = new Map<string, { version: string; paneStart: number; values: number[]; joined: number }>();
        for (const u of updates) {
          const paneStart = u.pane * PANE;
          windows.applyMessage(inputMessage(u.partition, u.version, paneStart, u.values));
          windows.applyMessage(outcomeMessage(u.partition, u.version, paneStart, u.joined));
          latest.set(`${u.partition}|${u.version}|${paneStart}`, { version: u.version, paneStart, values: u.values, joined: u.joined });
        }
        for (const [name, length] of WINDOWS) {
          for (const version of [undefined, 'v1', 'v2']) {
            const inside = [...latest.values()].filter((p) => p.paneStart >= windows.end - length && p.paneStart < windows.end && (version === undefined || p.version === version));
            const aggregate = windows.get(name, version);
            const count = inside.reduce((s, p) => s + p.values.length, 0);
            const joined = inside.reduce((s, p) => s + p.joined, 0);
            expect(aggregate?.input.count ?? 0).toBe(count);
            expect(aggregate?.input.latency.count ?? 0).toBe(count);
            expect(aggregate?.input.features.get('x')?.numeric?.count ?? 0).toBe(count);
            expect(aggregate?.outcome.joined ?? 0).toBe(joined);
            const sum = inside.reduce((s, p) => s + p.values.reduce((a, b) => a + b, 0), 0);
            expect(aggregate?.input.latency.sum ?? 0).toBeCloseTo(sum, 6);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('change stamps of window aggregates', () => {
  /** Everything a window aggregate holds, as bytes: two equal snapshots are the same aggregate. */
  function snapshot(windows: ModelWindows, name: string, version: string | undefined): string {
    const aggregate = windows.get(name, version);
    if (aggregate === undefined) return 'absent';
    return `${Buffer.from(JSON.stringify(inputToWire(aggregate.input))).toString('base64')}|${Buffer.from(JSON.stringify(outcomeToWire(aggregate.outcome))).toString('base64')}`;
  }

  it('a (window, version) aggregate whose content changed always has a new stamp; a stamp is never reused', () => {
    const update = fc.record({
      partition: fc.integer({ min: 0, max: 2 }),
      version: fc.constantFrom('v1', 'v2'),
      pane: fc.integer({ min: 0, max: 80 }),
      values: fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 4 }),
      outcome: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(update, { minLength: 1, maxLength: 60 }), (updates) => {
        const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const keys = [...WINDOWS.keys()].flatMap((name) => [undefined, 'v1', 'v2'].map((version) => ({ name, version })));
        const seen = new Map<number, string>();
        let before = keys.map(({ name, version }) => ({ stamp: windows.changeOf(name, version), content: snapshot(windows, name, version) }));
        for (const u of updates) {
          const paneStart = u.pane * PANE;
          windows.applyMessage(u.outcome ? outcomeMessage(u.partition, u.version, paneStart, u.values.length) : inputMessage(u.partition, u.version, paneStart, u.values));
          const after = keys.map(({ name, version }) => ({ stamp: windows.changeOf(name, version), content: snapshot(windows, name, version) }));
          keys.forEach(({ name, version }, i) => {
            if (after[i].content !== before[i].content) expect(after[i].stamp, `${name} ${version ?? 'all'}`).not.toBe(before[i].stamp);
            // one stamp names one aggregate: never given to another (window, version)
            if (after[i].stamp !== 0) {
              const owner = `${name}|${version ?? ''}`;
              expect(seen.get(after[i].stamp) ?? owner).toBe(owner);
              seen.set(after[i].stamp, owner);
            }
          });
          before = after;
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a pane changes the stamps of the windows that hold it, and only theirs', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    windows.applyMessage(inputMessage(0, 'v1', 9 * PANE, [1, 2])); // windows end at 100 s: 1m holds [40 s, 100 s)
    const [short, long, v2] = [windows.changeOf('1m'), windows.changeOf('5m'), windows.changeOf('5m', 'v2')];
    expect(v2).toBe(0);
    windows.applyMessage(inputMessage(1, 'v1', PANE, [3])); // late: inside 5m only
    expect(windows.changeOf('1m')).toBe(short);
    expect(windows.changeOf('5m')).not.toBe(long);
    expect(windows.changeOf('5m', 'v2')).toBe(0);
  });
});

describe('a state byte for byte the one held for its partition', () => {
  const reader = new MsgpackReader();
  const fromBytes = (message: PaneMessage) => decodePaneMessage(encodePaneMessage(message), reader);

  it('marks it final without applying it again, and folds it as any final state', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    windows.applyMessage(fromBytes(inputMessage(0, 'v1', 0, [1, 2, 3])));
    windows.applyMessage(fromBytes(inputMessage(1, 'v1', 0, [4, 500])));
    const before = encode(inputToWire(windows.get('1m')!.input));

    // the worker's final state of partition 0, the allowed lateness passed with no late event
    windows.applyMessage(fromBytes({ ...inputMessage(0, 'v1', 0, [1, 2, 3]), final: true }));
    expect(windows.unchangedSkipped).toBe(1);
    expect(encode(inputToWire(windows.get('1m')!.input))).toEqual(before);
    expect(windows.heldStates).toEqual({ perPartition: 2, folded: 0, coarse: 0, history: 0 });

    // event time moves on: the final state is folded as one applied in full would be
    windows.applyMessage(fromBytes(inputMessage(0, 'v1', PANE, [7])));
    expect(windows.heldStates).toEqual({ perPartition: 2, folded: 1, coarse: 0, history: 0 });
    expect(windows.get('1m')!.input.count).toBe(6);
    expect(windows.get('1m')!.input.latency.sum).toBeCloseTo(517, 9);
    expect(windows.sumRange(0, PANE).input.count).toBe(5);
  });

  it('is not applied again when not final either; a state one event longer, or of the same pane of another partition, is', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    windows.applyMessage(fromBytes(inputMessage(0, 'v1', 0, [1, 2, 3])));
    windows.applyMessage(fromBytes(inputMessage(0, 'v1', 0, [1, 2, 3])));
    expect(windows.unchangedSkipped).toBe(1);
    expect(windows.get('1m')!.input.count).toBe(3);
    windows.applyMessage(fromBytes({ ...inputMessage(0, 'v1', 0, [1, 2, 3, 9]), final: true }));
    expect(windows.unchangedSkipped).toBe(1);
    expect(windows.get('1m')!.input.count).toBe(4);
    windows.applyMessage(fromBytes(inputMessage(1, 'v1', 0, [1, 2, 3, 9])));
    expect(windows.unchangedSkipped).toBe(1);
    expect(windows.get('1m')!.input.count).toBe(8);
    // a held final state is not marked again: its republication is applied as before (and folded once)
    windows.applyMessage(fromBytes({ ...inputMessage(0, 'v1', 0, [1, 2, 3, 9]), final: true }));
    expect(windows.unchangedSkipped).toBe(1);
    expect(windows.get('1m')!.input.count).toBe(8);
  });

  it('leaves the windows, held states and folds as applying it in full does, among replacements and finals of inputs and outcomes', () => {
    let skipped = 0;
    const update = fc.record({
      partition: fc.integer({ min: 0, max: 3 }),
      // few panes, so that a partition's pane is often published again; some past the 5m window
      pane: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 40 })),
      values: fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 4 }),
      joined: fc.integer({ min: 0, max: 3 }),
      final: fc.boolean(),
      // publish the partition's last message of the pane again, as it was (final or not)
      again: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(update, { minLength: 30, maxLength: 120 }), (updates) => {
        const skipping = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const applying = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const last = new Map<string, PaneMessage[]>();
        for (const u of updates) {
          const key = `${u.partition}|${u.pane}`;
          const previous = last.get(key);
          const messages =
            u.again && previous !== undefined
              ? previous.map((m) => ({ ...m, final: m.final || u.final }))
              : [
                  { ...inputMessage(u.partition, 'v1', u.pane * PANE, u.values), final: u.final },
                  { ...outcomeMessage(u.partition, 'v1', u.pane * PANE, u.joined), final: u.final },
                ];
          last.set(key, messages);
          for (const message of messages) {
            skipping.applyMessage(fromBytes(message));
            // the same state as objects: no bytes to compare, applied in full
            applying.applyMessage(message);
          }
        }
        skipped += skipping.unchangedSkipped;
        expect(applying.unchangedSkipped).toBe(0);
        expect(skipping.staleIgnored).toBe(applying.staleIgnored);
        expectSameWindows(skipping, applying);
      }),
      { numRuns: 100 },
    );
    // the property held with states skipped, not only around them
    expect(skipped).toBeGreaterThan(100);
  });
});

describe('folding final pane states', () => {
  function finalInput(partition: number, paneStart: number, values: number[], final: boolean): PaneMessage {
    return { ...inputMessage(partition, 'v1', paneStart, values), final };
  }

  it('folds per-partition final states into one, keeps the sums, ignores stale republications and adds late partitions', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    windows.applyMessage(finalInput(0, 0, [1, 2, 3], true));
    windows.applyMessage(finalInput(1, 0, [4, 5], true));
    windows.applyMessage(finalInput(2, 0, [6], false)); // not final: stays per partition
    windows.applyMessage(finalInput(0, PANE, [7], false)); // event time moves on: folding runs
    expect(windows.heldStates).toEqual({ perPartition: 2, folded: 1, coarse: 0, history: 0 });
    expect(windows.get('5m')?.input.count).toBe(7);

    // a worker restored from a checkpoint republishes an older state of partition 0: ignored
    windows.applyMessage(finalInput(0, 0, [1], false));
    expect(windows.staleIgnored).toBe(1);
    expect(windows.get('5m')?.input.count).toBe(7);

    // partition 3 publishes pane 0 for the first time (its worker was behind): counted
    windows.applyMessage(finalInput(3, 0, [8, 9], true));
    expect(windows.get('5m')?.input.count).toBe(9);
    windows.applyMessage(finalInput(0, 2 * PANE, [10], false));
    expect(windows.heldStates).toEqual({ perPartition: 3, folded: 1, coarse: 0, history: 0 });
    expect(windows.get('5m')?.input.latency.sum).toBeCloseTo(55, 9);
    expect(windows.sumRange(0, PANE).input.count).toBe(8);
  });
});

describe('summary arrays on the wire', () => {
  it('round-trip exactly, sparse or dense', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.double({ noNaN: true, noDefaultInfinity: true })), { maxLength: 300 }), (cells) => {
        const summary = Float64Array.from(cells);
        const wire = summaryToWire(summary);
        expect(Array.from(summaryFromWire(wire))).toEqual(Array.from(summary));
        if (!Array.isArray(wire)) expect(wire.i.length * 3).toBeLessThanOrEqual(summary.length);
      }),
      { numRuns: 500 },
    );
    expect(Array.from(summaryFromWire(summaryToWire(Float64Array.from([-0, 0, 0, 0]))))).toEqual([-0, 0, 0, 0]);
  });
});

describe('numeric feature sketches of partitions with different centers', () => {
  function paneOf(partition: number, paneStart: number, values: number[]): PaneMessage {
    return inputMessage(partition, 'v1', paneStart, values);
  }

  it('are moved onto one set of buckets: a window holds their exact sum, and nothing is left once they all leave it', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    // each partition's pane picks its feature center from its own first values: 100, 300, 1000
    const byPartition = [0, 1, 2].map((p) => Array.from({ length: 40 }, (_, i) => [100, 300, 1000][p] + ((i * 7) % 40) - 20));
    for (let pane = 0; pane < 3; pane++) {
      for (const [p, values] of byPartition.entries()) windows.applyMessage(paneOf(p, pane * PANE, values));
    }
    const sketch = windows.get('1m')?.input.features.get('x')?.numeric;
    expect(sketch?.count).toBe(3 * 3 * 40);
    // every value within the sketch's accuracy after the move: the median and the extremes
    const all = byPartition.flat().sort((a, b) => a - b);
    expect(Math.abs((sketch?.quantile(0.5) ?? NaN) - all[Math.floor((all.length - 1) / 2)])).toBeLessThan(5);
    expect(Math.abs((sketch?.quantile(0) ?? NaN) - all[0])).toBeLessThan(1);
    expect(Math.abs((sketch?.quantile(1) ?? NaN) - all[all.length - 1])).toBeLessThan(2);

    // event time moves past every window: each pane is subtracted exactly as it was added
    windows.applyMessage(paneOf(0, 100 * PANE, [5]));
    windows.applyMessage(paneOf(0, 200 * PANE, [5]));
    const emptied = windows.get('5m')?.input.features.get('x')?.numeric;
    let buckets = 0;
    emptied?.forEachBucket(() => buckets++);
    expect(emptied?.count).toBe(1);
    expect(buckets).toBe(1);
  });

  it('a feature of few distinct values is moved value by value: the window holds what panes on its own center would give', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    // integer values (a count): each partition's pane centered on its own first value, 2, 7 and 0
    const byPartition = [2, 7, 0].map((first) => [first, ...Array.from({ length: 300 }, (_, i) => (i * 7 + first) % 10)]);
    for (const [p, values] of byPartition.entries()) windows.applyMessage(paneOf(p, 0, values));
    const sketch = windows.get('1m')!.input.features.get('x')!.numeric!;
    // what the window's buckets (those of partition 0's pane) give when every value is added to them
    const first = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const v of byPartition[0]) first.addFeature('x', v);
    const direct = first.features.get('x')!.numeric!.emptyLike();
    for (const v of byPartition.flat()) direct.add(v);
    const bucketsOf = (h: LogHistogram) => {
      const out: Array<[number, number]> = [];
      h.forEachBucket((value, weight) => out.push([value, weight]));
      return out;
    };
    expect(bucketsOf(sketch)).toEqual(bucketsOf(direct));
    // and every pane leaves exactly what it brought
    windows.applyMessage(paneOf(0, 100 * PANE, [5]));
    windows.applyMessage(paneOf(0, 200 * PANE, [5]));
    expect(windows.get('5m')!.input.features.get('x')!.numeric!.count).toBe(1);
  });
});

describe('a feature held on the buckets of its reference (bucketsHint)', () => {
  const values = Array.from({ length: 40 }, (_, i) => 100 + ((i * 7) % 40) - 20);

  it('holds the windows on the hinted center, with the same counts and quantiles as on its own', () => {
    const reference = new LogHistogram(featureAccuracyOf(DEFAULT_PANE_LIMITS), { center: 97.5, minIndexable: FEATURE_MIN_INDEXABLE });
    const asked: string[] = [];
    const hinted = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, { bucketsHint: (feature) => (asked.push(feature), reference) });
    const own = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    for (let pane = 0; pane < 3; pane++) {
      hinted.applyMessage(inputMessage(0, 'v1', pane * PANE, values));
      own.applyMessage(inputMessage(0, 'v1', pane * PANE, values));
    }
    expect(asked).toEqual(['x']); // once, when the feature's first sketch came
    const onHint = hinted.get('1m')?.input.features.get('x')?.numeric;
    const onOwn = own.get('1m')?.input.features.get('x')?.numeric;
    expect(onHint?.sameBuckets(reference)).toBe(true);
    expect(onOwn?.sameBuckets(reference)).toBe(false);
    expect(onHint?.count).toBe(120);
    for (const q of [0, 0.1, 0.5, 0.9, 1]) expect(Math.abs((onHint?.quantile(q) ?? NaN) - (onOwn?.quantile(q) ?? NaN)), `q ${q}`).toBeLessThan(2.5);
    // and everything leaves again exactly as it came
    hinted.applyMessage(inputMessage(0, 'v1', 100 * PANE, [5]));
    hinted.applyMessage(inputMessage(0, 'v1', 200 * PANE, [5]));
    let buckets = 0;
    hinted.get('5m')?.input.features.get('x')?.numeric?.forEachBucket(() => buckets++);
    expect(buckets).toBe(1);
  });

  it('ignores a hint of another accuracy or zero threshold: the windows keep the first sketch\'s buckets', () => {
    for (const reference of [new LogHistogram(0.05, { center: 97.5, minIndexable: FEATURE_MIN_INDEXABLE }), new LogHistogram(featureAccuracyOf(DEFAULT_PANE_LIMITS), { center: 97.5 })]) {
      const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, { bucketsHint: () => reference });
      windows.applyMessage(inputMessage(0, 'v1', 0, values));
      const sketch = windows.get('1m')?.input.features.get('x')?.numeric;
      expect(sketch?.relativeAccuracy).toBe(featureAccuracyOf(DEFAULT_PANE_LIMITS));
      expect(sketch?.minIndexable).toBe(FEATURE_MIN_INDEXABLE);
      expect(sketch?.center).not.toBe(97.5);
      expect(sketch?.count).toBe(40);
    }
  });
});

/** The message with every feature sketch sent as its values (FeatureWire.r) sent as its bytes instead, as a sender without r does. */
function withSketchBytes(message: PaneMessage): PaneMessage {
  const state = message.state as PaneInputWire;
  const features: Record<string, FeatureWire> = {};
  for (const [name, feature] of Object.entries(state.features)) {
    if (feature.r === undefined) {
      features[name] = feature;
      continue;
    }
    const r = feature.r;
    const settings = r.length === 2 ? { ...LISTED_SKETCH_DEFAULTS, center: r[0] } : { relativeAccuracy: r[2], minIndexable: r[3], maxBuckets: r[4], center: r[0] };
    const x = feature.x as ExactValuesWire;
    const { r: _r, ...rest } = feature;
    features[name] = { ...rest, n: LogHistogram.fromListedValues(x.v, x.c, r[1], settings).toBytes() };
  }
  return { ...message, state: { ...state, features } };
}

describe('partition states whose feature sketches are sent as their values (FeatureWire.r)', () => {
  it('change the windows as the same states with their sketches as bytes do, as each replaces the one before', () => {
    const update = fc.record({
      partition: fc.integer({ min: 0, max: 3 }),
      pane: fc.integer({ min: 0, max: 40 }),
      // a few values a second of a sparse feature: repeats, the zero, far and near ones
      values: fc.array(fc.oneof(fc.integer({ min: 1, max: 500 }), fc.constantFrom(0, 250.5, -3, 1e6)), { maxLength: 4 }),
      final: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(update, { minLength: 1, maxLength: 120 }), (updates) => {
        const asValues = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const asBytes = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
        const reader = new MsgpackReader();
        // each partition's pane gathers its values and is republished whole, as a worker's is
        const panes = new Map<string, number[]>();
        let sentAsValues = 0;
        for (const u of updates) {
          const key = `${u.partition}|${u.pane}`;
          const values = [...(panes.get(key) ?? []), ...u.values];
          panes.set(key, values);
          const message = { ...inputMessage(u.partition, 'v1', u.pane * PANE, values), final: u.final };
          if ((message.state as PaneInputWire).features.x?.r !== undefined) sentAsValues++;
          asValues.applyMessage(decodePaneMessage(encodePaneMessage(message), reader));
          asBytes.applyMessage(decodePaneMessage(encodePaneMessage(withSketchBytes(message)), reader));
        }
        expectSameWindows(asValues, asBytes);
        return sentAsValues > 0 || updates.every((u) => u.values.length === 0);
      }),
      { numRuns: 150 },
    );
  });

  it('are refused before anything changes where their values would not fit the sketch they stand for', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    windows.applyMessage(inputMessage(0, 'v1', 0, [5, 6]));
    const before = encode(inputToWire((windows.get('1m') as { input: PaneInput }).input));
    const message = inputMessage(0, 'v1', 0, [5, 6, 7]);
    // two buckets for values a thousand buckets apart: a sender would have sent the sketch's bytes
    const feature = (message.state as PaneInputWire).features.x;
    const r = feature.r as number[];
    (message.state as PaneInputWire).features.x = { ...feature, r: [r[0], r[1], DEFAULT_FEATURE_RELATIVE_ACCURACY, FEATURE_MIN_INDEXABLE, 2], x: { v: [5, 6, 7, 1e9], c: [1, 1, 1, 1], o: 0 } };
    expect(() => windows.applyMessage(decodePaneMessage(encodePaneMessage(message)))).toThrow(/state\.features\["x"\]\.r: .*more than maxBuckets 2/);
    expect(encode(inputToWire((windows.get('1m') as { input: PaneInput }).input))).toEqual(before);
  });
});

describe("the windows' bucket arrays in the model's arena", () => {
  /** A pane of 40 features whose values reach further out with each pane: the windows' arrays grow again and again. */
  function wideningMessage(partition: number, pane: number): PaneMessage {
    const state = new PaneInput(DEFAULT_PANE_LIMITS);
    for (let k = 0; k < 30 + 6 * pane; k++) {
      state.count++;
      state.latency.add(k);
      for (let f = 0; f < 40; f++) state.addFeature(`f${f}`, (1 + f) * Math.exp(((k * 7 + partition) % (30 + 6 * pane)) / 25));
    }
    return { model: 'm', version: 'v1', partition, paneStart: pane * PANE, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(state), final: false };
  }

  it('are moved into a new slab as the windows outgrow them, and sum what the panes hold', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS);
    for (let pane = 0; pane < 45; pane++) for (let partition = 0; partition < 3; partition++) windows.applyMessage(decodePaneMessage(encodePaneMessage(wideningMessage(partition, pane))));
    const figures = windows.arenaFigures;
    expect(figures.compactions).toBeGreaterThan(0);
    // what is free of the arena stays a small share of it, not the arrays the windows outgrew
    expect(figures.freeBytes).toBeLessThan(Math.max(16_384, figures.bytes / 4));
    // and what it holds is the windows' feature arrays (moved at each compaction, not left in the old slabs)
    let arrays = 0;
    for (const name of WINDOWS.keys()) (windows.get(name) as { input: PaneInput }).input.features.forEach((summary) => (arrays += summary.numeric?.bucketCapacityBytes ?? 0));
    expect(figures.bytes - figures.freeBytes).toBeGreaterThan(0.8 * arrays);
    // each window holds what its panes sum to, as a sum made without an arena says (sumRange: decoded from the states held)
    for (const [name, ms] of WINDOWS) {
      const window = (windows.get(name) as { input: PaneInput }).input;
      const summed = windows.sumRange(windows.end - ms, windows.end).input;
      expect(window.count).toBe(summed.count);
      for (let f = 0; f < 40; f++) {
        const [held, sum] = [window, summed].map((pane) => pane.features.get(`f${f}`)?.numeric as LogHistogram);
        expect(held.count).toBe(sum.count);
        for (const q of [0.001, 0.1, 0.5, 0.9, 0.999]) expect(held.quantile(q)).toBe(sum.quantile(q));
      }
    }
  });
});
