import { readFileSync } from 'node:fs';
import { EXACT_VALUES_CAP } from '../window/pane.ts';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { DriftwatchConfig } from './types.ts';
import { parseDuration } from '../contract/duration.ts';
import { validateAlertRules } from '../alerts/rules.ts';
import { validateRuleOverrides } from '../alerts/overrides.ts';
import { validateWebhookReceivers } from '../alerts/webhooks.ts';
import { DETECTOR_KINDS, isDetectorKind } from '../stats/detectors/index.ts';
import { DEFAULT_DISCRETE_MAX_VALUES, DRIFT_TEST_NAMES, isDriftTestName } from '../stats/select.ts';
import { LOG_FORMAT_SETTINGS } from '../logging/logger.ts';
import type { LogFormatSetting } from '../logging/logger.ts';
import { LEASE_TTL_MS } from '../cluster/provision.ts';
import { ALLOW_ENTRY_PATTERN } from '../partition/model-admission.ts';

/** A config value that is not what it should be: names the key, the value and what was expected. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly expected: string,
    readonly source: string,
  ) {
    super(`invalid config ${key} = ${JSON.stringify(value)} (from ${source}): expected ${expected}`);
    this.name = 'ConfigError';
  }
}

const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars replace. */
function deepMerge(base: Json, over: Json): Json {
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, Json> = { ...base };
    for (const [key, value] of Object.entries(over)) out[key] = key in base ? deepMerge(base[key], value) : value;
    return out;
  }
  return over;
}

function readJsonFile(path: string, what: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new Error(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

interface Source {
  of(key: string): string;
}

function integer(value: unknown, key: string, src: Source, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, value, `an integer between ${min} and ${max}`, src.of(key));
  }
  return value;
}

function number(value: unknown, key: string, src: Source, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(key, value, `a number between ${min} and ${max}`, src.of(key));
  }
  return value;
}

/** Durations may be given as milliseconds or as '30s' / '5m' strings. */
function duration(value: unknown, key: string, src: Source, minMs: number): number {
  const ms = typeof value === 'string' ? parseDuration(value) : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < minMs) {
    throw new ConfigError(key, value, `a duration of at least ${minMs} ms (milliseconds, or a string like '30s', '5m')`, src.of(key));
  }
  return Math.round(ms);
}

function string(value: unknown, key: string, src: Source, nullable: boolean): string | null {
  if (value === null && nullable) return null;
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(key, value, nullable ? 'a non-empty string or null' : 'a non-empty string', src.of(key));
  }
  return value;
}

function section(root: Record<string, unknown>, key: string, src: Source): Record<string, unknown> {
  const value = root[key];
  if (!isPlainObject(value)) throw new ConfigError(key, value, 'an object', src.of(key));
  return value;
}

/** A worker id is part of NATS KV keys: letters, digits, `-` and `_` only. */
function workerId(value: unknown, src: Source): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    throw new ConfigError('worker.id', value, 'null or 1 to 64 letters, digits, "-" or "_"', src.of('worker.id'));
  }
  return value;
}

function leaseDuration(value: unknown, src: Source): number {
  const ms = duration(value, 'worker.leaseMs', src, 1000);
  if (ms > LEASE_TTL_MS) {
    throw new ConfigError('worker.leaseMs', value, `a duration between 1000 and ${LEASE_TTL_MS} ms (the lease bucket's TTL)`, src.of('worker.leaseMs'));
  }
  return ms;
}

/** models.allow (names or globs of a model name's characters plus `*` and `?`) and models.idleMs. */
function modelSettings(models: Record<string, unknown>, src: Source, labelHorizonMs: number): DriftwatchConfig['models'] {
  const allow = models.allow ?? [];
  if (!Array.isArray(allow)) throw new ConfigError('models.allow', allow, 'a list of model names or glob patterns (`*`, `?`), e.g. ["fraud", "churn-*"]', src.of('models.allow'));
  allow.forEach((entry, i) => {
    if (typeof entry !== 'string' || !ALLOW_ENTRY_PATTERN.test(entry)) {
      throw new ConfigError(`models.allow[${i}]`, entry, 'a model name or glob pattern: 1 to 128 letters, digits, "_", "-", "*" or "?"', src.of('models.allow'));
    }
  });
  const idleMs = models.idleMs === undefined || models.idleMs === null ? labelHorizonMs : duration(models.idleMs, 'models.idleMs', src, 1000);
  return { allow: allow as string[], idleMs };
}

