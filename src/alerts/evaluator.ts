import type { AlertRule } from './rules.ts';
import type { DataQualityMetric, DriftReading, MetricSelector } from './selector.ts';
import { dropEvidence, type DropEvidence } from './drop-evidence.ts';
import type { AlertEvent, AlertRuleStatus, DataQualityDemand, DriftEntry, ModelMetrics } from '../contract/metrics.ts';
import { budgetSignificance, DEFAULT_FALSE_ALARMS_PER_MILLION } from '../stats/select.ts';
import { rulesForModel, type RuleOverrides } from './overrides.ts';

/**
 * Alert lifecycle per (rule, model, scope): ok -> pending (condition holds) -> firing (held for
 * `for`) -> resolved (condition no longer holds, past the hysteresis). Time is the metrics' event
 * time (`to`), so a replay evaluates exactly as live traffic did. Transitions to firing and to
 * resolved are returned once each, with an id stable across replays and replicas
 * (`model:rule:scope:startsAt:state`), which is also the JetStream Nats-Msg-Id.
 */

interface RuleState {
  state: 'pending' | 'firing';
  startsAt: number;
  value: number | null;
  /** The effective threshold at the latest evaluation (null for a state restored from the stream and not evaluated since). */
  threshold: number | null;
  /** Event time of the firing transition. */
  firedAt: number | null;
}

/** An alert the evaluator holds now: pending (the condition holds, not yet for `for`) or firing. */

/**
 * What a rule reads of a window's metrics besides its counts, latency and quality, which are exact
 * and cheap: the drift statistics (every test on every feature) and the data quality of every
 * feature are most of a metrics build, and a source computes them only for the rules that read them.
 * `dataQuality` 'noRanges' for a rule on missing values, types or categories (DataQualityDemand).
 */
export interface RuleReads {
  drift: boolean;
  dataQuality: DataQualityDemand;
}

/** The data quality metrics read off the numeric sketches' tails against the reference's range. */
const RANGE_METRICS: ReadonlySet<DataQualityMetric> = new Set<DataQualityMetric>(['outOfRangeShare', 'outOfQuantileShare']);

const READS_DRIFT: RuleReads = Object.freeze({ drift: true, dataQuality: 'none' });
const READS_DATA_QUALITY: RuleReads = Object.freeze({ drift: false, dataQuality: 'full' });
const READS_DATA_QUALITY_NO_RANGES: RuleReads = Object.freeze({ drift: false, dataQuality: 'noRanges' });
const READS_NEITHER: RuleReads = Object.freeze({ drift: false, dataQuality: 'none' });

function readsOf(selector: MetricSelector): RuleReads {
  if (selector.kind === 'drift') return READS_DRIFT;
  if (selector.kind === 'dataQuality') return RANGE_METRICS.has(selector.metric) ? READS_DATA_QUALITY : READS_DATA_QUALITY_NO_RANGES;
  return READS_NEITHER;
}

export interface HeldAlert {
  model: string;
  rule: string;
  scope: string;
  state: 'pending' | 'firing';
  startsAt: number;
  firedAt: number | null;
  value: number | null;
  threshold: number | null;
}

export interface Observation {
  scope: string;
  value: number | null;
  threshold: number;
  /** Whether enough data backs the value (rule.minCount). */
  enough: boolean;
  /**
   * For a quality rule relative to a baseline (accuracy, F1, AUC below the reference's or the
   * stable version's): whether the drop is significant given both sides' sample sizes, or that the
   * baseline is too small to judge against. Absent for every other rule (the value alone decides).
   */
  evidence?: DropEvidence;
}

/** How much false-alarm budget a significance-gated rule may spend (the drift tests' budget, see budgetSignificance). */
export interface AlertEvaluatorOptions {
  /** False alarms per million labels a stationary model may raise; default the drift default (0.5). */
  falseAlarmsPerMillion?: number;
  /** How many times a window of this length is evaluated per window length (the gateway re-evaluates as it slides); default 1. */
  evaluationsPerWindow?: (windowMs: number) => number;
  /** Per-model changes of named rules (config alerts.overrides); default none. */
  overrides?: RuleOverrides;
}

/** A rule whose baseline is too small to judge against on a scope, and why (served by GET /v1/alerts, logged once by the alert log). */
export type RuleStatus = AlertRuleStatus;

