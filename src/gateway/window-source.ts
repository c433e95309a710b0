import type { Logger } from 'pino';
import { MetricsSourceEmitter } from '../contract/metrics-source.ts';
import type { MetricsOptions } from '../contract/metrics-source.ts';
import type { AlertEvent, ModelMetrics, ModelSummary } from '../contract/metrics.ts';
import { ModelWindows } from '../window/windows.ts';
import type { WindowAggregate } from '../window/windows.ts';
import { buildModelMetrics } from './metrics.ts';
import type { PaneLimits } from '../window/pane.ts';
import type { PaneMessage } from '../contract/pane-wire.ts';
import type { ReferenceProfile } from '../reference/profile.ts';
import { profileFromWindow } from '../reference/profile.ts';
import { newProfileId } from '../reference/store.ts';
import { AlertEvaluator } from '../alerts/evaluator.ts';
import type { AlertRule } from '../alerts/rules.ts';
import type { DriftTestOverride } from '../stats/select.ts';
import { parseDuration } from '../contract/duration.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';

/**
 * The gateway's view of every model: windows kept from the pane changelog, metrics computed on
 * demand (cached until the windows change), alert rules evaluated once per tick for models that
 * changed, and reference profiles (uploaded, captured, or captured automatically from a model's
 * first minutes). It is what the REST routes and the WebSocket feed read through MetricsSource.
 */

/**
 * How long a window's drift statistics are reused before they are computed again: a sixtieth of
 * the window, between 1 s and 10 s. It also tells the tests how often one window is re-evaluated
 * as it slides (windowMs / this), which their false-alarm budget accounts for.
 */
export function driftRecomputeMs(windowMs: number): number {
  return Math.min(10_000, Math.max(1000, windowMs / 60));
}

export interface WindowSourceOptions {
  windows: readonly string[];
  limits: PaneLimits;
  rules: readonly AlertRule[];
  overrides: Readonly<Record<string, DriftTestOverride>>;
  /** Budget for the default significance level of the p-value tests (default 0.5 per million values). */
  falseAlarmsPerMillion?: number;
  /** 0 disables automatic reference capture. */
  autoCaptureMs: number;
  maxModels: number;
  tickMs?: number;
  logger: Logger;
  metrics?: PipelineMetrics;
  /** Publishes an alert transition (NATS); failures are logged, the alert still reaches WebSockets. */
  publishAlert?: (alert: AlertEvent) => Promise<void>;
  /** Persists a captured reference profile. */
  saveReference?: (profile: ReferenceProfile) => Promise<void>;
}

const RECENT_ALERTS = 200;

export class WindowSource extends MetricsSourceEmitter {
  private readonly models = new Map<string, ModelWindows>();
  private readonly windowMs: Map<string, number>;
  private readonly references = new Map<string, ReferenceProfile>();
  private readonly changed = new Set<string>();
  /** Computed metrics per model, then per `${window}|${version}|${reference mode}`: dropped when the model changes. */
  private readonly cache = new Map<string, Map<string, ModelMetrics>>();
  /**
   * Drift statistics are most of a metrics computation (every test on every feature); counts,
   * latency and quality are cheap. Drift is therefore reused for a short while per window
   * (a second per minute of window length, between 1 s and 10 s) while the rest stays
   * exact on every change.
   */
  private readonly driftCache = new Map<string, Map<string, { drift: ModelMetrics['drift']; at: number }>>();
  private readonly evaluator: AlertEvaluator;
  private readonly recent: AlertEvent[] = [];
  private readonly firing = new Map<string, AlertEvent>();
  private timer: NodeJS.Timeout | null = null;
  private caughtUp = false;
  private droppedModels = 0;

