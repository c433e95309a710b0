import type { Logger } from 'pino';
import type { AlertEvent, ModelMetrics } from '../contract/metrics.ts';
import type { Acknowledgement, ActiveAlert } from '../contract/alerting.ts';
import type { RuleOverrides } from '../alerts/overrides.ts';
import type { AlertIdentity } from '../alerts/matchers.ts';
import { episodeOf } from '../alerts/alert-store.ts';
import type { GatewayMetrics } from '../contract/pipeline-metrics.ts';
import { AlertEvaluator, type RuleReads, type RuleStatus } from '../alerts/evaluator.ts';
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
  /** Per-model changes of named rules (config alerts.overrides). */
  overrides?: RuleOverrides;
  /** Silences and acknowledgements shown on alerts; a transition covered by a silence is marked silenced. */
  annotations?: AlertAnnotations;
  /** Called with every transition this log announces (after it is recorded and published): audit, webhooks. */
  onTransition?: (alert: AlertEvent) => void;
  /** Wall clock for silences; default Date.now. */
  now?: () => number;
}

/** What operators attached to alerts (AlertActions over the shared KV store). */
export interface AlertAnnotations {
  /** Ids of the silences covering an alert at `now` (wall clock). */
  silencedBy(alert: AlertIdentity, now: number): string[];
  /** The acknowledgement of an episode (`model:rule:scope:startsAt`), if any. */
  acknowledgement(episode: string): Acknowledgement | null;
}

/** Filters of the transition history (GET /v1/alerts). */
export interface AlertHistoryFilter {
  model?: string;
  rule?: string;
  state?: 'firing' | 'resolved';
  /** Transitions at or after this event time (epoch ms). */
  since?: number;
  /** The latest this many (default 50). */
  limit?: number;
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
  private readonly past: AlertEvent[] = [];
  private readonly historyLimit: number;
  /** (model, rule, scope) keys reported as unable to judge, so the log says it once. */
  private readonly unjudged = new Set<string>();

  constructor(private readonly options: AlertLogOptions) {
    // windows are re-evaluated as often as their drift is recomputed (metrics-view): the same budget split
    this.evaluator = new AlertEvaluator(options.rules, {
      falseAlarmsPerMillion: options.falseAlarmsPerMillion,
      evaluationsPerWindow: (windowMs) => Math.max(1, windowMs / driftRecomputeMs(windowMs)),
      overrides: options.overrides,
    });
    this.historyLimit = options.historyLimit ?? 1000;
  }

  /**
   * Evaluates every rule on one model; each transition is recorded, counted, logged and
   * published. Returns the transitions, for the caller to announce.
   */
  /**
   * The windows whose drift `model`'s rules read, each over all versions merged ('model' scope) or
   * per version ('version' scope): what the gateway keeps fresh for it.
   */
  driftReads(model: string): Array<{ window: string; perVersion: boolean }> {
    const reads = new Map<string, { window: string; perVersion: boolean }>();
    for (const rule of this.evaluator.rulesOf(model)) {
      if (rule.selector.kind !== 'drift') continue;
      const perVersion = rule.scope === 'version';
      reads.set(`${rule.window}\u0000${perVersion}`, { window: rule.window, perVersion });
    }
    return [...reads.values()];
  }

  evaluate(model: string, metricsFor: (window: string, version: string | undefined, reads: RuleReads) => ModelMetrics | undefined, versions: readonly string[]): AlertEvent[] {
    const transitions = this.evaluator.evaluate(model, metricsFor, versions).map((alert) => this.announce(alert));
    this.reportUnjudged(model);
    return transitions;
  }

  /**
   * Forgets a model the gateway no longer holds: each of its firing alerts is resolved with
   * `reason` and announced (recorded, counted, logged, published, webhooks) like any resolution,
   * so it leaves operators' view with a trace; its pending alerts and rule states go. Returns the
   * resolutions, for the caller to announce on the live feed.
   */
  releaseModel(model: string, at: number, reason: string): AlertEvent[] {
    const resolutions = this.evaluator.releaseModel(model, at, reason).map((alert) => this.announce(alert));
    const prefix = `${model}|`;
    // a firing alert restored from the stream whose rule is gone from the configuration: nothing evaluates it any more
    for (const key of this.firing.keys()) if (key.startsWith(prefix)) this.firing.delete(key);
    for (const key of this.unjudged) if (key.startsWith(prefix)) this.unjudged.delete(key);
    return resolutions;
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
    const recent = this.past.filter((a) => (model === undefined || a.model === model) && !firing.includes(a));
    return [...firing, ...recent.slice(-SERVED_HISTORY)];
  }

