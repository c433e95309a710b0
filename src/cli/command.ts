import type { OptionName, ParsedOptions } from './args.ts';
import type { Context } from './gateway-client.ts';

/** One `driftwatch baseline <name>` command: the options and positionals it takes, and what it does. */
export interface Subcommand {
  options: readonly OptionName[];
  positionals: readonly string[];
  run(ctx: Context, options: ParsedOptions, positionals: string[]): Promise<void>;
}
