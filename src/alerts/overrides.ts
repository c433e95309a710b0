import { parseDuration } from '../contract/duration.ts';
import { MODEL_NAME_PATTERN } from '../cluster/subjects.ts';
import type { AlertRule, AlertSeverity } from './rules.ts';
import { valueRangeOf } from './selector.ts';

/** What one model changes of one named rule (config `alerts.overrides.<model>.<rule>`). */
export interface RuleOverride {
  threshold?: number;
  /** For a rule relative to a baseline: the delta added to the baseline's value. */
  delta?: number;
  forMs?: number;
  severity?: AlertSeverity;
  disabled?: boolean;
}

/** model -> rule name -> override. */
export type RuleOverrides = Readonly<Record<string, Readonly<Record<string, RuleOverride>>>>;

type MakeError = (key: string, value: unknown, expected: string) => Error;

const OVERRIDE_FIELDS = ['threshold', 'delta', 'for', 'severity', 'disabled'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates `alerts.overrides`: `{ "<model>": { "<rule name>": { threshold?, delta?, for?,
 * severity?, disabled? } } }`. A rule that does not exist, a threshold on a rule relative to a
 * baseline (override its delta), a threshold the metric can never cross, or an unknown field is
 * refused with the key and what is allowed, like the rules themselves.
 */
export function validateRuleOverrides(raw: unknown, rules: readonly AlertRule[], fail: MakeError): RuleOverrides {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw fail('alerts.overrides', raw, 'an object of model name -> rule name -> {threshold, delta, for, severity, disabled}');
  const byName = new Map(rules.map((r) => [r.name, r]));
  const out: Record<string, Record<string, RuleOverride>> = {};
  for (const [model, perRule] of Object.entries(raw)) {
    const modelKey = `alerts.overrides.${model}`;
    if (!MODEL_NAME_PATTERN.test(model)) throw fail(modelKey, model, 'a model name (letters, digits, _ and -)');
    if (!isObject(perRule)) throw fail(modelKey, perRule, 'an object of rule name -> override');
    out[model] = {};
    for (const [name, override] of Object.entries(perRule)) {
      const key = `${modelKey}.${name}`;
      const rule = byName.get(name);
      if (rule === undefined) throw fail(key, override, `an override of a configured rule (${[...byName.keys()].join(', ')})`);
      if (!isObject(override)) throw fail(key, override, '{threshold, delta, for, severity, disabled}');
      for (const field of Object.keys(override)) {
        if (!OVERRIDE_FIELDS.includes(field)) throw fail(`${key}.${field}`, override[field], `one of the overridable fields ${OVERRIDE_FIELDS.join(', ')}`);
      }
      const result: RuleOverride = {};
      if (override.threshold !== undefined) {
        const threshold = override.threshold;
        if (rule.baseline !== null) throw fail(`${key}.threshold`, threshold, `no threshold: rule "${name}" is relative to its ${rule.baseline.kind} baseline (override delta instead)`);
        if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw fail(`${key}.threshold`, threshold, 'a finite number');
        const { min, max } = valueRangeOf(rule.selector);
        const crossable = rule.op === '>' ? threshold < max : rule.op === '>=' ? threshold <= max : rule.op === '<' ? threshold > min : threshold >= min;
        if (!crossable) throw fail(`${key}.threshold`, threshold, `a threshold ${rule.metric} can cross with '${rule.op}': its values lie in [${min}, ${max}]`);
        result.threshold = threshold;
      }
      if (override.delta !== undefined) {
        if (rule.baseline === null) throw fail(`${key}.delta`, override.delta, `no delta: rule "${name}" has an absolute threshold (override threshold instead)`);
        if (typeof override.delta !== 'number' || !Number.isFinite(override.delta)) throw fail(`${key}.delta`, override.delta, 'a finite number');
        result.delta = override.delta;
      }
      if (override.for !== undefined) {
        const forMs = typeof override.for === 'number' ? override.for : typeof override.for === 'string' ? parseDuration(override.for) : null;
        if (forMs === null || !(forMs >= 0)) throw fail(`${key}.for`, override.for, "a duration like '30s' or milliseconds");
        result.forMs = forMs;
      }
      if (override.severity !== undefined) {
        const severity = override.severity;
        if (severity !== 'info' && severity !== 'warning' && severity !== 'critical') throw fail(`${key}.severity`, severity, "'info', 'warning' or 'critical'");
        result.severity = severity;
      }
      if (override.disabled !== undefined) {
        if (typeof override.disabled !== 'boolean') throw fail(`${key}.disabled`, override.disabled, 'true or false');
        result.disabled = override.disabled;
      }
      out[model][name] = result;
    }
  }
  return out;
}

/** The rules as they apply to one model: overridden fields replaced, disabled rules left out. */
export function rulesForModel(rules: readonly AlertRule[], overrides: RuleOverrides, model: string): AlertRule[] {
  const perRule = Object.hasOwn(overrides, model) ? overrides[model] : undefined;
  if (perRule === undefined) return [...rules];
  const out: AlertRule[] = [];
  for (const rule of rules) {
    const override = Object.hasOwn(perRule, rule.name) ? perRule[rule.name] : undefined;
    if (override === undefined) {
      out.push(rule);
      continue;
    }
    if (override.disabled === true) continue;
    out.push({
      ...rule,
      threshold: override.threshold ?? rule.threshold,
      delta: override.delta ?? rule.delta,
      forMs: override.forMs ?? rule.forMs,
      severity: override.severity ?? rule.severity,
    });
  }
  return out;
}
