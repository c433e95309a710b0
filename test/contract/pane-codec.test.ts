import { describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import { checkPaneMessage, decodePaneMessage, encodePaneMessage, PaneMessageError } from '../../src/contract/pane-codec.ts';
import { MsgpackReader } from '../../src/contract/msgpack-reader.ts';
import type { PaneInputWire, PaneMessage, PaneOutcomeWire } from '../../src/contract/pane-wire.ts';
import { LISTED_SKETCH_DEFAULTS } from '../../src/contract/pane-wire.ts';
import { BucketScratch } from '../../src/sketch/bucket-store.ts';
import { DEFAULT_FEATURE_RELATIVE_ACCURACY, DEFAULT_PANE_LIMITS, FEATURE_MIN_INDEXABLE, PaneInput, addInput, inputFromWire, inputToWire, outcomeFromWire, outcomeToWire } from '../../src/window/pane.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/partition/checkpoint.ts';
import { PendingJoinTable } from '../../src/join/pending-table.ts';
import { REJECT_REASONS } from '../../src/events/types.ts';
import type { RejectReason } from '../../src/events/types.ts';
import { paneUpdates } from './pane-stream.ts';

const updates = paneUpdates();
const messages = updates.map((u) => decodePaneMessage(u.payload));
const input = messages.find((m) => m.part === 'in' && m.model === 'scores' && (m.state as PaneInputWire).scores !== null) as PaneMessage;
const outcome = messages.find((m) => m.part === 'out' && m.model === 'scores' && (m.state as PaneOutcomeWire).binary !== null) as PaneMessage;

const REMOVE = Symbol('remove');
/** A new value, REMOVE, or a function of the old value (typed by the test that edits). */
type Edit = unknown;

/**
 * The message as plain MessagePack data with the field at a dotted path (`state.features.a.z`)
 * replaced by `edit` (a value, a function of the old value, or REMOVE), encoded again.
 */
function tampered(message: PaneMessage, path: string, edit: Edit): Uint8Array {
  const raw = decode(encodePaneMessage(message)) as Record<string, unknown>;
  const keys = path.split('.');
  let at = raw;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  const last = keys[keys.length - 1];
  const value = typeof edit === 'function' ? (edit as (old: unknown) => unknown)(at[last]) : edit;
  if (value === REMOVE) delete at[last];
  else at[last] = value;
  return encode(raw);
}

function refusal(bytes: Uint8Array): PaneMessageError {
  try {
    decodePaneMessage(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(PaneMessageError);
    return error as PaneMessageError;
  }
  throw new Error('the message was accepted');
}

describe('pane message codec', () => {
  it('gives back exactly what a processor published, for every kind of pane', () => {
    expect(new Set(messages.map((m) => `${m.model}/${m.part}`))).toEqual(
      new Set(['scores/in', 'scores/out', 'prices/in', 'prices/out', 'classes/in', 'classes/out']),
    );
    for (let k = 0; k < updates.length; k++) {
      const message = messages[k];
      expect(message).toEqual(decode(updates[k].payload));
      expect(decodePaneMessage(encodePaneMessage(message))).toEqual(message);
      // and the state converts to a pane whose wire form is the state again
      const state = message.part === 'in'
        ? inputToWire(inputFromWire(message.state as PaneInputWire, DEFAULT_PANE_LIMITS))
        : outcomeToWire(outcomeFromWire(message.state as PaneOutcomeWire, DEFAULT_PANE_LIMITS));
      expect(state).toEqual(message.state);
    }
  });

  it('reads a message without `final` or `detections` (older workers) as not final, with no detections', () => {
    const raw = decode(encodePaneMessage(outcome)) as { final?: boolean; state: { detections?: unknown } };
    delete raw.final;
    delete raw.state.detections;
    const message = decodePaneMessage(encode(raw));
    expect(message.final).toBe(false);
    expect((message.state as PaneOutcomeWire).detections).toEqual({});
  });

  it('refuses a field of the wrong type, naming it', () => {
    expect(refusal(tampered(input, 'state.count', '12')).field).toBe('state.count');
    expect(refusal(tampered(input, 'model', 7)).field).toBe('model');
    expect(refusal(tampered(input, 'state.latency', [1, 2, 3])).field).toBe('state.latency');
    expect(refusal(tampered(input, 'state.features.a.z', null)).field).toBe('state.features["a"].z');
    expect(refusal(tampered(outcome, 'final', 'yes')).field).toBe('final');
    expect(refusal(tampered(input, 'state.segments', REMOVE)).field).toBe('state.segments');
    const error = refusal(tampered(input, 'state.count', '12'));
    expect(error.message).toContain('state.count');
    expect(error.message).toContain('"12"');
  });

  it('refuses a NaN, infinite or negative count', () => {
    for (const bad of [NaN, Infinity, -1]) {
      expect(refusal(tampered(input, 'state.count', bad)).field).toBe('state.count');
      expect(refusal(tampered(outcome, 'state.joined', bad)).field).toBe('state.joined');
    }
    expect(refusal(tampered(input, 'state.segments.region.eu.0', NaN)).field).toBe('state.segments["region"]["eu"][0]');
  });

  it('refuses a bad cell of a list of values or counts, naming the cell and what it held', () => {
    const listed = (input.state as PaneInputWire).features.a.x as { v: number[] };
    expect(listed.v.length).toBeGreaterThan(1);
    const last = listed.v.length - 1;
    for (const [bad, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity'], ['7', '"7"'], [null, 'null']] as const) {
      const error = refusal(tampered(input, `state.features.a.x.v.${last}`, bad));
      expect(error.field).toBe(`state.features["a"].x.v[${last}]`);
      expect(error.message).toContain(shown);
    }
    for (const bad of [-1, NaN, -Infinity, 'one']) expect(refusal(tampered(input, 'state.features.a.x.c.0', bad)).field).toBe('state.features["a"].x.c[0]');
    // a count may be a fraction (sampled weights) and a value any finite number
    expect(decodePaneMessage(tampered(input, 'state.features.a.x.c.0', 0.25)).state).toBeDefined();
    expect(decodePaneMessage(tampered(input, `state.features.a.x.v.${last}`, -1e300)).state).toBeDefined();
  });

  it('carries the counts of feature values of a type no feature can have, and refuses a bad one', () => {
    const withInvalid = decodePaneMessage(tampered(input, 'state.invalidFeatures', { vip: 3 }));
    expect((withInvalid.state as PaneInputWire).invalidFeatures).toEqual({ vip: 3 });
    expect(inputFromWire(withInvalid.state as PaneInputWire, DEFAULT_PANE_LIMITS).invalidFeatures).toEqual(new Map([['vip', 3]]));
    // absent (older workers, or none): no counts
    expect((input.state as PaneInputWire).invalidFeatures).toBeUndefined();
    expect(refusal(tampered(input, 'state.invalidFeatures', { vip: -1 })).field).toBe('state.invalidFeatures["vip"]');
  });

  it('refuses an unknown part, and a state that is not of its part', () => {
    expect(refusal(tampered(input, 'part', 'both')).field).toBe('part');
    // an outcome state under part 'in' misses the input fields
    expect(refusal(tampered(input, 'state', decode(encode(outcome.state)))).field).toBe('state.count');
    expect(refusal(tampered(outcome, 'part', 'in')).field).toBe('state.count');
  });

  it('refuses sparse summaries whose indexes are out of range, repeated or mismatched', () => {
    const sparse = tampered(input, 'state.scores', { n: 204, i: [3, 9], v: [1, 2] });
    expect(decodePaneMessage(sparse).state).toMatchObject({ scores: { n: 204, i: [3, 9], v: [1, 2] } });
    expect(refusal(tampered(input, 'state.scores', { n: 204, i: [3, 204], v: [1, 2] })).field).toBe('state.scores.i[1]');
    expect(refusal(tampered(input, 'state.scores', { n: 204, i: [-1], v: [1] })).field).toBe('state.scores.i[0]');
    expect(refusal(tampered(input, 'state.scores', { n: 204, i: [9, 3], v: [1, 2] })).field).toBe('state.scores.i[1]');
    expect(refusal(tampered(input, 'state.scores', { n: 204, i: [3, 9], v: [1] })).field).toBe('state.scores.v');
    expect(refusal(tampered(input, 'state.scores', { n: 1e9, i: [], v: [] })).field).toBe('state.scores.n');
    expect(refusal(tampered(outcome, 'state.binary', [1, 2, NaN])).field).toBe('state.binary[2]');
  });

  it('refuses category counts that do not pair up', () => {
    expect(refusal(tampered(input, 'state.features.c.c.keys', (keys: string[]) => [...keys, 'z'])).field).toBe('state.features["c"].c.keys');
    expect(refusal(tampered(input, 'state.features.c.c.counts.0', 0)).field).toBe('state.features["c"].c.counts[0]');
    expect(refusal(tampered(input, 'state.features.c.c.keys.0', 5)).field).toBe('state.features["c"].c.keys[0]');
  });

  it('refuses bytes that are not a message, and header fields out of shape', () => {
    expect(refusal(Uint8Array.of(0xc1)).field).toBe('(message)');
    expect(refusal(encode([1, 2, 3])).field).toBe('(message)');
    expect(refusal(tampered(input, 'paneStart', (start: number) => start + 1)).field).toBe('paneStart');
    expect(refusal(tampered(input, 'paneMs', 0)).field).toBe('paneMs');
    expect(refusal(tampered(input, 'partition', 1.5)).field).toBe('partition');
  });

  it('reads every message with one kept reader as the general decoder does, and refuses what it cannot read with the same message', () => {
    const reader = new MsgpackReader();
    for (let round = 0; round < 2; round++) {
      // the second round reads names and keys from the reader's caches
      for (const update of updates) expect(decodePaneMessage(update.payload, reader)).toEqual(decode(update.payload));
    }
    // an ext value (a timestamp) where a count goes: the general decoder reads it, the check names the field
    const timestamp = tampered(input, 'state.count', new Date(0));
    expect(() => decodePaneMessage(timestamp, reader)).toThrow(refusal(timestamp).message);
    expect(refusal(timestamp).field).toBe('state.count');
    // bytes cut short are not MessagePack, with or without a reader
    const cut = updates[0].payload.subarray(0, 40);
    expect(() => decodePaneMessage(cut, reader)).toThrow(/\(message\): not MessagePack/);
    // and the reader still reads what follows
    expect(decodePaneMessage(updates[1].payload, reader)).toEqual(decode(updates[1].payload));
  });

  it('checks a decoded message once: given again it is passed as it is, a copy of it is checked', () => {
    const checked = decodePaneMessage(encodePaneMessage(input));
    expect(checkPaneMessage(checked)).toBe(checked);
    // a spread is a plain object: checked again, so an edit of a copy cannot slip through
    expect(() => checkPaneMessage({ ...checked, paneMs: 0 })).toThrow(PaneMessageError);
    expect(checkPaneMessage({ ...checked })).toEqual(checked);
    // fencing fields are absent, not undefined, when the wire had none
    expect(Object.keys(checked)).not.toContain('worker');
    // the features are checked where they are, not copied
    const plain = decode(encodePaneMessage(input)) as { state: { features: unknown } };
    expect((checkPaneMessage(plain).state as PaneInputWire).features).toBe(plain.state.features);
  });

  it('refuses feature names a decoder never makes but an object in memory may have', () => {
    const state = decode(encodePaneMessage(input)) as { state: { features: Record<string, unknown> } };
    const [first] = Object.values(state.state.features);
    const withProto = { ...state, state: { ...state.state, features: JSON.parse(`{"__proto__": ${JSON.stringify({ ...(first as object), n: null })}}`) as unknown } };
    expect(() => checkPaneMessage(withProto)).toThrow(/state\.features: a key named __proto__/);
    const longName = { ...state, state: { ...state.state, features: { ['f'.repeat(5000)]: first } } };
    expect(() => checkPaneMessage(longName)).toThrow(/state\.features: a key of 5000 characters, more than 4096/);
  });
});

describe('pane states the codec passes but the pane layout refuses', () => {
  it('truncated or foreign sketch bytes name the field', () => {
    const state = decodePaneMessage(tampered(input, 'state.latency', (bytes: Uint8Array) => bytes.subarray(0, bytes.length - 3))).state;
    expect(() => inputFromWire(state as PaneInputWire, DEFAULT_PANE_LIMITS)).toThrow(PaneMessageError);
    expect(() => inputFromWire(state as PaneInputWire, DEFAULT_PANE_LIMITS)).toThrow(/state\.latency: .*truncated/);
    const foreign = decodePaneMessage(tampered(input, 'state.features.a.n', Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))).state;
    expect(() => inputFromWire(foreign as PaneInputWire, DEFAULT_PANE_LIMITS)).toThrow(/state\.features\["a"\]\.n: /);
    // a feature's categories: the codec passes their shape, the counter refuses two counts for one key
    const categories = { ...(foreign as PaneInputWire), features: { a: { n: null, c: { cap: 10, keys: ['x'], counts: [1, 2] }, z: 0 } } };
    expect(() => inputFromWire(categories as PaneInputWire, DEFAULT_PANE_LIMITS)).toThrow(/state\.features\["a"\]\.c: .*keys has 1 entries but counts has 2/);
  });

  it('a sketch of other settings, a summary of another layout, or segment counts of the wrong width', () => {
    const coarser = { ...DEFAULT_PANE_LIMITS, relativeAccuracy: 0.02 };
    expect(() => inputFromWire(input.state as PaneInputWire, coarser)).toThrow(/state\.latency: sketch settings/);
    const otherThreshold = { ...DEFAULT_PANE_LIMITS, threshold: 0.7 };
    expect(() => inputFromWire(input.state as PaneInputWire, otherThreshold)).toThrow(/state\.scores: .*configuration cell 1/);
    expect(() => outcomeFromWire(outcome.state as PaneOutcomeWire, otherThreshold)).toThrow(/state\.binary: /);
    const short = decodePaneMessage(tampered(outcome, 'state.binary', [100, 0.5, ...new Array<number>(98).fill(0)])).state;
    expect(() => outcomeFromWire(short as PaneOutcomeWire, DEFAULT_PANE_LIMITS)).toThrow(/state\.binary: .*size/);
    const wide = decodePaneMessage(tampered(input, 'state.segments.region.eu', (counts: number[]) => [...counts, 1])).state;
    expect(() => inputFromWire(wide as PaneInputWire, DEFAULT_PANE_LIMITS)).toThrow(/state\.segments\["region"\]\["eu"\]: expected 2 counts, got 3/);
  });
});

describe('feature centers in pane messages (sketch bytes format 2) and older panes without them', () => {
  function paneOf(values: number[], centers: Map<string, number> | null): PaneInput {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS, centers);
    for (const v of values) {
      pane.count++;
      pane.addFeature('t', v);
    }
    return pane;
  }

  it('round-trips a feature sketch with its center and exact zeros through the codec', () => {
    const centers = new Map<string, number>();
    const pane = paneOf([293.1, 292.8, 0, 293.4, 293.05], centers);
    const message: PaneMessage = { model: 'm', version: 'v', partition: 3, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, state: inputToWire(pane), final: false };
    const back = inputFromWire(decodePaneMessage(encodePaneMessage(message)).state as PaneInputWire, DEFAULT_PANE_LIMITS);
    const sketch = back.features.get('t')?.numeric;
    expect(sketch?.center).toBe(centers.get('t'));
    expect(sketch?.center).toBe(293.05); // median (lower middle) of the five values
    expect(sketch?.originCount).toBe(1);
    expect(sketch?.count).toBe(5);
    expect(inputToWire(back)).toEqual(message.state);
  });

  it('decodes a pane of an older worker (format-1 sketch, center 0, 1 %) and windows rebin it with exact counts', () => {
    const old = new LogHistogram(0.01);
    for (const v of [293.1, 292.8, 293.4]) old.add(v);
    const oldBytes = old.toBytes();
    expect(oldBytes[4]).toBe(1);
    const state = inputToWire(paneOf([293.1, 292.8, 293.4], null));
    state.features.t = { ...state.features.t, n: oldBytes };
    const message: PaneMessage = { model: 'm', version: 'v', partition: 1, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, state, final: false };
    const oldPane = inputFromWire(decodePaneMessage(encodePaneMessage(message)).state as PaneInputWire, DEFAULT_PANE_LIMITS);
    expect(oldPane.features.get('t')?.numeric?.center).toBe(0);

    const window = new PaneInput(DEFAULT_PANE_LIMITS);
    const newPane = paneOf([293.2, 293.0, 292.9, 293.3], new Map());
    addInput(window, newPane, 1);
    addInput(window, oldPane, 1);
    const sketch = window.features.get('t')?.numeric;
    expect(sketch?.center).toBe(293); // the window keeps the first pane's center and rebins the old one
    expect(sketch?.count).toBe(7);
    addInput(window, oldPane, -1);
    expect(sketch?.count).toBe(4);
    expect(window.features.get('t')?.numeric?.quantile(0)).toBeCloseTo(292.9, 2);
  });

  it('restores a checkpoint whose panes hold format-1 sketches, and keeps their center for the pane', () => {
    const old = new LogHistogram(0.01);
    old.add(5);
    const state = inputToWire(paneOf([5], null));
    state.features.t = { ...state.features.t, n: old.toBytes() };
    const bytes = encodeCheckpoint({
      partition: 0, seq: 7, watermark: 10, counters: { predictions: 1, labels: 0, late: 0, duplicates: 0, rejected: Object.fromEntries(REJECT_REASONS.map((reason) => [reason, 0])) as Record<RejectReason, number> },
      groups: [{ model: 'm', version: 'v', inputs: [[0, state]], outcomes: [], detectors: [], watermark: 10 }],
      join: new PendingJoinTable().toBytes(),
      held: [],
    });
    const checkpoint = decodeCheckpoint(bytes, 0, DEFAULT_PANE_LIMITS);
    const pane = checkpoint.groups[0].inputs[0][1];
    const centers = new Map<string, number>();
    pane.shareFeatureCenters(centers);
    expect(centers.get('t')).toBe(0);
    pane.addFeature('t', 6);
    expect(pane.features.get('t')?.numeric?.count).toBe(2);
  });
});

function sparsePaneOf(values: number[]): PaneInput {
  const pane = new PaneInput(DEFAULT_PANE_LIMITS, new Map());
  for (const v of values) {
    pane.count++;
    pane.addFeature('t', v);
  }
  return pane;
}

function messageOf(pane: PaneInput): PaneMessage {
  return { model: 'm', version: 'v', partition: 3, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, state: inputToWire(pane), final: false };
}

describe('a feature sketch sent as the values its exact counts list (FeatureWire.r)', () => {
  // a sparse pane's feature: a few values, the center (the median) and a zero among them, one repeated
  const values = [293.1, 292.8, 0, 293.4, 293.05, 292.8, -4.25];

  it('is sent without its bytes where the counts list every value, and read back as the same sketch', () => {
    const pane = sparsePaneOf(values);
    // a pane's sketches settle on their centers when it is first sent (inputToWire)
    const message = messageOf(pane);
    const sketch = pane.features.get('t')?.numeric as LogHistogram;
    const feature = (message.state as PaneInputWire).features.t;
    expect(feature.r).toEqual([sketch.center, sketch.sum]);
    // no `n` key at all: a reader of before r takes `n` as bytes or null and refuses the message, it does not read "no sketch"
    const raw = decode(encodePaneMessage(message)) as { state: { features: { t: Record<string, unknown> } } };
    expect(Object.keys(raw.state.features.t).sort()).toEqual(['c', 'r', 'x', 'z']);
    for (const scratch of [undefined, new BucketScratch()]) {
      const back = inputFromWire(decodePaneMessage(encodePaneMessage(message)).state as PaneInputWire, DEFAULT_PANE_LIMITS, 'state', scratch);
      const rebuilt = back.features.get('t')?.numeric as LogHistogram;
      expect(Buffer.from(rebuilt.toBytes()).equals(Buffer.from(sketch.toBytes()))).toBe(true);
      expect(inputToWire(back)).toEqual(message.state);
    }
    // the bytes it saves: the sketch's header alone was 72
    const asBytes = tampered(message, 'state.features.t', (t: Record<string, unknown>) => ({ n: sketch.toBytes(), c: t.c, z: t.z, x: t.x }));
    expect(encodePaneMessage(message).length).toBeLessThan(asBytes.length - 72);
  });

  it('is sent as bytes where the counts do not list every value (a pane past its cap of distinct values)', () => {
    const many = Array.from({ length: 40 }, (_, k) => 100 + k * 0.37);
    const feature = (messageOf(sparsePaneOf(many)).state as PaneInputWire).features.t;
    expect(feature.r).toBeUndefined();
    expect(feature.n).toBeInstanceOf(Uint8Array);
    expect(feature.x?.o).toBeGreaterThan(0);
  });

  it("carries the sketch's settings where they are not the defaults, and the defaults are the pane features'", () => {
    expect(LISTED_SKETCH_DEFAULTS).toEqual({ relativeAccuracy: DEFAULT_FEATURE_RELATIVE_ACCURACY, minIndexable: FEATURE_MIN_INDEXABLE, maxBuckets: new LogHistogram().maxBuckets });
    const limits = { ...DEFAULT_PANE_LIMITS, featureRelativeAccuracy: 0.01 };
    const pane = new PaneInput(limits, new Map());
    for (const v of values) pane.addFeature('t', v);
    const feature = inputToWire(pane).features.t;
    const sketch = pane.features.get('t')?.numeric as LogHistogram;
    expect(feature.r).toEqual([sketch.center, sketch.sum, 0.01, FEATURE_MIN_INDEXABLE, sketch.maxBuckets]);
    const rebuilt = inputFromWire(inputToWire(pane), limits).features.get('t')?.numeric as LogHistogram;
    expect(Buffer.from(rebuilt.toBytes()).equals(Buffer.from(sketch.toBytes()))).toBe(true);
  });

  it('is refused, naming the field, where its counts do not list every value, are missing, or its numbers are out of shape', () => {
    const message = messageOf(sparsePaneOf(values));
    const cases: Array<[string, Edit, string, RegExp]> = [
      ['x.o', 2, 'state.features["t"].x.o', /needs every value listed \(o 0\), got 2/],
      ['x', REMOVE, 'state.features["t"].x', /needs the exact counts that list them/],
      ['r', [1], 'state.features["t"].r', /expected \[center, sum\]/],
      ['r', 'x', 'state.features["t"].r', /got the string "x"/],
      ['r', [1, Number.NaN], 'state.features["t"].r[1]', /expected a finite number, got NaN/],
      ['r', [1, 2, 1.5, 1e-300, 2048], 'state.features["t"].r[2]', /relative accuracy in \(0, 1\), got 1.5/],
      ['r', [1, 2, 0.005, 0, 2048], 'state.features["t"].r[3]', /zero threshold > 0, got 0/],
      ['r', [1, 2, 0.005, 1e-300, 2.5], 'state.features["t"].r[4]', /integer maxBuckets >= 2, got 2.5/],
    ];
    for (const [part, edit, field, problem] of cases) {
      const error = refusal(tampered(message, `state.features.t.${part}`, edit));
      expect(error.field).toBe(field);
      expect(error.message).toMatch(problem);
    }
  });
});
