import { describe, expect, it, vi } from 'vitest';
import { CHANGELOG_RECHECK_MS, ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import type { ReferenceProfile } from '../../src/reference/profile.ts';
import { LIMITS, PANE_MS, inputPane, profile, recordingLogger } from './panes.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { numericReferenceFromValues } from '../../src/stats/select.ts';
import { FEATURE_MIN_INDEXABLE, featureAccuracyOf } from '../../src/window/pane.ts';
import { SUM_VALUES_CAP } from '../../src/sketch/exact-values.ts';

function registry(autoCaptureMs = 0, saveReference?: (p: ReferenceProfile) => Promise<void>) {
  const { logger, lines } = recordingLogger();
  const references = new ReferenceRegistry({ autoCaptureMs, logger, saveReference });
  const changed: string[] = [];
  references.onReferenceChanged((model) => changed.push(model));
  return { references, changed, lines };
}

describe('ReferenceRegistry: the active reference', () => {
  it('a newer profile replaces the active one, an older one does not', () => {
    const { references, changed } = registry();
    references.setReference(profile('p2', 'churn', 2000));
    references.setReference(profile('p1', 'churn', 1000));
    expect(references.referenceFor('churn')?.id).toBe('p2');
    references.setReference(profile('p3', 'churn', 3000));
    expect(references.referenceFor('churn')?.id).toBe('p3');
    expect(changed).toEqual(['churn', 'churn']);
  });

  it('the same profile read again (object store history, then its watcher) stays active', () => {
    const { references } = registry();
    references.setReference(profile('p2', 'churn', 2000));
    references.setReference({ ...profile('p2', 'churn', 1500), count: 7 });
    expect(references.referenceFor('churn')?.count).toBe(7);
  });

  it('a version\'s own profile wins for that version; other versions use the model\'s', () => {
    const { references } = registry();
    references.setReference(profile('model-wide', 'churn', 1000));
    references.setReference(profile('canary', 'churn', 500, 'v2'));
    expect(references.referenceFor('churn', 'v2')?.id).toBe('canary');
    expect(references.referenceFor('churn', 'v1')?.id).toBe('model-wide');
    expect(references.referenceFor('churn')?.id).toBe('model-wide');
    expect(references.referenceFor('fraud')).toBeNull();
  });

  it('removing the active profile drops it; removing another one changes nothing', () => {
    const { references, changed } = registry();
    references.setReference(profile('p1', 'churn', 1000));
    references.setReference(profile('v2-own', 'churn', 1000, 'v2'));
    changed.length = 0;
    references.removeReference('unknown');
    expect(changed).toEqual([]);
    references.removeReference('v2-own');
    expect(references.referenceFor('churn', 'v2')?.id).toBe('p1');
    references.removeReference('p1');
    expect(references.referenceFor('churn', 'v2')).toBeNull();
    expect(changed).toEqual(['churn', 'churn']);
  });
});

describe('ReferenceRegistry: automatic capture', () => {
  const AUTO_MS = 60_000;

  function windowsWithPanes(panes: number) {
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
    for (let i = 0; i < panes; i++) windows.applyPaneMessage(inputPane('m', 100_000 + i * PANE_MS, [i, i + 1]));
    return windows.windowsOf('m')!;
  }

  it('captures the first autoCaptureMs once event time is a pane past them, and saves it', async () => {
    const saved: ReferenceProfile[] = [];
    const { references, lines } = registry(AUTO_MS, async (p) => {
      saved.push(p);
    });
    // panes up to 160 s: the capture range [100 s, 160 s) is not yet a pane behind
    expect(references.captureIfDue(windowsWithPanes(6))).toBeNull();
    expect(references.referenceFor('m')).toBeNull();
    const captured = references.captureIfDue(windowsWithPanes(7));
    expect(captured).toMatchObject({ id: 'm.all.auto.100000', model: 'm', version: null, source: 'auto', from: 100_000, to: 160_000, createdAt: 160_000, count: 12 });
    expect(references.referenceFor('m')).toBe(captured);
    expect(saved).toEqual([captured]);
    expect(lines.some((l) => l.msg === 'captured automatic reference profile' && l.reference === 'm.all.auto.100000')).toBe(true);
  });

  it('does not capture for a model that has a reference, nor when disabled', () => {
    const { references } = registry(AUTO_MS);
    references.setReference(profile('uploaded', 'm', 1));
    expect(references.captureIfDue(windowsWithPanes(10))).toBeNull();
    expect(references.referenceFor('m')?.id).toBe('uploaded');
    expect(registry(0).references.captureIfDue(windowsWithPanes(10))).toBeNull();
  });

  it('keeps the captured profile active when saving it fails, and logs the failure', async () => {
    const { references, lines } = registry(AUTO_MS, async () => {
      throw new Error('object store unavailable');
    });
    references.captureIfDue(windowsWithPanes(7));
    await new Promise((resolve) => setImmediate(resolve));
    expect(references.referenceFor('m')?.id).toBe('m.all.auto.100000');
    expect(lines.find((l) => l.msg === 'saving reference failed')?.err).toBe('object store unavailable');
  });
});

/** A registry capturing a model's first minute once settled `settleMs`, the models it tells of, and windows to feed it. */
function settlingRegistry(settleMs: number) {
  const { logger, lines } = recordingLogger();
  const references = new ReferenceRegistry({ autoCaptureMs: 60_000, logger, settleMs });
  const told: string[] = [];
  references.onReferenceChanged((model) => told.push(model));
  const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10 });
  return { references, told, windows, logger, lines };
}