  constructor(private readonly options: WindowSourceOptions) {
    super();
    this.windowMs = new Map(options.windows.map((w) => [w, parseDuration(w) as number]));
    this.evaluator = new AlertEvaluator(options.rules);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  markCaughtUp(): void {
    this.caughtUp = true;
  }

  windows(): string[] {
    return [...this.windowMs.keys()];
  }

  ready(): boolean {
    return this.caughtUp;
  }

  notReadyReason(): string {
    return 'replaying the pane changelog (DRIFT_PANES)';
  }

  applyPaneMessage(message: PaneMessage): void {
    let windows = this.models.get(message.model);
    if (windows === undefined) {
      if (this.models.size >= this.options.maxModels) {
        this.droppedModels++;
        return;
      }
      windows = new ModelWindows(message.model, this.windowMs, this.options.limits);
      windows.applyMessage(message); // a malformed first message throws before the model is listed
      this.models.set(message.model, windows);
    } else {
      windows.applyMessage(message);
    }
    this.changed.add(message.model);
    this.cache.delete(message.model);
  }

  listModels(): ModelSummary[] {
    const summaryWindow = this.windowMs.has('5m') ? '5m' : this.windows()[0];
    return [...this.models.values()].map((w) => ({
      model: w.model,
      versions: [...w.versions].sort(),
      lastEventAt: Number.isFinite(w.end) ? w.end : null,
      count5m: w.get(summaryWindow)?.input.count ?? 0,
    }));
  }

  referenceFor(model: string, version?: string): ReferenceProfile | null {
    if (version !== undefined) {
      const own = this.references.get(`${model}\u0000${version}`);
      if (own) return own;
    }
    return this.references.get(model) ?? null;
  }

  /** Makes a profile the active reference of its model (and version); cached metrics are dropped. */
  setReference(profile: ReferenceProfile): void {
    const key = profile.version === null ? profile.model : `${profile.model}\u0000${profile.version}`;
    const current = this.references.get(key);
    if (current !== undefined && current.createdAt > profile.createdAt && current.id !== profile.id) return;
    this.references.set(key, profile);
    this.forgetComputed(profile.model);
  }

  /** Drops every metric and drift statistic computed for a model (its reference changed). */
  private forgetComputed(model: string): void {
    this.cache.delete(model);
    this.driftCache.delete(model);
    this.changed.add(model);
  }

  /** Forgets a deleted profile if it was active. */
  removeReference(id: string): void {
    for (const [key, profile] of this.references) {
      if (profile.id !== id) continue;
      this.references.delete(key);
      this.forgetComputed(profile.model);
    }
  }

  getMetrics(model: string, window: string, version?: string, options?: MetricsOptions): ModelMetrics | undefined {
    const windows = this.models.get(model);
    if (windows === undefined || !this.windowMs.has(window)) return undefined;
    const rolling = options?.reference === 'rolling';
    const key = `${window}\u0000${version ?? ''}\u0000${rolling ? 'r' : 'p'}`;
    let modelCache = this.cache.get(model);
    if (modelCache === undefined) this.cache.set(model, (modelCache = new Map()));
    let modelDrift = this.driftCache.get(model);
    if (modelDrift === undefined) this.driftCache.set(model, (modelDrift = new Map()));
    const cached = modelCache.get(key);
    if (cached) return cached;
    const { from, to } = windows.bounds(window);
    const windowMs = this.windowMs.get(window) as number;
    const reference = rolling ? this.rollingReference(windows, window, from, to, version) : this.referenceFor(model, version);
    const recent = modelDrift.get(key);
    const maxAge = driftRecomputeMs(windowMs);
    const reuse = recent !== undefined && Date.now() - recent.at < maxAge && recent.drift.reference === (reference?.id ?? null);
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
      evaluationsPerWindow: Math.max(1, windowMs / maxAge),
      drift: reuse ? recent.drift : undefined,
    });
    if (reuse) {
      // not final: evaluate again on a later tick, when the drift is due for recomputation
      this.changed.add(model);
    } else {
      modelDrift.set(key, { drift: metrics.drift, at: Date.now() });
      modelCache.set(key, metrics);
    }
    return metrics;
  }

  /** A rolling reference: the same window length, one period earlier ([from - length, from)). */
  private rollingReference(windows: ModelWindows, window: string, from: number, to: number, version?: string): ReferenceProfile | null {
    const length = to - from;
    const aggregate = windows.sumRange(from - length, from, version);
    if (aggregate.input.count === 0) return null;
    const id = newProfileId(windows.model, version ?? null, `rolling-${window}`, from - length);
    return profileFromWindow(id, windows.model, version ?? null, 'window', aggregate.input, aggregate.outcome, from - length, from);
  }

  /** The merged panes of a model between two event times, for capturing a reference. */
  aggregateRange(model: string, from: number, to: number, version?: string): WindowAggregate | undefined {
    return this.models.get(model)?.sumRange(from, to, version);
  }

  windowBounds(model: string, window: string): { from: number; to: number } | undefined {
    return this.models.get(model)?.bounds(window);
  }

  recentAlerts(model?: string): AlertEvent[] {
    const firing = [...this.firing.values()].filter((a) => model === undefined || a.model === model);
    const recent = this.recent.filter((a) => (model === undefined || a.model === model) && !firing.includes(a));
    return [...firing, ...recent.slice(-50)];
  }

  /** Once a tick: per changed model, capture an automatic reference, evaluate rules, notify listeners. */
  tick(): void {
    if (this.changed.size === 0) return;
    const models = [...this.changed];
    this.changed.clear();
    // metrics computed below may mark their model changed again (drift still being reused)
    for (const model of models) {
      const windows = this.models.get(model);
      if (windows === undefined) continue;
      this.maybeCaptureReference(windows);
      const transitions = this.evaluator.evaluate(model, (window, version) => this.getMetrics(model, window, version), [...windows.versions]);
      for (const alert of transitions) this.onTransition(alert);
      this.emitMetrics(model);
    }
  }

  /** A transition read back from the alerts stream at start-up (see AlertEvaluator.restore). */
  restoreAlert(alert: AlertEvent): void {
    this.evaluator.restore(alert);
    const key = `${alert.model}|${alert.rule}|${alert.scope}`;
    if (alert.state === 'firing') this.firing.set(key, alert);
    else if (this.firing.get(key)?.startsAt === alert.startsAt) this.firing.delete(key);
    this.recent.push(alert);
    if (this.recent.length > RECENT_ALERTS) this.recent.splice(0, this.recent.length - RECENT_ALERTS);
  }

  private onTransition(alert: AlertEvent): void {
    const key = `${alert.model}|${alert.rule}|${alert.scope}`;
    if (alert.state === 'firing') this.firing.set(key, alert);
    else this.firing.delete(key);
    this.recent.push(alert);
    if (this.recent.length > RECENT_ALERTS) this.recent.splice(0, this.recent.length - RECENT_ALERTS);
    this.options.metrics?.alerts.inc({ rule: alert.rule, state: alert.state });
    this.options.logger.info({ alert: alert.id, message: alert.message }, `alert ${alert.state}`);
    this.emitAlert(alert);
    if (this.options.publishAlert) {
      this.options.publishAlert(alert).catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message, alert: alert.id }, 'alert publish failed'));
    }
  }

  private maybeCaptureReference(windows: ModelWindows): void {
    const autoMs = this.options.autoCaptureMs;
    if (autoMs <= 0 || this.references.has(windows.model) || !Number.isFinite(windows.firstPaneStart)) return;
    const from = windows.firstPaneStart;
    const to = from + autoMs;
    // wait until event time has passed the capture range by one pane, so its panes are complete
    if (windows.end < to + windows.paneMs) return;
    const aggregate = windows.sumRange(from, to);
    if (aggregate.input.count === 0) return;
    // deterministic id: every gateway replica captures the same profile under the same name
    const id = newProfileId(windows.model, null, 'auto', from);
    const profile = profileFromWindow(id, windows.model, null, 'auto', aggregate.input, aggregate.outcome, from, to);
    profile.createdAt = to;
    this.setReference(profile);
    this.options.logger.info({ model: windows.model, reference: id, count: profile.count }, 'captured automatic reference profile');
    this.options.saveReference?.(profile).catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message }, 'saving reference failed'));
  }
}
