import { isValidModelName } from '../cluster/subjects.ts';
import { VERSION_MAX_LENGTH } from '../contract/limits.ts';
import { UsageError } from './errors.ts';

/** Every option any command takes; each command lists the ones that apply to it. */
export const OPTIONS = {
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
  'feature-column': { type: 'string' },
  window: { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
} as const;

export type OptionName = keyof typeof OPTIONS;
export type ParsedOptions = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

export const GLOBAL_OPTIONS: readonly OptionName[] = ['gateway', 'token', 'help'];

export type CliEnv = Record<string, string | undefined>;

/** parseArgs messages, reworded to name the flag and drop its advice about positionals. */
export function describeParseArgsError(error: Error & { code?: string }): string {
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

export function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  return value;
}

/** --gateway, else $DRIFTWATCH_GATEWAY, else the local gateway on $PORT (8080). */
export function gatewayUrl(flag: string | undefined, env: CliEnv): string {
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

export function requireOption(options: ParsedOptions, name: 'model' | 'file', command: string): string {
  const value = options[name];
  if (value === undefined) throw new UsageError(`missing --${name} (driftwatch baseline ${command} --${name} ${name === 'model' ? 'M' : 'F'} ...)`);
  return nonEmpty(value, `--${name}`) as string;
}

/** A model name is a NATS subject token (the wire format's rule, src/cluster/subjects.ts). */
export function checkModel(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!isValidModelName(value)) throw new UsageError(`--model '${value}' must be 1-128 letters, digits, '_' or '-' (it is a NATS subject token)`);
  return value;
}

export function checkVersion(value: string | undefined): string | undefined {
  if (value !== undefined && value.length > VERSION_MAX_LENGTH) throw new UsageError(`--version is longer than ${VERSION_MAX_LENGTH} characters`);
  return value;
}
