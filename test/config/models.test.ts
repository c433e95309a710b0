import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { admissionSettingsOf } from '../../src/config/options.ts';

describe('models.allow and models.idleMs', () => {
  it('default: every model may be admitted, and idle models are released after the label horizon', () => {
    const config = loadConfig({ env: {} });
    expect(config.models).toEqual({ allow: [], idleMs: config.join.labelHorizonMs });
    expect(admissionSettingsOf(config)).toEqual({ maxModels: 100, maxVersionsPerModel: 10, idleMs: 3_600_000, allow: [] });
    expect(loadConfig({ env: {}, overrides: { join: { labelHorizonMs: '10m' } } }).models.idleMs).toBe(600_000);
  });

  it('reads names and globs from the config or DRIFTWATCH_MODELS_ALLOW, and idleMs as a duration', () => {
    expect(loadConfig({ env: {}, overrides: { models: { allow: ['fraud', 'churn-*'], idleMs: '30s' } } }).models).toEqual({ allow: ['fraud', 'churn-*'], idleMs: 30_000 });
    const fromEnv = loadConfig({ env: { DRIFTWATCH_MODELS_ALLOW: 'fraud, churn-* ,' } });
    expect(fromEnv.models.allow).toEqual(['fraud', 'churn-*']);
  });

  it('refuses what cannot be a model name or pattern, naming the entry and where it came from', () => {
    expect(() => loadConfig({ env: { DRIFTWATCH_MODELS_ALLOW: 'fraud,churn.eu' } })).toThrow(
      /invalid config models.allow\[1\] = "churn.eu" \(from environment variable DRIFTWATCH_MODELS_ALLOW\): expected a model name or glob pattern/,
    );
    expect(() => loadConfig({ env: {}, overrides: { models: { allow: 'fraud' } } })).toThrow(/models.allow = "fraud".*a list of model names or glob patterns/);
    expect(() => loadConfig({ env: {}, overrides: { models: { idleMs: 10 } } })).toThrow(/models.idleMs = 10.*at least 1000 ms/);
  });
});
