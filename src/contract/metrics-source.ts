/**
 * The contract between the window/metrics computation (written elsewhere) and the gateway.
 * The gateway only reads through this interface and listens to its two events; it never
 * reaches into window state, so the computation can live in-process or behind a cache.
 */
import { EventEmitter } from 'node:events';
import type { AlertEvent, AlertRuleStatus, ModelMetrics, ModelSegments, ModelSummary } from './metrics.ts';
import type { ActiveAlert } from './alerting.ts';

/** Filters of the transition history (GET /v1/alerts). */
export interface AlertHistoryQuery {
  model?: string;
  rule?: string;
  state?: 'firing' | 'resolved';
  /** Transitions at or after this event time (epoch ms). */
  since?: number;
  limit?: number;
}

/** Event name -> listener arguments, in the shape node's typed `EventEmitter<T>` expects. */
export interface MetricsSourceEvents {
  /** The metrics of `model` changed. The source emits this at most about once a second per model;
   *  the gateway throttles anyway. */
  metrics: [model: string];
  /** An alert transition (pending -> firing, firing -> resolved). */
  alert: [alert: AlertEvent];
  /** The source no longer holds `model` (given up for idleness): what a listener keeps for it can go. */
  released: [model: string];
}

export type MetricsSourceListener<E extends keyof MetricsSourceEvents> = (...args: MetricsSourceEvents[E]) => void;

export interface MetricsOptions {
  /** 'profile' (default): the model's reference profile; 'rolling': the same window one period earlier. */
  reference?: 'profile' | 'rolling';
}

export interface MetricsSource {
  /** Window names the source maintains, e.g. ['1m', '5m', '1h']. */
  windows(): string[];
  listModels(): ModelSummary[];
  /** `undefined` means the model is unknown. `version` undefined means all versions merged. */
  getMetrics(model: string, window: string, version?: string, options?: MetricsOptions): ModelMetrics | undefined;
  /**
   * The versions of `model` the source has seen, also those whose panes have left every window
   * (their metrics are empty, not unknown); `undefined` for an unknown model. Optional: without it
   * a version query is not checked (every version answers, empty when never seen).
   */
  knownVersions?(model: string): string[] | undefined;
  /**
   * The expensive part of `getMetrics(model, window, version, options)` (its drift), a step per
   * call: call it until it returns true, yielding between calls, then getMetrics serves what it
   * computed. `null` when getMetrics would compute nothing costly. Optional: without it a caller
   * just calls getMetrics (the /metrics scrape and REST requests compute a window in one go then).
   */
  metricsSteps?(model: string, window: string, version?: string, options?: MetricsOptions): (() => boolean) | null;
  /** The window's segments ranked by accuracy drop (`undefined`: unknown model); optional (the route answers 404 without it). */
  getSegments?(model: string, window: string, version?: string): ModelSegments | undefined;
  /** Alerts currently firing plus recent transitions, for one model or all. */
  recentAlerts(model?: string): AlertEvent[];
  /** Alerts pending or firing now, with silences and acknowledgements; optional (derived from recentAlerts when absent). */
  activeAlerts?(model?: string): ActiveAlert[];
  /** Past transitions, newest first, filtered; optional (recentAlerts when absent). */
  alertHistory?(query: AlertHistoryQuery): AlertEvent[];
  /** Rules that cannot judge their baseline (e.g. a reference with too few labels), for one model or all; optional. */
  ruleStatuses?(model?: string): AlertRuleStatus[];
  /** Whether the source can answer queries (state restored, partitions assigned...). */
  ready(): boolean;
  /** Optional human-readable reason served by /readyz while not ready. */
  notReadyReason?(): string;
  on<E extends keyof MetricsSourceEvents>(event: E, listener: MetricsSourceListener<E>): unknown;
  off<E extends keyof MetricsSourceEvents>(event: E, listener: MetricsSourceListener<E>): unknown;
}

/**
 * Base class for sources: a node EventEmitter typed with {@link MetricsSourceEvents}, with
 * `emitMetrics`/`emitAlert` helpers so callers cannot misspell an event name.
 */
export abstract class MetricsSourceEmitter extends EventEmitter<MetricsSourceEvents> implements MetricsSource {
  abstract windows(): string[];
  abstract listModels(): ModelSummary[];
  abstract getMetrics(model: string, window: string, version?: string, options?: MetricsOptions): ModelMetrics | undefined;
  abstract recentAlerts(model?: string): AlertEvent[];
  abstract ready(): boolean;

  emitMetrics(model: string): void {
    this.emit('metrics', model);
  }

  emitAlert(alert: AlertEvent): void {
    this.emit('alert', alert);
  }

  emitReleased(model: string): void {
    this.emit('released', model);
  }
}