/** What config/default.json sets (gateway.heapGrowingPercent): see DriftwatchConfig['gateway']. */
const DEFAULT_HEAP_GROWING_PERCENT = 100;
/** Ten times the live heap between full collections: beyond it, the heap limit decides. */
const MAX_HEAP_GROWING_PERCENT = 1000;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Checks every key of a merged raw config and returns the typed config, or throws ConfigError. */
export function validateConfig(raw: unknown, src: Source = { of: () => 'config' }): DriftwatchConfig {
  if (!isPlainObject(raw)) throw new ConfigError('(root)', raw, 'an object', src.of('(root)'));
  const nats = section(raw, 'nats', src);
  const http = section(raw, 'http', src);
  const auth = section(raw, 'auth', src);
  const partitions = section(raw, 'partitions', src);
  const panes = section(raw, 'panes', src);
  const join = section(raw, 'join', src);
  const limits = section(raw, 'limits', src);
  const sketch = section(raw, 'sketch', src);
  const classification = section(raw, 'classification', src);
  const reference = section(raw, 'reference', src);
  const checkpoint = section(raw, 'checkpoint', src);
  const ws = section(raw, 'ws', src);
  const drift = section(raw, 'drift', src);
  const log = section(raw, 'log', src);
  const worker = section(raw, 'worker', src);
  const models = raw.models === undefined ? {} : section(raw, 'models', src);
  const gateway = raw.gateway === undefined ? {} : section(raw, 'gateway', src);
  const threads = worker.threads;
  if (threads !== 'auto' && (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 0 || threads > 64)) {
    throw new ConfigError('worker.threads', threads, '"auto" or an integer between 0 and 64', src.of('worker.threads'));
  }
  const detectors = section(raw, 'detectors', src);
  const errorStream = detectors.errorStream;
  if (!Array.isArray(errorStream) || !errorStream.every(isDetectorKind)) {
    throw new ConfigError('detectors.errorStream', errorStream, `a list of detectors from ${DETECTOR_KINDS.join(', ')}`, src.of('detectors.errorStream'));
  }

  const replicas = nats.replicas;
  if (replicas !== 1 && replicas !== 3) throw new ConfigError('nats.replicas', replicas, '1 or 3', src.of('nats.replicas'));

  let owned: 'all' | number[];
  const count = integer(partitions.count, 'partitions.count', src, 1, 1024);
  if (partitions.owned === 'all') owned = 'all';
  else if (Array.isArray(partitions.owned) && partitions.owned.length > 0) {
    owned = partitions.owned.map((p, i) => integer(p, `partitions.owned[${i}]`, src, 0, count - 1));
  } else {
    throw new ConfigError('partitions.owned', partitions.owned, `"all" or a non-empty list of partition numbers below ${count}`, src.of('partitions.owned'));
  }

  const windowsRaw = raw.windows;
  if (!Array.isArray(windowsRaw) || windowsRaw.length === 0) {
    throw new ConfigError('windows', windowsRaw, "a non-empty list of durations like '1m', '5m', '1h'", src.of('windows'));
  }
  const paneMs = duration(panes.paneMs, 'panes.paneMs', src, 1000);
  const windows = windowsRaw.map((w, i) => {
    const ms = typeof w === 'string' ? parseDuration(w) : null;
    if (ms === null || ms < paneMs || ms % paneMs !== 0) {
      throw new ConfigError(`windows[${i}]`, w, `a duration string that is a whole multiple of panes.paneMs (${paneMs} ms), like '1m'`, src.of('windows'));
    }
    return w as string;
  });

  const featureOverrides: DriftwatchConfig['drift']['features'] = {};
  const features = drift.features;
  if (!isPlainObject(features)) throw new ConfigError('drift.features', features, 'an object of feature name -> {test, threshold}', src.of('drift.features'));
  for (const [name, override] of Object.entries(features)) {
    const key = `drift.features.${name}`;
    if (!isPlainObject(override)) throw new ConfigError(key, override, '{test, threshold}', src.of(key));
    const test = override.test;
    if (!isDriftTestName(test)) {
      throw new ConfigError(`${key}.test`, test, `one of ${DRIFT_TEST_NAMES.join(', ')}`, src.of(key));
    }
    featureOverrides[name] = {
      test,
      threshold: override.threshold === undefined ? undefined : number(override.threshold, `${key}.threshold`, src, 0, Number.MAX_VALUE),
    };
  }

  const falseAlarmsPerMillion = drift.falseAlarmsPerMillion;
  if (typeof falseAlarmsPerMillion !== 'number' || !(falseAlarmsPerMillion > 0 && falseAlarmsPerMillion <= 1e6)) {
    throw new ConfigError(
      'drift.falseAlarmsPerMillion',
      falseAlarmsPerMillion,
      'a number of false alarms per million values greater than 0 and at most 1000000 (default 0.5)',
      src.of('drift.falseAlarmsPerMillion'),
    );
  }

  // a numeric feature with at most this many distinct reference values is discrete (counted per
  // value, categorical tests); panes count up to EXACT_VALUES_CAP distinct values exactly
  const discreteMaxValues =
    drift.discreteMaxValues === undefined
      ? DEFAULT_DISCRETE_MAX_VALUES
      : integer(drift.discreteMaxValues, 'drift.discreteMaxValues', src, 0, EXACT_VALUES_CAP - 1);

  const level = log.level;
  if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError('log.level', level, `one of ${LOG_LEVELS.join(', ')}`, src.of('log.level'));
  }

  const format = log.format ?? 'auto';
  if (typeof format !== 'string' || !(LOG_FORMAT_SETTINGS as readonly string[]).includes(format)) {
    throw new ConfigError('log.format', format, `one of ${LOG_FORMAT_SETTINGS.join(', ')} (auto: readable lines on a terminal, JSON otherwise)`, src.of('log.format'));
  }

  const alertsSection = isPlainObject(raw.alerts) ? raw.alerts : { rules: raw.alerts };
  const rules = validateAlertRules(
    alertsSection.rules,
    windows,
    (key, value, expected) => new ConfigError(key, value, expected, src.of('alerts')),
    errorStream as DriftwatchConfig['detectors']['errorStream'],
  );
  const alertError = (key: string, value: unknown, expected: string): ConfigError => new ConfigError(key, value, expected, src.of(key));
  const overrides = validateRuleOverrides(alertsSection.overrides, rules, alertError);
  const webhooks = validateWebhookReceivers(alertsSection.webhooks, alertError);

  return {
    nats: {
      url: string(nats.url, 'nats.url', src, true),
      replicas,
      name: string(nats.name, 'nats.name', src, false) as string,
      eventsRetentionMs: duration(nats.eventsRetentionMs, 'nats.eventsRetentionMs', src, 1000),
    },
    http: httpSettings(http, auth, src),
    auth: { token: string(auth.token, 'auth.token', src, true) },
    partitions: { count, owned },
    panes: {
      paneMs,
      allowedLatenessMs: duration(panes.allowedLatenessMs, 'panes.allowedLatenessMs', src, 0),
      flushIntervalMs: duration(panes.flushIntervalMs, 'panes.flushIntervalMs', src, 50),
      minFlushIntervalMs: duration(panes.minFlushIntervalMs, 'panes.minFlushIntervalMs', src, 10),
      flushMessagesPerSecond: number(panes.flushMessagesPerSecond, 'panes.flushMessagesPerSecond', src, 0.1, 100_000),
      sparseHoldMs: duration(panes.sparseHoldMs, 'panes.sparseHoldMs', src, 0),
      sparseEvents: integer(panes.sparseEvents, 'panes.sparseEvents', src, 1, 1_000_000),
      outcomeHoldMs: duration(panes.outcomeHoldMs, 'panes.outcomeHoldMs', src, 0),
      maxFutureMs: duration(panes.maxFutureMs, 'panes.maxFutureMs', src, 0),
      maxClockSkewMs: duration(panes.maxClockSkewMs, 'panes.maxClockSkewMs', src, 0),
    },
    windows,
    join: {
      labelHorizonMs: duration(join.labelHorizonMs, 'join.labelHorizonMs', src, 1000),
      maxPending: integer(join.maxPending, 'join.maxPending', src, 16, 100_000_000),
      maxEarlyLabels: integer(join.maxEarlyLabels, 'join.maxEarlyLabels', src, 16, 10_000_000),
    },
    limits: {
      maxEventBytes: integer(limits.maxEventBytes, 'limits.maxEventBytes', src, 256, 8 * 1024 * 1024),
      maxFeatures: integer(limits.maxFeatures, 'limits.maxFeatures', src, 1, 1024),
      maxCategories: integer(limits.maxCategories, 'limits.maxCategories', src, 2, 10_000),
      maxSegmentKeys: integer(limits.maxSegmentKeys, 'limits.maxSegmentKeys', src, 0, 64),
      maxSegmentValues: integer(limits.maxSegmentValues, 'limits.maxSegmentValues', src, 1, 1000),
      segmentSketchValues: integer(limits.segmentSketchValues, 'limits.segmentSketchValues', src, 0, 100),
      maxModels: integer(limits.maxModels, 'limits.maxModels', src, 1, 100_000),
      maxVersionsPerModel: integer(limits.maxVersionsPerModel, 'limits.maxVersionsPerModel', src, 1, 1000),
      maxClasses: integer(limits.maxClasses, 'limits.maxClasses', src, 2, 1000),
    },
    models: modelSettings(models, src, duration(join.labelHorizonMs, 'join.labelHorizonMs', src, 1000)),
    sketch: {
      relativeAccuracy: number(sketch.relativeAccuracy, 'sketch.relativeAccuracy', src, 0.0001, 0.2),
      featureRelativeAccuracy: number(sketch.featureRelativeAccuracy, 'sketch.featureRelativeAccuracy', src, 0.0001, 0.2),
    },
    classification: { threshold: number(classification.threshold, 'classification.threshold', src, 0, 1) },
    reference: { autoCaptureMs: duration(reference.autoCaptureMs, 'reference.autoCaptureMs', src, 0), minRows: integer(reference.minRows, 'reference.minRows', src, 1) },
    checkpoint: { intervalMs: duration(checkpoint.intervalMs, 'checkpoint.intervalMs', src, 100) },
    ws: {
      maxBufferedBytes: integer(ws.maxBufferedBytes, 'ws.maxBufferedBytes', src, 1024),
      maxSubscriptions: integer(ws.maxSubscriptions, 'ws.maxSubscriptions', src, 1, 100_000),
    },
    drift: { features: featureOverrides, falseAlarmsPerMillion, discreteMaxValues },
    gateway: {
      heapGrowingPercent:
        gateway.heapGrowingPercent === undefined ? DEFAULT_HEAP_GROWING_PERCENT : integer(gateway.heapGrowingPercent, 'gateway.heapGrowingPercent', src, 0, MAX_HEAP_GROWING_PERCENT),
    },
    worker: {
      threads: threads as number | 'auto',
      id: workerId(worker.id, src),
      port: integer(worker.port, 'worker.port', src, 0, 65535),
      // the lease bucket's TTL is the backstop: a lease must expire by its own clock before that
      leaseMs: leaseDuration(worker.leaseMs, src),
    },
    detectors: { errorStream },
    dataDir: string(raw.dataDir, 'dataDir', src, false) as string,
    log: { level: level as DriftwatchConfig['log']['level'], format: format as LogFormatSetting },
    alerts: { rules, overrides, webhooks },
    partitionsExplicit: false,
  };
}

