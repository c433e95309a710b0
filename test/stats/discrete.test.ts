import { describe, expect, it } from 'vitest';
import { decodePaneMessage, encodePaneMessage } from '../../src/contract/pane-codec.ts';
import type { PaneInputWire } from '../../src/contract/pane-wire.ts';
import { buildModelMetrics } from '../../src/gateway/metrics.ts';
import { profileFromBytes, profileFromRows, profileFromWindow, profileToBytes } from '../../src/reference/profile.ts';
import type { ReferenceProfile } from '../../src/reference/profile.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { ExactValueCounts, KEPT_AFTER_CAP, SUM_VALUES_CAP, movedOnto } from '../../src/sketch/exact-values.ts';
import { mulberry32 } from '../../src/simulator/random.ts';
import { chiSquaredContingency, psi } from '../../src/stats/distribution.ts';
import { DEFAULT_PANE_LIMITS, EXACT_VALUES_CAP, PaneInput, addInput, inputFromWire, inputToWire } from '../../src/window/pane.ts';
import { WindowAggregate } from '../../src/window/windows.ts';

type Draw = (random: () => number) => number;

const SHAPES: Record<string, { draw: Draw; shifted: Draw }> = {
  // P(1) = 0.3; shifted: 0.5
  flag: { draw: (r) => (r() < 0.3 ? 1 : 0), shifted: (r) => (r() < 0.5 ? 1 : 0) },
  // counts 0..4, skewed to low counts; shifted: one more on a third of the events, capped at 4
  count: {
    draw: (r) => Math.min(4, Math.floor(-Math.log(1 - r()) * 1.2)),
    shifted: (r) => Math.min(4, Math.floor(-Math.log(1 - r()) * 1.2) + (r() < 0.33 ? 1 : 0)),
  },
  // ratings 1..5 with shares 5/10/20/35/30 %; shifted: shares 15/15/20/25/25 %
  rating: {
    draw: (r) => pick(r(), [0.05, 0.1, 0.2, 0.35, 0.3]),
    shifted: (r) => pick(r(), [0.15, 0.15, 0.2, 0.25, 0.25]),
  },
};

function pick(u: number, shares: number[]): number {
  let cumulative = 0;
  for (let i = 0; i < shares.length; i++) {
    cumulative += shares[i];
    if (u < cumulative) return i + 1;
  }
  return shares.length;
}

function values(draw: Draw, n: number, seed: number): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => draw(random));
}

/** A pane as the gateway receives it: filled by a worker, encoded, decoded and checked. */
function paneOf(xs: readonly number[]): PaneInput {
  const pane = new PaneInput(DEFAULT_PANE_LIMITS);
  for (const x of xs) {
    pane.count++;
    pane.addFeature('x', x);
  }
  const message = decodePaneMessage(
    encodePaneMessage({ model: 'm', version: 'v', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: true, state: inputToWire(pane) }),
  );
  return inputFromWire(message.state as PaneInputWire, DEFAULT_PANE_LIMITS);
}

