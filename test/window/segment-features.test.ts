/** Per-segment feature summaries of a pane (limits.segmentSketchValues): bounds, wire form, windows. */
import { describe, expect, it } from 'vitest';
import { decodePaneMessage, encodePaneMessage, PaneMessageError } from '../../src/contract/pane-codec.ts';
import type { PaneInputWire, PaneMessage } from '../../src/contract/pane-wire.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, SEGMENT_SKETCH_FEATURES, addInput, inputFromWire, inputToWire } from '../../src/window/pane.ts';
import type { PaneLimits } from '../../src/window/pane.ts';

const LIMITS: PaneLimits = { ...DEFAULT_PANE_LIMITS, segmentSketchValues: 2 };

/**
 * 30 predictions over regions a, b, c (10 each) with a numeric x, a categorical plan and a null,
 * from a producer whose center of x is decided (a pane's first values of a feature without one
 * stay out of the segments' sketches: see the test below).
 */
function pane(limits: PaneLimits = LIMITS): PaneInput {
  const p = new PaneInput(limits, new Map([['x', 15]]));
  for (let i = 0; i < 30; i++) {
    const region = ['a', 'b', 'c'][i % 3];
    const features = { x: i, plan: i % 2 ? 'pro' : 'free', gone: null };
    p.addPrediction(0.7, 0.7, 0.5, 5, false, { region });
    for (const [name, v] of Object.entries(features)) p.addFeature(name, v);
    p.addSegmentFeatures({ region }, features);
  }
  return p;
}

function message(state: PaneInputWire): PaneMessage {
  return { model: 'm', version: 'v1', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: false, state };
}

describe('PaneInput.addSegmentFeatures', () => {
  it('summarizes the features of the first segmentSketchValues values of each key only', () => {
    const p = pane();
    const region = p.segmentFeatures.get('region')!;
    expect([...region.keys()]).toEqual(['a', 'b']);
    const a = region.get('a')!;
    expect(a.get('x')!.numeric!.count).toBe(10);
    expect(a.get('x')!.exact!.counts.get(0)).toBe(1);
    expect(a.get('plan')!.categories!.total).toBe(10);
    expect(a.get('gone')!.nulls).toBe(10);
  });

  it("lays a segment's numeric sketch on the feature's own center, leaving out values that come before it is decided", () => {
    const p = new PaneInput(LIMITS);
    for (let i = 0; i < 20; i++) {
      p.addPrediction(0.7, 0.7, 0.5, 5, false, { region: 'a' });
      p.addFeature('x', 100 + i);
      p.addSegmentFeatures({ region: 'a' }, { x: 100 + i });
    }
    // the pane decided x's center at its 16th value (the median of the first 16): from it on, 5 values are in
    const x = p.segmentFeatures.get('region')!.get('a')!.get('x')!;
    expect(x.numeric!.count).toBe(5);
    expect(x.numeric!.center).toBe(p.features.get('x')!.numeric!.center);
  });

  it('keeps at most SEGMENT_SKETCH_FEATURES features per segment', () => {
    const p = new PaneInput(LIMITS);
    const features = Object.fromEntries(Array.from({ length: SEGMENT_SKETCH_FEATURES + 4 }, (_, i) => [`f${i}`, i]));
    p.addPrediction(0.7, 0.7, 0.5, 5, false, { region: 'a' });
    p.addSegmentFeatures({ region: 'a' }, features);
    expect(p.segmentFeatures.get('region')!.get('a')!.size).toBe(SEGMENT_SKETCH_FEATURES);
  });

  it('follows the segment keys the pane counts: ever-new key names do not grow it', () => {
    const p = new PaneInput(LIMITS);
    for (let i = 0; i < 50; i++) {
      const segment = { [`key${i}`]: 'v' };
      p.addPrediction(0.7, 0.7, 0.5, 5, false, segment);
      p.addSegmentFeatures(segment, { x: i });
    }
    expect(p.segments.size).toBe(LIMITS.maxSegmentKeys);
    expect([...p.segmentFeatures.keys()]).toEqual([...p.segments.keys()]);
  });

  it('keeps none by default, and the wire form then has no segmentFeatures field', () => {
    const p = pane(DEFAULT_PANE_LIMITS);
    expect(p.segmentFeatures.size).toBe(0);
    expect('segmentFeatures' in inputToWire(p)).toBe(false);
  });
});

describe('per-segment features on the wire and in windows', () => {
  it('survive the pane codec and the wire form, and leave a window empty again when subtracted', () => {
    const decoded = decodePaneMessage(encodePaneMessage(message(inputToWire(pane()))));
    const back = inputFromWire(decoded.state as PaneInputWire, LIMITS);
    const b = back.segmentFeatures.get('region')!.get('b')!;
    expect(b.get('x')!.numeric!.count).toBe(10);
    expect(b.get('plan')!.categories!.total).toBe(10);
    const window = new PaneInput(LIMITS);
    addInput(window, back, 1);
    addInput(window, pane(), 1);
    expect(window.segmentFeatures.get('region')!.get('a')!.get('x')!.numeric!.count).toBe(20);
    addInput(window, back, -1);
    expect(window.segmentFeatures.get('region')!.get('a')!.get('x')!.numeric!.count).toBe(10);
  });

  it('refuses a malformed per-segment feature, naming where it is', () => {
    const state = inputToWire(pane());
    const bad = { ...state, segmentFeatures: { region: { a: { x: { n: 'not bytes', c: null, z: 0 } } } } } as unknown as PaneInputWire;
    let error: unknown;
    try {
      decodePaneMessage(encodePaneMessage(message(bad)));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PaneMessageError);
    expect((error as PaneMessageError).field).toBe('state.segmentFeatures["region"]["a"]["x"].n');
  });
});
