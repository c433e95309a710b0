import { parseArgs } from 'node:util';
import { TrainingFileError } from '../reference/training-file.ts';
import { describeParseArgsError, gatewayUrl, GLOBAL_OPTIONS, nonEmpty, OPTIONS } from './args.ts';
import type { CliEnv, OptionName, ParsedOptions } from './args.ts';
import type { Subcommand } from './command.ts';
import { CommandError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import type { Context } from './gateway-client.ts';
import { baselineCreate } from './baseline-create.ts';
import { baselineCapture } from './baseline-capture.ts';
import { baselineList } from './baseline-list.ts';
import { baselineDelete } from './baseline-delete.ts';

export type { CliEnv } from './args.ts';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.ts';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  fetch?: typeof globalThis.fetch;
}

const USAGE = `Usage: driftwatch <command> [options]

Commands:
  baseline create --model M --file F [--version V] [--format jsonl|csv|msgpack]
                  [--output-column C] [--label-column C] [--ignore C,...]
                  [--feature-column C,...] [--dry-run] [--force]
                                   summarise a training file into a reference profile and upload it
  baseline capture --model M [--window 5m] [--version V]
                                   capture a reference profile from a live window
  baseline list [--model M]        list reference profiles
  baseline delete ID               delete a reference profile

Global options:
  --gateway URL   gateway address (default: $DRIFTWATCH_GATEWAY or http://127.0.0.1:$PORT, port 8080)
  --token T       bearer token (default: $DRIFTWATCH_TOKEN)
  --help          show this help

Training files: JSON Lines (.jsonl/.ndjson/.json), CSV with a header row (.csv) or a
MessagePack stream (.msgpack/.mpk), of any size: the file is streamed and summarised here, only
the profile is uploaded. A record is a row {"features": {...}, "output": ..., "label": ...}, a
logged prediction event {"id", "model", "ts", "features", "output", ...} (only its features are
features; label events {"id", "model", "ts", "label"} in the log are joined to their predictions
by model and id), or a flat object / CSV row whose columns other than output, label and those
named like ids or timestamps are features (--feature-column keeps such a column as a feature). Numeric-looking CSV cells are numbers, empty cells are missing,
anything else is a category. The columns, their roles and types are printed before the upload.
The gateway refuses a profile of fewer rows than reference.minRows (500) or whose features differ
from the model's live ones, and baseline create a file whose rows name another model than --model
(an event's "model", a "model" column) or another version than --version (an event's "version"),
with the rows per model or version: --dry-run shows the checks without uploading, --force uploads
anyway.
`;

const BASELINE_COMMANDS: Record<string, Subcommand> = {
  create: baselineCreate,
  capture: baselineCapture,
  list: baselineList,
  delete: baselineDelete,
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
      err: (text) => io.stderr.write(text),
      errIsTTY: io.stderr.isTTY === true,
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
