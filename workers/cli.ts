#!/usr/bin/env -S npx tsx
// `driftwatch <command>` (npm run driftwatch -- ...): manage reference profiles through the gateway's REST API.
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { detectFormat, parseTrainingFile, TrainingFileError } from '../src/reference/training-file.ts';
import type { TrainingFileFormat } from '../src/reference/training-file.ts';
import { isValidModelName } from '../src/cluster/subjects.ts';
import { VERSION_MAX_LENGTH } from '../src/contract/limits.ts';

/** More rows than this is a sampling job, not an upload (and would not fit the 64 MiB body limit). */
export const MAX_TRAINING_ROWS = 2_000_000;
/** The gateway's body limit on POST /v1/baselines. */
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
/** Versions are free-form like the wire format's ('1.2.0'), up to this length. */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  fetch?: typeof globalThis.fetch;
}

export type CliEnv = Record<string, string | undefined>;

const USAGE = `Usage: driftwatch <command> [options]

Commands:
  baseline create --model M --file F [--version V] [--format jsonl|csv]
                  [--output-column C] [--label-column C] [--ignore C,...]
                                   build a reference profile from a training file and upload it
  baseline capture --model M [--window 5m] [--version V]
                                   capture a reference profile from a live window
  baseline list [--model M]        list reference profiles
  baseline delete ID               delete a reference profile

Global options:
  --gateway URL   gateway address (default: $DRIFTWATCH_GATEWAY or http://127.0.0.1:$PORT, port 8080)
  --token T       bearer token (default: $DRIFTWATCH_TOKEN)
  --help          show this help

Training files: JSON Lines (.jsonl/.ndjson/.json), one object per line, either
{"features": {...}, "output": ..., "label": ...} or a flat object whose keys other than the
output/label columns are features; or CSV (.csv) with a header row. Numeric-looking CSV cells
are numbers, empty cells are missing, anything else is a category.
`;

/** A problem with the command line: printed with the usage hint, exit code 2. */
class UsageError extends Error {}
/** A runtime failure already explained by its message: exit code 1. */
class CommandError extends Error {}

const OPTIONS = {
  gateway: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  model: { type: 'string' },
  version: { type: 'string' },
  file: { type: 'string' },
  format: { type: 'string' },
  'output-column': { type: 'string' },
  'label-column': { type: 'string' },
  ignore: { type: 'string' },
  window: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
type ParsedOptions = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const GLOBAL_OPTIONS: readonly OptionName[] = ['gateway', 'token', 'help'];

interface Subcommand {
  options: readonly OptionName[];
  positionals: readonly string[];
  run(ctx: Context, options: ParsedOptions, positionals: string[]): Promise<void>;
}

interface Context {
  gateway: string;
  token: string | undefined;
  fetch: typeof globalThis.fetch;
  out(text: string): void;
}

const BASELINE_COMMANDS: Record<string, Subcommand> = {
  create: { options: ['model', 'version', 'file', 'format', 'output-column', 'label-column', 'ignore'], positionals: [], run: baselineCreate },
  capture: { options: ['model', 'window', 'version'], positionals: [], run: baselineCapture },
  list: { options: ['model'], positionals: [], run: baselineList },
  delete: { options: [], positionals: ['ID'], run: baselineDelete },
};

/** Runs the CLI; returns the process exit code (0 ok, 1 failure, 2 bad command line). */
export async function main(argv: string[], env: CliEnv = process.env, io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const err = (text: string) => io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(describeParseArgsError(error as Error & { code?: string }));
    }
    const options = parsed.values as ParsedOptions;
    const positionals = parsed.positionals;
    if (positionals.length === 0) {
      if (options.help) {
        io.stdout.write(USAGE);
        return EXIT_OK;
      }
      throw new UsageError('missing command');
    }
    const [group, name, ...rest] = positionals;
    if (group !== 'baseline') throw new UsageError(`unknown command '${group}' (commands: baseline)`);
    if (name === undefined) {
      if (options.help) {
        io.stdout.write(USAGE);
        return EXIT_OK;
      }
      throw new UsageError(`missing subcommand: baseline ${Object.keys(BASELINE_COMMANDS).join('|')}`);
    }
    const command = BASELINE_COMMANDS[name];
    if (command === undefined || !Object.hasOwn(BASELINE_COMMANDS, name)) {
      throw new UsageError(`unknown subcommand 'baseline ${name}' (subcommands: ${Object.keys(BASELINE_COMMANDS).join(', ')})`);
    }
    if (options.help) {
      io.stdout.write(USAGE);
      return EXIT_OK;
    }
    for (const option of Object.keys(options) as OptionName[]) {
      if (!GLOBAL_OPTIONS.includes(option) && !command.options.includes(option)) {
        throw new UsageError(`option --${option} does not apply to 'baseline ${name}'`);
      }
    }
    if (rest.length > command.positionals.length) {
      throw new UsageError(`unexpected argument '${rest[command.positionals.length]}' for 'baseline ${name}'`);
    }
    if (rest.length < command.positionals.length) throw new UsageError(`missing ${command.positionals[rest.length]}: driftwatch baseline ${name} ${command.positionals.join(' ')}`);
    const ctx: Context = {
      gateway: gatewayUrl(options.gateway, env),
      token: nonEmpty(options.token, '--token') ?? (env.DRIFTWATCH_TOKEN || undefined),
      fetch: io.fetch ?? globalThis.fetch,
      out: (text) => io.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    };
    await command.run(ctx, options, rest);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`driftwatch: ${error.message}\nRun 'driftwatch --help' for usage.`);
      return EXIT_USAGE;
    }
    if (error instanceof CommandError || error instanceof TrainingFileError) {
      err(`driftwatch: ${error.message}`);
      return EXIT_FAILURE;
    }
    err(`driftwatch: unexpected error: ${(error as Error).stack ?? String(error)}`);
    return EXIT_FAILURE;
  }
}

