import { describe, expect, it } from 'vitest';
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome, addInput, inputFromWire, inputToWire } from '../../src/window/pane.ts';
import { checkPaneInputWire } from '../../src/contract/pane-codec.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { dataQualityOf } from '../../src/window/data-quality.ts';
import { profileFromRows, profileFromWindow } from '../../src/reference/profile.ts';
import type { TrainingRow } from '../../src/reference/profile.ts';

type Features = Record<string, number | string | null>;

/** A deterministic uniform generator (mulberry32), so every run sees the same values. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PLANS = ['basic', 'plus', 'pro'];

/** n events: amount in [10, 110), plan one of PLANS, region always 'eu'. */
function events(n: number, seed: number): Features[] {
  const next = uniform(seed);
  const out: Features[] = [];
  for (let i = 0; i < n; i++) out.push({ amount: 10 + 100 * next(), plan: PLANS[Math.floor(next() * PLANS.length)], region: 'eu' });
  return out;
}

/** The window the worker would hold for these events: two panes (two producers), merged as the gateway merges them. */
function windowOf(rows: readonly Features[]): PaneInput {
  const panes = [new PaneInput(DEFAULT_PANE_LIMITS), new PaneInput(DEFAULT_PANE_LIMITS)];
  rows.forEach((features, i) => {
    const pane = panes[i % 2];
    pane.addPrediction(0.5, 0.5, 0.5, undefined, false, undefined);
    for (const name in features) pane.addFeature(name, features[name]);
  });
  const window = new PaneInput(DEFAULT_PANE_LIMITS);
  for (const pane of panes) addInput(window, pane, 1);
  return window;
}

const referenceRows = events(2000, 1);
const fileReference = profileFromRows('ref-file', 'm', null, referenceRows.map((features): TrainingRow => ({ features, output: 0.5 })));

