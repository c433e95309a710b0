import { parseDuration } from '../contract/duration.ts';
import { DETECTOR_KINDS, type DetectorKind } from '../stats/detectors/index.ts';
import { parseMetricSelector, referenceFieldOf, REFERENCE_METRICS, valueRangeOf, type MetricSelector, type ReferenceField } from './selector.ts';

export type AlertSeverity = 'info' | 'warning' | 'critical';
export type AlertOp = '>' | '<' | '>=' | '<=';
export type AlertScope = 'model' | 'version' | 'feature';

/**
 * What a relative threshold is relative to: the reference profile's value of the rule's metric
 * (`field` of ReferenceSummary), or the value of the version with the most traffic ('stable').
 */
export type AlertBaseline = { kind: 'reference'; field: ReferenceField } | { kind: 'stable' };

/**
 * One alert rule, validated. The threshold is either absolute (`threshold`) or relative to a
 * baseline (`delta` added to, or `ratio` multiplied with, the baseline's value of the same metric).
 */
export interface AlertRule {
  name: string;
  description: string;
  /** The metric as written in the config (shown in alert messages); `selector` is what it means. */
  metric: string;
  selector: MetricSelector;
  scope: AlertScope;
  window: string;
  op: AlertOp;
  threshold: number | null;
  /** null: `threshold` is absolute. 'stable' only with scope 'version'. */
  baseline: AlertBaseline | null;
  delta: number;
  ratio: number | null;
  /** Hold the condition this long (event time) before firing. */
  forMs: number;
  /** Resolve only once the value is this far back on the good side of the threshold. */
  resolveHysteresis: number;
  /** Below this many predictions (or labels, for quality metrics) the rule does not change state. */
  minCount: number;
  severity: AlertSeverity;
}

const RULE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

type MakeError = (key: string, value: unknown, expected: string) => Error;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value op threshold` can hold for some value in [min, max]. */
function canHold(op: AlertOp, threshold: number, min: number, max: number): boolean {
  switch (op) {
    case '>':
      return threshold < max;
    case '>=':
      return threshold <= max;
    case '<':
      return threshold > min;
    case '<=':
      return threshold >= min;
  }
}

/**
 * Validates the rule list from config. Every rule that could never fire is refused: each bad field
 * is reported with its index, the rule's name and what is allowed. `runningDetectors` are the
 * detectors on the error stream (config detectors.errorStream); a rule on any other never sees a
 * change.
 */
export function validateAlertRules(raw: unknown, windows: readonly string[], fail: MakeError, runningDetectors: readonly DetectorKind[] = DETECTOR_KINDS): AlertRule[] {
  if (!Array.isArray(raw)) throw fail('alerts.rules', raw, 'a list of alert rules');
  const names = new Set<string>();
  return raw.map((rule, i) => {
    const key = `alerts.rules[${i}]`;
    if (!isObject(rule)) throw fail(key, rule, 'an object');
    const name = rule.name;
    if (typeof name !== 'string' || !RULE_NAME.test(name)) throw fail(`${key}.name`, name, 'a name of letters, digits, _ and - (it is a NATS subject token)');
    if (names.has(name)) throw fail(`${key}.name`, name, 'a name not used by another rule');
    names.add(name);
    const bad = (field: string, value: unknown, expected: string): Error => fail(`${key}.${field}`, value, `${expected} (rule "${name}")`);

    const metric = rule.metric;
    if (typeof metric !== 'string') throw bad('metric', metric, 'a metric name');
    const parsed = parseMetricSelector(metric);
    if (!parsed.ok) throw bad('metric', metric, parsed.expected);
    const selector = parsed.selector;
    if (selector.kind === 'detector' && !runningDetectors.includes(selector.detector)) {
      throw bad('metric', metric, `a detector running on the error stream (detectors.errorStream: ${runningDetectors.join(', ') || 'none'})`);
    }
    const perFeature = (selector.kind === 'drift' && selector.target === 'feature') || selector.kind === 'dataQuality';

    const scope = rule.scope ?? (perFeature ? 'feature' : 'model');
    if (scope !== 'model' && scope !== 'version' && scope !== 'feature') throw bad('scope', scope, "'model', 'version' or 'feature'");
    if ((scope === 'feature') !== perFeature) throw bad('scope', scope, "'feature' exactly when the metric is drift.feature.<...> or dataQuality.<...>");
    const window = rule.window ?? windows[0];
    if (typeof window !== 'string' || !windows.includes(window)) throw bad('window', window, `one of the configured windows (${windows.join(', ')})`);
    const op = rule.op;
    if (op !== '>' && op !== '<' && op !== '>=' && op !== '<=') throw bad('op', op, "one of '>', '<', '>=', '<='");

    const baselineRaw = rule.baseline ?? null;
    let baseline: AlertBaseline | null = null;
    if (baselineRaw === 'reference') {
      const field = referenceFieldOf(selector);
      if (field === null) throw bad('baseline', baselineRaw, `'reference' only on a metric the reference profile has (${REFERENCE_METRICS}), not on ${metric}; use a threshold`);
      baseline = { kind: 'reference', field };
    } else if (baselineRaw === 'stable') {
      if (scope !== 'version') throw bad('baseline', baselineRaw, "'stable' only with scope 'version' (a canary is compared with the stable version)");
      baseline = { kind: 'stable' };
    } else if (baselineRaw !== null) {
      throw bad('baseline', baselineRaw, "'reference', 'stable' or absent");
    }

    const threshold = rule.threshold ?? null;
    if (threshold !== null && (typeof threshold !== 'number' || !Number.isFinite(threshold))) throw bad('threshold', threshold, 'a finite number');
    if (threshold === null && baseline === null) throw bad('threshold', threshold, "a number, or baseline: 'reference' or 'stable' with delta or ratio");
    if (baseline === null && threshold !== null) {
      const { min, max } = valueRangeOf(selector);
      if (!canHold(op, threshold, min, max)) {
        throw bad('threshold', threshold, `a threshold ${metric} can cross with '${op}': its values lie in [${min}, ${max}]`);
      }
    }
    const delta = rule.delta ?? 0;
    if (typeof delta !== 'number' || !Number.isFinite(delta)) throw bad('delta', delta, 'a finite number');
    const ratio = rule.ratio ?? null;
    if (ratio !== null && (typeof ratio !== 'number' || !(ratio > 0))) throw bad('ratio', ratio, 'a positive number');
    const forRaw = rule.for ?? '0s';
    const forMs = typeof forRaw === 'number' ? forRaw : typeof forRaw === 'string' ? parseDuration(forRaw) : null;
    if (forMs === null || !(forMs >= 0)) throw bad('for', forRaw, "a duration like '30s' or milliseconds");
    const hysteresis = rule.resolveHysteresis ?? 0;
    if (typeof hysteresis !== 'number' || !(hysteresis >= 0)) throw bad('resolveHysteresis', hysteresis, 'a number >= 0');
    const minCount = rule.minCount ?? 1;
    if (typeof minCount !== 'number' || !Number.isInteger(minCount) || minCount < 0) throw bad('minCount', minCount, 'an integer >= 0');
    const severity = rule.severity ?? 'warning';
    if (severity !== 'info' && severity !== 'warning' && severity !== 'critical') throw bad('severity', severity, "'info', 'warning' or 'critical'");
    const description = typeof rule.description === 'string' ? rule.description : `${metric} ${op} ${threshold ?? baselineRaw}`;
    return { name, description, metric, selector, scope, window, op, threshold, baseline, delta, ratio, forMs, resolveHysteresis: hysteresis, minCount, severity };
  });
}
