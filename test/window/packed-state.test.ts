import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { packPaneState, packStateBytes, unpackPaneState } from '../../src/window/packed-state.ts';
import { MsgpackReader } from '../../src/contract/msgpack-reader.ts';
import { decodePaneMessage, encodePaneMessage } from '../../src/contract/pane-codec.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome, inputToWire, outcomeFromWire, outcomeToWire } from '../../src/window/pane.ts';
import type { PaneInputWire, PaneOutcomeWire } from '../../src/contract/pane-wire.ts';

/** Byte arrays as plain arrays, so states compare by content (an inflated sketch is a Buffer). */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
}

/** A 10 s pane of 200 predictions: heavy-tailed numeric features (sketches spanning ~1,000 buckets), a flag, a category, segments. */
function heavyTailedInput(): PaneInputWire {
  const pane = new PaneInput({ ...DEFAULT_PANE_LIMITS, segmentSketchValues: 2 });
  for (let i = 0; i < 200; i++) {
    const u = ((i * 2654435761) >>> 0) / 4294967296;
    const segment = { region: i % 3 === 0 ? 'eu' : 'us' };
    pane.addPrediction(i % 7 === 0 ? 1 : 0, u, 0.5, 20 + (i % 50), i % 50 === 0, segment);
    pane.addFeature('amount', Math.tan(Math.PI * (u - 0.5)));
    pane.addFeature('wide', 1000 * Math.tan(Math.PI * (((u * 7) % 1) - 0.5)));
    pane.addFeature('flag', i % 2);
    pane.addFeature('country', i % 5 === 0 ? 'fr' : 'de');
    pane.addFeature('missing', null);
    pane.addSegmentFeatures(segment, { amount: Math.tan(Math.PI * (u - 0.5)) });
  }
  return inputToWire(pane);
}

function outcomeState(): PaneOutcomeWire {
  const pane = new PaneOutcome(DEFAULT_PANE_LIMITS);
  for (let i = 0; i < 100; i++) pane.addJoined(i % 3 === 0 ? 1 : 0, i % 4 === 0 ? 1 : 0, 0.5, 1000 * i, false, null);
  return outcomeToWire(pane);
}

function sketchBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.length;
  if (typeof value !== 'object' || value === null) return 0;
  return Object.values(value).reduce((sum: number, item) => sum + sketchBytes(item), 0);
}

describe('packed pane states', () => {
  it('give back every field and byte-for-byte every sketch of an input and an outcome state', () => {
    const input = heavyTailedInput();
    expect(plain(unpackPaneState(packPaneState(input)))).toEqual(plain(input));
    const outcome = outcomeState();
    expect(plain(unpackPaneState(packPaneState(outcome)))).toEqual(plain(outcome));
  });

  it('packed with raw sketches (an older partition state, a fine fold): every field and sketch back, in about its MessagePack size', () => {
    const input = heavyTailedInput();
    const packed = packPaneState(input, false);
    expect(plain(unpackPaneState(packed))).toEqual(plain(input));
    expect(packed.length).toBeLessThanOrEqual(encode(input).length + 2);
    expect(packed.buffer.byteLength).toBe(packed.byteLength);
    const outcome = outcomeState();
    expect(plain(unpackPaneState(packPaneState(outcome, false)))).toEqual(plain(outcome));
  });

  it('hold a heavy-tailed pane in fewer bytes than its wire form, in a buffer of its own size', () => {
    const input = heavyTailedInput();
    const packed = packPaneState(input);
    // sketches are written sparse already (a few hundred bytes here), so deflating each gains less
    // than it did on dense varints; the packed state is still smaller than the state as MessagePack
    expect(sketchBytes(input)).toBeGreaterThan(1000);
    expect(packed.length).toBeLessThan(encode(input).length);
    expect(packed.buffer.byteLength).toBe(packed.byteLength);
  });

  it('packed from a message\'s own bytes: byte for byte what packing the decoded state makes, read back the same with a reader', () => {
    const reader = new MsgpackReader();
    for (const [part, state] of [['in', heavyTailedInput()], ['out', outcomeState()]] as const) {
      const bytes = encodePaneMessage({ model: 'm', version: 'v1', partition: 3, paneStart: 0, paneMs: 10_000, part, seq: 7, final: false, state });
      const message = decodePaneMessage(bytes, reader);
      const stateBytes = message.stateBytes();
      expect(stateBytes).not.toBeNull();
      const packed = packStateBytes(stateBytes as Uint8Array);
      expect(Array.from(packed)).toEqual(Array.from(packPaneState(message.state, false)));
      expect(packed.buffer.byteLength).toBe(packed.byteLength); // a copy, not a view of the message
      expect(plain(unpackPaneState(packed, reader))).toEqual(plain(state));
      expect(plain(unpackPaneState(packed))).toEqual(plain(state));
    }
  });

  it('an older worker\'s outcome state (no `detections`) held from its bytes reads as none, as the check reads it; a message the general decoder read has no state bytes', () => {
    const state = outcomeState() as Partial<PaneOutcomeWire>;
    delete state.detections;
    const reader = new MsgpackReader();
    const message = decodePaneMessage(encode({ model: 'm', version: 'v1', partition: 0, paneStart: 0, paneMs: 10_000, part: 'out', seq: 1, final: false, state }), reader);
    expect(message.state).toHaveProperty('detections', {});
    const held = outcomeFromWire(unpackPaneState(packStateBytes(message.stateBytes() as Uint8Array), reader), DEFAULT_PANE_LIMITS);
    const checked = outcomeFromWire(message.state as PaneOutcomeWire, DEFAULT_PANE_LIMITS);
    expect(held.detections).toEqual(new Map());
    expect(plain(outcomeToWire(held))).toEqual(plain(outcomeToWire(checked)));
    // nor one the reader leaves to the general decoder (a timestamp in a field the check does not read)
    const odd = decodePaneMessage(encode({ model: 'm', version: 'v1', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: false, state: heavyTailedInput(), at: new Date(0) }), new MsgpackReader());
    expect(odd.stateBytes()).toBeNull();
  });

  it('refuses a sketch it did not pack, saying so', () => {
    const bogus = encode({ count: 1, latency: new Uint8Array([7, 1, 2, 3]) });
    expect(() => unpackPaneState(bogus)).toThrow(/a sketch starts with 7, neither raw \(0\) nor deflated \(1\)/);
    expect(() => unpackPaneState(encode([3, { count: 1 }]))).toThrow(/an array of 2 starting with 3, not \[0, state\]/);
  });
});