describe('data quality of a window against its reference', () => {
  it('reports nothing wrong for fresh data of the same distribution', () => {
    const quality = dataQualityOf(windowOf(events(1000, 2)), fileReference);
    expect(quality.reference).toBe('ref-file');
    expect(quality.appeared).toEqual([]);
    expect(quality.vanished).toEqual([]);
    const amount = quality.features.amount;
    expect(amount.missingShare).toBe(0);
    expect(amount.missingIncrease).toBe(0);
    expect(amount.wrongTypeShare).toBe(0);
    // the same range: values beyond the reference's extremes only by chance, at most a few
    expect(amount.outOfRangeShare).toBeLessThan(0.005);
    expect(amount.outOfQuantileShare).toBeLessThan(0.01);
    expect(quality.features.plan.newCategoryShare).toBe(0);
    expect(quality.features.plan.newCategories).toEqual([]);
  });

  it('gives exactly 0 outside the range for the very data of a window-captured reference', () => {
    const window = windowOf(events(1000, 3));
    const reference = profileFromWindow('ref-window', 'm', null, 'window', window, new PaneOutcome(DEFAULT_PANE_LIMITS), 0, 1);
    const quality = dataQualityOf(window, reference);
    expect(quality.features.amount.outOfRangeShare).toBe(0);
    expect(quality.features.amount.outOfQuantileShare).toBeLessThanOrEqual(0.002 + 1e-12);
    expect(quality.features.amount.missingIncrease).toBe(0);
  });

  it('counts absent and null values as missing: 30 % missing raises the share by 0.3 over the reference', () => {
    const rows = events(1000, 4).map((features, i) => {
      if (i % 10 < 2) return { plan: features.plan, region: features.region }; // absent
      if (i % 10 === 2) return { ...features, amount: null }; // null
      return features;
    });
    const amount = dataQualityOf(windowOf(rows), fileReference).features.amount;
    expect(amount.missingShare).toBeCloseTo(0.3, 12);
    expect(amount.referenceMissingShare).toBe(0);
    expect(amount.missingIncrease).toBeCloseTo(0.3, 12);
    expect(amount.values).toBe(700);
    expect(amount.vanished).toBe(false);
  });

  it('names a category the reference never held, with its share of the values', () => {
    const rows = events(1000, 5).map((features, i) => (i % 20 === 0 ? { ...features, plan: 'enterprise' } : features));
    const plan = dataQualityOf(windowOf(rows), fileReference).features.plan;
    expect(plan.newCategoryShare).toBeCloseTo(0.05, 12);
    expect(plan.newCategories).toEqual(['enterprise']);
    expect(plan.unknownCategoryShare).toBe(0);
  });

  it('counts strings sent for a numeric feature as the wrong type, apart from its numbers', () => {
    const rows = events(1000, 6).map((features, i) => (i % 10 === 0 ? { ...features, amount: 'n/a' } : features));
    const amount = dataQualityOf(windowOf(rows), fileReference).features.amount;
    expect(amount.wrongTypeShare).toBeCloseTo(0.1, 12);
    expect(amount.missingShare).toBe(0);
    // the numbers alone are judged for their range
    expect(amount.outOfRangeShare).toBeLessThan(0.005);
  });

  it('counts values of a type no feature can have (kept out of their events by the worker) as the wrong type, not as missing', () => {
    const rows = events(1000, 11);
    const panes = [new PaneInput(DEFAULT_PANE_LIMITS), new PaneInput(DEFAULT_PANE_LIMITS)];
    rows.forEach((features, i) => {
      const pane = panes[i % 2];
      pane.addPrediction(0.5, 0.5, 0.5, undefined, false, undefined);
      // 2 events in 20 sent plan as a boolean: the validator took it out and named it
      const invalid = i % 20 < 2;
      if (invalid) pane.countInvalidFeatures(['plan']);
      for (const name in features) if (!(invalid && name === 'plan')) pane.addFeature(name, features[name]);
    });
    // through the pane wire and its checks, as a gateway receives a worker's panes
    const window = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const pane of panes) addInput(window, inputFromWire(checkPaneInputWire(inputToWire(pane), 'state'), DEFAULT_PANE_LIMITS), 1);
    expect(window.invalidFeatures?.get('plan')).toBe(100);
    const plan = dataQualityOf(window, fileReference).features.plan;
    expect(plan.wrongTypeShare).toBeCloseTo(0.1, 12);
    expect(plan.missingShare).toBe(0);
    expect(plan.values).toBe(900);
    // a pane removed from the window takes its counts back
    addInput(window, panes[0], -1);
    expect(window.invalidFeatures?.get('plan')).toBe(50);
  });

  it('counts values beyond the reference range, within one sketch bucket of the bound', () => {
    // a quarter of the values between 150 and 250: far beyond the reference's maximum (about 110)
    const rows = events(1000, 7).map((features, i) => (i % 4 === 0 ? { ...features, amount: 150 + (i % 100) } : features));
    const amount = dataQualityOf(windowOf(rows), fileReference).features.amount;
    expect(amount.outOfRangeShare).toBeGreaterThanOrEqual(0.25);
    expect(amount.outOfRangeShare).toBeLessThan(0.255);
    expect(amount.outOfQuantileShare).toBeGreaterThanOrEqual(0.25);
  });

  it('reads the tails as a window rebinned onto the reference buckets would count them', () => {
    // shifted data: both tails of the window reach beyond the reference's, on other sketch centers
    const rows = events(3000, 12).map((features, i) => ({ ...features, amount: (features.amount as number) * 1.3 - 20 + (i % 7) }));
    const window = windowOf(rows);
    const reference = fileReference.features.amount;
    if (reference.type !== 'numeric' || !(reference.summary instanceof LogHistogram)) throw new Error('a numeric sketch reference');
    const summary = reference.summary;
    const moved = LogHistogram.rebinnedLike(window.features.get('amount')?.numeric as LogHistogram, summary);
    const countBeyond = (low: number, high: number) => {
      let n = 0;
      moved.forEachBucket((v, w) => (n += v < low || v > high ? w : 0));
      return n / moved.count;
    };
    const amount = dataQualityOf(window, fileReference).features.amount;
    expect(amount.outOfRangeShare).toBeGreaterThan(0.1);
    expect(amount.outOfRangeShare).toBeCloseTo(countBeyond(summary.quantile(0), summary.quantile(1)), 12);
    expect(amount.outOfQuantileShare).toBeCloseTo(countBeyond(summary.quantile(0.001), summary.quantile(0.999)), 12);
  });

  it('flags a feature that appeared and one that vanished, and lists them', () => {
    const rows = events(500, 8).map(({ amount, plan }) => ({ amount, plan, channel: 'web' }));
    const quality = dataQualityOf(windowOf(rows), fileReference);
    expect(quality.appeared).toEqual(['channel']);
    expect(quality.vanished).toEqual(['region']);
    expect(quality.features.region.missingShare).toBe(1);
    expect(quality.features.region.values).toBe(0);
    expect(quality.features.channel.referenceMissingShare).toBeNull();
  });

  it('does not judge a feature the panes never tracked when they dropped some beyond their feature cap', () => {
    const window = windowOf(events(500, 10).map(({ amount, plan }) => ({ amount, plan })));
    window.dropped = 500;
    const region = dataQualityOf(window, fileReference).features.region;
    expect(region.vanished).toBe(false);
    expect(region.missingShare).toBeNull();
  });

  it('does not call a feature vanished from a window too short to tell', () => {
    const quality = dataQualityOf(windowOf([{ amount: 50, plan: 'basic' }]), fileReference);
    expect(quality.vanished).toEqual([]);
    expect(quality.features.region.missingShare).toBe(1);
  });

  it('without a reference reports missing shares only', () => {
    const quality = dataQualityOf(windowOf(events(10, 9).map(({ amount }, i): Features => (i < 3 ? {} : { amount }))), null);
    expect(quality.reference).toBeNull();
    expect(quality.appeared).toEqual([]);
    expect(quality.features.amount.missingShare).toBeCloseTo(0.3, 12);
    expect(quality.features.amount.missingIncrease).toBeNull();
    // only a type no feature can have is wrong without a reference: none was sent
    expect(quality.features.amount.wrongTypeShare).toBe(0);
    expect(quality.features.amount.outOfRangeShare).toBeNull();
  });

  it('is empty for a window without predictions', () => {
    expect(dataQualityOf(undefined, fileReference).features).toEqual({});
    expect(dataQualityOf(new PaneInput(DEFAULT_PANE_LIMITS), fileReference).features).toEqual({});
  });
});