/** Partition 0's states of model m's first 70 s (event time passes its first minute), 2 values a pane. */
function partitionAhead(windows: WindowStore): void {
  for (let i = 0; i < 7; i++) windows.applyPaneMessage(inputPane('m', 100_000 + i * PANE_MS, [i, i + 1], 'v1', 0));
}

/** Partition 1's states of the same first minute, a flush later, 3 values a pane. */
function partitionBehind(windows: WindowStore): void {
  for (let i = 0; i < 6; i++) windows.applyPaneMessage(inputPane('m', 100_000 + i * PANE_MS, [i, i + 1, i + 2], 'v1', 1));
}

describe('ReferenceRegistry: an automatic capture waits settleMs for the states of its range still on their way', () => {
  const AUTO_MS = 60_000;
  const SETTLE_MS = 40;

  it("captures the range with every partition's states, not only those that came before event time passed it", async () => {
    const { references, told, windows, lines } = settlingRegistry(SETTLE_MS);
    // partition 0 runs ahead: its states of the first 70 s arrive, and event time passes the range
    partitionAhead(windows);
    const model = windows.windowsOf('m')!;
    expect(references.captureIfDue(model)).toBeNull();
    // partition 1's states of the same panes come a flush later
    partitionBehind(windows);
    expect(references.captureIfDue(model)).toBeNull();
    expect(references.referenceFor('m')).toBeNull();
    // once settleMs has passed the model's listeners are told, so a burst that ended is evaluated again
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS + 20));
    expect(told).toEqual(['m']);
    const captured = references.captureIfDue(model);
    // 6 panes of 2 values from partition 0 and 6 of 3 from partition 1
    expect(captured).toMatchObject({ id: 'm.all.auto.100000', from: 100_000, to: 160_000, count: 30 });
    expect(lines.filter((l) => l.msg === 'captured automatic reference profile')).toHaveLength(1);
  });

  it('forgets a released model that was waiting, and refuses a settle time that is not a number of ms >= 0', async () => {
    const { references, told, windows, logger } = settlingRegistry(SETTLE_MS);
    partitionAhead(windows);
    expect(references.captureIfDue(windows.windowsOf('m')!)).toBeNull();
    references.releaseModel('m');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS + 20));
    expect(told).toEqual([]);
    // back again, it waits afresh
    expect(references.captureIfDue(windows.windowsOf('m')!)).toBeNull();
    expect(() => new ReferenceRegistry({ autoCaptureMs: AUTO_MS, logger, settleMs: -1 })).toThrow('ReferenceRegistry: settleMs must be a number of ms >= 0, got -1');
    expect(() => new ReferenceRegistry({ autoCaptureMs: AUTO_MS, logger, settleMs: Number.NaN })).toThrow('settleMs must be a number of ms >= 0, got NaN');
  });
});