/** parseArgs messages, reworded to name the flag and drop its advice about positionals. */
function describeParseArgsError(error: Error & { code?: string }): string {
  const flag = /'(-[^' ]*)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${flag ?? error.message}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // A string option without a value, or a boolean option given one.
      if (flag !== undefined && /argument missing|ambiguous/.test(error.message)) return `option ${flag} needs a value`;
      return error.message;
    default:
      return error.message;
  }
}

function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  return value;
}

function gatewayUrl(flag: string | undefined, env: CliEnv): string {
  const raw = nonEmpty(flag, '--gateway') ?? (env.DRIFTWATCH_GATEWAY || `http://127.0.0.1:${env.PORT || '8080'}`);
  const where = flag !== undefined ? '--gateway' : env.DRIFTWATCH_GATEWAY ? 'DRIFTWATCH_GATEWAY' : 'PORT';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${where}: '${raw}' is not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${where}: '${raw}' must be an http:// or https:// URL`);
  return raw.replace(/\/+$/, '');
}

function requireOption(options: ParsedOptions, name: 'model' | 'file', command: string): string {
  const value = options[name];
  if (value === undefined) throw new UsageError(`missing --${name} (driftwatch baseline ${command} --${name} ${name === 'model' ? 'M' : 'F'} ...)`);
  return nonEmpty(value, `--${name}`) as string;
}

/** A model name is a NATS subject token (the wire format's rule, src/cluster/subjects.ts). */
function checkModel(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!isValidModelName(value)) throw new UsageError(`--model '${value}' must be 1-128 letters, digits, '_' or '-' (it is a NATS subject token)`);
  return value;
}

