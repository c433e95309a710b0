import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/load.ts';

describe('configuration', () => {
  it('loads the defaults with their alert rules', () => {
    const config = loadConfig({ env: {} });
    expect(config.http.port).toBe(8080);
    expect(config.partitions.count).toBe(16);
    expect(config.partitionsExplicit).toBe(false);
    expect(config.windows).toEqual(['1m', '5m', '1h']);
    expect(config.alerts.rules.map((r) => r.name)).toEqual(expect.arrayContaining(['accuracy_drop', 'latency_p99_increase', 'error_rate_spike', 'output_psi', 'feature_psi', 'canary_accuracy']));
  });

  it('environment overrides the file, which overrides the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-config-'));
    try {
      const file = join(dir, 'c.json');
      writeFileSync(file, JSON.stringify({ http: { port: 9000 }, partitions: { count: 8 }, panes: { paneMs: '5s' } }));
      const config = loadConfig({ env: { DRIFTWATCH_CONFIG: file, PORT: '9100', DRIFTWATCH_TOKEN: 'secret', DRIFTWATCH_OWNED_PARTITIONS: '0,2' } });
      expect(config.http.port).toBe(9100);
      expect(config.partitions.count).toBe(8);
      expect(config.partitionsExplicit).toBe(true);
      expect(config.partitions.owned).toEqual([0, 2]);
      expect(config.panes.paneMs).toBe(5000);
      expect(config.auth.token).toBe('secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad value with the key, the value, its source and what was expected', () => {
    expect(() => loadConfig({ env: { PORT: 'eighty' } })).toThrow('invalid config http.port = "eighty" (from environment variable PORT): expected an integer between 0 and 65535');
    expect(() => loadConfig({ env: { DRIFTWATCH_PARTITIONS: '0' } })).toThrow(/partitions.count = 0 \(from environment variable DRIFTWATCH_PARTITIONS\)/);
    expect(() => loadConfig({ env: { DRIFTWATCH_OWNED_PARTITIONS: '1,99' } })).toThrow(
      'invalid config partitions.owned[1] = 99 (from environment variable DRIFTWATCH_OWNED_PARTITIONS): expected an integer between 0 and 15',
    );
    expect(() => loadConfig({ env: { DRIFTWATCH_MODELS_ALLOW: 'fraud,a.b' } })).toThrow(/models.allow\[1\] = "a.b" \(from environment variable DRIFTWATCH_MODELS_ALLOW\)/);
    expect(() => loadConfig({ env: {}, overrides: { windows: ['1m', '15s'] } })).toThrow(/windows\[1\] = "15s".*whole multiple of panes.paneMs/);
    expect(() => loadConfig({ env: {}, overrides: { drift: { features: { a: { test: 'magic' } } } } })).toThrow(/drift.features.a.test = "magic"/);
    expect(() => loadConfig({ env: {}, overrides: { drift: { falseAlarmsPerMillion: 0 } } })).toThrow(/drift.falseAlarmsPerMillion = 0 .*expected a number of false alarms per million values greater than 0 and at most 1000000/);
    expect(loadConfig({ env: {} }).drift.falseAlarmsPerMillion).toBe(0.5);
    expect(loadConfig({ env: {}, overrides: { drift: { features: {} , falseAlarmsPerMillion: 50 } } }).drift.falseAlarmsPerMillion).toBe(50);
    expect(() => loadConfig({ env: { LOG_LEVEL: 'loud' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { DRIFTWATCH_CONFIG: '/nonexistent/c.json' } })).toThrow(/cannot read DRIFTWATCH_CONFIG file \/nonexistent\/c.json/);
  });

  it("sets the gateway's heap growth from the file or DRIFTWATCH_GATEWAY_HEAP_GROWING_PERCENT, and refuses a value that is not a whole percentage", () => {
    expect(loadConfig({ env: {} }).gateway.heapGrowingPercent).toBe(100);
    expect(loadConfig({ env: { DRIFTWATCH_GATEWAY_HEAP_GROWING_PERCENT: '0' } }).gateway.heapGrowingPercent).toBe(0);
    expect(loadConfig({ env: {}, overrides: { gateway: { heapGrowingPercent: 250 } } }).gateway.heapGrowingPercent).toBe(250);
    // defaults without the section (a file written before it existed) get the default growth
    const { gateway: _gateway, ...withoutGateway } = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect(loadConfig({ env: {}, defaults: withoutGateway }).gateway.heapGrowingPercent).toBe(100);
    expect(() => loadConfig({ env: { DRIFTWATCH_GATEWAY_HEAP_GROWING_PERCENT: 'lots' } })).toThrow(
      'invalid config gateway.heapGrowingPercent = "lots" (from environment variable DRIFTWATCH_GATEWAY_HEAP_GROWING_PERCENT): expected an integer between 0 and 1000',
    );
    expect(() => loadConfig({ env: { DRIFTWATCH_GATEWAY_HEAP_GROWING_PERCENT: '5000' } })).toThrow(/gateway.heapGrowingPercent = 5000 .*between 0 and 1000/);
    expect(() => loadConfig({ env: {}, overrides: { gateway: { heapGrowingPercent: 12.5 } } })).toThrow(/gateway.heapGrowingPercent = 12.5/);
    expect(() => loadConfig({ env: {}, overrides: { gateway: 'fast' } })).toThrow(/gateway/);
  });

  it('reads webhook receivers and per-model rule overrides from the config file, and refuses bad ones naming the file, key and receiver', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-config-'));
    try {
      const file = join(dir, 'alerts.json');
      writeFileSync(file, JSON.stringify({ alerts: { webhooks: [{ name: 'chat', url: 'http://127.0.0.1:9000/hook', backoff: '2s' }], overrides: { ads: { error_rate_spike: { threshold: 0.2, for: '2m' } } } } }));
      const config = loadConfig({ env: { DRIFTWATCH_CONFIG: file } });
      // the default rules are kept beside them
      expect(config.alerts.rules.map((r) => r.name)).toContain('feature_psi');
      expect(config.alerts.webhooks).toMatchObject([{ name: 'chat', url: 'http://127.0.0.1:9000/hook', backoffMs: 2000, retries: 3, timeoutMs: 5000 }]);
      expect(config.alerts.overrides).toEqual({ ads: { error_rate_spike: { threshold: 0.2, forMs: 120_000 } } });

      writeFileSync(file, JSON.stringify({ alerts: { webhooks: [{ name: 'chat', url: 'chat.example' }] } }));
      expect(() => loadConfig({ env: { DRIFTWATCH_CONFIG: file } })).toThrow(
        `invalid config alerts.webhooks[0].url = "chat.example" (from ${file}): expected an http:// or https:// URL (receiver "chat")`,
      );
      writeFileSync(file, JSON.stringify({ alerts: { overrides: { ads: { error_rate_spik: { threshold: 0.2 } } } } }));
      expect(() => loadConfig({ env: { DRIFTWATCH_CONFIG: file } })).toThrow(/invalid config alerts\.overrides\.ads\.error_rate_spik = .* \(from .*alerts\.json\): expected an override of a configured rule \(accuracy_drop, /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses at start an alert rule that could never fire, naming the file, the rule, the field and what is allowed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-config-'));
    try {
      const file = join(dir, 'rules.json');
      const rules = [
        { name: 'error_rate_spike', metric: 'errorRate', op: '>', threshold: 0.05 },
        { name: 'feature_psi', metric: 'drift.feature.psii', op: '>', threshold: 0.2 },
      ];
      writeFileSync(file, JSON.stringify({ alerts: { rules } }));
      expect(() => loadConfig({ env: { DRIFTWATCH_CONFIG: file } })).toThrow(
        `invalid config alerts.rules[1].metric = "drift.feature.psii" (from ${file}): expected drift.feature.<test> with a test from psi, ks, wasserstein_normed, jensen_shannon, hellinger, chi2, chi2_gof, z (optionally .pvalue), or drift.feature.drift (1 when the deciding test finds drift) (rule "feature_psi")`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const rule = { name: 'coverage_drop', metric: 'labelCoverage', op: '<', baseline: 'reference', delta: -0.1 };
    expect(() => loadConfig({ env: {}, overrides: { alerts: { rules: [rule] } } })).toThrow(/alerts.rules\[0\].baseline = "reference" .*expected 'reference' only on a metric the reference profile has \(accuracy, estimatedAccuracy, quality.accuracy, quality.f1, quality.auc, errorRate, latency.p99\)/);
    // the default rules watch ADWIN: without it on the error stream that rule could never fire
    expect(() => loadConfig({ env: {}, overrides: { detectors: { errorStream: ['ddm'] } } })).toThrow(
      /alerts.rules\[5\].metric = "detector.adwin" \(from config\/alert-rules.json\): expected a detector running on the error stream \(detectors.errorStream: ddm\) \(rule "error_stream_change"\)/,
    );
  });
});