/** The live path: panes -> window (one extra pane added, then subtracted as it leaves) -> metrics. */
function liveMetrics(reference: ReferenceProfile, window: readonly number[], panes = 6) {
  const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
  const leaving = paneOf([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
  addInput(aggregate.input, leaving, 1);
  const size = Math.ceil(window.length / panes);
  for (let i = 0; i < window.length; i += size) addInput(aggregate.input, paneOf(window.slice(i, i + size)), 1);
  addInput(aggregate.input, leaving, -1);
  return buildModelMetrics(aggregate, { model: 'm', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {} });
}

function windowReference(xs: readonly number[]): ReferenceProfile {
  const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
  for (let i = 0; i < xs.length; i += 1000) addInput(aggregate.input, paneOf(xs.slice(i, i + 1000)), 1);
  // stored and read back, as the registry does
  return profileFromBytes(profileToBytes(profileFromWindow('w', 'm', null, 'window', aggregate.input, aggregate.outcome, 0, 1)));
}

function fileReference(xs: readonly number[]): ReferenceProfile {
  return profileFromBytes(profileToBytes(profileFromRows('f', 'm', null, xs.map((x) => ({ features: { x } })))));
}

/** Exact statistics on the raw values, counted per distinct value. */
function exact(reference: readonly number[], current: readonly number[]) {
  const keys = [...new Set([...reference, ...current])].sort((a, b) => a - b);
  const count = (xs: readonly number[]) => keys.map((k) => xs.filter((x) => x === k).length);
  const r = count(reference);
  const c = count(current);
  return { psi: psi(r, c), chi2: chiSquaredContingency(r, c) };
}

describe('discrete numeric features on the live path', () => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    for (const [source, build] of [['file', fileReference], ['window', windowReference]] as const) {
      it(`${name} against a ${source} reference: exact PSI and chi-squared, no feature_psi alarm when stationary, drift when shifted`, () => {
        const referenceValues = values(shape.draw, 20_000, 1);
        const reference = build(referenceValues);
        for (const [seed, draw, shifted] of [[2, shape.draw, false], [3, shape.shifted, true]] as const) {
          const current = values(draw, 3000, seed);
          const entry = liveMetrics(reference, current).drift.features.x;
          const expected = exact(referenceValues, current);
          expect(entry.type).toBe('discrete');
          expect(entry.count).toBe(current.length);
          expect(entry.tests.psi.statistic).toBeCloseTo(expected.psi, 10);
          expect(entry.tests.chi2.statistic).toBeCloseTo(expected.chi2.statistic, 8);
          if (shifted) {
            expect(entry.tests.psi.statistic).toBeGreaterThan(0.1);
            expect(entry.drift).toBe(true);
          } else {
            // the default feature_psi rule alarms at 0.2; stationary discrete data stays far below 0.1
            expect(entry.tests.psi.statistic).toBeLessThan(0.1);
            expect(entry.drift).toBe(false);
          }
        }
      });
    }
  }

  it('a value the reference never had is a new category: drift', () => {
    const reference = fileReference(values(SHAPES.flag.draw, 5000, 4));
    const current = values(SHAPES.flag.draw, 2000, 5).map((x, i) => (i % 10 === 0 ? 2 : x));
    const entry = liveMetrics(reference, current).drift.features.x;
    expect(entry.type).toBe('discrete');
    expect(entry.drift).toBe(true);
  });

  it('a window whose panes saw many distinct values is drift against a discrete reference', () => {
    const reference = fileReference(values(SHAPES.rating.draw, 5000, 6));
    const current = values((r) => r() * 5, 2000, 7);
    const entry = liveMetrics(reference, current).drift.features.x;
    expect(entry.type).toBe('discrete');
    expect(entry.drift).toBe(true);
  });

  it('discreteMaxValues sets the limit: a 5-value rating is numeric at 4', () => {
    const referenceValues = values(SHAPES.rating.draw, 5000, 8);
    const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
    addInput(aggregate.input, paneOf(values(SHAPES.rating.draw, 2000, 9)), 1);
    const ctx = { model: 'm', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference: fileReference(referenceValues), overrides: {} };
    expect(buildModelMetrics(aggregate, { ...ctx, discreteMaxValues: 4 }).drift.features.x.type).toBe('numeric');
    expect(buildModelMetrics(aggregate, { ...ctx, discreteMaxValues: 5 }).drift.features.x.type).toBe('discrete');
  });

  it('a continuous feature stays numeric', () => {
    const reference = fileReference(values((r) => r(), 5000, 10));
    expect(liveMetrics(reference, values((r) => r(), 2000, 11)).drift.features.x.type).toBe('numeric');
  });

  it('a mostly-zero feature (repeated decile edges) is binned alike on both sides of a file reference', () => {
    const draw: Draw = (r) => (r() < 0.8 ? 0 : Math.round(r() * 1000) / 10 + 1);
    const reference = fileReference(values(draw, 20_000, 12));
    const entry = liveMetrics(reference, values(draw, 3000, 13)).drift.features.x;
    expect(entry.type).toBe('numeric');
    expect(entry.tests.psi.statistic).toBeLessThan(0.05);
  });
});

