/**
 * The shipped Prometheus rules, Grafana dashboard, prometheus.yml and docker-compose.yml agree with
 * the code: every series they name is one a driftwatch process registers, every scrape target is a
 * service that serves /metrics, and every mounted file exists. `promtool check rules` also runs when
 * promtool is installed (Debian: apt-get install prometheus).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { Registry } from 'prom-client';
import { createPipelineMetrics } from '../../src/app/metrics.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const yaml = (path: string) => load(read(path)) as Record<string, unknown>;

/** Every series name a worker or a gateway registers (npm start registers the union). */
const REGISTERED = (() => {
  const registry = new Registry();
  createPipelineMetrics(registry);
  return new Set(registry.getMetricsAsArray().map((m) => m.name));
})();
/** Series Prometheus itself adds to every scrape. */
const PROMETHEUS_SERIES = new Set(['up']);

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The series names a PromQL expression reads: identifiers that are not functions or aggregations
 * (followed by "("), keywords, label names (inside {...} or a by/without/on list), durations or
 * numbers, or Grafana variables.
 */
function seriesNames(expr: string): string[] {
  const e = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names: string[] = [];
  for (const match of e.matchAll(/(?<![\w.:$])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = e.slice((match.index ?? 0) + match[0].length).trimStart();
    if (rest.startsWith('(') || KEYWORDS.has(match[0].toLowerCase())) continue;
    names.push(match[0]);
  }
  return names;
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string; labels?: Record<string, string> }> }>;
}

const RULE_FILES = readdirSync(join(ROOT, 'config/prometheus')).filter((f) => f.endsWith('.yml')).map((f) => `config/prometheus/${f}`);
const rules = RULE_FILES.flatMap((file) => (yaml(file) as unknown as RuleFile).groups.flatMap((g) => g.rules.map((r) => ({ file, group: g.name, ...r }))));
const RECORDED = new Set(rules.flatMap((r) => (r.record === undefined ? [] : [r.record])));

function unknownSeries(expr: string): string[] {
  return seriesNames(expr).filter((n) => !REGISTERED.has(n) && !RECORDED.has(n) && !PROMETHEUS_SERIES.has(n));
}

describe('reading series names out of PromQL', () => {
  it('keeps series and drops functions, label names, durations, numbers and variables', () => {
    expect(seriesNames('sum by (kind) (rate(drift_events_consumed_total{kind="pred"}[1m])) > 1e3')).toEqual(['drift_events_consumed_total']);
    expect(seriesNames('max(drift_partitions) - sum(drift_partition_owner) > 0')).toEqual(['drift_partitions', 'drift_partition_owner']);
    expect(seriesNames('max without (instance, job) (drift_alerts_firing{model=~"$model"}) > 0 and on (model) driftwatch:x offset 5m')).toEqual(['drift_alerts_firing', 'driftwatch:x']);
  });

  it('catches a series no process registers', () => {
    expect(unknownSeries('sum(rate(drift_events_consumd_total[5m]))')).toEqual(['drift_events_consumd_total']);
  });
});

describe('Prometheus rules in config/prometheus/', () => {
  it('ship recording and alerting rules', () => {
    expect(RULE_FILES.length).toBeGreaterThanOrEqual(2);
    expect(rules.filter((r) => r.record !== undefined).length).toBeGreaterThan(0);
    expect(rules.filter((r) => r.alert !== undefined).length).toBeGreaterThan(0);
  });

  it('name only series that driftwatch exports (or that the rules record)', () => {
    for (const rule of rules) expect(unknownSeries(rule.expr), `${rule.file} ${rule.record ?? rule.alert}: ${rule.expr}`).toEqual([]);
  });

  it('cover what issue 11 and 12 ask an operator to watch', () => {
    const used = new Set(rules.flatMap((r) => seriesNames(r.expr)));
    for (const name of ['drift_partition_owner', 'drift_partitions', 'drift_consumer_lag', 'drift_checkpoint_age_seconds', 'drift_partition_rebalances_total', 'drift_alerts_firing', 'drift_feature_drift']) {
      expect(used, name).toContain(name);
    }
  });

  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
  it.skipIf(promtool === undefined)('pass promtool check rules and check config', () => {
    const rulesOut = execFileSync(promtool!, ['check', 'rules', ...RULE_FILES.map((f) => join(ROOT, f))], { encoding: 'utf8' });
    expect(rulesOut).toMatch(/SUCCESS/);
    const configOut = execFileSync(promtool!, ['check', 'config', join(ROOT, 'config/prometheus.yml')], { encoding: 'utf8' });
    expect(configOut).toMatch(/valid prometheus config file syntax/);
  });
});

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

