import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';

describe('drift.discreteMaxValues', () => {
  it('defaults to 5 (Evidently), accepts 0 to 15 and refuses anything else naming the key', () => {
    expect(loadConfig({ env: {} }).drift.discreteMaxValues).toBe(5);
    expect(loadConfig({ env: {}, overrides: { drift: { features: {}, falseAlarmsPerMillion: 0.5, discreteMaxValues: 10 } } }).drift.discreteMaxValues).toBe(10);
    expect(() => loadConfig({ env: {}, overrides: { drift: { features: {}, falseAlarmsPerMillion: 0.5, discreteMaxValues: 16 } } })).toThrow(
      /drift.discreteMaxValues = 16 .*an integer between 0 and 15/,
    );
    expect(() => loadConfig({ env: {}, overrides: { drift: { features: {}, falseAlarmsPerMillion: 0.5, discreteMaxValues: 2.5 } } })).toThrow(/drift.discreteMaxValues/);
  });
});