/** The value a (non-feature) selector names in one window's metrics; null when the window has none. */
function valueAt(metrics: ModelMetrics, selector: MetricSelector): number | null {
  switch (selector.kind) {
    case 'count':
    case 'errorRate':
    case 'accuracy':
    case 'estimatedAccuracy':
    case 'labelCoverage':
      return metrics[selector.kind];
    case 'latency':
      return metrics.latency[selector.quantile];
    case 'quality':
      return metrics.quality[selector.metric] ?? null;
    case 'detector':
      // only detectors that signalled in the window are listed
      return metrics.detectors[selector.detector] ?? 0;
    case 'fairness':
      return metrics.fairness?.[selector.segmentKey]?.[selector.metric] ?? null;
    case 'dataQuality':
      // per feature: observed feature by feature (observe)
      return null;
    case 'drift':
      // per-feature readings are observed feature by feature (observe)
      return selector.target === 'output' && metrics.drift.output !== null ? driftValue(metrics.drift.output, selector.reading) : null;
    case 'multivariate': {
      const multivariate = metrics.drift.multivariate;
      if (multivariate === undefined || multivariate === null) return null;
      return selector.reading === 'verdict' ? (multivariate.drift ? 1 : 0) : multivariate.errorMean;
    }
  }
}

function driftValue(entry: DriftEntry, reading: DriftReading): number | null {
  switch (reading.field) {
    case 'verdict':
      return entry.drift ? 1 : 0;
    case 'pValue':
      return entry.tests[reading.test]?.pValue ?? null;
    case 'statistic':
      return entry.tests[reading.test]?.statistic ?? null;
  }
}

