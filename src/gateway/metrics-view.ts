import type { MetricsOptions } from '../contract/metrics-source.ts';
import type { DataQualityDemand, ModelMetrics, ModelSegments } from '../contract/metrics.ts';
import type { ReferenceProfile } from '../reference/profile.ts';
import { profileFromWindow } from '../reference/profile.ts';
import { newProfileId } from '../reference/store.ts';
import type { DriftTestOverride } from '../stats/select.ts';
import type { ModelWindows } from '../window/windows.ts';
import { buildModelMetrics, driftSteps, emptyDrift, ReferenceBins } from './metrics.ts';
import { worstSegmentsOf } from '../window/segments.ts';
import { segmentFeatureDrift } from './segment-drift.ts';
import { ModelSignal } from './model-signal.ts';
import type { ModelListener } from './model-signal.ts';
import type { ReferenceRegistry } from './reference-registry.ts';
import { multivariateDriftOf } from './multivariate-drift.ts';
import { summaryBucketsRoom } from '../stats/sketch-distance.ts';
import type { WindowStore } from './window-store.ts';

/**
 * How long a window's drift statistics are reused before they are computed again: a sixtieth of
 * the window, between 1 s and 10 s. It also tells the tests how often one window is re-evaluated
 * as it slides (windowMs / this), which their false-alarm budget accounts for.
 */
export function driftRecomputeMs(windowMs: number): number {
  return Math.min(10_000, Math.max(1000, windowMs / 60));
}

export interface MetricsViewOptions {
  overrides: Readonly<Record<string, DriftTestOverride>>;
  /** Budget for the default significance level of the p-value tests (default 0.5 per million values). */
  falseAlarmsPerMillion?: number;
  /** Largest number of distinct reference values of a discrete numeric feature (default 5). */
  discreteMaxValues?: number;
  /** Wall clock deciding when reused drift is due again; default Date.now. */
  now?: () => number;
}

type Drift = ModelMetrics['drift'];

/** The cache key's suffix of metrics built with each data quality demand. */
const LEANER: Readonly<Record<DataQualityDemand, string>> = { full: '', noRanges: '\u0000q', none: '\u0000l' };

/** The suffixes of cached metrics that answer a reader's data quality demand: built with as much or more. */
const AS_LEAN_OR_FULLER: Readonly<Record<DataQualityDemand, readonly string[]>> = {
  full: [LEANER.full],
  noRanges: [LEANER.full, LEANER.noRanges],
  none: [LEANER.full, LEANER.noRanges, LEANER.none],
};

/**
 * How a reader needs a window's drift statistics (the expensive part of its metrics):
 * - 'refresh': the gateway's tick keeping the pair fresh for a rule that reads drift. Recomputed
 *   once its panes changed and the last computation is older than driftRecomputeMs; the pair is
 *   then "kept fresh" and requests serve its latest computation without computing.
 * - 'request': a REST request or a WebSocket frame. A kept-fresh pair is served as last computed
 *   (`stale` when its panes changed since); any other pair is computed on demand when due, and
 *   cached like a kept-fresh one.
 * - 'none': the reader looks at no drift statistic (a count, latency or quality rule): counts,
 *   latency and quality are exact, drift is whatever was last computed and is still held (or
 *   empty: see dropOutdatedDrift), never computed.
 */
export type DriftDemand = 'refresh' | 'request' | 'none';

interface DriftComputation {
  drift: Drift;
  /** Wall-clock time of the computation. */
  at: number;
  /** The window's change stamp it was computed on (the model's pane generation for a rolling reference): equal while nothing it reads changed. */
  generation: number;
  /** What it was computed for (its key's parts), and how long it is served before a read computes it again (driftRecomputeMs). */
  window: string;
  version: string | undefined;
  rolling: boolean;
  maxAge: number;
}

/**
 * Model metrics computed on demand from a WindowStore against the ReferenceRegistry (or a rolling
 * reference), and cached until the model's windows or reference change.
 */
export class MetricsView {
  /** Computed metrics per model, then per window, version, reference mode and demand: dropped when the model changes. */
  private readonly cache = new Map<string, Map<string, ModelMetrics>>();
  /**
   * Drift statistics are most of a metrics computation (every test on every feature); counts,
   * latency and quality are cheap. Drift is therefore computed only when its window's panes
   * changed and someone reads it, at most once per driftRecomputeMs per window, while the rest
   * stays exact on every change; a reference change drops it at once.
   */
  private readonly driftCache = new Map<string, Map<string, DriftComputation>>();
  /** Pane messages folded into each model so far: what a drift computation was made on. */
  private readonly generations = new Map<string, number>();
  /** (window, version, reference mode) keys per model that the tick keeps fresh ('refresh' reads). */
  private readonly keptFresh = new Map<string, Set<string>>();
  private readonly reused = new ModelSignal();
  /** The drift computations' bucket arrays, reused: they run one at a time. */
  private readonly bucketsRoom = summaryBucketsRoom();
  private readonly referenceBins = new ReferenceBins();
  private readonly now: () => number;
  /** Drift computations made (each is every test on every feature of one window), for the benchmark and tests. */
  computations = 0;

