import { MetricsSourceEmitter } from '../contract/metrics-source.ts';
import type { AlertHistoryQuery, MetricsOptions } from '../contract/metrics-source.ts';
import type { ActiveAlert } from '../contract/alerting.ts';
import type { AlertEvent, AlertRuleStatus, ModelMetrics, ModelSegments, ModelSummary } from '../contract/metrics.ts';
import type { AlertLog } from './alert-log.ts';
import type { MetricsView } from './metrics-view.ts';
import type { ReferenceRegistry } from './reference-registry.ts';
import type { WindowStore } from './window-store.ts';
import type { LoopTurns } from './time-slice.ts';

export interface GatewaySourceUnits {
  windows: WindowStore;
  references: ReferenceRegistry;
  view: MetricsView;
  alerts: AlertLog;
}

/** Distinct (model, message) failures of statistics units logged; past them they are only counted. */
const MAX_LOGGED_FAILURES = 100;

export interface GatewaySourceOptions {
  /**
   * How often the changed models are collected and a pass over them starts (default
   * DEFAULT_TICK_MS). It bounds how late an alert is (the alert-latency bench); drift is not
   * recomputed more often for it (driftRecomputeMs throttles that), only counts and rules.
   */
  tickMs?: number;
  /**
   * Statistics work done before yielding to the event loop (default Infinity: a pass in one go).
   * The gateway sets a few tens of ms, so the changelog consumer, REST and the WebSocket feed run
   * between slices however many models changed.
   */
  sliceMs?: number;
  /**
   * Event-loop turns shared with the changelog consumer (LoopTurns): a statistics slice then never
   * runs in the same turn as one of the consumer's, so REST and the feed wait behind one slice at
   * most. Default: each slice after a setImmediate of its own.
   */
  turns?: LoopTurns;
  /** Wall clock for the backlog's age; default Date.now. */
  now?: () => number;
  /**
   * Where a statistics unit that threw is logged (once per model and message). The unit's model
   * goes on with its other units and the next tick; the other models are not held up.
   */
  logger?: { error(obj: object, msg: string): void };
}

/**
 * 250 ms: at 1 s the wait for the next tick was most of an alert's latency (pane on the changelog
 * to alert frame p50 0.9 s in `npm run bench -- alert-latency`); a model is still evaluated at
 * most once per tick, and its drift no more often than before.
 */
export const DEFAULT_TICK_MS = 250;

/** Statistics work not done yet: models waiting for their evaluation, and how long the oldest has waited. */
export interface ComputationBacklog {
  models: number;
  oldestAgeMs: number;
}

/**
 * The MetricsSource the REST routes and the WebSocket feed read, over the gateway's units. Once a
 * tick it queues the models that changed (new panes, a new reference, drift due again) behind
 * those still waiting, and works through the queue in slices: per model, captures an automatic
 * reference if due, evaluates the alert rules (computing drift only where a rule reads it), and
 * announces the model's metrics. The queue is first in, first out, and a model that changes again
 * while queued keeps its place, so a busy gateway serves every model a little late rather than
 * some not at all, and `backlog()` says how late.
 */
export class GatewaySource extends MetricsSourceEmitter {
  private readonly changed = new Set<string>();
  /** Models waiting for their evaluation, in arrival order, with when each was queued. */
  private readonly queue = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  /** A slice is due on a later turn of the event loop (queued work left when the last one ended). */
  private sliceScheduled = false;
  /** Bumped by stop(): a slice scheduled before it does not run. */
  private generation = 0;
  private readonly turns: LoopTurns | undefined;
  private readonly tickMs: number;
  private readonly sliceMs: number;
  private readonly now: () => number;
  /** The units left of the model being worked on (see unitsOf); a unit returning false has more to do. */
  private current: Array<() => boolean | void> | null = null;
  /** Time spent in the statistics slices so far (ms), for the benchmark. */
  workMs = 0;
  /** Models whose rules were evaluated and metrics announced so far (a model's last unit), for the benchmark. */
  evaluatedModels = 0;
  /** Statistics units that threw (each logged once per model and message, at most MAX_LOGGED_FAILURES). */
  failedUnits = 0;
  private readonly loggedFailures = new Set<string>();
  private readonly logger: GatewaySourceOptions['logger'];
  /** The model whose units are being worked on (for the failure log). */
  private currentModel = '';

