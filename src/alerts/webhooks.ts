import type { AlertMatchers } from '../contract/alerting.ts';
import type { AlertEvent } from '../contract/metrics.ts';
import { parseDuration } from '../contract/duration.ts';
import { matchesAlert, parseMatchers } from './matchers.ts';

/** A webhook receiver from config (`alerts.webhooks[i]`), validated. */
export interface WebhookReceiver {
  /** Letters, digits, _ and -: part of the delivery claim's key. */
  name: string;
  url: string;
  matchers: AlertMatchers;
  /** Severities sent (default all). */
  severities: ReadonlyArray<AlertEvent['severity']>;
  /** Transition states sent (default firing and resolved). */
  states: ReadonlyArray<AlertEvent['state']>;
  /** Attempts after the first (default 3). */
  retries: number;
  /** Wait before the first retry, doubled for each next one (default 1 s). */
  backoffMs: number;
  /** Per attempt (default 5 s). */
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
}

type MakeError = (key: string, value: unknown, expected: string) => Error;

const RECEIVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SEVERITIES = ['info', 'warning', 'critical'] as const;
const STATES = ['firing', 'resolved'] as const;
const FIELDS = ['name', 'url', 'matchers', 'severities', 'states', 'retries', 'backoff', 'timeout', 'headers'];
/** Header names a receiver may not set: they describe the request itself. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'transfer-encoding', 'connection']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function durationMs(raw: unknown, fallback: number): number | null {
  if (raw === undefined) return fallback;
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseDuration(raw) : null;
  return ms !== null && Number.isFinite(ms) && ms >= 0 ? ms : null;
}

/**
 * Validates `alerts.webhooks`: a list of `{name, url, matchers?, severities?, states?, retries?,
 * backoff?, timeout?, headers?}`. Each bad field is refused with its index, the receiver's name and
 * what is allowed.
 */
export function validateWebhookReceivers(raw: unknown, fail: MakeError): WebhookReceiver[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw fail('alerts.webhooks', raw, 'a list of webhook receivers {name, url, matchers, retries, backoff, timeout, headers}');
  const names = new Set<string>();
  return raw.map((receiver, i) => {
    const key = `alerts.webhooks[${i}]`;
    if (!isObject(receiver)) throw fail(key, receiver, 'an object {name, url, ...}');
    const name = receiver.name;
    if (typeof name !== 'string' || !RECEIVER_NAME.test(name)) throw fail(`${key}.name`, name, 'a name of letters, digits, _ and - (1 to 64)');
    if (names.has(name)) throw fail(`${key}.name`, name, 'a name not used by another receiver');
    names.add(name);
    const bad = (field: string, value: unknown, expected: string): Error => fail(`${key}.${field}`, value, `${expected} (receiver "${name}")`);
    for (const field of Object.keys(receiver)) if (!FIELDS.includes(field)) throw bad(field, receiver[field], `one of the receiver fields ${FIELDS.join(', ')}`);
    const url = receiver.url;
    let parsed: URL | null = null;
    try {
      parsed = typeof url === 'string' ? new URL(url) : null;
    } catch {
      parsed = null;
    }
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw bad('url', url, 'an http:// or https:// URL');
    const matchers = parseMatchers(receiver.matchers, `${key}.matchers`, false);
    if (!matchers.ok) throw bad('matchers', receiver.matchers, matchers.message);
    const severities = receiver.severities ?? [...SEVERITIES];
    if (!Array.isArray(severities) || severities.length === 0 || !severities.every((s) => (SEVERITIES as readonly unknown[]).includes(s))) {
      throw bad('severities', severities, `a non-empty list of ${SEVERITIES.join(', ')}`);
    }
    const states = receiver.states ?? [...STATES];
    if (!Array.isArray(states) || states.length === 0 || !states.every((s) => (STATES as readonly unknown[]).includes(s))) {
      throw bad('states', states, `a non-empty list of ${STATES.join(', ')}`);
    }
    const retries = receiver.retries ?? 3;
    if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 20) throw bad('retries', retries, 'an integer between 0 and 20');
    const backoffMs = durationMs(receiver.backoff, 1000);
    if (backoffMs === null || backoffMs > 600_000) throw bad('backoff', receiver.backoff, "a duration up to 10 minutes ('1s', or milliseconds)");
    const timeoutMs = durationMs(receiver.timeout, 5000);
    if (timeoutMs === null || timeoutMs < 100 || timeoutMs > 120_000) throw bad('timeout', receiver.timeout, "a duration between 100 ms and 2 minutes ('5s', or milliseconds)");
    const headers = receiver.headers ?? {};
    if (!isObject(headers)) throw bad('headers', headers, 'an object of header name -> string value');
    for (const [header, value] of Object.entries(headers)) {
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header) || RESERVED_HEADERS.has(header.toLowerCase())) throw bad(`headers.${header}`, value, 'a valid header name other than Content-Type, Content-Length, Host');
      if (typeof value !== 'string' || /[\r\n]/.test(value)) throw bad(`headers.${header}`, value, 'a string value on one line');
    }
    return {
      name,
      url: parsed.toString(),
      matchers: matchers.matchers,
      severities: severities as WebhookReceiver['severities'],
      states: states as WebhookReceiver['states'],
      retries,
      backoffMs,
      timeoutMs,
      headers: headers as Record<string, string>,
    };
  });
}

