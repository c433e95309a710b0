import type { MetricsOptions } from '../contract/metrics-source.ts';
import type { ModelMetrics } from '../contract/metrics.ts';
import type { ReferenceProfile } from '../reference/profile.ts';
import { profileFromWindow } from '../reference/profile.ts';
import { newProfileId } from '../reference/store.ts';
import type { DriftTestOverride } from '../stats/select.ts';
import type { ModelWindows } from '../window/windows.ts';
import { buildModelMetrics } from './metrics.ts';
import { ModelSignal } from './model-signal.ts';
import type { ModelListener } from './model-signal.ts';
import type { ReferenceRegistry } from './reference-registry.ts';
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

/**
 * Model metrics computed on demand from a WindowStore against the ReferenceRegistry (or a rolling
 * reference), and cached until the model's windows or reference change.
 */
export class MetricsView {
  /** Computed metrics per model, then per window, version and reference mode: dropped when the model changes. */
  private readonly cache = new Map<string, Map<string, ModelMetrics>>();
  /**
   * Drift statistics are most of a metrics computation (every test on every feature); counts,
   * latency and quality are cheap. Drift is therefore reused for driftRecomputeMs per window
   * while the rest stays exact on every change; a reference change drops it at once.
   */
  private readonly driftCache = new Map<string, Map<string, { drift: Drift; at: number }>>();
  private readonly reused = new ModelSignal();
  private readonly now: () => number;

  constructor(
    private readonly store: WindowStore,
    private readonly references: ReferenceRegistry,
    private readonly options: MetricsViewOptions,
  ) {
    this.now = options.now ?? Date.now;
    store.onModelChanged((model) => this.cache.delete(model));
    store.onModelEvicted((model) => {
      this.cache.delete(model);
      this.driftCache.delete(model);
    });
    references.onReferenceChanged((model) => {
      this.cache.delete(model);
      this.driftCache.delete(model);
    });
  }

  /**
   * Called with a model's name when metrics were served with reused drift: they are not final,
   * and the model should be evaluated again once the drift is due for recomputation.
   */
  onDriftReused(listener: ModelListener): void {
    this.reused.subscribe(listener);
  }

  /** `undefined` for an unknown model or window; `version` undefined means all versions merged. */
  getMetrics(model: string, window: string, version?: string, options?: MetricsOptions): ModelMetrics | undefined {
    const windows = this.store.windowsOf(model);
    const windowMs = this.store.lengthOf(window);
    if (windows === undefined || windowMs === undefined) return undefined;
    const rolling = options?.reference === 'rolling';
    const key = `${window}\u0000${version ?? ''}\u0000${rolling ? 'r' : 'p'}`;
    const modelCache = getOrAdd(this.cache, model);
    const modelDrift = getOrAdd(this.driftCache, model);
    const cached = modelCache.get(key);
    if (cached) return cached;
    const { from, to } = windows.bounds(window);
    const reference = rolling ? rollingReference(windows, window, from, to, version) : this.references.referenceFor(model, version);
    const recent = modelDrift.get(key);
    const maxAge = driftRecomputeMs(windowMs);
    const now = this.now();
    const reuse = recent !== undefined && now - recent.at < maxAge && recent.drift.reference === (reference?.id ?? null);
    const metrics = buildModelMetrics(windows.get(window, version), {
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
      drift: reuse ? recent.drift : undefined,
      now,
    });
    if (reuse) {
      // not cached: computed again on a later request, when the drift is due for recomputation
      this.reused.notify(model);
    } else {
      modelDrift.set(key, { drift: metrics.drift, at: now });
      modelCache.set(key, metrics);
    }
    return metrics;
  }
}

function getOrAdd<V>(maps: Map<string, Map<string, V>>, model: string): Map<string, V> {
  let inner = maps.get(model);
  if (inner === undefined) maps.set(model, (inner = new Map()));
  return inner;
}

/** A rolling reference: the same window length, one period earlier ([from - length, from)). */
function rollingReference(windows: ModelWindows, window: string, from: number, to: number, version?: string): ReferenceProfile | null {
  const length = to - from;
  const aggregate = windows.sumRange(from - length, from, version);
  if (aggregate.input.count === 0) return null;
  const id = newProfileId(windows.model, version ?? null, `rolling-${window}`, from - length);
  return profileFromWindow(id, windows.model, version ?? null, 'window', aggregate.input, aggregate.outcome, from - length, from);
}
