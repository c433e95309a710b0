/**
 * Alerts an operator can act on, without NATS: flapping input, per-model rule overrides, silences
 * (recorded, shown, not delivered), acknowledgements (cleared on resolution), the audit entries of
 * each, and webhook receivers (validation, retries with backoff).
 */
import { describe, expect, it } from 'vitest';
import { AlertEvaluator } from '../../src/alerts/evaluator.ts';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import { validateRuleOverrides } from '../../src/alerts/overrides.ts';
import { silenceFromRequest, silencesCovering, SilenceRequestError } from '../../src/alerts/silences.ts';
import { deliverWebhook, validateWebhookReceivers } from '../../src/alerts/webhooks.ts';
import { AlertLog } from '../../src/gateway/alert-log.ts';
import { AlertActions, type AlertStateBackend } from '../../src/gateway/alert-actions.ts';
import type { Acknowledgement, AuditEntry, Silence } from '../../src/contract/alerting.ts';
import type { AlertEvent, ModelMetrics } from '../../src/contract/metrics.ts';
import { fullMetrics } from '../gateway/fake-source.ts';
import { recordingLogger } from '../gateway/panes.ts';

const WINDOWS = ['1m', '5m'];
const fail = (key: string, value: unknown, expected: string) => new Error(`${key} = ${JSON.stringify(value)}: expected ${expected}`);
const DEFAULT_LIKE_RULES = validateAlertRules(
  [
    // as config/alert-rules.json's error_rate_spike: held 30 s before firing
    { name: 'error_rate_spike', metric: 'errorRate', window: '1m', op: '>', threshold: 0.05, minCount: 0, for: '30s', severity: 'critical' },
    { name: 'busy', metric: 'count', window: '5m', op: '>', threshold: 150, minCount: 0, for: '0s', severity: 'warning' },
    { name: 'accuracy_drop', metric: 'accuracy', window: '5m', op: '<', baseline: 'reference', delta: -0.05, minCount: 0, for: '0s' },
  ],
  WINDOWS,
  fail,
);

function metricsAt(model: string, to: number, fields: Partial<ModelMetrics>): ModelMetrics {
  return { ...fullMetrics(model, '1m', 1000), to, ...fields };
}

/** The shared state in memory (the NATS KV store's contract), with the claims a second replica would race for. */
class MemoryBackend implements AlertStateBackend {
  readonly silenceMap = new Map<string, Silence>();
  readonly acks = new Map<string, Acknowledgement>();
  readonly claimed = new Set<string>();
  silences(): Silence[] {
    return [...this.silenceMap.values()];
  }
  silence(id: string): Silence | undefined {
    return this.silenceMap.get(id);
  }
  async putSilence(silence: Silence): Promise<void> {
    this.silenceMap.set(silence.id, silence);
  }
  acknowledgement(episode: string): Acknowledgement | null {
    return this.acks.get(episode) ?? null;
  }
  async putAck(episode: string, ack: Acknowledgement): Promise<void> {
    this.acks.set(episode, ack);
  }
  async clearAck(episode: string): Promise<boolean> {
    return this.acks.delete(episode);
  }
  async claim(receiver: string, transitionId: string): Promise<boolean> {
    const key = `${receiver}|${transitionId}`;
    if (this.claimed.has(key)) return false;
    this.claimed.add(key);
    return true;
  }
}

describe('flapping input', () => {
  it('gives one alert episode, not one per flap: `for` absorbs short spikes and a resolved alert must hold again to re-fire', () => {
    const evaluator = new AlertEvaluator(DEFAULT_LIKE_RULES.filter((r) => r.name === 'error_rate_spike'));
    const transitions: AlertEvent[] = [];
    const step = (t: number, errorRate: number) => transitions.push(...evaluator.evaluate('m', () => metricsAt('m', t, { errorRate }), []));
    // a stable model whose error rate flaps across the threshold on every 10-second evaluation for 10 minutes
    for (let t = 0; t < 600_000; t += 10_000) step(t, (t / 10_000) % 2 === 0 ? 0.08 : 0.02);
    expect(transitions).toEqual([]);
    // a real incident: bad for a minute (fires once), then flapping again for 10 minutes, then healthy
    for (let t = 600_000; t <= 660_000; t += 10_000) step(t, 0.09);
    for (let t = 670_000; t < 1_270_000; t += 10_000) step(t, (t / 10_000) % 2 === 0 ? 0.08 : 0.02);
    for (let t = 1_270_000; t < 1_400_000; t += 10_000) step(t, 0.01);
    expect(transitions.map((a) => a.state)).toEqual(['firing', 'resolved']);
    expect(transitions[0].startsAt).toBe(600_000);
  });

  it('a firing alert whose value wobbles around the threshold stays firing within the hysteresis', () => {
    const [rule] = validateAlertRules([{ name: 'errors', metric: 'errorRate', window: '1m', op: '>', threshold: 0.05, for: '0s', resolveHysteresis: 0.01 }], WINDOWS, fail);
    const evaluator = new AlertEvaluator([rule]);
    const states: string[] = [];
    for (let i = 0; i < 100; i++) {
      const errorRate = i === 0 ? 0.1 : i % 2 === 0 ? 0.052 : 0.046;
      states.push(...evaluator.evaluate('m', () => metricsAt('m', i * 1000, { errorRate }), []).map((a) => a.state));
    }
    expect(states).toEqual(['firing']);
  });
});