/** Whether a receiver wants a transition (silenced transitions are never sent: see the dispatcher). */
export function receiverWants(receiver: WebhookReceiver, alert: AlertEvent): boolean {
  return receiver.severities.includes(alert.severity) && receiver.states.includes(alert.state) && matchesAlert(receiver.matchers, alert);
}

/** The JSON body a receiver gets: the transition, and which receiver it was sent to. */
export function webhookBody(receiver: WebhookReceiver, alert: AlertEvent): string {
  return JSON.stringify({ receiver: receiver.name, alert });
}

export interface DeliveryResult {
  delivered: boolean;
  attempts: number;
  /** The last HTTP status, or null when no answer came. */
  status: number | null;
  error: string | null;
}

export interface DeliveryOptions {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Stops retrying (gateway shutdown). */
  signal?: AbortSignal;
}

/**
 * POSTs one transition to a receiver: a 2xx answer is a delivery; a network error, a timeout, a
 * 5xx, 408 or 429 is retried after backoff, 2 x backoff, 4 x backoff...; another 4xx is final (the
 * receiver refuses it, sending it again would not help). The transition id travels as
 * `Idempotency-Key` and `Driftwatch-Transition-Id`, so a receiver can deduplicate too.
 */
export async function deliverWebhook(receiver: WebhookReceiver, alert: AlertEvent, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  const doFetch = options.fetch ?? fetch;
  // the default wait ends early when the gateway stops (the signal), so shutdown does not wait out a backoff
  const sleep =
    options.sleep ??
    ((ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        options.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      }));
  const body = webhookBody(receiver, alert);
  let status: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= receiver.retries + 1; attempt++) {
    if (attempt > 1) {
      await sleep(receiver.backoffMs * 2 ** (attempt - 2));
      if (options.signal?.aborted) return { delivered: false, attempts: attempt - 1, status, error: 'stopped' };
    }
    try {
      const response = await doFetch(receiver.url, {
        method: 'POST',
        headers: { ...receiver.headers, 'content-type': 'application/json', 'idempotency-key': alert.id, 'driftwatch-transition-id': alert.id },
        body,
        signal: AbortSignal.timeout(receiver.timeoutMs),
      });
      status = response.status;
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { delivered: true, attempts: attempt, status, error: null };
      error = `HTTP ${response.status}`;
      if (response.status < 500 && response.status !== 408 && response.status !== 429) return { delivered: false, attempts: attempt, status, error };
    } catch (err) {
      status = null;
      error = (err as Error).name === 'TimeoutError' ? `no answer within ${receiver.timeoutMs} ms` : (err as Error).message;
    }
  }
  return { delivered: false, attempts: receiver.retries + 1, status, error };
}