  constructor(
    private readonly store: WindowStore,
    private readonly references: ReferenceRegistry,
    private readonly options: MetricsViewOptions,
  ) {
    this.now = options.now ?? Date.now;
    store.onModelChanged((model) => {
      this.cache.delete(model);
      this.generations.set(model, (this.generations.get(model) ?? 0) + 1);
      this.dropOutdatedDrift(model);
    });
    store.onModelEvicted((model) => {
      this.cache.delete(model);
      this.driftCache.delete(model);
      this.generations.delete(model);
      this.keptFresh.delete(model);
    });
    references.onReferenceChanged((model) => {
      this.cache.delete(model);
      this.driftCache.delete(model);
    });
  }

  /**
   * Drops the model's metrics built for the alert rules' reads (a leaner data quality than a
   * reader's 'full': DataQualityDemand), once its rules are evaluated. Nothing else reads them,
   * and the next evaluation follows a change of the model, which drops them anyway: kept until
   * then, a model's metrics outlived the young generation at 300 models x 30 features x 16
   * partitions (a change every ~60 ms) and died in the old one, its features' data quality 15 %
   * of what the gateway heap's full cycles collected (V8's sampling heap profiler, bench gateway).
   */
  dropRuleMetrics(model: string): void {
    const modelCache = this.cache.get(model);
    if (modelCache === undefined) return;
    for (const key of modelCache.keys()) if (key.endsWith(LEANER.noRanges) || key.endsWith(LEANER.none)) modelCache.delete(key);
  }

  /**
   * Drops the model's drift computations that no read would serve again: computed on a request
   * (not kept fresh by the tick), due for recomputation, and made on an earlier state of their
   * window, which the next read computes anew. Kept, they held every window a client once asked
   * for until its next read: the drift held was 28 % of the gateway heap's objects at 60 models x
   * 30 features (heap snapshot), each visited by every full collection's marking, and a dashboard
   * that visits many models' windows leaves drift behind in each. A reader that looks at no drift
   * ('none') sees none there instead of the outdated one.
   */
  private dropOutdatedDrift(model: string): void {
    const modelDrift = this.driftCache.get(model);
    if (modelDrift === undefined || modelDrift.size === 0) return;
    const windows = this.store.windowsOf(model);
    if (windows === undefined) return;
    const keptFresh = this.keptFresh.get(model);
    const now = this.now();
    for (const [key, computed] of modelDrift) {
      if (now - computed.at < computed.maxAge || keptFresh?.has(key) === true) continue;
      const generation = computed.rolling ? (this.generations.get(model) ?? 0) : windows.changeOf(computed.window, computed.version);
      if (generation !== computed.generation) modelDrift.delete(key);
    }
  }

  /**
   * Called with a model's name when metrics were served with drift older than its window's panes:
   * the model should be evaluated again once the drift is due for recomputation.
   */
  onDriftReused(listener: ModelListener): void {
    this.reused.subscribe(listener);
  }