/** An environment value of digits alone as the number it spells; anything else as it is, for the key's own check to refuse by name. */
const digitsAsNumber = (v: string): Json => (/^\d+$/.test(v) ? Number(v) : v);

/** Environment variables and the config keys they set. */
const ENV_KEYS: Record<string, { path: string[]; parse: (v: string) => Json }> = {
  NATS_URL: { path: ['nats', 'url'], parse: (v) => v },
  PORT: { path: ['http', 'port'], parse: digitsAsNumber },
  HOST: { path: ['http', 'host'], parse: (v) => v },
  DRIFTWATCH_ALLOW_UNAUTHENTICATED: { path: ['http', 'allowUnauthenticated'], parse: (v) => (v === 'true' ? true : v === 'false' ? false : v) },
  DRIFTWATCH_PARTITIONS: { path: ['partitions', 'count'], parse: digitsAsNumber },
  DRIFTWATCH_OWNED_PARTITIONS: {
    path: ['partitions', 'owned'],
    parse: (v) => (v === 'all' ? 'all' : v.split(',').map((p) => (/^\s*\d+\s*$/.test(p) ? Number(p) : p))),
  },
  DRIFTWATCH_TOKEN: { path: ['auth', 'token'], parse: (v) => v },
  DRIFTWATCH_MODELS_ALLOW: { path: ['models', 'allow'], parse: (v) => v.split(',').map((m) => m.trim()).filter((m) => m.length > 0) },
  DRIFTWATCH_REPLICAS: { path: ['nats', 'replicas'], parse: digitsAsNumber },
  DRIFTWATCH_EVENTS_RETENTION: { path: ['nats', 'eventsRetentionMs'], parse: digitsAsNumber },
  DRIFTWATCH_DATA_DIR: { path: ['dataDir'], parse: (v) => v },
  DRIFTWATCH_WORKER_ID: { path: ['worker', 'id'], parse: (v) => v },
  DRIFTWATCH_WORKER_PORT: { path: ['worker', 'port'], parse: digitsAsNumber },
  DRIFTWATCH_GATEWAY_HEAP_GROWING_PERCENT: { path: ['gateway', 'heapGrowingPercent'], parse: digitsAsNumber },
  DRIFTWATCH_WORKER_THREADS: { path: ['worker', 'threads'], parse: digitsAsNumber },
  LOG_LEVEL: { path: ['log', 'level'], parse: (v) => v },
  LOG_FORMAT: { path: ['log', 'format'], parse: (v) => v },
};

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces config/default.json (tests). */
  defaults?: unknown;
  /** Merged over defaults and file, under the environment (tests, embedding). */
  overrides?: unknown;
}