describe('per-model rule overrides', () => {
  const overrides = validateRuleOverrides(
    { strict: { busy: { threshold: 50, severity: 'critical' } }, quiet: { busy: { disabled: true } }, slow: { error_rate_spike: { for: '2m' } } },
    DEFAULT_LIKE_RULES,
    fail,
  );

  it('change the verdict for that model only', () => {
    const evaluator = new AlertEvaluator(DEFAULT_LIKE_RULES.filter((r) => r.name === 'busy'), { overrides });
    const verdict = (model: string, count: number) => evaluator.evaluate(model, (window) => ({ ...fullMetrics(model, window, count), to: 1000 }), []);
    // 100 predictions: under the rule's 150, over strict's 50
    expect(verdict('other', 100)).toEqual([]);
    const [strict] = verdict('strict', 100);
    expect(strict).toMatchObject({ model: 'strict', rule: 'busy', state: 'firing', threshold: 50, severity: 'critical' });
    // 200: the rule fires for everyone but the model that disabled it
    expect(verdict('other', 200)).toMatchObject([{ model: 'other', threshold: 150, severity: 'warning' }]);
    expect(verdict('quiet', 200)).toEqual([]);
  });

  it('change `for` for that model only', () => {
    const evaluator = new AlertEvaluator(DEFAULT_LIKE_RULES.filter((r) => r.name === 'error_rate_spike'), { overrides });
    const fired: string[] = [];
    for (let t = 0; t <= 60_000; t += 10_000) {
      for (const model of ['fast', 'slow']) fired.push(...evaluator.evaluate(model, () => metricsAt(model, t, { errorRate: 0.2 }), []).map((a) => a.model));
    }
    expect(fired).toEqual(['fast']);
  });

  it('are validated at start like the rules, naming the key', () => {
    expect(() => validateRuleOverrides({ m: { nope: { threshold: 1 } } }, DEFAULT_LIKE_RULES, fail)).toThrow(/alerts\.overrides\.m\.nope .*configured rule \(error_rate_spike, busy, accuracy_drop\)/);
    expect(() => validateRuleOverrides({ m: { accuracy_drop: { threshold: 0.8 } } }, DEFAULT_LIKE_RULES, fail)).toThrow(/alerts\.overrides\.m\.accuracy_drop\.threshold.*override delta instead/);
    expect(() => validateRuleOverrides({ m: { error_rate_spike: { threshold: 2 } } }, DEFAULT_LIKE_RULES, fail)).toThrow(/threshold = 2.*values lie in \[0, 1\]/);
    expect(() => validateRuleOverrides({ m: { busy: { window: '1m' } } }, DEFAULT_LIKE_RULES, fail)).toThrow(/alerts\.overrides\.m\.busy\.window.*overridable fields/);
    expect(() => validateRuleOverrides({ 'a b': {} }, DEFAULT_LIKE_RULES, fail)).toThrow(/alerts\.overrides\.a b/);
    expect(() => validateRuleOverrides({ m: { busy: { for: 'soon' } } }, DEFAULT_LIKE_RULES, fail)).toThrow(/busy\.for/);
  });
});