/** A data-quality reading as a number: a flag (appeared, vanished) is 1 or 0. */
function dataQualityValue(value: number | boolean | null): number | null {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** What a quality rule's significance budget is spent over: the window's labels, or its scored predictions for an estimate. */
function evidenceCount(metrics: ModelMetrics, rule: AlertRule): number {
  return rule.selector.kind === 'estimatedAccuracy' ? (metrics.quality.estimatedOn ?? 0) : metrics.quality.labeled;
}

function supportCount(metrics: ModelMetrics, rule: AlertRule): number {
  return rule.selector.kind === 'accuracy' || rule.selector.kind === 'quality' ? metrics.quality.labeled : metrics.count;
}

/** A rule's effective threshold on one window's metrics (its baseline applied), or null: nothing to judge against. */
function thresholdOf(rule: AlertRule, metrics: ModelMetrics, stable: ModelMetrics | undefined, options: AlertEvaluatorOptions): { threshold: number; evidence: DropEvidence | undefined } | null {
  if (rule.baseline === null) return rule.threshold === null ? null : { threshold: rule.threshold, evidence: undefined };
  const stableBase = stable && supportCount(stable, rule) >= rule.minCount ? stable : undefined;
  const base = rule.baseline.kind === 'reference' ? (metrics.reference?.[rule.baseline.field] ?? null) : stableBase ? valueAt(stableBase, rule.selector) : null;
  if (base === null) return null;
  const threshold = rule.ratio !== null ? base * rule.ratio : base + rule.delta;
  const alpha = budgetSignificance(
    evidenceCount(metrics, rule),
    options.falseAlarmsPerMillion ?? DEFAULT_FALSE_ALARMS_PER_MILLION,
    options.evaluationsPerWindow?.(metrics.windowMs) ?? 1,
  );
  const evidence = dropEvidence(rule, metrics, base, threshold, rule.baseline.kind === 'reference' ? { kind: 'reference' } : { kind: 'stable', metrics: stableBase as ModelMetrics }, alpha) ?? undefined;
  return { threshold, evidence };
}

/**
 * The values a rule looks at in one window's metrics: one per scope (the model, or each feature).
 * `stable` is the metrics of the model's stable version, for rules with baseline 'stable'.
 * (AlertEvaluator.evaluate visits the same values without building them: see forEachObservation.)
 */
export function observe(rule: AlertRule, metrics: ModelMetrics, scopePrefix = 'model', stable?: ModelMetrics, options: AlertEvaluatorOptions = {}): Observation[] {
  const out: Observation[] = [];
  forEachObservation(rule, metrics, scopePrefix, stable, options, (feature, value, threshold, enough, evidence) => {
    out.push({ scope: feature === null ? scopePrefix : `feature:${feature}`, value, threshold, enough, ...(evidence ? { evidence } : {}) });
  });
  return out;
}

/** Called once per scope a rule looks at: `feature` null for the rule's own scope (the model or a version). */
type ObservationVisitor = (feature: string | null, value: number | null, threshold: number, enough: boolean, evidence: DropEvidence | undefined) => void;

/**
 * observe without its arrays and scope strings: at 300 models x 30 features the per-feature drift
 * rule's observations (Object.entries, an object and two strings per feature and evaluation) were
 * a fifth of everything a gateway allocated (bench gateway: young-generation collections 591-595
 * -> 492-500 in 45 s without them; their total time stayed the same).
 */
function forEachObservation(rule: AlertRule, metrics: ModelMetrics, scopePrefix: string, stable: ModelMetrics | undefined, options: AlertEvaluatorOptions, visit: ObservationVisitor): void {
  const enough = supportCount(metrics, rule) >= rule.minCount;
  const judged = thresholdOf(rule, metrics, stable, options);
  if (judged === null) return;
  const { threshold, evidence } = judged;
  const selector = rule.selector;
  if (selector.kind === 'drift' && selector.target === 'feature') {
    const features = metrics.drift.features;
    for (const name in features) {
      const entry = features[name];
      visit(name, driftValue(entry, selector.reading), threshold, enough && entry.count >= rule.minCount, undefined);
    }
    return;
  }
  if (selector.kind === 'dataQuality') {
    const features = metrics.dataQuality?.features;
    for (const name in features) visit(name, dataQualityValue(features[name][selector.metric]), threshold, enough, undefined);
    return;
  }
  visit(null, valueAt(metrics, selector), threshold, enough, evidence);
}

/** Feature keys kept per model and rule before they start again (above any feature cap a model has). */
const MAX_FEATURE_KEYS = 4096;

function holds(op: AlertRule['op'], value: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}

/** Whether a firing alert's value is back on the good side by at least the hysteresis. */
function recovered(op: AlertRule['op'], value: number, threshold: number, hysteresis: number): boolean {
  return op === '>' || op === '>=' ? value <= threshold - hysteresis : value >= threshold + hysteresis;
}

export class AlertEvaluator {
  private readonly states = new Map<string, RuleState>();
  /** Rules (per model and scope) whose baseline is too small to judge against, until it is not. */
  private readonly unjudged = new Map<string, RuleStatus>();
  /** The rules as they apply to each model evaluated so far (overrides resolved once). */
  private readonly modelRules = new Map<string, AlertRule[]>();
  /** Per model and rule, each feature's scope and state key (see forEachObservation); dropped with the model. */
  private readonly featureKeys = new Map<string, Map<AlertRule, Map<string, { scope: string; key: string }>>>();

  constructor(
    private readonly rules: readonly AlertRule[],
    private readonly options: AlertEvaluatorOptions = {},
  ) {}

  /**
   * Evaluates every rule of one model. `metricsFor(window, version?, reads)` gives the metrics
   * the rules need (see RuleReads: what the source need not compute for a rule); `versions` lists
   * the model's versions for version-scoped rules. Returns transitions.
   */
  evaluate(model: string, metricsFor: (window: string, version: string | undefined, reads: RuleReads) => ModelMetrics | undefined, versions: readonly string[]): AlertEvent[] {
    const transitions: AlertEvent[] = [];
    for (const rule of this.rulesOf(model)) {
      const targets: Array<{ metrics: ModelMetrics; prefix: string }> = [];
      let stable: ModelMetrics | undefined;
      const reads = readsOf(rule.selector);
      if (rule.scope === 'version') {
        for (const version of versions) {
          const metrics = metricsFor(rule.window, version, reads);
          if (metrics) targets.push({ metrics, prefix: `version:${version}` });
        }
        if (rule.baseline?.kind === 'stable') {
          // the stable version is the one serving most traffic in the window; canaries are compared with it
          stable = targets.reduce<ModelMetrics | undefined>((best, t) => (best === undefined || t.metrics.count > best.count ? t.metrics : best), undefined);
          targets.splice(0, targets.length, ...targets.filter((t) => t.metrics !== stable));
        }
      } else {
        const metrics = metricsFor(rule.window, undefined, reads);
        if (metrics) targets.push({ metrics, prefix: 'model' });
      }
      for (const { metrics, prefix } of targets) {
        const now = metrics.to;
        const ownKey = `${model}|${rule.name}|${prefix}`;
        const featureKeys = this.featureKeysOf(model, rule);
        forEachObservation(rule, metrics, prefix, stable, this.options, (feature, value, threshold, enough, evidence) => {
          let key = ownKey;
          let scope = prefix;
          if (feature !== null) {
            let known = featureKeys.get(feature);
            if (known === undefined) {
              // feature names come and go within the schema's cap; a map outgrowing it starts again
              if (featureKeys.size >= MAX_FEATURE_KEYS) featureKeys.clear();
              // joined, not a template: a template makes a tree of string pieces (V8's ConsString), three
              // objects per key for as long as the key is kept (most of a 60-model gateway's 26,404)
              scope = ['feature:', feature].join('');
              known = { scope, key: [model, rule.name, scope].join('|') };
              featureKeys.set(feature, known);
            }
            ({ key, scope } = known);
          }
          const transition = this.step(rule, model, key, scope, value, threshold, enough, evidence, now);
          if (transition) transitions.push(transition);
        });
      }
    }
    return transitions;
  }

  /** A per-feature scope's name and state key of (model, rule), made once (see forEachObservation). */
  private featureKeysOf(model: string, rule: AlertRule): Map<string, { scope: string; key: string }> {
    let byRule = this.featureKeys.get(model);
    if (byRule === undefined) this.featureKeys.set(model, (byRule = new Map()));
    let keys = byRule.get(rule);
    if (keys === undefined) byRule.set(rule, (keys = new Map()));
    return keys;
  }

  /** The rules as they apply to `model`: its overrides applied, its disabled rules left out. */
  rulesOf(model: string): readonly AlertRule[] {
    let rules = this.modelRules.get(model);
    if (rules === undefined) {
      rules = this.options.overrides === undefined ? [...this.rules] : rulesForModel(this.rules, this.options.overrides, model);
      this.modelRules.set(model, rules);
    }
    return rules;
  }

  private step(
    rule: AlertRule,
    model: string,
    key: string,
    scope: string,
    value: number | null,
    threshold: number,
    enough: boolean,
    evidence: DropEvidence | undefined,
    now: number,
  ): AlertEvent | null {
    const current = this.states.get(key);
    if (!enough || value === null || !Number.isFinite(value)) return null;
    if (evidence?.insufficient) {
      // the baseline cannot tell a drop near the margin from its own noise: say so (a drop large enough still fires)
      this.unjudged.set(key, {
        rule: rule.name,
        model,
        scope,
        state: 'insufficient_reference',
        baselineLabels: evidence.insufficient.baselineLabels,
        neededLabels: evidence.insufficient.neededLabels,
        since: this.unjudged.get(key)?.since ?? now,
        message: `${rule.name} (${model}, ${scope}) cannot judge its baseline: ${evidence.insufficient.reason}`,
      });
    } else {
      this.unjudged.delete(key);
    }
    // a baseline-relative quality drop counts only when it is significant given both sample sizes
    const bad = holds(rule.op, value, threshold) && (evidence === undefined || evidence.significant);
    if (current === undefined) {
      if (!bad) return null;
      const state: RuleState = { state: 'pending', startsAt: now, value, threshold, firedAt: null };
      this.states.set(key, state);
      if (rule.forMs === 0) return this.fire(rule, model, scope, state, threshold, now);
      return null;
    }
    current.value = value;
    current.threshold = threshold;
    if (current.state === 'pending') {
      if (!bad) {
        this.states.delete(key);
        return null;
      }
      if (now - current.startsAt >= rule.forMs) return this.fire(rule, model, scope, current, threshold, now);
      return null;
    }
    if (recovered(rule.op, value, threshold, rule.resolveHysteresis)) {
      this.states.delete(key);
      return makeAlert(rule, model, scope, 'resolved', current.startsAt, value, threshold, now);
    }
    return null;
  }

  private fire(rule: AlertRule, model: string, scope: string, state: RuleState, threshold: number, now: number): AlertEvent {
    state.state = 'firing';
    state.firedAt = now;
    return makeAlert(rule, model, scope, 'firing', state.startsAt, state.value, threshold, now);
  }

  /**
   * Folds in a transition published earlier (by this or another replica, before a restart), so
   * that an alert already firing is not announced again with a new start, and its resolution
   * carries the same start (hence the same id for every replica).
   */
  restore(alert: AlertEvent): void {
    const key = `${alert.model}|${alert.rule}|${alert.scope}`;
    if (alert.state === 'firing') this.states.set(key, { state: 'firing', startsAt: alert.startsAt, value: alert.value, threshold: alert.threshold, firedAt: alert.at });
    else if (this.states.get(key)?.startsAt === alert.startsAt) this.states.delete(key);
  }

  /**
   * Forgets everything held for a model the gateway no longer holds (released for idleness): its
   * pending alerts go without a word (they never fired), each firing one resolves with `reason`
   * at event time `at` (returned, to be announced like any resolution: same id as an ordinary
   * resolution of that episode, so replicas releasing it too publish the same transition).
   */
  releaseModel(model: string, at: number, reason: string): AlertEvent[] {
    const prefix = `${model}|`;
    const resolutions: AlertEvent[] = [];
    for (const [key, state] of this.states) {
      if (!key.startsWith(prefix)) continue;
      this.states.delete(key);
      if (state.state !== 'firing') continue;
      const [, ruleName, scope] = key.split('|');
      const rule = this.rulesOf(model).find((r) => r.name === ruleName) ?? this.rules.find((r) => r.name === ruleName);
      // a rule gone from the configuration since the alert fired is no longer evaluated: nothing to resolve
      if (rule === undefined) continue;
      const threshold = state.threshold ?? rule.threshold ?? 0;
      resolutions.push(makeAlert(rule, model, scope, 'resolved', state.startsAt, state.value, threshold, Math.max(at, state.firedAt ?? at), reason));
    }
    for (const key of this.unjudged.keys()) if (key.startsWith(prefix)) this.unjudged.delete(key);
    this.modelRules.delete(model);
    this.featureKeys.delete(model);
    return resolutions;
  }

  /** Rules whose baseline was too small to judge against on their latest evaluation, for one model or all. */
  ruleStatuses(model?: string): RuleStatus[] {
    return [...this.unjudged.values()].filter((status) => model === undefined || status.model === model);
  }

  /** Alerts pending or firing now, for one model or all. */
  held(model?: string): HeldAlert[] {
    const out: HeldAlert[] = [];
    for (const [key, state] of this.states) {
      const [m, rule, scope] = key.split('|');
      if (model !== undefined && m !== model) continue;
      out.push({ model: m, rule, scope, state: state.state, startsAt: state.startsAt, firedAt: state.firedAt, value: state.value, threshold: state.threshold });
    }
    return out;
  }

  /** Alerts currently firing, as firing events. */
  firing(model?: string): Array<{ rule: string; model: string; scope: string; startsAt: number; value: number | null }> {
    const out = [];
    for (const [key, state] of this.states) {
      if (state.state !== 'firing') continue;
      const [m, rule, scope] = key.split('|');
      if (model !== undefined && m !== model) continue;
      out.push({ rule, model: m, scope, startsAt: state.startsAt, value: state.value });
    }
    return out;
  }
}

function makeAlert(
  rule: AlertRule,
  model: string,
  scope: string,
  state: 'firing' | 'resolved',
  startsAt: number,
  value: number | null,
  threshold: number,
  at: number,
  /** Why a resolution happened other than by the value recovering (said in its message). */
  reason?: string,
): AlertEvent {
  const shown = value === null ? 'n/a' : Number(value.toPrecision(4));
  return {
    id: `${model}:${rule.name}:${scope}:${startsAt}:${state}`,
    model,
    rule: rule.name,
    scope,
    state,
    severity: rule.severity,
    value,
    threshold,
    window: rule.window,
    startsAt,
    at,
    message:
      state === 'firing'
        ? `${rule.description} (${model}, ${scope}): ${rule.metric} = ${shown} ${rule.op} ${Number(threshold.toPrecision(4))} over ${rule.window}`
        : reason !== undefined
          ? `resolved (${reason}): ${rule.description} (${model}, ${scope}): ${rule.metric} was ${shown}`
          : `resolved: ${rule.description} (${model}, ${scope}): ${rule.metric} = ${shown}`,
  };
}