/** Defaults, then the DRIFTWATCH_CONFIG file, then overrides, then environment variables; validated. */
/** Loopback addresses: only local processes can reach a server bound there. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Closed by default: a server reachable from other machines needs a token, unless the operator
 * says explicitly that something in front of it (a proxy, a private network) does the guarding.
 */
function httpSettings(http: Record<string, unknown>, auth: Record<string, unknown>, src: Source): DriftwatchConfig['http'] {
  const host = string(http.host, 'http.host', src, false) as string;
  const port = integer(http.port, 'http.port', src, 0, 65535);
  const allowUnauthenticated = http.allowUnauthenticated ?? false;
  if (typeof allowUnauthenticated !== 'boolean') throw new ConfigError('http.allowUnauthenticated', allowUnauthenticated, 'true or false', src.of('http.allowUnauthenticated'));
  const token = string(auth.token, 'auth.token', src, true);
  if (!isLoopbackHost(host) && token === null && !allowUnauthenticated) {
    throw new ConfigError(
      'http.host',
      host,
      'a loopback address (127.0.0.1, ::1, localhost) while no token is set: set DRIFTWATCH_TOKEN to serve on a network, or DRIFTWATCH_ALLOW_UNAUTHENTICATED=true if something in front of driftwatch guards it',
      src.of('http.host'),
    );
  }
  return { host, port, allowUnauthenticated };
}