  constructor(
    private readonly units: GatewaySourceUnits,
    options: GatewaySourceOptions | number = {},
  ) {
    super();
    const resolved = typeof options === 'number' ? { tickMs: options } : options;
    this.tickMs = resolved.tickMs ?? DEFAULT_TICK_MS;
    this.sliceMs = resolved.sliceMs ?? Infinity;
    this.turns = resolved.turns;
    this.now = resolved.now ?? Date.now;
    this.logger = resolved.logger;
    const markChanged = (model: string): void => {
      this.changed.add(model);
    };
    units.windows.onModelChanged(markChanged);
    units.references.onReferenceChanged(markChanged);
    units.view.onDriftReused(markChanged);
    units.windows.onModelAdded((model) => units.references.modelArrived(model));
    units.windows.onModelEvicted((model) => this.release(model));
  }

  /**
   * A model the window store gave up for idleness (called while its windows can still be read):
   * its references leave memory (read back from the store if it returns), its firing alerts
   * resolve with the reason, and it leaves the queue.
   */
  private release(model: string): void {
    const { windows, references, alerts } = this.units;
    const end = windows.windowsOf(model)?.end;
    // the event time the model's data stops at: the same on every replica, like any transition's
    const at = end !== undefined && Number.isFinite(end) ? end : this.now();
    const idleMs = windows.idleMs;
    const reason = `model evicted: no data for models.idleMs${idleMs === undefined ? '' : ` (${idleMs / 1000} s)`}`;
    for (const alert of alerts.releaseModel(model, at, reason)) this.emitAlert(alert);
    references.releaseModel(model);
    this.changed.delete(model);
    this.queue.delete(model);
    this.emitReleased(model);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.generation++;
    this.sliceScheduled = false;
    this.current = null;
  }

  windows(): string[] {
    return this.units.windows.windowNames();
  }

  listModels(): ModelSummary[] {
    return this.units.windows.listModels();
  }

  getMetrics(model: string, window: string, version?: string, options?: MetricsOptions): ModelMetrics | undefined {
    return this.units.view.getMetrics(model, window, version, options);
  }

  metricsSteps(model: string, window: string, version?: string, options?: MetricsOptions): (() => boolean) | null {
    return this.units.view.driftSteps(model, window, version, options);
  }

  knownVersions(model: string): string[] | undefined {
    return this.units.windows.knownVersions(model);
  }

  getSegments(model: string, window: string, version?: string): ModelSegments | undefined {
    return this.units.view.getSegments(model, window, version);
  }

  recentAlerts(model?: string): AlertEvent[] {
    return this.units.alerts.recentAlerts(model);
  }

  activeAlerts(model?: string): ActiveAlert[] {
    return this.units.alerts.activeAlerts(model);
  }

  alertHistory(query: AlertHistoryQuery): AlertEvent[] {
    return this.units.alerts.history(query);
  }

  ruleStatuses(model?: string): AlertRuleStatus[] {
    return this.units.alerts.ruleStatuses(model);
  }

  ready(): boolean {
    return this.units.windows.isReady();
  }

  notReadyReason(): string {
    return this.units.windows.notReadyReason();
  }

  /** Models waiting for their evaluation and the age of the oldest (for the gateway's /metrics). */
  backlog(): ComputationBacklog {
    const oldest = this.queue.values().next();
    const inProgress = (this.current?.length ?? 0) > 0 ? 1 : 0;
    return { models: this.queue.size + inProgress, oldestAgeMs: oldest.done === true ? 0 : Math.max(0, this.now() - oldest.value) };
  }