describe('silences', () => {
  const NOW = Date.UTC(2026, 0, 1);

  it('are built from a request with matchers and a duration or an end, and refused with the field named', () => {
    const silence = silenceFromRequest({ matchers: { model: 'fraud', scope: 'feature:*' }, duration: '2h', comment: 'retraining', createdBy: 'ana' }, NOW, 's1');
    expect(silence).toEqual({ id: 's1', matchers: { model: 'fraud', scope: 'feature:*' }, startsAt: NOW, endsAt: NOW + 7_200_000, comment: 'retraining', createdBy: 'ana', createdAt: NOW, expiredAt: null, expiredBy: null });
    expect(silenceFromRequest({ matchers: { rule: 'x' }, endsAt: new Date(NOW + 60_000).toISOString(), comment: 'c', createdBy: 'b' }, NOW).endsAt).toBe(NOW + 60_000);
    const bad = (body: Record<string, unknown>) => () => silenceFromRequest({ comment: 'c', createdBy: 'b', ...body }, NOW);
    expect(bad({ matchers: {}, duration: '1h' })).toThrow(/at least one of model, rule, scope/);
    expect(bad({ matchers: { model: 'm' } })).toThrow(/exactly one of duration .* and endsAt/);
    expect(bad({ matchers: { model: 'm' }, duration: '1h', endsAt: NOW + 1 })).toThrow(SilenceRequestError);
    expect(bad({ matchers: { model: 'm' }, endsAt: NOW - 1 })).toThrow(/must be after now/);
    expect(bad({ matchers: { model: 'm' }, duration: 'forever' })).toThrow(/duration must be a positive duration/);
    expect(bad({ matchers: { colour: 'red' }, duration: '1h' })).toThrow(/matchers\.colour is not a matcher/);
    expect(bad({ matchers: { model: 'm' }, duration: '1000d' })).toThrow(/at most 90 days/);
  });

  it('cover the alerts their matchers match while they are in force', () => {
    const s = silenceFromRequest({ matchers: { model: 'fraud', scope: 'feature:*' }, duration: '1h', comment: 'c', createdBy: 'b' }, NOW, 's1');
    expect(silencesCovering([s], { model: 'fraud', rule: 'feature_psi', scope: 'feature:f0' }, NOW + 1)).toEqual(['s1']);
    expect(silencesCovering([s], { model: 'fraud', rule: 'error_rate_spike', scope: 'model' }, NOW + 1)).toEqual([]);
    expect(silencesCovering([s], { model: 'churn', rule: 'feature_psi', scope: 'feature:f0' }, NOW + 1)).toEqual([]);
    expect(silencesCovering([s], { model: 'fraud', rule: 'feature_psi', scope: 'feature:f0' }, NOW + 3_600_000)).toEqual([]);
    expect(silencesCovering([{ ...s, expiredAt: NOW + 5 }], { model: 'fraud', rule: 'feature_psi', scope: 'feature:f0' }, NOW + 10)).toEqual([]);
  });
});