describe('ExactValueCounts', () => {
  it('lists its values and counts as its map of counts does, in that order, as copies', () => {
    const exact = new ExactValueCounts(5);
    for (const v of [3, 1, 3, 7, 1, 3, 2.5, 9, 11, 12, 3]) exact.add(v);
    const listed = exact.listed();
    expect(listed.values).toEqual([...exact.counts.keys()]);
    expect(listed.counts).toEqual([...exact.counts.values()]);
    expect(exact.other).toBeGreaterThan(0);
    listed.counts[0] = 99;
    expect(exact.counts.get(3)).toBe(4);
  });

  it('sums and differences of panes are exact, and giving up is sticky within a pane: only values already seen repeated are counted one by one after it, exactly', () => {
    const random = mulberry32(14);
    const truth = new Map<number, number>();
    const panes = Array.from({ length: 8 }, (_, p) => {
      const counts = new ExactValueCounts(4);
      for (let i = 0; i < 50; i++) {
        const value = p === 3 ? Math.floor(random() * 10) : Math.floor(random() * 3);
        counts.add(value);
        if (p === 3) truth.set(value, (truth.get(value) ?? 0) + 1);
      }
      return counts;
    });
    expect(panes[3].exact()).toBeNull();
    // 10 values over a cap of 4: some kept (at most KEPT_AFTER_CAP), each with its true count, the rest in other
    const kept = panes[3].counts;
    expect(kept.size).toBeGreaterThan(0);
    expect(kept.size).toBeLessThanOrEqual(KEPT_AFTER_CAP);
    for (const [value, count] of kept) expect(count).toBe(truth.get(value));
    expect(panes[3].other + [...kept.values()].reduce((a, b) => a + b, 0)).toBe(50);
    expect(panes[3].other).toBeGreaterThan(0);
    const window = new ExactValueCounts(4);
    for (const pane of panes) window.merge(pane);
    expect(window.exact()).toBeNull();
    window.subtract(panes[3]);
    const expected = new ExactValueCounts(4);
    for (const [p, pane] of panes.entries()) if (p !== 3) expected.merge(pane);
    expect(window.exact()).toEqual(expected.exact());
    expect(window.total).toBe(350);
  });

  it('a pane goes on counting one by one a value its producer\'s previous pane kept, even seen only once before the cap (a sentinel of 5 %)', () => {
    const previous = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const v of [-1, -1, ...Array.from({ length: 30 }, (_, i) => i + 0.5)]) previous.addFeature('x', v);
    expect(previous.features.get('x')!.exact!.counts.get(-1)).toBe(2);
    // -1 once among the first 17 distinct values, then three times more
    const values = [0.25, -1, ...Array.from({ length: 20 }, (_, i) => 100 + i + 0.5), -1, 7.5, -1, -1];
    const following = new PaneInput(DEFAULT_PANE_LIMITS);
    following.keepValuesLike(previous);
    const alone = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const v of values) {
      following.addFeature('x', v);
      alone.addFeature('x', v);
    }
    expect(following.features.get('x')!.exact!.counts.get(-1)).toBe(4);
    expect(following.features.get('x')!.exact!.total).toBe(values.length);
    expect(alone.features.get('x')!.exact!.counts.get(-1)).toBeUndefined();
    // a value the previous pane kept and this one never saw is not listed
    const other = new PaneInput(DEFAULT_PANE_LIMITS);
    other.keepValuesLike(previous);
    for (const v of values.filter((v) => v !== -1)) other.addFeature('x', v);
    expect(other.features.get('x')!.exact!.size).toBe(0);
  });

  it('a value never repeated before the cap is not counted one by one after it (a continuous feature keeps one number)', () => {
    const counts = new ExactValueCounts(16);
    for (let i = 0; i < 1000; i++) counts.add(i + 0.5);
    expect(counts.size).toBe(0);
    expect(counts.other).toBe(1000);
  });

  it('movedOnto puts a value counted one by one in its own bucket whatever the source center, the rest by representative, and is additive', () => {
    const like = new LogHistogram(0.005, { center: 37 });
    const sentinel = -1;
    // panes on other centers: -1 sits in a bucket whose representative may fall in either of two of like's
    const moved = [3.1, 12.7, 40.4, 55.9, 71.3].map((center) => {
      const sketch = new LogHistogram(0.005, { center });
      const exact = new ExactValueCounts(EXACT_VALUES_CAP);
      const random = mulberry32(Math.round(center * 10));
      for (let i = 0; i < 400; i++) {
        const value = random() < 0.2 ? sentinel : 40 + 30 * (random() - 0.5);
        sketch.add(value);
        exact.add(value);
      }
      const onLike = movedOnto(sketch, exact, like);
      expect(onLike.sameBuckets(like)).toBe(true);
      expect(onLike.count).toBe(400);
      // the sentinel's weight (repeated before the cap: counted one by one) sits wholly in like's bucket of -1
      const sentinels = exact.counts.get(sentinel);
      const own = like.emptyLike();
      own.add(sentinel);
      const representative = own.quantile(0);
      const weightAt = (moved: LogHistogram) => {
        let at = 0;
        moved.forEachBucket((value, weight) => {
          if (value === representative) at += weight;
        });
        return at;
      };
      if (sentinels !== undefined) expect(weightAt(onLike)).toBe(sentinels);
      return { sketch, exact, onLike, kept: sentinels !== undefined, byRepresentative: weightAt(LogHistogram.rebinnedLike(sketch, like)) };
    });
    expect(moved.filter((m) => m.kept).length).toBeGreaterThanOrEqual(4);
    // moved by representative alone, some of these panes put the sentinel in the next bucket
    expect(moved.some((m) => m.kept && m.byRepresentative === 0)).toBe(true);
    // additive: two sketches of one center summed, then moved, equal the two moved one by one
    const [a] = moved;
    const b = a.sketch.emptyLike();
    const bExact = new ExactValueCounts(EXACT_VALUES_CAP);
    for (let i = 0; i < 300; i++) {
      const value = i % 4 === 0 ? sentinel : 20 + i / 10;
      b.add(value);
      bExact.add(value);
    }
    const sum = a.sketch.clone().merge(b);
    const sumExact = a.exact.clone();
    sumExact.merge(bExact);
    const movedSum = movedOnto(sum, sumExact, like);
    const sumMoved = a.onLike.clone().merge(movedOnto(b, bExact, like));
    expect(movedSum.countsBetweenEdges([-2, -0.5, 0, 20, 30, 40, 50])).toEqual(sumMoved.countsBetweenEdges([-2, -0.5, 0, 20, 30, 40, 50]));
    expect(movedSum.count).toBe(sumMoved.count);
  });

  it('integral(): whether every value counted was an integer, also after giving up, summed over panes and through the wire', () => {
    const ages = new ExactValueCounts(EXACT_VALUES_CAP);
    for (let i = 0; i < 500; i++) ages.add(18 + ((i * 7919) % 70));
    expect(ages.other).toBeGreaterThan(0);
    expect(ages.integral()).toBe(true);
    const amounts = new ExactValueCounts(EXACT_VALUES_CAP);
    for (let i = 0; i < 500; i++) amounts.add(i === 250 ? 12.5 : 18 + ((i * 7919) % 70));
    expect(amounts.integral()).toBe(false);
    expect(amounts.fractionalOther).toBe(1);
    const window = ages.clone();
    window.merge(amounts);
    expect(window.integral()).toBe(false);
    window.subtract(amounts);
    expect(window.integral()).toBe(true);
    // through a pane message: kept; from an older worker (no count of fractional values): not known, so not integral
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    for (let i = 0; i < 500; i++) pane.addFeature('age', 18 + ((i * 7919) % 70));
    const wire = inputToWire(pane);
    const decoded = (bytes: Uint8Array) => inputFromWire(decodePaneMessage(bytes).state as PaneInputWire, DEFAULT_PANE_LIMITS).features.get('age')!.exact!;
    const message = (state: PaneInputWire) => encodePaneMessage({ model: 'm', version: 'v', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: true, state });
    expect(decoded(message(wire)).integral()).toBe(true);
    delete wire.features.age.x!.f;
    expect(decoded(message(wire)).integral()).toBe(false);
    wire.features.age.x!.f = wire.features.age.x!.o + 1;
    expect(() => decodePaneMessage(message(wire))).toThrow(/features\["age"\]\.x\.f/);
  });

  it('movedOnto moves a sketch of integers value by value where a bucket holds one integer (ages: all of them), by representative when told not to', () => {
    const values = Array.from({ length: 3000 }, (_, i) => Math.max(18, Math.round(45 + 15 * Math.sin(i * 12.9898) * Math.cos(i * 78.233))));
    const like = new LogHistogram(0.005, { center: 44 });
    const direct = like.emptyLike();
    for (const v of values) direct.add(v);
    const buckets = (sketch: LogHistogram) => {
      const out: Array<[number, number]> = [];
      sketch.forEachBucket((value, weight) => out.push([value, weight]));
      return out;
    };
    let byRepresentativeDiffers = 0;
    for (const center of [37.25, 45.5, 51.8, 60.1]) {
      const sketch = new LogHistogram(0.005, { center });
      const exact = new ExactValueCounts(EXACT_VALUES_CAP);
      for (const v of values) {
        sketch.add(v);
        exact.add(v);
      }
      // every integer's weight where a sketch centered on like's center would hold it
      expect(buckets(movedOnto(sketch, exact, like))).toEqual(buckets(direct));
      if (JSON.stringify(buckets(movedOnto(sketch, exact, like, undefined, false))) !== JSON.stringify(buckets(direct))) byRepresentativeDiffers++;
    }
    expect(byRepresentativeDiffers).toBeGreaterThan(0);
  });

  it('a window lists at most SUM_VALUES_CAP values: the total, other\'s non-integers and what it left out stay exact as panes and held sums come and go, and no listed count exceeds the truth', () => {
    const random = mulberry32(31);
    /** A pane whose repeated values are its own (a tenth's rounding drifting pane by pane), integers or not; some pass the pane's cap. */
    const paneOf = (p: number) => {
      const counts = new ExactValueCounts(EXACT_VALUES_CAP);
      const values: number[] = [];
      const distinct = p % 5 === 0 ? 30 : 12;
      for (let i = 0; i < 60; i++) {
        const value = p % 3 === 0 ? p * 10 + Math.floor(random() * distinct) : p + Math.floor(random() * distinct) / 10;
        counts.add(value);
        values.push(value);
      }
      return { counts, values };
    };
    type Part = { counts: ExactValueCounts; values: number[] };
    const window = new ExactValueCounts(EXACT_VALUES_CAP, SUM_VALUES_CAP);
    const unbounded = new ExactValueCounts(EXACT_VALUES_CAP);
    const present: Part[] = [];
    let maxUnbounded = 0;
    const check = () => {
      const truth = new Map<number, number>();
      let listedByParts = 0;
      for (const part of present) {
        for (const value of part.values) truth.set(value, (truth.get(value) ?? 0) + 1);
        listedByParts += part.counts.total - part.counts.other;
      }
      const total = [...truth.values()].reduce((a, b) => a + b, 0);
      let fractional = 0;
      for (const [value, n] of truth) if (value !== Math.floor(value)) fractional += n;
      expect(window.size).toBeLessThanOrEqual(SUM_VALUES_CAP);
      expect(window.total).toBe(total);
      let listed = 0;
      for (const [value, n] of window.counts) {
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThanOrEqual(truth.get(value) ?? 0);
        listed += n;
        if (value !== Math.floor(value)) fractional -= n;
      }
      expect(window.fractionalOther).toBe(fractional);
      expect(window.folded).toBe(listedByParts - listed);
      expect(window.other).toBeGreaterThanOrEqual(window.folded);
      maxUnbounded = Math.max(maxUnbounded, unbounded.size);
    };
    const enter = (part: Part) => {
      window.merge(part.counts);
      unbounded.merge(part.counts);
      present.push(part);
      check();
    };
    const leave = (part: Part) => {
      window.subtract(part.counts);
      unbounded.subtract(part.counts);
      present.splice(present.indexOf(part), 1);
      check();
    };
    // panes enter one by one; every five that leave together are first summed into a held state
    // without a cap (as a window store folds them), which leaves whole
    const queue: Part[] = [];
    for (let p = 0; p < 200; p++) {
      const pane = paneOf(p);
      enter(pane);
      queue.push(pane);
      if (queue.length === 40) {
        const leaving = queue.splice(0, 5);
        const held = new ExactValueCounts(EXACT_VALUES_CAP);
        for (const part of leaving) held.merge(part.counts);
        for (const part of leaving) present.splice(present.indexOf(part), 1);
        present.push({ counts: held, values: leaving.flatMap((part) => part.values) });
        leave(present[present.length - 1]);
      }
    }
    for (const part of [...present]) leave(part);
    expect(maxUnbounded).toBeGreaterThan(SUM_VALUES_CAP);
    expect([window.size, window.other, window.fractionalOther, window.folded]).toEqual([0, 0, 0, 0]);
  });

  it('a pane message listing 20,000 values (the wire allows 65,536) decodes with each value, and a window holding it lists SUM_VALUES_CAP of them and counts the rest', () => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    const values = Array.from({ length: 20_000 }, (_, i) => i / 4);
    for (const value of values) pane.addFeature('x', value);
    const wire = inputToWire(pane);
    wire.features.x.x = { v: values, c: values.map(() => 1), o: 0, f: 0 };
    const decoded = decodePaneMessage(encodePaneMessage({ model: 'm', version: 'v', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: true, state: wire }));
    const restored = inputFromWire(decoded.state as PaneInputWire, DEFAULT_PANE_LIMITS).features.get('x')!.exact!;
    expect(restored.size).toBe(20_000);
    expect(restored.total).toBe(20_000);
    expect(restored.counts.get(3)).toBe(1);
    const window = new WindowAggregate(DEFAULT_PANE_LIMITS);
    addInput(window.input, inputFromWire(decoded.state as PaneInputWire, DEFAULT_PANE_LIMITS), 1);
    const listed = window.input.features.get('x')!.exact!;
    expect(listed.size).toBe(SUM_VALUES_CAP);
    expect(listed.total).toBe(restored.total);
    expect(listed.folded).toBe(listed.other);
  });

  it('a pane message of an older worker (no exact counts) decodes and makes the window inexact', () => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    pane.addFeature('x', 1);
    const wire = inputToWire(pane);
    // an older worker sent the sketch's bytes, and no exact counts
    wire.features.x.n = pane.features.get('x')?.numeric?.toBytes() ?? null;
    delete wire.features.x.r;
    delete wire.features.x.x;
    const decoded = decodePaneMessage(encodePaneMessage({ model: 'm', version: 'v', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: true, state: wire }));
    const restored = inputFromWire(decoded.state as PaneInputWire, DEFAULT_PANE_LIMITS);
    expect(restored.features.get('x')?.exact?.exact()).toBeNull();
  });

  it('refuses exact counts whose values and counts disagree, naming the field', () => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    pane.addFeature('x', 1);
    const wire = inputToWire(pane);
    wire.features.x.x = { v: [1, 2], c: [1], o: 0 };
    const bytes = encodePaneMessage({ model: 'm', version: 'v', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: true, state: wire });
    expect(() => decodePaneMessage(bytes)).toThrow(/features\["x"\]\.x\.c/);
  });
});