export function loadConfig(options: LoadOptions = {}): DriftwatchConfig {
  const env = options.env ?? process.env;
  const origins = new Map<string, string>();
  let merged = (options.defaults ?? readJsonFile(join(CONFIG_DIR, 'default.json'), 'default config')) as Json;
  if (!isPlainObject(merged) || !('alerts' in merged)) {
    merged = deepMerge(merged, { alerts: { rules: readJsonFile(join(CONFIG_DIR, 'alert-rules.json'), 'default alert rules') } });
    origins.set('alerts', 'config/alert-rules.json');
  }
  let partitionsExplicit = false;
  const file = env.DRIFTWATCH_CONFIG;
  if (file) {
    const fromFile = readJsonFile(file, 'DRIFTWATCH_CONFIG file');
    if (!isPlainObject(fromFile)) throw new ConfigError('(root)', fromFile, 'a JSON object', file);
    for (const key of Object.keys(fromFile)) origins.set(key, file);
    if (isPlainObject(fromFile.partitions) && 'count' in fromFile.partitions) partitionsExplicit = true;
    merged = deepMerge(merged, fromFile);
  }
  if (options.overrides !== undefined) merged = deepMerge(merged, options.overrides as Json);
  for (const [name, { path, parse }] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let patch: Json = parse(value);
    for (let i = path.length - 1; i >= 0; i--) patch = { [path[i]]: patch };
    merged = deepMerge(merged, patch);
    origins.set(path.join('.'), `environment variable ${name}`);
    if (name === 'DRIFTWATCH_PARTITIONS') partitionsExplicit = true;
  }
  const src: Source = {
    of(key: string) {
      // origins are recorded per object path: 'partitions.owned[1]' came from wherever 'partitions.owned' did
      for (let k = key.replace(/\[\d+\]/g, ''); k; k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') {
        const origin = origins.get(k);
        if (origin) return origin;
      }
      return 'config/default.json';
    },
  };
  const config = validateConfig(merged, src);
  config.partitionsExplicit = partitionsExplicit;
  return config;
}
