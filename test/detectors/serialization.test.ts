import { describe, expect, it } from 'vitest';
import {
  Adwin,
  createDetector,
  Ddm,
  detectorFromJSON,
  DETECTOR_KINDS,
  Eddm,
  HddmA,
  HddmW,
  PageHinkley,
  type ChangeDetector,
  type DetectorKind,
} from '../../src/stats/detectors/index.ts';
import { bernoulliStream, gaussianStream } from './streams.ts';

/** Signals after each update, encoded as 'd' (drift), 'w' (warning) or '.' for compact comparison. */
function signals(detector: ChangeDetector, values: readonly number[]): string {
  let out = '';
  for (const x of values) {
    detector.update(x);
    out += detector.driftDetected ? 'd' : detector.warningDetected ? 'w' : '.';
  }
  return out;
}

/** A stream that makes every detector warn and drift several times (error rate steps up and down). */
function eventfulStream(seed: number): number[] {
  return [
    ...bernoulliStream(seed, 3000, 3000, 0.1, 0.1),
    ...bernoulliStream(seed + 1, 3000, 0, 0.5, 0.5),
    ...bernoulliStream(seed + 2, 3000, 0, 0.05, 0.05),
    ...bernoulliStream(seed + 3, 3000, 0, 0.6, 0.6),
  ];
}

const OPTIONS_FOR_EVENTS: { [K in DetectorKind]?: object } = {
  // Lower thresholds so Page–Hinkley also fires on this 0/1 stream.
  page_hinkley: { threshold: 15 },
};

describe('toJSON / fromJSON round trip mid-stream', () => {
  for (const kind of DETECTOR_KINDS) {
    it(`${kind}: a restored detector continues exactly like the original`, () => {
      const values = eventfulStream(7);
      const reference = signals(createDetector(kind, OPTIONS_FOR_EVENTS[kind]), values);
      expect(reference).toContain('d');
      // Snapshot points: before any value, inside the warm start, mid-stream, and right at each
      // drift (the state where the next update must reset).
      const drifts = [...reference].flatMap((s, i) => (s === 'd' ? [i + 1] : []));
      const cuts = [0, 10, 1234, 4567, 9001, ...drifts.slice(0, 3)];
      for (const cut of cuts) {
        const original = createDetector(kind, OPTIONS_FOR_EVENTS[kind]);
        const before = signals(original, values.slice(0, cut));
        const state = JSON.parse(JSON.stringify(original.toJSON())) as unknown;
        const restored = detectorFromJSON(state);
        expect(restored.kind).toBe(kind);
        expect(restored.driftDetected).toBe(original.driftDetected);
        expect(restored.warningDetected).toBe(original.warningDetected);
        expect(restored.toJSON()).toEqual(original.toJSON());
        const after = signals(restored, values.slice(cut));
        expect(before + after, `snapshot at ${cut}`).toBe(reference);
        signals(original, values.slice(cut));
        expect(restored.toJSON()).toEqual(original.toJSON());
      }
    });
  }

  it('the static fromJSON of each class restores its own kind', () => {
    const values = bernoulliStream(3, 3000, 1500, 0.1, 0.4);
    const pairs: [ChangeDetector, (s: unknown) => ChangeDetector][] = [
      [new Adwin(), (s) => Adwin.fromJSON(s)],
      [new PageHinkley(), (s) => PageHinkley.fromJSON(s)],
      [new Ddm(), (s) => Ddm.fromJSON(s)],
      [new Eddm(), (s) => Eddm.fromJSON(s)],
      [new HddmA(), (s) => HddmA.fromJSON(s)],
      [new HddmW({ lambda: 0.1, twoSidedTest: true }), (s) => HddmW.fromJSON(s)],
    ];
    for (const [detector, restore] of pairs) {
      signals(detector, values.slice(0, 1600));
      const copy = restore(JSON.parse(JSON.stringify(detector)));
      expect(copy.constructor).toBe(detector.constructor);
      expect(signals(copy, values.slice(1600))).toBe(signals(detector, values.slice(1600)));
    }
  });

  it('states hold no Infinity or NaN (JSON would turn them into null)', () => {
    for (const kind of DETECTOR_KINDS) {
      const fresh = createDetector(kind);
      const text = JSON.stringify(fresh.toJSON());
      expect(JSON.parse(text)).toEqual(fresh.toJSON());
      const used = createDetector(kind);
      signals(used, bernoulliStream(5, 500, 500, 0.2, 0.2));
      expect(JSON.parse(JSON.stringify(used.toJSON()))).toEqual(used.toJSON());
    }
  });

  it('ADWIN with many bucket rows (grown storage) round-trips', () => {
    // maxBuckets 1 doubles the bucket size on every row: 2^17 values need 17 rows, past the
    // initial capacity of 16.
    const adwin = new Adwin({ maxBuckets: 1 });
    const values = gaussianStream(9, 140_000, 140_000, 0, 0, 1);
    for (const x of values.slice(0, 135_000)) adwin.update(x);
    const state = adwin.toJSON();
    expect(state.rows.length).toBeGreaterThan(16);
    expect(state.width).toBe(adwin.width);
    const restored = Adwin.fromJSON(JSON.parse(JSON.stringify(state)));
    expect(restored.width).toBe(adwin.width);
    expect(signals(restored, values.slice(135_000))).toBe(signals(adwin, values.slice(135_000)));
  });
});

describe('fromJSON rejects bad states with the field at fault', () => {
  it('wrong kind, version, missing or mistyped fields', () => {
    const adwin = new Adwin();
    for (let i = 0; i < 100; i++) adwin.update(i % 3);
    const good = adwin.toJSON();
    expect(() => Adwin.fromJSON(null)).toThrow(/state must be an object/);
    expect(() => Adwin.fromJSON({ ...good, kind: 'ddm' })).toThrow(/state.kind must be 'adwin'/);
    expect(() => Adwin.fromJSON({ ...good, version: 99 })).toThrow(/unsupported state.version 99/);
    expect(() => Adwin.fromJSON({ ...good, total: 'x' })).toThrow(/state.total must be a finite number/);
    expect(() => Adwin.fromJSON({ ...good, width: good.width + 1 })).toThrow(/state.rows hold 100 values but state.width is 101/);
    expect(() => Adwin.fromJSON({ ...good, options: { ...good.options, delta: 2 } })).toThrow(/option 'delta'/);
    expect(() => Ddm.fromJSON({ ...new Ddm().toJSON(), n: -1 })).toThrow(/state.n must be a non-negative integer/);
    expect(() => HddmW.fromJSON({ ...new HddmW().toJSON(), s1Incr: { ewma: 0, initialized: 'no', ibc: 1 } })).toThrow(
      /state.s1Incr.initialized must be a boolean/,
    );
    expect(() => detectorFromJSON({ kind: 'kswin' })).toThrow(/state.kind must be one of adwin, page_hinkley/);
  });
});
