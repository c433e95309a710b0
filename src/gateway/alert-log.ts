import type { Logger } from 'pino';
import type { AlertEvent, ModelMetrics } from '../contract/metrics.ts';
import type { GatewayMetrics } from '../contract/pipeline-metrics.ts';
import { AlertEvaluator, type RuleStatus } from '../alerts/evaluator.ts';
import { driftRecomputeMs } from './metrics-view.ts';
import type { AlertRule } from '../alerts/rules.ts';

export interface AlertLogOptions {
  rules: readonly AlertRule[];
  logger: Logger;
  /** Counts transitions per rule and state (drift_alerts_total). */
  metrics?: GatewayMetrics;
  /** Publishes a transition (NATS); a failure is logged, the transition is still recorded and returned. */
  publishAlert?: (alert: AlertEvent) => Promise<void>;
  /** Transitions kept in the history; default 200. */
  historyLimit?: number;
  /** The drift false-alarm budget, which baseline-relative quality rules spend too (config drift.falseAlarmsPerMillion). */
  falseAlarmsPerMillion?: number;
}

/** Transitions served per request besides the firing alerts. */
const SERVED_HISTORY = 50;

/**
 * The alert rules' state and what they said: alerts firing now and the recent transitions, fed
 * by evaluating the rules on a model's metrics and by transitions read back from the alerts stream.
 */
export class AlertLog {
  private readonly evaluator: AlertEvaluator;
  /** Latest firing transition per model, rule and scope, until it resolves. */
  private readonly firing = new Map<string, AlertEvent>();
  private readonly history: AlertEvent[] = [];
  private readonly historyLimit: number;
  /** (model, rule, scope) keys reported as unable to judge, so the log says it once. */
  private readonly unjudged = new Set<string>();

  constructor(private readonly options: AlertLogOptions) {
    // windows are re-evaluated as often as their drift is recomputed (metrics-view): the same budget split
    this.evaluator = new AlertEvaluator(options.rules, {
      falseAlarmsPerMillion: options.falseAlarmsPerMillion,
      evaluationsPerWindow: (windowMs) => Math.max(1, windowMs / driftRecomputeMs(windowMs)),
    });
    this.historyLimit = options.historyLimit ?? 200;
  }

  /**
   * Evaluates every rule on one model; each transition is recorded, counted, logged and
   * published. Returns the transitions, for the caller to announce.
   */
  evaluate(model: string, metricsFor: (window: string, version?: string) => ModelMetrics | undefined, versions: readonly string[]): AlertEvent[] {
    const transitions = this.evaluator.evaluate(model, metricsFor, versions);
    for (const alert of transitions) this.announce(alert);
    this.reportUnjudged(model);
    return transitions;
  }

  /** Rules that cannot judge their latest window (state 'insufficient_reference'), for one model or all. */
  ruleStatuses(model?: string): RuleStatus[] {
    return this.evaluator.ruleStatuses(model);
  }

  /** Logs once when a rule starts (and stops) being unable to judge a model, not on every evaluation. */
  private reportUnjudged(model: string): void {
    const now = new Set<string>();
    for (const status of this.evaluator.ruleStatuses(model)) {
      const key = `${status.model}|${status.rule}|${status.scope}`;
      now.add(key);
      if (!this.unjudged.has(key)) this.options.logger.warn({ rule: status.rule, model, scope: status.scope, state: status.state }, status.message);
      this.unjudged.add(key);
    }
    for (const key of this.unjudged) {
      if (key.startsWith(`${model}|`) && !now.has(key)) {
        this.unjudged.delete(key);
        this.options.logger.info({ key }, 'alert rule can judge its baseline again');
      }
    }
  }

  /** A transition read back from the alerts stream at start-up: the rule continues from it (same start, same id). */
  restore(alert: AlertEvent): void {
    this.evaluator.restore(alert);
    const key = keyOf(alert);
    if (alert.state === 'firing') this.firing.set(key, alert);
    else if (this.firing.get(key)?.startsAt === alert.startsAt) this.firing.delete(key);
    this.remember(alert);
  }

  /** Alerts firing now, then the latest transitions that are not among them; for one model or all. */
  recentAlerts(model?: string): AlertEvent[] {
    const firing = [...this.firing.values()].filter((a) => model === undefined || a.model === model);
    const recent = this.history.filter((a) => (model === undefined || a.model === model) && !firing.includes(a));
    return [...firing, ...recent.slice(-SERVED_HISTORY)];
  }

  private announce(alert: AlertEvent): void {
    const key = keyOf(alert);
    if (alert.state === 'firing') this.firing.set(key, alert);
    else this.firing.delete(key);
    this.remember(alert);
    const { metrics, logger, publishAlert } = this.options;
    metrics?.alerts.inc({ rule: alert.rule, state: alert.state });
    logger.info({ alert: alert.id, message: alert.message }, `alert ${alert.state}`);
    publishAlert?.(alert).catch((error: unknown) => logger.warn({ err: (error as Error).message, alert: alert.id }, 'alert publish failed'));
  }

  private remember(alert: AlertEvent): void {
    this.history.push(alert);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
  }
}

function keyOf(alert: AlertEvent): string {
  return `${alert.model}|${alert.rule}|${alert.scope}`;
}
