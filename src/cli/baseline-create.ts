import { readFileSync } from 'node:fs';
import { detectFormat, parseTrainingFile, TrainingFileError } from '../reference/training-file.ts';
import type { TrainingFileFormat } from '../reference/training-file.ts';
import { checkModel, checkVersion, nonEmpty, requireOption } from './args.ts';
import type { Subcommand } from './command.ts';
import { CommandError, UsageError } from './errors.ts';
import { describeCreated } from './format.ts';
import { request } from './gateway-client.ts';
import type { ProfileDescription } from './gateway-client.ts';

/** More rows than this is a sampling job, not an upload (and would not fit the 64 MiB body limit). */
export const MAX_TRAINING_ROWS = 2_000_000;
/** The gateway's body limit on POST /v1/baselines. */
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

/** `baseline create`: builds a reference profile from a training file and uploads it. */
export const baselineCreate: Subcommand = {
  options: ['model', 'version', 'file', 'format', 'output-column', 'label-column', 'ignore'],
  positionals: [],
  async run(ctx, options) {
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
  },
};
