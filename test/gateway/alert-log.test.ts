import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { AlertLog } from '../../src/gateway/alert-log.ts';
import { createGatewayMetrics } from '../../src/gateway/prometheus.ts';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import type { AlertEvent } from '../../src/contract/metrics.ts';
import { fullMetrics } from './fake-source.ts';
import { recordingLogger } from './panes.ts';

/** Fires when a model's 5m window holds more than 150 predictions; resolves at 150 or fewer. */
const rules = validateAlertRules([{ name: 'busy', metric: 'count', window: '5m', op: '>', threshold: 150, minCount: 0 }], ['1m', '5m'], (key, value, expected) => new Error(`${key}: ${String(value)} is not ${expected}`));

function log(publishAlert?: (alert: AlertEvent) => Promise<void>, historyLimit?: number) {
  const { logger, lines } = recordingLogger();
  const metrics = createGatewayMetrics(new Registry());
  return { alerts: new AlertLog({ rules, logger, metrics, publishAlert, historyLimit }), lines, metrics };
}

/** Metrics of `model` with `count` predictions, at event time `to`. */
const at = (model: string, count: number, to: number) => () => ({ ...fullMetrics(model, '5m', count), to });

describe('AlertLog', () => {
  it('lists a firing alert as firing, and keeps the resolution in its history', async () => {
    const published: AlertEvent[] = [];
    const { alerts, lines, metrics } = log(async (alert) => {
      published.push(alert);
    });
    expect(alerts.evaluate('churn', at('churn', 100, 1000), [])).toEqual([]);
    const [fired] = alerts.evaluate('churn', at('churn', 200, 2000), []);
    expect(fired).toMatchObject({ model: 'churn', rule: 'busy', scope: 'model', state: 'firing', startsAt: 2000, value: 200 });
    // still bad: no new transition
    expect(alerts.evaluate('churn', at('churn', 300, 3000), [])).toEqual([]);
    expect(alerts.recentAlerts()).toEqual([fired]);

    const [resolved] = alerts.evaluate('churn', at('churn', 120, 4000), []);
    expect(resolved).toMatchObject({ state: 'resolved', startsAt: 2000, at: 4000 });
    expect(alerts.recentAlerts()).toEqual([fired, resolved]);
    expect(alerts.recentAlerts('churn')).toEqual([fired, resolved]);
    expect(alerts.recentAlerts('fraud')).toEqual([]);

    expect(published).toEqual([fired, resolved]);
    const counted = await metrics.alerts.get();
    expect(counted.values.map((v) => [v.labels.state, v.value])).toEqual([['firing', 1], ['resolved', 1]]);
    expect(lines.filter((l) => l.alert !== undefined).map((l) => l.msg)).toEqual(['alert firing', 'alert resolved']);
  });

  it('lists firing alerts first, then the latest transitions of each model', () => {
    const { alerts } = log();
    const [churnFired] = alerts.evaluate('churn', at('churn', 200, 1000), []);
    const [fraudFired] = alerts.evaluate('fraud', at('fraud', 200, 1500), []);
    const [fraudResolved] = alerts.evaluate('fraud', at('fraud', 10, 2500), []);
    const [churnResolved] = alerts.evaluate('churn', at('churn', 10, 3000), []);
    const [churnFiredAgain] = alerts.evaluate('churn', at('churn', 200, 4000), []);
    expect(alerts.recentAlerts()).toEqual([churnFiredAgain, churnFired, fraudFired, fraudResolved, churnResolved]);
    expect(alerts.recentAlerts('fraud')).toEqual([fraudFired, fraudResolved]);
  });

  it('restoring a firing alert keeps its start and id: it is not fired again, and resolves under the same start', () => {
    const { alerts } = log();
    const restored: AlertEvent = {
      id: 'churn:busy:model:500:firing', model: 'churn', rule: 'busy', scope: 'model', state: 'firing', severity: 'warning',
      value: 180, threshold: 150, window: '5m', startsAt: 500, at: 600, message: 'count 180 > 150',
    };
    alerts.restore(restored);
    expect(alerts.recentAlerts()).toEqual([restored]);
    expect(alerts.evaluate('churn', at('churn', 200, 1000), [])).toEqual([]);
    const [resolved] = alerts.evaluate('churn', at('churn', 10, 2000), []);
    expect(resolved).toMatchObject({ id: 'churn:busy:model:500:resolved', startsAt: 500, state: 'resolved' });
    expect(alerts.recentAlerts()).toEqual([restored, resolved]);
  });

  it('a restored resolution ends the restored firing alert', () => {
    const { alerts } = log();
    const firing: AlertEvent = {
      id: 'churn:busy:model:500:firing', model: 'churn', rule: 'busy', scope: 'model', state: 'firing', severity: 'warning',
      value: 180, threshold: 150, window: '5m', startsAt: 500, at: 600, message: 'count 180 > 150',
    };
    const resolved: AlertEvent = { ...firing, id: 'churn:busy:model:500:resolved', state: 'resolved', at: 900 };
    alerts.restore(firing);
    alerts.restore(resolved);
    // history only: nothing firing any more, and a bad value starts a new alert
    expect(alerts.recentAlerts()).toEqual([firing, resolved]);
    const [again] = alerts.evaluate('churn', at('churn', 200, 1000), []);
    expect(again).toMatchObject({ state: 'firing', startsAt: 1000 });
  });

  it('keeps at most historyLimit transitions besides the firing ones', () => {
    const { alerts } = log(undefined, 3);
    const all: AlertEvent[] = [];
    for (let i = 0; i < 4; i++) {
      all.push(...alerts.evaluate('churn', at('churn', 200, i * 1000), []));
      all.push(...alerts.evaluate('churn', at('churn', 10, i * 1000 + 500), []));
    }
    expect(all).toHaveLength(8);
    expect(alerts.recentAlerts()).toEqual(all.slice(-3));
  });

  it('records a transition whose publication fails, and logs the failure', async () => {
    const { alerts, lines } = log(async () => {
      throw new Error('no responders');
    });
    const [fired] = alerts.evaluate('churn', at('churn', 200, 1000), []);
    await new Promise((resolve) => setImmediate(resolve));
    expect(alerts.recentAlerts()).toEqual([fired]);
    expect(lines.find((l) => l.msg === 'alert publish failed')).toMatchObject({ err: 'no responders', alert: fired.id });
  });
});