  /**
   * `undefined` for an unknown model or window; `version` undefined means all versions merged.
   * `demand` says whether and how fresh the drift must be (see DriftDemand); default 'request'.
   * `dataQuality` 'none': the reader looks at no data quality (a rule on counts, latency, quality or
   * drift), which is then left out (`dataQuality` undefined) unless metrics with it are at hand: it
   * walks every feature's sketch tails at each build, a third of the rules' work at 300 models x
   * 30 features when built for every window a rule reads. 'noRanges': a rule on missing values,
   * types or categories, served metrics whose numeric range shares are null unless metrics with
   * them are at hand (DataQualityDemand).
   */
  getMetrics(model: string, window: string, version?: string, options?: MetricsOptions, demand: DriftDemand = 'request', dataQuality: DataQualityDemand = 'full'): ModelMetrics | undefined {
    const windows = this.store.windowsOf(model);
    const windowMs = this.store.lengthOf(window);
    if (windows === undefined || windowMs === undefined) return undefined;
    const rolling = options?.reference === 'rolling';
    const key = driftKey(window, version, rolling);
    const modelCache = getOrAdd(this.cache, model);
    // metrics with final drift answer every demand, those built without computing drift (suffix n)
    // only 'none'; metrics with less data quality (LEANER) only a reader that looks at no more
    let cached: ModelMetrics | undefined;
    for (const lean of AS_LEAN_OR_FULLER[dataQuality]) {
      cached = modelCache.get(`${key}${lean}`) ?? (demand === 'none' ? modelCache.get(`${key}\u0000n${lean}`) : undefined);
      if (cached !== undefined) return cached;
    }
    const lean = LEANER[dataQuality];
    const { reference, generation, maxAge, now, recent, current, compute, modelDrift } = this.plan(model, windows, window, windowMs, version, key, rolling, demand);
    const { from, to } = windows.bounds(window);
    const drift: Drift | undefined = compute ? undefined : recent === undefined ? emptyDrift(reference) : current ? recent.drift : { ...recent.drift, stale: true };
    const aggregate = windows.get(window, version);
    const metrics = buildModelMetrics(aggregate, {
      model,
      version: version ?? null,
      window,
      windowMs,
      from,
      to,
      reference,
      overrides: this.options.overrides,
      falseAlarmsPerMillion: this.options.falseAlarmsPerMillion,
      discreteMaxValues: this.options.discreteMaxValues,
      evaluationsPerWindow: Math.max(1, windowMs / maxAge),
      drift,
      now,
      bucketsRoom: this.bucketsRoom,
      referenceBins: this.referenceBins,
      dataQuality,
    });
    // exact on every read (a few sums), also when the rest of the drift is reused
    // (a reused drift without one stays the same object)
    const multivariate = multivariateDriftOf(aggregate?.input, reference, {
      falseAlarmsPerMillion: this.options.falseAlarmsPerMillion,
      evaluationsPerWindow: Math.max(1, windowMs / maxAge),
    });
    if (multivariate !== null) metrics.drift = { ...metrics.drift, multivariate };
    else if (metrics.drift.multivariate !== undefined) {
      const { multivariate: _reused, ...driftWithout } = metrics.drift;
      metrics.drift = driftWithout;
    }
    if (compute) {
      this.computations++;
      modelDrift.set(key, { drift: metrics.drift, at: now, generation, window, version, rolling, maxAge });
      modelCache.set(`${key}${lean}`, metrics);
    } else if (current) {
      modelCache.set(`${key}${lean}`, metrics);
    } else if (demand === 'none') {
      modelCache.set(`${key}\u0000n${lean}`, metrics);
    } else {
      // not cached: computed again on a later read, when the drift is due for recomputation
      this.reused.notify(model);
    }
    return metrics;
  }

  /**
   * The drift last computed for a window against the profile in force (what getMetrics serves with
   * demand 'none', flagged stale there when the window changed since), without building the rest
   * of the metrics; undefined when none was or it was let go (a reference change drops the model's
   * computations; dropOutdatedDrift one computed on request once no read would serve it).
   * For watching how fresh drift is: `npm run bench -- gateway` samples every model's twice a
   * second, where building 300 models' metrics to read it held the event loop up to 39 ms at a time.
   */
  lastDrift(model: string, window: string, version?: string): Drift | undefined {
    return this.driftCache.get(model)?.get(driftKey(window, version, false))?.drift;
  }

  /**
   * The drift computation `getMetrics(model, window, version, options, demand)` would make now, a
   * feature per call (driftSteps in metrics.ts), so that a caller can yield between features:
   * call it until it returns true, then getMetrics serves what it computed (flagged stale if the
   * window changed meanwhile; due again driftRecomputeMs after). `null` when getMetrics would
   * compute nothing (fresh or reused drift, unknown model or window, no reference or no data).
   * A reference change or the model's eviction meanwhile ends it without storing anything.
   */
  driftSteps(model: string, window: string, version?: string, options?: MetricsOptions, demand: 'refresh' | 'request' = 'request'): (() => boolean) | null {
    const windows = this.store.windowsOf(model);
    const windowMs = this.store.lengthOf(window);
    if (windows === undefined || windowMs === undefined) return null;
    const rolling = options?.reference === 'rolling';
    const key = driftKey(window, version, rolling);
    const { reference, generation, maxAge, compute, modelDrift } = this.plan(model, windows, window, windowMs, version, key, rolling, demand);
    const input = windows.get(window, version)?.input;
    if (!compute || reference === null || input === undefined) return null;
    const step = driftSteps(input, reference, this.driftContext(windowMs, maxAge), this.now);
    return () => {
      // dropped meanwhile (a new reference, the model evicted): what was computed describes neither
      if (this.driftCache.get(model) !== modelDrift || this.store.windowsOf(model) !== windows) return true;
      const drift = step();
      if (drift === undefined) return false;
      this.computations++;
      modelDrift.set(key, { drift, at: this.now(), generation, window, version, rolling, maxAge });
      return true;
    };
  }

