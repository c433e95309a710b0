import { describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import { ModelWindows } from '../../src/window/windows.ts';
import { DEFAULT_PANE_LIMITS, inputToWire, outcomeToWire } from '../../src/window/pane.ts';
import type { WindowAggregate } from '../../src/window/windows.ts';
import { decodePaneMessage, PaneMessageError } from '../../src/contract/pane-codec.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';
import { paneUpdates, PANE_MS } from '../contract/pane-stream.ts';

const WINDOWS = new Map([['30s', 30_000], ['1m', 60_000], ['5m', 300_000]]);
const updates = paneUpdates().filter((u) => u.subject.includes('.scores.'));
const messages = updates.map((u) => decodePaneMessage(u.payload));
const half = Math.floor(messages.length / 2);
const first = messages.slice(0, half);

/** A state, in the second half, of a pane whose earlier state the first half applied. */
function laterState(part: 'in' | 'out'): PaneMessage {
  const later = messages.find((m, k) => k >= half && m.part === part && first.some((f) => f.paneStart === m.paneStart && f.part === part && f.version === m.version));
  if (later === undefined) throw new Error(`the stream has no later '${part}' state of an applied pane`);
  return later;
}
const laterIn = laterState('in');
const laterOut = laterState('out');

function wireOf(aggregate: WindowAggregate | undefined): unknown {
  return aggregate === undefined ? null : { input: inputToWire(aggregate.input), outcome: outcomeToWire(aggregate.outcome) };
}

/** Everything a reader of the windows can see: every aggregate, the bounds, what is held. */
function view(windows: ModelWindows): unknown {
  const aggregates: Record<string, unknown> = {};
  for (const name of WINDOWS.keys()) {
    for (const version of [undefined, 'v1', 'v2']) aggregates[`${name}/${version ?? 'all'}`] = wireOf(windows.get(name, version));
  }
  return {
    aggregates,
    end: windows.end,
    paneMs: windows.paneMs,
    firstPaneStart: windows.firstPaneStart,
    versions: [...windows.versions].sort(),
    held: windows.heldStates,
    staleIgnored: windows.staleIgnored,
    history: wireOf(windows.sumRange(-Infinity, Infinity)),
  };
}

/** A message as an unchecked reader would pass it on: MessagePack data, with one field changed. */
function unchecked(message: PaneMessage, edit: (raw: Record<string, unknown>, state: Record<string, unknown>) => void): PaneMessage {
  const raw = decode(encode(message)) as Record<string, unknown>;
  edit(raw, raw.state as Record<string, unknown>);
  return raw as unknown as PaneMessage;
}

function truncated(bytes: unknown): Uint8Array {
  return (bytes as Uint8Array).subarray(0, (bytes as Uint8Array).length - 5);
}

/** [what, the valid state it spoils, the spoiled message, the field the refusal names] */
const malformed: Array<[string, PaneMessage, PaneMessage, RegExp]> = [
  ['truncated latency sketch of a stored pane', laterIn, unchecked(laterIn, (_, s) => (s.latency = truncated(s.latency))), /state\.latency: .*truncated/],
  ['truncated label-delay sketch of a stored pane', laterOut, unchecked(laterOut, (_, s) => (s.labelDelay = truncated(s.labelDelay))), /state\.labelDelay: .*truncated/],
  [
    'a newer pane with a truncated sketch (it would move the windows on)',
    laterIn,
    unchecked(laterIn, (raw, s) => {
      raw.paneStart = laterIn.paneStart + 30 * PANE_MS;
      s.latency = truncated(s.latency);
    }),
    /state\.latency/,
  ],
  [
    'a truncated feature sketch (the refusal names the feature)',
    laterIn,
    unchecked(laterIn, (_, s) => {
      const features = s.features as Record<string, { n: unknown }>;
      const name = Object.keys(features).find((feature) => features[feature].n instanceof Uint8Array);
      if (name === undefined) throw new Error('the stream has no numeric feature');
      features[name].n = truncated(features[name].n);
    }),
    /state\.features\["[^"]+"\]\.n: .*truncated/,
  ],
  ['a NaN count', laterIn, unchecked(laterIn, (_, s) => (s.count = NaN)), /state\.count: .*NaN/],
  ['a NaN outcome count', laterOut, unchecked(laterOut, (_, s) => (s.correct = NaN)), /state\.correct/],
  ['a count of the wrong type', laterIn, unchecked(laterIn, (_, s) => (s.errors = '3')), /state\.errors/],
  ['an unknown part', laterIn, unchecked(laterIn, (raw) => (raw.part = 'both')), /part/],
  ['a sparse summary index out of range', laterIn, unchecked(laterIn, (_, s) => (s.scores = { n: 5, i: [7], v: [1] })), /state\.scores\.i\[0\]/],
  ['a summary of another layout', laterOut, unchecked(laterOut, (_, s) => (s.binary = [100, 0.5, 0, 0])), /state\.binary: .*size/],
  ['a state of the other part', laterOut, unchecked(laterOut, (raw) => (raw.part = 'in')), /state\.count/],
  ['segment counts of the wrong width', laterOut, unchecked(laterOut, (_, s) => (s.segments = { region: { eu: [1, 2] } })), /state\.segments\["region"\]\["eu"\]/],
];

describe('a malformed changelog message', () => {
  it.each(malformed)('leaves every window exactly as it was: %s', (_, later, bad, field) => {
    const windows = new ModelWindows('scores', WINDOWS, DEFAULT_PANE_LIMITS);
    for (const message of first) windows.applyMessage(message);
    const before = view(windows);
    expect(() => windows.applyMessage(bad)).toThrow(PaneMessageError);
    expect(() => windows.applyMessage(bad)).toThrow(field);
    expect(view(windows)).toEqual(before);

    // the next valid state of the same pane applies as if the bad one never came
    const reference = new ModelWindows('scores', WINDOWS, DEFAULT_PANE_LIMITS);
    for (const message of first) reference.applyMessage(message);
    windows.applyMessage(later);
    reference.applyMessage(later);
    expect(view(windows)).toEqual(view(reference));
    expect(view(windows)).not.toEqual(before);
  });

  it('interleaved with a whole valid stream, malformed messages leave the windows of the valid stream alone', () => {
    const windows = new ModelWindows('scores', WINDOWS, DEFAULT_PANE_LIMITS);
    const reference = new ModelWindows('scores', WINDOWS, DEFAULT_PANE_LIMITS);
    for (const [k, message] of messages.entries()) {
      reference.applyMessage(message);
      windows.applyMessage(message);
      const bad = malformed[k % malformed.length][2];
      expect(() => windows.applyMessage(bad)).toThrow(PaneMessageError);
    }
    expect(view(windows)).toEqual(view(reference));
  });
});