  /**
   * Alerts pending or firing now (newest first), each with whether a silence covers it and its
   * acknowledgement; for one model or all.
   */
  activeAlerts(model?: string): ActiveAlert[] {
    const now = (this.options.now ?? Date.now)();
    const out: ActiveAlert[] = [];
    for (const held of this.evaluator.held(model)) {
      const rule = this.evaluator.rulesOf(held.model).find((r) => r.name === held.rule) ?? this.options.rules.find((r) => r.name === held.rule);
      const firing = this.firing.get(keyOf(held));
      const episode = episodeOf(held);
      const silencedBy = this.options.annotations?.silencedBy(held, now) ?? [];
      const threshold = held.threshold ?? firing?.threshold ?? rule?.threshold ?? 0;
      out.push({
        id: held.state === 'firing' ? (firing?.id ?? `${episode}:firing`) : `${episode}:pending`,
        model: held.model,
        rule: held.rule,
        scope: held.scope,
        state: held.state,
        severity: firing?.severity ?? rule?.severity ?? 'warning',
        value: held.value,
        threshold,
        window: firing?.window ?? rule?.window ?? '',
        startsAt: held.startsAt,
        firedAt: held.state === 'firing' ? (held.firedAt ?? firing?.at ?? null) : null,
        message:
          held.state === 'firing' && firing
            ? firing.message
            : `pending: ${rule?.description ?? held.rule} (${held.model}, ${held.scope}) holds since ${new Date(held.startsAt).toISOString()}, fires after ${rule ? rule.forMs / 1000 : '?'} s`,
        silenced: silencedBy.length > 0,
        silencedBy,
        acknowledged: held.state === 'firing' ? (this.options.annotations?.acknowledgement(episode) ?? null) : null,
      });
    }
    return out.sort((a, b) => b.startsAt - a.startsAt || a.id.localeCompare(b.id));
  }

  /** The firing alert with this id (its firing transition's id), or undefined. */
  findFiring(id: string): ActiveAlert | undefined {
    return this.activeAlerts().find((a) => a.state === 'firing' && a.id === id);
  }

  /** Past transitions, newest first, filtered (the alerts stream keeps them all: see the audit trail). */
  history(filter: AlertHistoryFilter = {}): AlertEvent[] {
    const out: AlertEvent[] = [];
    const limit = filter.limit ?? SERVED_HISTORY;
    for (let i = this.past.length - 1; i >= 0 && out.length < limit; i--) {
      const a = this.past[i];
      if (filter.model !== undefined && a.model !== filter.model) continue;
      if (filter.rule !== undefined && a.rule !== filter.rule) continue;
      if (filter.state !== undefined && a.state !== filter.state) continue;
      if (filter.since !== undefined && a.at < filter.since) continue;
      out.push(a);
    }
    return out;
  }

  private announce(original: AlertEvent): AlertEvent {
    // a silence stops notifications, not the record: the transition is marked and still published
    const silencedBy = this.options.annotations?.silencedBy(original, (this.options.now ?? Date.now)()) ?? [];
    const alert: AlertEvent = silencedBy.length > 0 ? { ...original, silenced: true, silencedBy } : original;
    const key = keyOf(alert);
    if (alert.state === 'firing') this.firing.set(key, alert);
    else this.firing.delete(key);
    this.remember(alert);
    const { metrics, logger, publishAlert } = this.options;
    metrics?.alerts.inc({ rule: alert.rule, state: alert.state });
    logger.info({ alert: alert.id, message: alert.message }, `alert ${alert.state}`);
    publishAlert?.(alert).catch((error: unknown) => logger.warn({ err: (error as Error).message, alert: alert.id }, 'alert publish failed'));
    this.options.onTransition?.(alert);
    return alert;
  }

  private remember(alert: AlertEvent): void {
    this.past.push(alert);
    if (this.past.length > this.historyLimit) this.past.splice(0, this.past.length - this.historyLimit);
  }
}

function keyOf(alert: AlertIdentity): string {
  return `${alert.model}|${alert.rule}|${alert.scope}`;
}
