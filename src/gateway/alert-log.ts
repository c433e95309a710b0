import type { Logger } from 'pino';
import type { AlertEvent, ModelMetrics } from '../contract/metrics.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import { AlertEvaluator } from '../alerts/evaluator.ts';
import type { AlertRule } from '../alerts/rules.ts';

export interface AlertLogOptions {
  rules: readonly AlertRule[];
  logger: Logger;
  /** Counts transitions per rule and state (drift_alerts_total). */
  metrics?: PipelineMetrics;
  /** Publishes a transition (NATS); a failure is logged, the transition is still recorded and returned. */
  publishAlert?: (alert: AlertEvent) => Promise<void>;
  /** Transitions kept in the history; default 200. */
  historyLimit?: number;
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

  constructor(private readonly options: AlertLogOptions) {
    this.evaluator = new AlertEvaluator(options.rules);
    this.historyLimit = options.historyLimit ?? 200;
  }

  /**
   * Evaluates every rule on one model; each transition is recorded, counted, logged and
   * published. Returns the transitions, for the caller to announce.
   */
  evaluate(model: string, metricsFor: (window: string, version?: string) => ModelMetrics | undefined, versions: readonly string[]): AlertEvent[] {
    const transitions = this.evaluator.evaluate(model, metricsFor, versions);
    for (const alert of transitions) this.announce(alert);
    return transitions;
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