function checkVersion(value: string | undefined): string | undefined {
  if (value !== undefined && value.length > VERSION_MAX_LENGTH) throw new UsageError(`--version is longer than ${VERSION_MAX_LENGTH} characters`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface RequestOptions {
  method: 'GET' | 'POST' | 'DELETE';
  body?: string;
  timeoutMs?: number;
}

function errorCode(error: unknown): string | undefined {
  // undici wraps the socket error in `cause`, sometimes as an AggregateError (one per address).
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.length > 0) {
      const codes = inner.map(errorCode).filter((c) => c !== undefined);
      if (codes.length > 0) return codes[0];
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

async function request<T>(ctx: Context, path: string, opts: RequestOptions): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (ctx.token !== undefined) headers.authorization = `Bearer ${ctx.token}`;
  const url = `${ctx.gateway}${path}`;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let response: Response;
  try {
    response = await ctx.fetch(url, { method: opts.method, headers, body: opts.body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ECONNREFUSED') throw new CommandError(`cannot reach the gateway at ${ctx.gateway}: is \`npm start\` running?`);
    if ((error as Error).name === 'TimeoutError') throw new CommandError(`the gateway at ${ctx.gateway} did not answer ${opts.method} ${path} within ${timeoutMs / 1000} s`);
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new CommandError(`cannot reach the gateway at ${ctx.gateway}: ${code ?? cause ?? (error as Error).message}`);
  }
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page?): reported below with a snippet.
  }
  if (!response.ok) {
    const message = (body as { message?: unknown } | undefined)?.message;
    const detail = typeof message === 'string' ? message : text.slice(0, 200) || '(no body)';
    throw new CommandError(`gateway answered ${response.status} ${response.statusText || ''}`.trimEnd() + `: ${detail}`);
  }
  if (body === undefined) throw new CommandError(`gateway answered ${opts.method} ${path} with ${response.status} but no JSON body`);
  return body as T;
}

/** describeProfile's shape (src/reference/profile.ts). */
interface ProfileDescription {
  id: string;
  model: string;
  version: string | null;
  source: 'file' | 'window' | 'auto';
  createdAt: number;
  from?: number | null;
  to?: number | null;
  count: number;
  features?: Record<string, 'numeric' | 'categorical'>;
  output?: 'numeric' | 'categorical' | null;
  accuracy?: number | null;
  errorRate?: number | null;
  latencyP99?: number | null;
}

// ---------------------------------------------------------------------------------------------
// Commands

function describeCreated(profile: ProfileDescription, verb: string): string {
  const features = Object.entries(profile.features ?? {});
  const width = Math.max(0, ...features.map(([name]) => name.length));
  const lines = [
    `${verb} baseline ${profile.id}`,
    `  model:    ${profile.model}${profile.version === null ? ' (all versions)' : ` version ${profile.version}`}`,
    `  rows:     ${profile.count.toLocaleString('en-US')}`,
  ];
  if (profile.from != null && profile.to != null) lines.push(`  window:   ${new Date(profile.from).toISOString()} .. ${new Date(profile.to).toISOString()}`);
  lines.push(`  output:   ${profile.output ?? '(none)'}`);
  if (profile.accuracy != null) lines.push(`  accuracy: ${(profile.accuracy * 100).toFixed(1)}%`);
  lines.push(`  features (${features.length}):`);
  for (const [name, type] of features) lines.push(`    ${name.padEnd(width)}  ${type}`);
  return lines.join('\n');
}

async function baselineCreate(ctx: Context, options: ParsedOptions): Promise<void> {
  const model = checkModel(requireOption(options, 'model', 'create')) as string;
  const version = checkVersion(nonEmpty(options.version, '--version'));
  const file = requireOption(options, 'file', 'create');
  let format: TrainingFileFormat;
  if (options.format !== undefined) {
    if (options.format !== 'jsonl' && options.format !== 'csv') throw new UsageError(`--format must be jsonl or csv, got '${options.format}'`);
    format = options.format;
  } else {
    try {
      format = detectFormat(file);
    } catch (error) {
      throw new UsageError(`--file: ${(error as Error).message}`);
    }
  }
  const outputColumn = nonEmpty(options['output-column'], '--output-column');
  const labelColumn = nonEmpty(options['label-column'], '--label-column');
  const ignore = options.ignore === undefined ? undefined : options.ignore.split(',').map((c) => c.trim()).filter((c) => c !== '');
  if (outputColumn !== undefined && outputColumn === labelColumn) throw new UsageError(`--output-column and --label-column are both '${outputColumn}'`);

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new CommandError(`cannot read --file ${file}: ${reason}`);
  }
  let rows;
  try {
    rows = parseTrainingFile(text, format, { outputColumn, labelColumn, ignore, maxRows: MAX_TRAINING_ROWS });
  } catch (error) {
    if (error instanceof TrainingFileError) throw new CommandError(`${file}: ${error.message}`);
    throw error;
  }
  const body = JSON.stringify({ model, version, rows });
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_UPLOAD_BYTES) {
    throw new CommandError(
      `${file}: ${rows.length.toLocaleString('en-US')} rows make a ${(bytes / 1024 / 1024).toFixed(1)} MiB upload, over the gateway's 64 MiB limit; sample the file down`,
    );
  }
  const profile = await request<ProfileDescription>(ctx, '/v1/baselines', { method: 'POST', body, timeoutMs: 300_000 });
  ctx.out(describeCreated(profile, 'created'));
}

async function baselineCapture(ctx: Context, options: ParsedOptions): Promise<void> {
  const model = checkModel(requireOption(options, 'model', 'capture')) as string;
  const version = checkVersion(nonEmpty(options.version, '--version'));
  const window = nonEmpty(options.window, '--window');
  const profile = await request<ProfileDescription>(ctx, `/v1/models/${encodeURIComponent(model)}/baseline`, {
    method: 'POST',
    body: JSON.stringify({ window, version }),
  });
  ctx.out(describeCreated(profile, 'captured'));
}

/** Left-aligned columns separated by two spaces. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: readonly string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

async function baselineList(ctx: Context, options: ParsedOptions): Promise<void> {
  const model = checkModel(nonEmpty(options.model, '--model'));
  const query = model === undefined ? '' : `?model=${encodeURIComponent(model)}`;
  const { baselines } = await request<{ baselines: ProfileDescription[] }>(ctx, `/v1/baselines${query}`, { method: 'GET' });
  if (baselines.length === 0) {
    ctx.out(model === undefined ? 'no baselines' : `no baselines for model '${model}'`);
    return;
  }
  // Grouped by model, newest first: the newest of a model (and version) is the one drift uses.
  const sorted = [...baselines].sort((a, b) => a.model.localeCompare(b.model) || b.createdAt - a.createdAt);
  ctx.out(
    formatTable(
      ['ID', 'MODEL', 'VERSION', 'SOURCE', 'ROWS', 'FEATURES', 'CREATED'],
      sorted.map((p) => [
        p.id,
        p.model,
        p.version ?? '*',
        p.source,
        String(p.count),
        String(Object.keys(p.features ?? {}).length),
        new Date(p.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ]),
    ),
  );
}

async function baselineDelete(ctx: Context, _options: ParsedOptions, positionals: string[]): Promise<void> {
  const [id] = positionals;
  if (id.trim() === '') throw new UsageError('ID must not be empty');
  const { deleted } = await request<{ deleted: string }>(ctx, `/v1/baselines/${encodeURIComponent(id)}`, { method: 'DELETE' });
  ctx.out(`deleted baseline ${deleted ?? id}`);
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // Through the npm bin link, argv[1] is the symlink: compare real paths.
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
