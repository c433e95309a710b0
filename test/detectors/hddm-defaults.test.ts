import { describe, expect, it } from 'vitest';
import { createDetector, HddmA, HddmW, type ChangeDetector } from '../../src/stats/detectors/index.ts';
import { bernoulliStream, docLoop, driftIndices, riverBinaryStream } from './streams.ts';

// River's HDDM docstring examples: on its binary stream (error rate 0.5, then 0.7 from index 1000)
// HDDM_A drifts at 1206 and HDDM_W at 1077, both first warning at 451.
const riverStream = riverBinaryStream();
const RIVER_A = { bound: 'hoeffding', driftConfidence: 0.001, warningConfidence: 0.005 } as const;
const RIVER_W = { bound: 'mcdiarmid', weighting: 'river', cutExpiry: 0, lambda: 0.05, driftConfidence: 0.001, warningConfidence: 0.005 } as const;


describe("HDDM_A / HDDM_W: River's behaviour stays selectable", () => {
  it("River's options reproduce River's documented indices exactly", () => {
    expect(docLoop(new HddmA(RIVER_A), riverStream)).toEqual({ drifts: [1206], warnings: [451] });
    expect(docLoop(new HddmW(RIVER_W), riverStream)).toEqual({ drifts: [1077], warnings: [451] });
  });

  it('at the defaults HDDM_A drifts within 64 events of River; HDDM_W later (documented in hddm-w.ts)', () => {
    const a = docLoop(new HddmA(), riverStream);
    expect(a.drifts).toEqual([1259]);
    expect(Math.abs(a.drifts[0] - 1206)).toBeLessThanOrEqual(64);
    // HDDM_W at its defaults: no false-alarm-safe setting came within 64 events of 1077.
    expect(docLoop(new HddmW(), riverStream).drifts).toEqual([1256]);
    // Both warn before they drift, after the change.
    for (const detector of [new HddmA(), new HddmW()]) {
      const { drifts, warnings } = docLoop(detector, riverStream);
      const firstWarning = warnings[0];
      expect(firstWarning).toBeGreaterThanOrEqual(1000);
      expect(firstWarning).toBeLessThan(drifts[0]);
    }
  });
});

describe('HDDM defaults on error streams', () => {
  // Error rate 0.10 -> 0.17 at 4000 (the size of the SEA benchmark's rises). Delays seen over seeds
  // 1..20: HDDM_A 19..1768 (mean ~610), HDDM_W 153..1648 (mean ~630).
  for (const kind of ['hddm_a', 'hddm_w'] as const) {
    it(`${kind}: a rise 0.10 -> 0.17 is detected within 1200 events (mean < 1000), none before it`, () => {
      const delays: number[] = [];
      for (let seed = 1; seed <= 10; seed++) {
        const indices = driftIndices(createDetector(kind), bernoulliStream(seed, 8000, 4000, 0.1, 0.17));
        expect(indices.filter((i) => i < 4000), `seed ${seed}`).toEqual([]);
        const hit = indices.find((i) => i >= 4000);
        expect(hit, `seed ${seed}`).toBeDefined();
        delays.push((hit as number) - 4000);
      }
      expect(Math.max(...delays)).toBeLessThanOrEqual(1200);
      expect(delays.reduce((s, d) => s + d, 0) / delays.length).toBeLessThan(1000);
    });

    it(`${kind}: at most one alarm in 1M stationary events at error rates 0.1 and 0.3`, () => {
      for (const rate of [0.1, 0.3]) {
        let alarms = 0;
        for (let seed = 1; seed <= 4; seed++) alarms += driftIndices(createDetector(kind), bernoulliStream(seed + 50, 250_000, 0, rate, rate)).length;
        expect(alarms, `rate ${rate}`).toBeLessThanOrEqual(1);
      }
    });
  }

  it('a non-binary [0, 1] input keeps the Bernstein bound valid (variance <= mu (1 - mu))', () => {
    // Uniform values in [0, 0.6] (mean 0.3, variance 0.03): far from the bound's worst case.
    let state = 7;
    const next = (): number => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 0.6;
    const values = Array.from({ length: 50_000 }, next);
    expect(driftIndices(new HddmA(), values)).toEqual([]);
    expect(driftIndices(new HddmW(), values)).toEqual([]);
  });
});

describe('HDDM options', () => {
  it('new options are validated with the option named', () => {
    expect(() => new HddmA({ bound: 'mcdiarmid' as never })).toThrow(/HDDM_A: option 'bound' must be one of bernstein, hoeffding/);
    expect(() => new HddmW({ bound: 'hoeffding' as never })).toThrow(/HDDM_W: option 'bound' must be one of bernstein, mcdiarmid/);
    expect(() => new HddmW({ weighting: 'plain' as never })).toThrow(/HDDM_W: option 'weighting' must be one of normalized, river/);
    expect(() => new HddmW({ cutExpiry: -1 })).toThrow(/HDDM_W: option 'cutExpiry' must be a finite number >= 0/);
    expect(() => new HddmA({ driftConfidence: 0.01, warningConfidence: 0.005 })).toThrow(/'warningConfidence' \(0.005\) must be >= 'driftConfidence'/);
  });

  it('an explicit drift confidence alone brings a warning confidence 5 times looser (as River)', () => {
    expect(new HddmA({ driftConfidence: 0.001 })).toMatchObject({ driftConfidence: 0.001, warningConfidence: 0.005 });
    expect(new HddmW({ driftConfidence: 0.001 })).toMatchObject({ driftConfidence: 0.001, warningConfidence: 0.005 });
    expect(new HddmA({ driftConfidence: 0.3 }).warningConfidence).toBe(0.5);
  });

  it('toJSON / fromJSON round-trip the new options and state, mid-stream, in both modes', () => {
    const values = bernoulliStream(3, 20_000, 12_000, 0.1, 0.3);
    const make: (() => ChangeDetector)[] = [
      () => new HddmA(),
      () => new HddmA({ ...RIVER_A, twoSidedTest: true }),
      () => new HddmW(),
      () => new HddmW({ ...RIVER_W, twoSidedTest: true }),
      () => new HddmW({ lambda: 0.01, cutExpiry: 1, twoSidedTest: true }),
    ];
    for (const factory of make) {
      const original = factory();
      // Past 8000 updates, so HDDM_W's default snapshots have expired at least once.
      for (const x of values.slice(0, 10_000)) original.update(x);
      const state = JSON.parse(JSON.stringify(original.toJSON()));
      const restored = original instanceof HddmA ? HddmA.fromJSON(state) : HddmW.fromJSON(state);
      expect(restored.toJSON()).toEqual(original.toJSON());
      expect(driftIndices(restored, values.slice(10_000))).toEqual(driftIndices(original, values.slice(10_000)));
    }
    expect(new HddmW().toJSON().options).toMatchObject({ bound: 'bernstein', weighting: 'normalized', cutExpiry: 4 });
    expect(new HddmA().toJSON().options).toMatchObject({ bound: 'bernstein' });
    const bad = { ...new HddmW().toJSON(), incrAge: -1 };
    expect(() => HddmW.fromJSON(bad)).toThrow(/state.incrAge must be a non-negative integer/);
    const badSample = { ...new HddmW().toJSON(), total: { ewma: 0, initialized: false, ibc: 1 } };
    expect(() => HddmW.fromJSON(badSample)).toThrow(/state.total.weightSum must be a finite number/);
  });
});
