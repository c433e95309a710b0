import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { paneLimitsOf, panesRetentionMs, provisionOptionsOf, runnerOptionsOf } from '../../src/config/options.ts';
import { startupPlanOf } from '../../src/app/nats.ts';
import type { EntryPoint } from '../../src/app/nats.ts';

const HOUR = 3600_000;
const ENTRY_POINTS: readonly EntryPoint[] = ['all-in-one', 'worker', 'gateway'];

describe('options derived from the configuration', () => {
  it('keeps pane states in the changelog for the label horizon plus ten minutes, at least two hours', () => {
    expect(panesRetentionMs(HOUR)).toBe(2 * HOUR);
    expect(panesRetentionMs(3 * HOUR)).toBe(3 * HOUR + 600_000);
  });

  it('provisioning: partitions only when set explicitly, replicas and events retention as configured, panes retention from join.labelHorizonMs', () => {
    expect(provisionOptionsOf(loadConfig({ env: {} }))).toEqual({ partitions: undefined, replicas: 1, panesMaxAgeMs: 2 * HOUR, eventsMaxAgeMs: 7 * 24 * HOUR });
    const config = loadConfig({ env: { DRIFTWATCH_PARTITIONS: '4', DRIFTWATCH_REPLICAS: '3', DRIFTWATCH_EVENTS_RETENTION: '2d' }, overrides: { join: { labelHorizonMs: '6h' } } });
    expect(provisionOptionsOf(config)).toEqual({ partitions: 4, replicas: 3, panesMaxAgeMs: 6 * HOUR + 600_000, eventsMaxAgeMs: 48 * HOUR });
  });

  it('npm start, npm run worker and npm run gateway provision with identical options for the same config', () => {
    const configs = [
      loadConfig({ env: {} }),
      loadConfig({ env: { DRIFTWATCH_PARTITIONS: '2', DRIFTWATCH_REPLICAS: '3' }, overrides: { join: { labelHorizonMs: '4h' } } }),
    ];
    for (const config of configs) {
      const plans = ENTRY_POINTS.map((entry) => startupPlanOf(entry, config));
      for (const plan of plans) expect(plan.provision).toEqual(provisionOptionsOf(config));
    }
    const longHorizon = configs[1];
    expect(startupPlanOf('worker', longHorizon).provision.panesMaxAgeMs).toBe(4 * HOUR + 600_000);
    expect(startupPlanOf('gateway', longHorizon).provision.panesMaxAgeMs).toBe(4 * HOUR + 600_000);
  });

  it('only npm start may embed a nats-server', () => {
    const config = loadConfig({ env: {} });
    expect(ENTRY_POINTS.map((entry) => [entry, startupPlanOf(entry, config).allowEmbeddedNats])).toEqual([
      ['all-in-one', true],
      ['worker', false],
      ['gateway', false],
    ]);
  });

  it('the worker builds panes within the limits the gateway merges them with', () => {
    const config = loadConfig({ env: {}, overrides: { limits: { maxFeatures: 77, maxClasses: 5 }, sketch: { relativeAccuracy: 0.02 }, classification: { threshold: 0.7 } } });
    const limits = paneLimitsOf(config);
    expect(limits).toMatchObject({ maxFeatures: 77, maxClasses: 5, relativeAccuracy: 0.02, threshold: 0.7 });
    expect(runnerOptionsOf(config).processor.limits).toEqual(limits);
  });

  it('feature sketches get their own accuracy (default 0.5 % of the distance to the center), validated', () => {
    expect(paneLimitsOf(loadConfig({ env: {} })).featureRelativeAccuracy).toBe(0.005);
    const config = loadConfig({ env: {}, overrides: { sketch: { featureRelativeAccuracy: 0.01 } } });
    expect(paneLimitsOf(config)).toMatchObject({ relativeAccuracy: 0.01, featureRelativeAccuracy: 0.01 });
    expect(() => loadConfig({ env: {}, overrides: { sketch: { featureRelativeAccuracy: 0.5 } } })).toThrow(/sketch.featureRelativeAccuracy = 0.5/);
  });

  it('runner options carry the panes, join, checkpoint and detector settings', () => {
    const config = loadConfig({
      env: {},
      overrides: {
        panes: { paneMs: '5s', flushIntervalMs: 250 },
        join: { labelHorizonMs: '2h', maxPending: 1234 },
        checkpoint: { intervalMs: '45s' },
        detectors: { errorStream: ['adwin', 'ddm'] },
      },
    });
    const options = runnerOptionsOf(config);
    expect(options.flushIntervalMs).toBe(250);
    expect(options.checkpointIntervalMs).toBe(45_000);
    expect(options.processor).toMatchObject({ paneMs: 5000, labelHorizonMs: 2 * HOUR, maxPending: 1234, errorDetectors: ['adwin', 'ddm'] });
  });
});
