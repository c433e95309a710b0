import { parseDuration } from '../contract/duration.ts';

export type AlertSeverity = 'info' | 'warning' | 'critical';
export type AlertOp = '>' | '<' | '>=' | '<=';
export type AlertScope = 'model' | 'version' | 'feature';

/**
 * One alert rule. The threshold is either absolute (`threshold`) or relative to the reference
 * profile (`baseline: 'reference'` with `delta` added to, or `ratio` multiplied with, the
 * reference's value of the same metric).
 */
export interface AlertRule {
  name: string;
  description: string;
  /** 'count' | 'errorRate' | 'accuracy' | 'labelCoverage' | 'latency.p50|p95|p99' | 'quality.<metric>'
   *  | 'drift.output.<test>' | 'drift.feature.<test>' (scope 'feature') | 'drift.output.drift' (1 when the default test says drift) */
  metric: string;
  scope: AlertScope;
  window: string;
  op: AlertOp;
  threshold: number | null;
  /** 'reference': the reference profile's value; 'stable' (scope 'version'): the value of the version with the most traffic. */
  baseline: 'reference' | 'stable' | null;
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
const METRIC = /^(count|errorRate|accuracy|estimatedAccuracy|labelCoverage|latency\.(p50|p95|p99|mean)|quality\.[A-Za-z]+|detector\.[a-z_]+|fairness\.[A-Za-z0-9_-]+\.(demographicParityDifference|disparateImpactRatio|equalOpportunityDifference)|drift\.(output|feature)\.[a-z_]+(\.pvalue)?)$/;

type MakeError = (key: string, value: unknown, expected: string) => Error;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates the rule list from config; each bad field is reported with its index and name. */
export function validateAlertRules(raw: unknown, windows: readonly string[], fail: MakeError): AlertRule[] {
  if (!Array.isArray(raw)) throw fail('alerts.rules', raw, 'a list of alert rules');
  const names = new Set<string>();
  return raw.map((rule, i) => {
    const key = `alerts.rules[${i}]`;
    if (!isObject(rule)) throw fail(key, rule, 'an object');
    const name = rule.name;
    if (typeof name !== 'string' || !RULE_NAME.test(name)) throw fail(`${key}.name`, name, 'a name of letters, digits, _ and - (it is a NATS subject token)');
    if (names.has(name)) throw fail(`${key}.name`, name, 'a name not used by another rule');
    names.add(name);
    const metric = rule.metric;
    if (typeof metric !== 'string' || !METRIC.test(metric)) {
      throw fail(
        `${key}.metric`,
        metric,
        'one of count, errorRate, accuracy, estimatedAccuracy, labelCoverage, latency.p50|p95|p99|mean, quality.<name>, detector.<kind>, fairness.<segment key>.<metric>, drift.output.<test>[.pvalue], drift.feature.<test>[.pvalue]',
      );
    }
    const scope = rule.scope ?? (metric.startsWith('drift.feature.') ? 'feature' : 'model');
    if (scope !== 'model' && scope !== 'version' && scope !== 'feature') throw fail(`${key}.scope`, scope, "'model', 'version' or 'feature'");
    if ((scope === 'feature') !== metric.startsWith('drift.feature.')) {
      throw fail(`${key}.scope`, scope, "'feature' exactly when the metric is drift.feature.<test>");
    }
    const window = rule.window ?? windows[0];
    if (typeof window !== 'string' || !windows.includes(window)) throw fail(`${key}.window`, window, `one of the configured windows (${windows.join(', ')})`);
    const op = rule.op;
    if (op !== '>' && op !== '<' && op !== '>=' && op !== '<=') throw fail(`${key}.op`, op, "one of '>', '<', '>=', '<='");
    const baseline = rule.baseline ?? null;
    if (baseline !== null && baseline !== 'reference' && baseline !== 'stable') throw fail(`${key}.baseline`, baseline, "'reference', 'stable' or absent");
    if (baseline === 'stable' && scope !== 'version') throw fail(`${key}.baseline`, baseline, "'stable' only with scope 'version' (a canary is compared with the stable version)");
    const threshold = rule.threshold ?? null;
    if (threshold !== null && (typeof threshold !== 'number' || !Number.isFinite(threshold))) throw fail(`${key}.threshold`, threshold, 'a finite number');
    if (threshold === null && baseline === null) throw fail(`${key}.threshold`, threshold, "a number, or baseline: 'reference' or 'stable' with delta or ratio");
    const delta = rule.delta ?? 0;
    if (typeof delta !== 'number' || !Number.isFinite(delta)) throw fail(`${key}.delta`, delta, 'a finite number');
    const ratio = rule.ratio ?? null;
    if (ratio !== null && (typeof ratio !== 'number' || !(ratio > 0))) throw fail(`${key}.ratio`, ratio, 'a positive number');
    const forRaw = rule.for ?? '0s';
    const forMs = typeof forRaw === 'number' ? forRaw : typeof forRaw === 'string' ? parseDuration(forRaw) : null;
    if (forMs === null || !(forMs >= 0)) throw fail(`${key}.for`, forRaw, "a duration like '30s' or milliseconds");
    const hysteresis = rule.resolveHysteresis ?? 0;
    if (typeof hysteresis !== 'number' || !(hysteresis >= 0)) throw fail(`${key}.resolveHysteresis`, hysteresis, 'a number >= 0');
    const minCount = rule.minCount ?? 1;
    if (typeof minCount !== 'number' || !Number.isInteger(minCount) || minCount < 0) throw fail(`${key}.minCount`, minCount, 'an integer >= 0');
    const severity = rule.severity ?? 'warning';
    if (severity !== 'info' && severity !== 'warning' && severity !== 'critical') throw fail(`${key}.severity`, severity, "'info', 'warning' or 'critical'");
    const description = typeof rule.description === 'string' ? rule.description : `${metric} ${op} ${threshold ?? 'reference'}`;
    return { name, description, metric, scope, window, op, threshold, baseline, delta, ratio, forMs, resolveHysteresis: hysteresis, minCount, severity };
  });
}
