import type { AlertMatchers } from '../contract/alerting.ts';

/** What a matcher is compared with: an alert's model, rule and scope. */
export interface AlertIdentity {
  model: string;
  rule: string;
  scope: string;
}

const MATCHER_FIELDS = ['model', 'rule', 'scope'] as const;
const MATCHER_VALUE = /^[^\s]{1,256}$/;

function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(value);
}

/** Whether every field the matchers give matches the alert (`*` matches any run of characters). */
export function matchesAlert(matchers: AlertMatchers, alert: AlertIdentity): boolean {
  return MATCHER_FIELDS.every((field) => matchers[field] === undefined || globMatches(matchers[field] as string, alert[field]));
}

/**
 * Validates matchers from a request or the config: an object with at least one of model, rule,
 * scope (when `required`), each a non-empty string without whitespace. Returns an error sentence
 * naming the field, or the matchers.
 */
export function parseMatchers(raw: unknown, where: string, required: boolean): { ok: true; matchers: AlertMatchers } | { ok: false; message: string } {
  if (raw === undefined && !required) return { ok: true, matchers: {} };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, message: `${where} must be an object with model, rule and/or scope` };
  const matchers: AlertMatchers = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(MATCHER_FIELDS as readonly string[]).includes(key)) return { ok: false, message: `${where}.${key} is not a matcher: use model, rule or scope` };
    if (typeof value !== 'string' || !MATCHER_VALUE.test(value)) {
      return { ok: false, message: `${where}.${key} must be a non-empty string without whitespace ('*' matches anything), got ${JSON.stringify(value)}` };
    }
    matchers[key as keyof AlertMatchers] = value;
  }
  if (required && Object.keys(matchers).length === 0) return { ok: false, message: `${where} must name at least one of model, rule, scope (a silence of everything is refused)` };
  return { ok: true, matchers };
}