describe('ReferenceRegistry: an automatic capture then waits for the changelog as far as it went', () => {
  const SETTLE_MS = 4_000;

  it("a gateway behind its changelog captures once the messages published before the settle ended are read, with every partition's states", () => {
    vi.useFakeTimers();
    try {
      const { references, told, windows } = settlingRegistry(SETTLE_MS);
      // 300 pane messages published and not yet read when the settle ends
      const changelog = { delivered: 1_000, pending: 300 };
      references.followChangelog(changelog);
      partitionAhead(windows);
      const model = windows.windowsOf('m')!;
      expect(references.captureIfDue(model)).toBeNull();
      vi.advanceTimersByTime(SETTLE_MS);
      expect(told).toEqual(['m']);
      expect(references.captureIfDue(model)).toBeNull();
      // partition 1's states of the range are among them, read later
      changelog.delivered += 299;
      partitionBehind(windows);
      expect(references.captureIfDue(model)).toBeNull();
      // still waiting, the model's listeners are told again: the model may bring no change to be evaluated on
      vi.advanceTimersByTime(CHANGELOG_RECHECK_MS);
      expect(told).toEqual(['m', 'm']);
      // the last of them read; what was published since is not waited for
      changelog.delivered += 1;
      changelog.pending = 5_000;
      expect(references.captureIfDue(model)).toMatchObject({ id: 'm.all.auto.100000', count: 30 });
      vi.advanceTimersByTime(10 * CHANGELOG_RECHECK_MS);
      // told once more: the reference it set
      expect(told).toEqual(['m', 'm', 'm']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a gateway with nothing left to read captures once the settle ended', () => {
    vi.useFakeTimers();
    try {
      const { references, windows } = settlingRegistry(SETTLE_MS);
      references.followChangelog({ delivered: 50, pending: 0 });
      partitionAhead(windows);
      expect(references.captureIfDue(windows.windowsOf('m')!)).toBeNull();
      vi.advanceTimersByTime(SETTLE_MS);
      expect(references.captureIfDue(windows.windowsOf('m')!)).toMatchObject({ count: 12 });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('ReferenceRegistry: releasing models', () => {
  it('forgets every profile of a released model (its own and its versions\'), and only that model\'s', () => {
    const { references, changed } = registry();
    references.setReference(profile('a-all', 'a', 1));
    references.setReference(profile('a-v2', 'a', 1, 'v2'));
    references.setReference(profile('b-all', 'b', 1));
    changed.length = 0;
    references.releaseModel('a');
    expect(references.knowsModel('a')).toBe(false);
    expect(references.referenceFor('a', 'v2')).toBeNull();
    expect(references.profileById('a-v2')).toBeNull();
    expect(references.referenceFor('b')?.id).toBe('b-all');
    expect(changed).toEqual([]);
  });

  it('after start-up, the profiles of models the gateway does not hold go; those it holds stay', () => {
    const { references } = registry();
    for (const model of ['held', 'gone-1', 'gone-2']) references.setReference(profile(`${model}-p`, model, 1));
    expect(references.releaseModelsExcept((model) => model === 'held')).toBe(2);
    expect(references.referenceFor('held')?.id).toBe('held-p');
    expect(references.knowsModel('gone-1')).toBe(false);
    expect(references.knowsModel('gone-2')).toBe(false);
  });
});

/** A window's sketch of x against the sum of the states it holds, bucket by bucket. */
function expectSumOfStates(windows: WindowStore, model: string, window: string): void {
  const held = windows.windowsOf(model)!.get(window)!.input.features.get('x')!.numeric!;
  const { from, to } = windows.windowsOf(model)!.bounds(window);
  const summed = windows.windowsOf(model)!.sumRange(from, to).input.features.get('x')!.numeric!;
  const buckets = (sketch: LogHistogram) => {
    const out: Array<[number, number]> = [];
    sketch.forEachBucket((value, weight) => out.push([value, weight]));
    return out;
  };
  expect(held.sameBuckets(summed)).toBe(true);
  expect(buckets(held)).toEqual(buckets(summed));
}

describe('ReferenceRegistry: the buckets of a feature\'s reference', () => {
  function withFeature(id: string, model: string, center: number, version: string | null = null): ReferenceProfile {
    const values = Array.from({ length: 200 }, (_, i) => center - 10 + i / 10);
    const sketch = new LogHistogram(featureAccuracyOf(LIMITS), { center, minIndexable: FEATURE_MIN_INDEXABLE });
    for (const v of values) sketch.add(v);
    return { ...profile(id, model, 1000, version), features: { x: numericReferenceFromValues(id, values, sketch) } };
  }

  it('are the model\'s own reference\'s numeric sketch; none for a version\'s alone, another feature or model', () => {
    const { references } = registry();
    references.setReference(withFeature('canary', 'churn', 50, 'v2'));
    expect(references.featureBuckets('churn', 'x')).toBeUndefined();
    references.setReference(withFeature('p1', 'churn', 42));
    expect(references.featureBuckets('churn', 'x')?.center).toBe(42);
    expect(references.featureBuckets('churn', 'y')).toBeUndefined();
    expect(references.featureBuckets('churn', 'toString')).toBeUndefined();
    expect(references.featureBuckets('fraud', 'x')).toBeUndefined();
  });

  it('hold a window store\'s windows of the feature, when given as its referenceBuckets', () => {
    const { references } = registry();
    references.setReference(withFeature('p1', 'churn', 42));
    const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 10, referenceBuckets: (model, feature) => references.featureBuckets(model, feature) });
    const plain = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 10 });
    for (const store of [windows, plain]) store.applyPaneMessage(inputPane('churn', 0, [30, 31, 55, 70]));
    expect(windows.windowsOf('churn')?.get('1m')?.input.features.get('x')?.numeric?.center).toBe(42);
    expect(plain.windowsOf('churn')?.get('1m')?.input.features.get('x')?.numeric?.center).not.toBe(42);
  });

  it('published one after another while the model runs: each window stays the sum of the states it holds, whatever buckets they were moved onto when they arrived', () => {
    const { references } = registry();
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10, referenceBuckets: (model, feature) => references.featureBuckets(model, feature) });
    references.onReferenceChanged((model) => windows.followReferenceBuckets(model));
    const model = () => windows.windowsOf('churn')!;
    const check = () => expectSumOfStates(windows, 'churn', '5m');
    let v = 0;
    const values = () => Array.from({ length: 40 }, () => 20 + ((v++ * 7919) % 61) + (v % 3) / 4);
    let pane = 0;
    const panes = (n: number) => {
      for (let i = 0; i < n; i++, pane++) windows.applyPaneMessage(inputPane('churn', pane * PANE_MS, values()));
    };
    panes(8);
    // six references of other centers, each after a few panes: more changes than states are moved
    // through step by step (then the windows are summed again)
    for (const [k, center] of [42, 63, 29, 51, 37, 70].entries()) {
      references.setReference({ ...withFeature(`p${k}`, 'churn', center), createdAt: 1000 + k });
      expect(model().get('5m')!.input.features.get('x')!.numeric!.center).toBe(center);
      check();
      panes(3);
      check();
    }
    // the states of every center leave the window one by one
    for (let i = 0; i < 40; i++) {
      panes(1);
      check();
    }
  });

  it('published while a window lists fewer values than its states do (SUM_VALUES_CAP): the windows are summed again, and stay the sum of their states', () => {
    const { references } = registry();
    const windows = new WindowStore({ windows: ['5m'], limits: LIMITS, maxModels: 10, referenceBuckets: (model, feature) => references.featureBuckets(model, feature) });
    references.onReferenceChanged((model) => windows.followReferenceBuckets(model));
    const exact = () => windows.windowsOf('churn')!.get('5m')!.input.features.get('x')!.exact!;
    // each pane 16 values of its own, each 3 times (counted one by one): a window's union of them
    // passes the cap, and a value's count left out of its list is moved by representative
    let pane = 0;
    const panes = (n: number) => {
      for (let i = 0; i < n; i++, pane++) {
        const values = Array.from({ length: 48 }, (_, k) => 30 + (pane % 40) / 2 + (k % 16) * 0.013);
        windows.applyPaneMessage(inputPane('churn', pane * PANE_MS, values));
      }
    };
    panes(20);
    expect(exact().size).toBe(SUM_VALUES_CAP);
    expect(exact().folded).toBeGreaterThan(0);
    for (const [k, center] of [42, 33, 51].entries()) {
      references.setReference({ ...withFeature(`p${k}`, 'churn', center), createdAt: 1000 + k });
      expect(windows.windowsOf('churn')!.get('5m')!.input.features.get('x')!.numeric!.center).toBe(center);
      expectSumOfStates(windows, 'churn', '5m');
      panes(4);
      expectSumOfStates(windows, 'churn', '5m');
    }
    for (let i = 0; i < 40; i++) {
      panes(1);
      expectSumOfStates(windows, 'churn', '5m');
      expect(exact().size).toBeLessThanOrEqual(SUM_VALUES_CAP);
      expect(exact().total).toBe(windows.windowsOf('churn')!.get('5m')!.input.features.get('x')!.numeric!.count);
    }
  });

  it('published after the model\'s first panes, move its windows onto its buckets: each window holds what it held, and the panes that leave take away exactly what they brought', () => {
    const { references } = registry();
    const windows = new WindowStore({ windows: ['1m', '5m'], limits: LIMITS, maxModels: 10, referenceBuckets: (model, feature) => references.featureBuckets(model, feature) });
    references.onReferenceChanged((model) => windows.followReferenceBuckets(model));
    const sketchOf = (window: string) => windows.windowsOf('churn')?.get(window)?.input.features.get('x')?.numeric;
    // three panes on the buckets of the first (centered on its own first value), two of a second version
    for (let i = 0; i < 3; i++) windows.applyPaneMessage(inputPane('churn', i * PANE_MS, [30 + i, 31, 55, 70.5]));
    for (let i = 0; i < 2; i++) windows.applyPaneMessage(inputPane('churn', i * PANE_MS, [33, 47.25], 'v2', 1));
    const before = { count: sketchOf('5m')!.count, sum: sketchOf('5m')!.sum, v1: windows.windowsOf('churn')!.get('1m', 'v1')!.input.count };
    expect(sketchOf('5m')!.center).not.toBe(42);
    references.setReference(withFeature('p1', 'churn', 42));
    for (const window of ['1m', '5m']) {
      expect(sketchOf(window)!.center).toBe(42);
      expect(sketchOf(window)!.count).toBe(before.count);
      expect(sketchOf(window)!.sum).toBeCloseTo(before.sum, 9);
    }
    expect(windows.windowsOf('churn')!.get('1m', 'v1')!.input.count).toBe(before.v1);
    // the same reference again moves nothing
    expect(windows.followReferenceBuckets('churn')).toBe(0);
    // later panes, then time moves on until the first ones have left both windows
    for (let i = 3; i < 40; i++) windows.applyPaneMessage(inputPane('churn', i * PANE_MS, [40, 41.5]));
    const kept = sketchOf('5m')!;
    // every value left in the 5m window is a later pane's: 30 panes of two values, nothing negative
    expect(kept.count).toBe(60);
    expect(kept.sum).toBeCloseTo(30 * 81.5, 6);
    let negative = 0;
    kept.forEachBucket((_, weight) => {
      if (weight < 0) negative++;
    });
    expect(negative).toBe(0);
    expect(kept.quantile(0)).toBeCloseTo(40, 0);
  });
});

describe('ReferenceRegistry: a known profile\'s sketches', () => {
  /** A sketch's bucket arrays of their own (its two stores' arrays over V8's 64 on-heap bytes). */
  function arraysOf(sketch: LogHistogram): Uint8Array[] {
    const stores = sketch as unknown as { positive: { counts: Uint8Array }; negative: { counts: Uint8Array } };
    return [stores.positive.counts, stores.negative.counts].filter((counts) => counts.byteLength > 64);
  }

  /** The buffers a sketch's bucket arrays lie in. */
  function buffersOf(sketch: LogHistogram): ArrayBufferLike[] {
    return arraysOf(sketch).map((counts) => counts.buffer);
  }

  it('hold their bucket arrays in one buffer, and keep their figures', () => {
    const { references } = registry();
    const features: ReferenceProfile['features'] = {};
    const before = new Map<string, number[]>();
    for (let f = 0; f < 30; f++) {
      // heavy-tailed on both sides of the center: arrays of hundreds of buckets per sign
      const values = Array.from({ length: 600 }, (_, i) => f + Math.sinh(((i * 7919) % 600) / 60 - 5));
      const sketch = new LogHistogram(featureAccuracyOf(LIMITS), { center: f, minIndexable: FEATURE_MIN_INDEXABLE });
      for (const v of values) sketch.add(v);
      features[`f${f}`] = numericReferenceFromValues('p1', values, sketch);
      before.set(`f${f}`, [0.01, 0.25, 0.5, 0.75, 0.99].map((q) => sketch.quantile(q)));
    }
    const sketches = Object.values(features).map((feature) => (feature.type === 'numeric' ? feature.summary : null)) as LogHistogram[];
    expect(new Set(sketches.flatMap(buffersOf)).size).toBe(60);
    // and one captured from a window: a sorted copy, its indexes and weights already in one buffer of their own
    const values = new LogHistogram(featureAccuracyOf(LIMITS), { center: 0, minIndexable: FEATURE_MIN_INDEXABLE });
    for (let i = 0; i < 40; i++) values.add(Math.exp(i / 2));
    // a window's sum is an array over its range (merging makes one); a copy of it few weights fill is sorted
    const sparse = new LogHistogram(featureAccuracyOf(LIMITS), { center: 0, minIndexable: FEATURE_MIN_INDEXABLE }).merge(values);
    const captured = sparse.clone();
    const sample = Array.from({ length: 40 }, (_, i) => Math.exp(i / 2));
    features.captured = numericReferenceFromValues('p1', sample, captured);
    expect((captured as unknown as { positive: { form: string } }).positive.form).toBe('sorted');
    const arrayBytes = sketches.reduce((n, sketch) => n + arraysOf(sketch).reduce((m, a) => m + Math.ceil(a.byteLength / 8) * 8, 0), 0);
    references.setReference({ ...profile('p1', 'churn', 1000), features });
    // 60 arrays, one buffer: one object for a full collection's array-buffer sweep, not 60
    expect(new Set(sketches.flatMap(buffersOf)).size).toBe(1);
    // as long as the arrays it holds, not longer: the sorted copy is left as it was, and takes no room there
    expect(buffersOf(sketches[0])[0].byteLength).toBe(arrayBytes);
    expect(captured.quantile(0.5)).toBe(sparse.quantile(0.5));
    for (const [name, quantiles] of before) {
      const summary = (references.referenceFor('churn')?.features[name] as unknown as { summary: LogHistogram }).summary;
      expect([0.01, 0.25, 0.5, 0.75, 0.99].map((q) => summary.quantile(q))).toEqual(quantiles);
    }
  });
});