describe('a discrete model output on the live path (0/1 regression outputs, class ids as numbers)', () => {
  /** A pane of predictions with these numeric outputs, through the wire as the gateway gets it. */
  function outputPane(outputs: readonly number[]): PaneInput {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const output of outputs) pane.addPrediction(output, NaN, 0.5, undefined, false, undefined);
    const message = decodePaneMessage(
      encodePaneMessage({ model: 'm', version: 'v', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: true, state: inputToWire(pane) }),
    );
    return inputFromWire(message.state as PaneInputWire, DEFAULT_PANE_LIMITS);
  }
  function outputMetrics(reference: ReferenceProfile, outputs: readonly number[]) {
    const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
    // a pane of many distinct outputs enters and leaves the window: its counts are subtracted exactly
    const leaving = outputPane(Array.from({ length: 30 }, (_, i) => i + 0.5));
    addInput(aggregate.input, leaving, 1);
    for (let i = 0; i < outputs.length; i += 500) addInput(aggregate.input, outputPane(outputs.slice(i, i + 500)), 1);
    addInput(aggregate.input, leaving, -1);
    return buildModelMetrics(aggregate, { model: 'm', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {} });
  }
  const fileOutputReference = (ys: readonly number[]) => profileFromBytes(profileToBytes(profileFromRows('f', 'm', null, ys.map((output) => ({ features: {}, output })))));
  function windowOutputReference(ys: readonly number[]): ReferenceProfile {
    const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
    for (let i = 0; i < ys.length; i += 1000) addInput(aggregate.input, outputPane(ys.slice(i, i + 1000)), 1);
    return profileFromBytes(profileToBytes(profileFromWindow('w', 'm', null, 'window', aggregate.input, aggregate.outcome, 0, 1)));
  }
  const OUTPUTS: Record<string, { draw: Draw; shifted: Draw }> = {
    'a 0/1 regression output': SHAPES.flag,
    'class ids 0-4 as numbers': { draw: (r) => SHAPES.rating.draw(r) - 1, shifted: (r) => SHAPES.rating.shifted(r) - 1 },
  };

  for (const [name, shape] of Object.entries(OUTPUTS)) {
    for (const [source, build] of [['file', fileOutputReference], ['window', windowOutputReference]] as const) {
      it(`${name} against a ${source} reference: reported as discrete, exact PSI and chi-squared, drift only when shifted`, () => {
        const referenceValues = values(shape.draw, 20_000, 21);
        const reference = build(referenceValues);
        for (const [seed, draw, shifted] of [[22, shape.draw, false], [23, shape.shifted, true]] as const) {
          const current = values(draw, 3000, seed);
          const entry = outputMetrics(reference, current).drift.output;
          const expected = exact(referenceValues, current);
          expect(entry?.type).toBe('discrete');
          expect(entry?.count).toBe(current.length);
          expect(entry?.tests.psi.statistic).toBeCloseTo(expected.psi, 10);
          expect(entry?.tests.chi2.statistic).toBeCloseTo(expected.chi2.statistic, 8);
          expect(entry?.drift).toBe(shifted);
        }
      });
    }
  }

  it('a continuous output stays numeric, and a message of an older worker (no output counts) decodes', () => {
    const reference = fileOutputReference(values((r) => r(), 5000, 24));
    expect(outputMetrics(reference, values((r) => r(), 2000, 25)).drift.output?.type).toBe('numeric');
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    pane.addPrediction(1, NaN, 0.5, undefined, false, undefined);
    const wire = inputToWire(pane);
    delete wire.outputExact;
    const decoded = decodePaneMessage(encodePaneMessage({ model: 'm', version: 'v', partition: 0, paneStart: 0, paneMs: 10_000, part: 'in', seq: 1, final: true, state: wire }));
    expect(inputFromWire(decoded.state as PaneInputWire, DEFAULT_PANE_LIMITS).outputExact?.exact()).toBeNull();
  });
});