describe('Grafana dashboard in config/grafana/', () => {
  const dashboard = JSON.parse(read('config/grafana/dashboards/driftwatch.json')) as {
    uid: string;
    panels: Panel[];
    templating: { list: Array<{ name: string; definition: string }> };
  };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

  it('every panel has a query, and every metric its queries and variables use is one the code registers', () => {
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(unknownSeries(target.expr), `${panel.title}: ${target.expr}`).toEqual([]);
    }
    for (const variable of dashboard.templating.list) {
      const metric = /label_values\(\s*([A-Za-z_:][\w:]*)/.exec(variable.definition)?.[1];
      expect(metric !== undefined && REGISTERED.has(metric), `${variable.name}: ${variable.definition}`).toBe(true);
    }
  });

  it('shows ownership, lag, checkpoint age, firing alerts and drift verdicts', () => {
    const used = new Set(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => seriesNames(t.expr))));
    for (const name of ['drift_partition_owner', 'drift_consumer_lag', 'drift_checkpoint_age_seconds', 'drift_partition_rebalances_total', 'drift_alerts_firing', 'drift_feature_drift', 'drift_feature_drift_statistic']) {
      expect(used, name).toContain(name);
    }
  });

  it('uses the data source the provisioning creates', () => {
    const sources = (yaml('config/grafana/provisioning/datasources/prometheus.yml').datasources as Array<{ uid: string; url: string }>);
    const uids = new Set(JSON.stringify(dashboard).match(/"uid": ?"[^"]+"/g)?.map((m) => m.replace(/.*"([^"]+)"$/, '$1')));
    expect(uids.has(sources[0].uid)).toBe(true);
    expect(sources[0].url).toBe('http://prometheus:9090');
  });
});

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}

describe('docker-compose.yml and config/prometheus.yml', () => {
  const compose = yaml('docker-compose.yml') as { services: Record<string, ComposeService> };
  const services = compose.services;
  // node itself, not `npm run`: npm does not pass docker's SIGTERM on to node, which would then be
  // killed without draining (no hand-over, no final checkpoint)
  const running = (script: string) => Object.keys(services).filter((name) => services[name].command?.join(' ') === `node --import tsx workers/${script}.ts`).sort();
  const prometheus = yaml('config/prometheus.yml') as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
  const targetsOf = (job: string) => prometheus.scrape_configs.find((c) => c.job_name === job)?.static_configs.flatMap((s) => s.targets).sort();

  it('runs a 3-node NATS cluster, three workers with their own ids, two gateways, Prometheus and Grafana', () => {
    expect(Object.keys(services).filter((n) => services[n].image?.startsWith('nats:'))).toHaveLength(3);
    expect(running('worker')).toEqual(['worker1', 'worker2', 'worker3']);
    expect(running('gateway')).toEqual(['gateway1', 'gateway2']);
    expect(Object.keys(services).filter((name) => services[name].command?.[0] === 'npm')).toEqual([]);
    expect(new Set(running('worker').map((w) => services[w].environment?.DRIFTWATCH_WORKER_ID)).size).toBe(3);
    expect(services.prometheus.image).toMatch(/^prom\/prometheus:/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana:/);
    // R3 streams through the replica setting provisioning uses
    for (const name of [...running('worker'), ...running('gateway')]) expect(services[name].environment?.DRIFTWATCH_REPLICAS).toBe('${DRIFTWATCH_REPLICAS:-3}');
  });

  it('Prometheus scrapes every worker on its metrics port and every gateway', () => {
    expect(targetsOf('driftwatch-worker')).toEqual(running('worker').map((w) => `${w}:${services[w].environment?.DRIFTWATCH_WORKER_PORT}`));
    expect(targetsOf('driftwatch-gateway')).toEqual(running('gateway').map((g) => `${g}:${services[g].environment?.PORT}`));
  });

  it('every file or folder the services mount exists, and Prometheus and Grafana get the rules and the dashboard', () => {
    const mounts = Object.values(services).flatMap((s) => s.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':'));
    for (const [host] of mounts) expect(existsSync(join(ROOT, host)), host).toBe(true);
    const mounted = new Map(mounts.map(([host, container]) => [container, host]));
    expect(mounted.get('/etc/prometheus/prometheus.yml')).toBe('./config/prometheus.yml');
    // prometheus.yml loads prometheus/*.yml relative to itself
    expect(mounted.get('/etc/prometheus/prometheus')).toBe('./config/prometheus');
    expect((yaml('config/prometheus.yml').rule_files as string[])).toEqual(['prometheus/*.yml']);
    expect(mounted.get('/etc/grafana/provisioning')).toBe('./config/grafana/provisioning');
    const provider = (yaml('config/grafana/provisioning/dashboards/driftwatch.yml').providers as Array<{ options: { path: string } }>)[0];
    expect(mounted.get(provider.options.path)).toBe('./config/grafana/dashboards');
  });
});