describe('AlertLog with AlertActions: silences, acknowledgements, webhooks, audit', () => {
  function setup() {
    const backend = new MemoryBackend();
    const audit: AuditEntry[] = [];
    const posted: Array<{ url: string; body: { receiver: string; alert: AlertEvent } }> = [];
    const { logger } = recordingLogger();
    let wall = Date.UTC(2026, 0, 1);
    const receivers = validateWebhookReceivers([{ name: 'chat', url: 'http://127.0.0.1:9/hook', retries: 0 }], fail);
    const actions = new AlertActions({
      store: backend,
      logger,
      receivers,
      publishAudit: async (entry) => {
        audit.push(entry);
      },
      now: () => wall,
      delivery: {
        fetch: (async (url: string, init: RequestInit) => {
          posted.push({ url, body: JSON.parse(String(init.body)) });
          return new Response('ok', { status: 200 });
        }) as typeof fetch,
      },
    });
    const published: AlertEvent[] = [];
    const alerts = new AlertLog({
      rules: DEFAULT_LIKE_RULES.filter((r) => r.name === 'busy'),
      logger,
      publishAlert: async (a) => {
        published.push(a);
      },
      annotations: actions,
      onTransition: (a) => actions.onTransition(a),
      now: () => wall,
    });
    const count = (model: string, n: number, to: number) => alerts.evaluate(model, (window) => ({ ...fullMetrics(model, window, n), to }), []);
    return { backend, audit, posted, actions, alerts, published, count, tick: (ms: number) => (wall += ms) };
  }

  it('a silenced alert is recorded, published and shown as silenced, but not delivered', async () => {
    const { actions, alerts, published, posted, audit, count } = setup();
    const silence = await actions.createSilence({ matchers: { model: 'fraud' }, duration: '1h', comment: 'known incident', createdBy: 'ana' });
    const [fired] = count('fraud', 200, 1000);
    count('churn', 200, 1000);
    await actions.idle();
    expect(fired).toMatchObject({ model: 'fraud', state: 'firing', silenced: true, silencedBy: [silence.id] });
    expect(published.map((a) => [a.model, a.silenced ?? false])).toEqual([['fraud', true], ['churn', false]]);
    expect(alerts.history({ model: 'fraud' })).toEqual([fired]);
    expect(alerts.activeAlerts('fraud')).toMatchObject([{ id: fired.id, state: 'firing', silenced: true, silencedBy: [silence.id], acknowledged: null }]);
    // only churn's transition reached the receiver
    expect(posted.map((p) => p.body.alert.model)).toEqual(['churn']);
    expect(posted[0].body.receiver).toBe('chat');
    expect(audit.map((e) => [e.kind, e.action, e.model])).toEqual([
      ['silence', 'created', 'fraud'],
      ['transition', 'firing', 'fraud'],
      ['transition', 'firing', 'churn'],
    ]);
    expect(audit[1]).toMatchObject({ id: `transition:${fired.id}`, alertId: fired.id, silenceId: silence.id });
  });

  it('an expired silence no longer covers new transitions; the expiry is audited and listed', async () => {
    const { actions, audit, posted, count, tick } = setup();
    const silence = await actions.createSilence({ matchers: { rule: 'busy' }, duration: '1h', comment: 'c', createdBy: 'ana' });
    tick(1000);
    const expired = await actions.expireSilence(silence.id, 'bob');
    expect(expired.expiredBy).toBe('bob');
    await expect(actions.expireSilence(silence.id, 'bob')).rejects.toMatchObject({ statusCode: 409 });
    await expect(actions.expireSilence('nope', 'bob')).rejects.toMatchObject({ statusCode: 404 });
    expect(actions.listSilences({ state: 'expired' }).map((s) => s.id)).toEqual([silence.id]);
    expect(actions.listSilences({ state: 'active' })).toEqual([]);
    const [fired] = count('fraud', 200, 1000);
    await actions.idle();
    expect(fired.silenced).toBeUndefined();
    expect(posted).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'silence').map((e) => [e.action, e.actor])).toEqual([['created', 'ana'], ['expired', 'bob']]);
  });

  it('an acknowledgement is shown on the firing alert and cleared (and audited) when it resolves', async () => {
    const { actions, alerts, audit, count, backend } = setup();
    count('fraud', 200, 1000);
    const [active] = alerts.activeAlerts('fraud');
    const ack = await actions.acknowledge(active, 'ana', 'looking into it');
    expect(alerts.activeAlerts('fraud')[0].acknowledged).toEqual(ack);
    expect(alerts.findFiring(active.id)?.acknowledged).toMatchObject({ by: 'ana', comment: 'looking into it' });
    count('fraud', 100, 2000);
    await actions.idle();
    expect(alerts.activeAlerts('fraud')).toEqual([]);
    expect(backend.acks.size).toBe(0);
    expect(audit.filter((e) => e.kind !== 'silence').map((e) => [e.kind, e.action, e.actor])).toEqual([
      ['transition', 'firing', 'driftwatch'],
      ['ack', 'acknowledged', 'ana'],
      ['transition', 'resolved', 'driftwatch'],
      ['ack', 'cleared', 'driftwatch'],
    ]);
    // a new episode starts unacknowledged
    count('fraud', 200, 3000);
    expect(alerts.activeAlerts('fraud')[0].acknowledged).toBeNull();
  });

  it('lists pending alerts as pending, with the rule they wait on, and refuses to acknowledge them', async () => {
    const rules = DEFAULT_LIKE_RULES.filter((r) => r.name === 'error_rate_spike');
    const backend = new MemoryBackend();
    const { logger } = recordingLogger();
    const actions = new AlertActions({ store: backend, logger });
    const alerts = new AlertLog({ rules, logger, annotations: actions });
    alerts.evaluate('m', () => metricsAt('m', 10_000, { errorRate: 0.3 }), []);
    const [pending] = alerts.activeAlerts();
    expect(pending).toMatchObject({ id: 'm:error_rate_spike:model:10000:pending', state: 'pending', severity: 'critical', threshold: 0.05, value: 0.3, firedAt: null, window: '1m' });
    await expect(actions.acknowledge(pending, 'ana', '')).rejects.toMatchObject({ statusCode: 409 });
    alerts.evaluate('m', () => metricsAt('m', 40_000, { errorRate: 0.3 }), []);
    expect(alerts.activeAlerts()).toMatchObject([{ id: 'm:error_rate_spike:model:10000:firing', state: 'firing', firedAt: 40_000 }]);
  });

  it('history filters by model, rule, state and time, newest first', () => {
    const { alerts, count } = setup();
    count('a', 200, 1000);
    count('b', 200, 2000);
    count('a', 100, 3000);
    expect(alerts.history().map((a) => `${a.model}:${a.state}`)).toEqual(['a:resolved', 'b:firing', 'a:firing']);
    expect(alerts.history({ state: 'firing' }).map((a) => a.model)).toEqual(['b', 'a']);
    expect(alerts.history({ model: 'a', since: 2000 }).map((a) => a.state)).toEqual(['resolved']);
    expect(alerts.history({ rule: 'other' })).toEqual([]);
    expect(alerts.history({ limit: 1 })).toHaveLength(1);
  });
});

