import { describe, expect, it } from 'vitest';
import { AlertLog } from '../../src/gateway/alert-log.ts';
import { validateAlertRules } from '../../src/alerts/rules.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';
import { fullMetrics } from './fake-source.ts';
import { recordingLogger } from './panes.ts';

const rules = validateAlertRules(
  [{ name: 'accuracy_drop', metric: 'accuracy', window: '5m', op: '<', baseline: 'reference', delta: -0.05, minCount: 50, for: '0s' }],
  ['5m'],
  (key, value, expected) => new Error(`${key}: ${String(value)} is not ${expected}`),
);

/** A 5m window with `labeled` labels at `accuracy`, against a reference of `referenceLabels` labels at 0.75. */
const at = (to: number, accuracy: number, labeled: number, referenceLabels: number) => (): ModelMetrics => {
  const base = fullMetrics('churn', '5m', 5000);
  return { ...base, to, accuracy, quality: { labeled, accuracy }, reference: { id: 'ref', accuracy: 0.75, labeled: referenceLabels, errorRate: 0, latencyP99: 30 } };
};

describe('AlertLog: quality rules against a small reference', () => {
  it('serves the rule status and logs it once, then once more when the reference can judge again', () => {
    const { logger, lines } = recordingLogger();
    const alerts = new AlertLog({ rules, logger, falseAlarmsPerMillion: 0.5 });
    for (let t = 0; t < 5; t++) expect(alerts.evaluate('churn', at(t * 5000, 0.7, 2000, 300), [])).toEqual([]);
    expect(alerts.ruleStatuses('churn')).toMatchObject([{ rule: 'accuracy_drop', scope: 'model', state: 'insufficient_reference', baselineLabels: 300 }]);
    expect(lines.filter((line) => String(line.msg).includes('cannot judge its baseline'))).toHaveLength(1);
    alerts.evaluate('churn', at(30_000, 0.7, 2000, 20_000), []);
    expect(alerts.ruleStatuses()).toEqual([]);
    expect(lines.filter((line) => line.msg === 'alert rule can judge its baseline again')).toHaveLength(1);
  });
});
