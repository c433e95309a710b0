/**
 * Command-line flags of `npm run simulate`, parsed and validated without side effects so the
 * rules are testable. Every error names the flag, the value and what was expected.
 */
import { parseArgs } from 'node:util';
import { isValidModelName } from '../cluster/subjects.ts';
import { demoSchedule, parseDriftSpec, parseDurationMs, type DriftSpec } from './drift.ts';
import { isModelKind, type ModelKind } from './models.ts';
import type { LabelOptions, ModelSelection } from './scenario.ts';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

export interface SimulatorCliOptions {
  help: boolean;
  rate: number;
  /** Absent: run until interrupted. */
  durationMs?: number;
  drift: DriftSpec[];
  seed: number;
  natsUrl: string;
  models: ModelSelection[];
  labels: Partial<LabelOptions>;
  canaryFraction?: number;
  maxInFlight?: number;
  partitions?: number;
}

export class CliArgError extends Error {
  override readonly name = 'CliArgError';
}

export const SIMULATOR_USAGE = `Usage: npm run simulate -- [options]

Publishes realistic prediction and delayed label traffic to driftwatch, with scheduled drift.

Options:
  --rate N               predictions per second (default 200); labels come on top
  --duration D           stop after D (60, 90s, 2m, 1h; bare number = seconds); default: run until Ctrl-C
  --drift SPEC           scheduled drift, repeatable: kind@time[:key=value,...]
                           kinds: covariate prior concept latency error_rate fairness canary segment correlation
                           keys:  feature (covariate), features (correlation), magnitude, until, model
                           e.g.   covariate@60s:feature=f0,magnitude=1
                                  latency@90s:magnitude=80,until=150s
                                  correlation@60s:features=f0+f3,magnitude=0.8  (f0, f3 correlated
                                    +0.8 from the start, -0.8 from 60s; each keeps its distribution)
  --demo                 add the demo schedule (covariate drift on f0 at 60s, latency +80ms 75s-300s)
  --seed N               integer seed of the generator (default 1)
  --models LIST          comma-separated kind[:name], kinds fraud and churn (default fraud)
  --canary-fraction F    share of traffic served by version v2 (default 0.1)
  --label-delay D        median label delay (default 5s)
  --label-early F        share of labels sent before their prediction (default 0.02)
  --label-never F        share of predictions never labeled (default 0.1)
  --nats URL             NATS server (default $NATS_URL or ${DEFAULT_NATS_URL})
  --max-in-flight N      publisher's outstanding-ack window (default: the SDK's)
  --partitions N         partition count (default: read from the cluster metadata in KV)
  -h, --help             print this help
`;

function fail(flag: string, value: string, expected: string): never {
  throw new CliArgError(`--${flag} ${JSON.stringify(value)}: expected ${expected}`);
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) fail(flag, value, 'a number > 0');
  return n;
}

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) fail(flag, value, 'an integer >= 1');
  return n;
}

function fraction(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) fail(flag, value, 'a fraction between 0 and 1');
  return n;
}

function duration(flag: string, value: string): number {
  try {
    return parseDurationMs(value, `--${flag}`);
  } catch {
    return fail(flag, value, 'a duration like 90, 90s, 2m or 500ms');
  }
}

function parseModels(value: string): ModelSelection[] {
  const selections = value.split(',').map((token): ModelSelection => {
    const [kind, name, ...extra] = token.trim().split(':');
    if (!isModelKind(kind) || extra.length > 0) {
      fail('models', value, `comma-separated kind[:name] with kind fraud or churn (bad entry "${token}")`);
    }
    if (name !== undefined && !isValidModelName(name)) {
      fail('models', value, `model names of letters, digits, '_' and '-' (bad name "${name}")`);
    }
    return name === undefined ? { kind: kind as ModelKind } : { kind: kind as ModelKind, name };
  });
  return selections;
}

/** Parses argv (without the node and script paths). Throws CliArgError on bad input. */
export function parseSimulatorArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): SimulatorCliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        rate: { type: 'string' },
        duration: { type: 'string' },
        drift: { type: 'string', multiple: true },
        demo: { type: 'boolean' },
        seed: { type: 'string' },
        models: { type: 'string' },
        'canary-fraction': { type: 'string' },
        'label-delay': { type: 'string' },
        'label-early': { type: 'string' },
        'label-never': { type: 'string' },
        nats: { type: 'string' },
        'max-in-flight': { type: 'string' },
        partitions: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new CliArgError(`${message.replace(/\.?\s*$/, '')}. Run with --help for usage.`);
  }
  const v = parsed.values;
  const options: SimulatorCliOptions = {
    help: v.help === true,
    rate: v.rate === undefined ? 200 : positiveNumber('rate', v.rate),
    drift: [],
    seed: 1,
    natsUrl: v.nats ?? env.NATS_URL ?? DEFAULT_NATS_URL,
    models: v.models === undefined ? [{ kind: 'fraud' }] : parseModels(v.models),
    labels: {},
  };
  if (v.duration !== undefined) {
    options.durationMs = duration('duration', v.duration);
    if (options.durationMs <= 0) fail('duration', v.duration, 'a duration > 0');
  }
  if (v.seed !== undefined) {
    const seed = Number(v.seed);
    if (!/^\s*-?\d+\s*$/.test(v.seed) || !Number.isSafeInteger(seed)) fail('seed', v.seed, 'an integer');
    options.seed = seed;
  }
  if (v.demo === true) options.drift.push(...demoSchedule());
  for (const text of v.drift ?? []) {
    try {
      options.drift.push(parseDriftSpec(text));
    } catch (err) {
      throw new CliArgError(`--drift: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!/^(nats|tls|ws|wss):\/\/[^\s/]+/.test(options.natsUrl) && !/^[^\s/:]+:\d+$/.test(options.natsUrl)) {
    fail(v.nats === undefined ? 'nats (from NATS_URL)' : 'nats', options.natsUrl, 'a NATS URL like nats://127.0.0.1:4222');
  }
  if (v['canary-fraction'] !== undefined) options.canaryFraction = fraction('canary-fraction', v['canary-fraction']);
  if (v['label-delay'] !== undefined) options.labels.delayMedianMs = duration('label-delay', v['label-delay']);
  if (v['label-early'] !== undefined) options.labels.earlyFraction = fraction('label-early', v['label-early']);
  if (v['label-never'] !== undefined) options.labels.neverFraction = fraction('label-never', v['label-never']);
  if ((options.labels.earlyFraction ?? 0.02) + (options.labels.neverFraction ?? 0.1) > 1) {
    throw new CliArgError('--label-early plus --label-never must not exceed 1');
  }
  if (v['max-in-flight'] !== undefined) options.maxInFlight = positiveInteger('max-in-flight', v['max-in-flight']);
  if (v.partitions !== undefined) options.partitions = positiveInteger('partitions', v.partitions);
  return options;
}