  /**
   * Queues the models changed since the last tick and works through the queue: within one slice
   * of `sliceMs`, then the rest after yielding to the event loop (a later turn), slice by slice.
   * A slice yields between units (a feature's drift at most), so one large model does not hold the loop either.
   */
  tick(): void {
    const queuedAt = this.now();
    for (const model of this.changed) if (!this.queue.has(model)) this.queue.set(model, queuedAt);
    this.changed.clear();
    if (this.sliceScheduled) return;
    // sharing turns, the pass's first slice takes one too: run from the timer, it was a second
    // slice in that turn of the event loop (the changelog's or the scrape's ran in its check phase)
    if (this.turns !== undefined) this.scheduleSlice();
    else this.runSlice();
  }

  private scheduleSlice(): void {
    this.sliceScheduled = true;
    const generation = this.generation;
    const run = (): void => {
      if (generation === this.generation) this.runSlice();
    };
    if (this.turns === undefined) setImmediate(run);
    else void this.turns.next().then(run);
  }

  private runSlice(): void {
    this.sliceScheduled = false;
    const started = performance.now();
    for (;;) {
      if (this.current === null || this.current.length === 0) {
        const next = this.queue.keys().next();
        if (next.done === true) break;
        this.queue.delete(next.value);
        this.currentModel = next.value;
        this.current = this.unitsOf(next.value);
        continue;
      }
      const unit = this.current[0];
      try {
        if (unit() !== false) this.current.shift();
      } catch (error) {
        this.current.shift();
        this.unitFailed(this.currentModel, error as Error);
      }
      if (performance.now() - started >= this.sliceMs) break;
    }
    this.workMs += performance.now() - started;
    if (this.queue.size > 0 || (this.current?.length ?? 0) > 0) this.scheduleSlice();
  }

  /**
   * A statistics unit threw (a bug, or data no statistic was written for): it is counted and logged
   * once per model and message. Thrown out of a timer, it would have stopped the gateway process.
   */
  private unitFailed(model: string, error: Error): void {
    this.failedUnits++;
    const key = `${model}\u0000${error.message}`;
    if (this.loggedFailures.has(key) || this.loggedFailures.size >= MAX_LOGGED_FAILURES) return;
    this.loggedFailures.add(key);
    this.logger?.error({ model, err: error.message, stack: error.stack }, `computing the metrics of model '${model}' failed; its other figures and the other models go on`);
  }

  /**
   * A model's work as units between which a slice may yield: an automatic reference capture if
   * due, the drift of each (window, version) a rule reads, a feature per call (the expensive part:
   * a window's 30 features in one unit took up to 50 ms, which REST requests waited behind), then
   * the rules and the announcement, which find that drift computed.
   */
  private unitsOf(model: string): Array<() => boolean | void> {
    const windows = this.units.windows.windowsOf(model);
    if (windows === undefined) return [];
    const { view, alerts } = this.units;
    // an automatic reference first: the drift below is computed against it
    // (not for a model released meanwhile: its windows are no longer the store's)
    const units: Array<() => boolean | void> = [() => void (this.units.windows.windowsOf(model) === windows && this.units.references.captureIfDue(windows))];
    for (const { window, perVersion } of alerts.driftReads(model)) {
      for (const version of perVersion ? [...windows.versions] : [undefined]) {
        let step: (() => boolean) | null | undefined;
        units.push(() => {
          step ??= view.driftSteps(model, window, version, undefined, 'refresh');
          return step === null || step();
        });
      }
    }
    units.push(() => this.evaluateModel(model));
    return units;
  }

  /** A model's last unit: evaluate the rules, announce metrics and transitions. */
  private evaluateModel(model: string): void {
    const { windows: store, view, alerts } = this.units;
    const windows = store.windowsOf(model);
    if (windows === undefined) return;
    this.evaluatedModels++;
    // drift is kept fresh only where a rule reads it, data quality built only where one reads it;
    // other rules see exact counts without computing either
    const transitions = alerts.evaluate(
      model,
      (window, version, reads) => view.getMetrics(model, window, version, undefined, reads.drift ? 'refresh' : 'none', reads.dataQuality),
      [...windows.versions],
    );
    view.dropRuleMetrics(model);
    for (const alert of transitions) this.emitAlert(alert);
    this.emitMetrics(model);
  }
}