describe('webhook receivers', () => {
  it('are validated with clear errors naming the receiver and field', () => {
    expect(validateWebhookReceivers(undefined, fail)).toEqual([]);
    const [r] = validateWebhookReceivers([{ name: 'pager', url: 'https://example.invalid/hook', matchers: { model: 'fraud' }, severities: ['critical'], backoff: '2s', timeout: '3s', headers: { Authorization: 'Bearer x' } }], fail);
    expect(r).toMatchObject({ name: 'pager', retries: 3, backoffMs: 2000, timeoutMs: 3000, states: ['firing', 'resolved'], severities: ['critical'] });
    expect(() => validateWebhookReceivers([{ name: 'p', url: 'ftp://x' }], fail)).toThrow(/alerts\.webhooks\[0\]\.url .*http:\/\/ or https:\/\/ URL \(receiver "p"\)/);
    expect(() => validateWebhookReceivers([{ name: 'p', url: 'http://x', retries: -1 }], fail)).toThrow(/webhooks\[0\]\.retries/);
    expect(() => validateWebhookReceivers([{ name: 'p', url: 'http://x', timeout: '10ms' }], fail)).toThrow(/webhooks\[0\]\.timeout/);
    expect(() => validateWebhookReceivers([{ name: 'p', url: 'http://x', headers: { 'Content-Type': 'text/plain' } }], fail)).toThrow(/headers\.Content-Type/);
    expect(() => validateWebhookReceivers([{ name: 'p', url: 'http://x', matchers: { team: 'a' } }], fail)).toThrow(/matchers\.team is not a matcher/);
    expect(() => validateWebhookReceivers([{ name: 'p', url: 'http://x' }, { name: 'p', url: 'http://y' }], fail)).toThrow(/webhooks\[1\]\.name .*not used by another/);
    expect(() => validateWebhookReceivers([{ name: 'p', url: 'http://x', secret: 's' }], fail)).toThrow(/webhooks\[0\]\.secret/);
  });

  it('retry a failing receiver with doubling backoff, and stop at a refusal', async () => {
    const [receiver] = validateWebhookReceivers([{ name: 'p', url: 'http://127.0.0.1:9/h', retries: 4, backoff: 100 }], fail);
    const alert = { id: 'm:r:model:1:firing' } as AlertEvent;
    const slept: number[] = [];
    const answers = [503, 500, 200];
    const seen: Array<Record<string, string>> = [];
    const result = await deliverWebhook(receiver, alert, {
      sleep: async (ms) => {
        slept.push(ms);
      },
      fetch: (async (_url: string, init: RequestInit) => {
        seen.push(init.headers as Record<string, string>);
        return new Response('', { status: answers.shift() as number });
      }) as typeof fetch,
    });
    expect(result).toEqual({ delivered: true, attempts: 3, status: 200, error: null });
    expect(slept).toEqual([100, 200]);
    expect(seen[0]['idempotency-key']).toBe(alert.id);
    const refused = await deliverWebhook(receiver, alert, { sleep: async () => undefined, fetch: (async () => new Response('', { status: 400 })) as typeof fetch });
    expect(refused).toEqual({ delivered: false, attempts: 1, status: 400, error: 'HTTP 400' });
    const down = await deliverWebhook(receiver, alert, { sleep: async () => undefined, fetch: (async () => Promise.reject(new Error('ECONNREFUSED'))) as typeof fetch });
    expect(down).toEqual({ delivered: false, attempts: 5, status: null, error: 'ECONNREFUSED' });
  });
});