  /** Whether a read of (model, key) computes drift now, and what it reuses otherwise (see DriftDemand). */
  private plan(model: string, windows: ModelWindows, window: string, windowMs: number, version: string | undefined, key: string, rolling: boolean, demand: DriftDemand) {
    const modelDrift = getOrAdd(this.driftCache, model);
    if (demand === 'refresh') getOrAdd(this.keptFresh, model, () => new Set<string>()).add(key);
    const { from, to } = windows.bounds(window);
    const reference = rolling ? rollingReference(windows, window, from, to, version) : this.references.referenceFor(model, version);
    // drift against a profile changes only with its own window's aggregate (a pane of another
    // version or outside this window leaves it as it was); a rolling reference slides with the model
    const generation = rolling ? (this.generations.get(model) ?? 0) : windows.changeOf(window, version);
    const maxAge = driftRecomputeMs(windowMs);
    const now = this.now();
    const candidate = modelDrift.get(key);
    const recent = candidate !== undefined && candidate.drift.reference === (reference?.id ?? null) ? candidate : undefined;
    const current = recent !== undefined && recent.generation === generation;
    let compute: boolean;
    if (demand === 'none') compute = false;
    else if (recent === undefined) compute = true;
    else if (current) compute = false;
    else if (demand === 'request' && this.keptFresh.get(model)?.has(key) === true) compute = false;
    else compute = now - recent.at >= maxAge;
    return { modelDrift, reference, generation, maxAge, now, recent, current, compute };
  }

  private driftContext(windowMs: number, maxAge: number) {
    return {
      overrides: this.options.overrides,
      falseAlarmsPerMillion: this.options.falseAlarmsPerMillion,
      discreteMaxValues: this.options.discreteMaxValues,
      evaluationsPerWindow: Math.max(1, windowMs / maxAge),
      bucketsRoom: this.bucketsRoom,
      referenceBins: this.referenceBins,
    };
  }

  /**
   * The worst segments of a window (GET /v1/models/:model/segments), computed on each request from
   * the pane counters (a few keys of a few dozen values: cheap), at the drift tests' false-alarm
   * budget, with the feature drift inside the worst one (segment-drift.ts). `undefined` for an
   * unknown model or window.
   */
  getSegments(model: string, window: string, version?: string): ModelSegments | undefined {
    const windows = this.store.windowsOf(model);
    const windowMs = this.store.lengthOf(window);
    if (windows === undefined || windowMs === undefined) return undefined;
    const { from, to } = windows.bounds(window);
    const budget = {
      overrides: this.options.overrides,
      falseAlarmsPerMillion: this.options.falseAlarmsPerMillion,
      discreteMaxValues: this.options.discreteMaxValues,
      evaluationsPerWindow: Math.max(1, windowMs / driftRecomputeMs(windowMs)),
    };
    return worstSegmentsOf(windows.get(window, version), {
      model,
      version: version ?? null,
      window,
      windowMs,
      from,
      to,
      ...budget,
      featureDrift: (key, value) => segmentFeatureDrift(windows, window, version, key, value, budget),
    });
  }
}

/** A window's drift computations by version and reference mode (rolling or the profile in force). */
function driftKey(window: string, version: string | undefined, rolling: boolean): string {
  return `${window}\u0000${version ?? ''}\u0000${rolling ? 'r' : 'p'}`;
}

function getOrAdd<V, C = Map<string, V>>(maps: Map<string, C>, model: string, create: () => C = () => new Map<string, V>() as C): C {
  let inner = maps.get(model);
  if (inner === undefined) maps.set(model, (inner = create()));
  return inner;
}

/** A rolling reference: the same window length, one period earlier ([from - length, from)). */
function rollingReference(windows: ModelWindows, window: string, from: number, to: number, version?: string): ReferenceProfile | null {
  const length = to - from;
  const aggregate = windows.sumRange(from - length, from, version);
  if (aggregate.input.count === 0) return null;
  const id = newProfileId(windows.model, version ?? null, `rolling-${window}`, from - length);
  const covered = windows.coveredRange(from - length, from, version);
  return profileFromWindow(id, windows.model, version ?? null, 'window', aggregate.input, aggregate.outcome, covered.from, covered.to);
}
