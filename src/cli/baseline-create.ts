import { profileToBytes } from '../reference/profile.ts';
import { ProfileBuilder } from '../reference/profile-builder.ts';
import { detectFormat, TrainingFileError } from '../reference/training-file.ts';
import type { RowNames, TrainingFileFormat } from '../reference/training-file.ts';
import { summarizeColumns } from '../reference/column-table.ts';
import { checkModel, checkVersion, nonEmpty, requireOption } from './args.ts';
import type { Subcommand } from './command.ts';
import { CommandError, UsageError } from './errors.ts';
import { describeChecks, describeCreated, describeInForce, formatColumnTable } from './format.ts';
import { request } from './gateway-client.ts';
import type { UploadAnswer } from './gateway-client.ts';
import { createProgress } from './progress.ts';
import { fileSize, readTrainingFile } from './training-source.ts';
import type { TrainingFileRead } from './training-source.ts';

const FORMATS: readonly TrainingFileFormat[] = ['jsonl', 'csv', 'msgpack'];

/** A comma-separated list of column names (--ignore, --feature-column). */
function columnList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((c) => c.trim()).filter((c) => c !== '');
}

/** What an event log's labels gave, after the row count. */
function describeEvents(read: TrainingFileRead): string {
  const parts: string[] = [];
  const n = (x: number) => x.toLocaleString('en-US');
  if (read.labelEvents > 0) parts.push(`${n(read.labelEvents)} label events, ${n(read.joinedLabels)} joined to their prediction`);
  if (read.duplicatePredictions > 0) parts.push(`${n(read.duplicatePredictions)} repeated predictions counted once`);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

/** Models (or versions) listed by name when a file names others than --model (--version); the rest are summed up. */
const LISTED_NAMES = 10;

/**
 * The file's rows that name a `field` (model or version) other than `wanted`, described with the
 * counts per name, or null when every row naming one names this one (rows naming none are taken
 * as its own).
 */
function otherNamesProblem(field: 'model' | 'version', names: RowNames, wanted: string, rows: number): string | null {
  const others = [...names.rows].filter(([name]) => name !== wanted).reduce((sum, [, n]) => sum + n, 0) + names.uncountedRows;
  if (others === 0) return null;
  const n = (x: number) => x.toLocaleString('en-US');
  const byCount = [...names.rows].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const listed = byCount.slice(0, LISTED_NAMES).map(([name, count]) => `${name} ${n(count)}`);
  const unlisted = byCount.slice(LISTED_NAMES).reduce((sum, [, count]) => sum + count, 0) + names.uncountedRows;
  if (unlisted > 0) listed.push(`other ${field}s ${n(unlisted)}`);
  const unnamed = rows - [...names.rows.values()].reduce((a, b) => a + b, 0) - names.uncountedRows;
  if (unnamed > 0) listed.push(`no ${field} named ${n(unnamed)}`);
  const own = names.rows.get(wanted) ?? 0;
  const what =
    own === 0 && unnamed === 0 ? `none of the ${n(rows)} rows are of ${field} '${wanted}' (is --${field} right?)` : `${n(others)} of the ${n(rows)} rows are of another ${field} than '${wanted}'`;
  return `${what}: rows by ${field}: ${listed.join(', ')}`;
}

/** The gateway's message when it refuses a profile (src/gateway/routes/baselines.ts). */
const REFUSED = /^gateway answered 409 Conflict: refused \(pass force to upload anyway\): (.*)$/s;

/**
 * `baseline create`: streams a training file into a reference profile (src/reference/profile-builder.ts)
 * and uploads the profile, not the rows: the upload stays small whatever the file's size.
 */
export const baselineCreate: Subcommand = {
  options: ['model', 'version', 'file', 'format', 'output-column', 'label-column', 'ignore', 'feature-column', 'force', 'dry-run'],
  positionals: [],
  async run(ctx, options) {
    const model = checkModel(requireOption(options, 'model', 'create')) as string;
    const version = checkVersion(nonEmpty(options.version, '--version'));
    const file = requireOption(options, 'file', 'create');
    let format: TrainingFileFormat;
    if (options.format !== undefined) {
      if (!FORMATS.includes(options.format as TrainingFileFormat)) throw new UsageError(`--format must be jsonl, csv or msgpack, got '${options.format}'`);
      format = options.format as TrainingFileFormat;
    } else {
      try {
        format = detectFormat(file);
      } catch (error) {
        throw new UsageError(`--file: ${(error as Error).message}`);
      }
    }
    const outputColumn = nonEmpty(options['output-column'], '--output-column');
    const labelColumn = nonEmpty(options['label-column'], '--label-column');
    const ignore = columnList(options.ignore);
    const featureColumns = columnList(options['feature-column']);
    for (const name of featureColumns ?? []) {
      if (ignore?.includes(name)) throw new UsageError(`--feature-column and --ignore both name '${name}'`);
      if (name === outputColumn || name === labelColumn) throw new UsageError(`--feature-column '${name}' is also the ${name === outputColumn ? 'output' : 'label'} column`);
    }
    if (outputColumn !== undefined && outputColumn === labelColumn) throw new UsageError(`--output-column and --label-column are both '${outputColumn}'`);
    const force = options.force === true;
    const dryRun = options['dry-run'] === true;

    const size = fileSize(file);
    // The gateway names and dates the profile; these are placeholders.
    const builder = new ProfileBuilder('upload', model, version ?? null);
    let read;
    try {
      read = await readTrainingFile(
        file,
        format,
        { outputColumn, labelColumn, ignore, featureColumns },
        (row) => builder.add(row),
        createProgress({ write: ctx.err, isTTY: ctx.errIsTTY }, size),
        ({ output, label }) => builder.addOutcome(output, label),
      );
    } catch (error) {
      if (error instanceof TrainingFileError) throw new CommandError(`${file}: ${error.message}`);
      throw error;
    }
    ctx.out(`${file}: ${read.rows.toLocaleString('en-US')} rows${describeEvents(read)}`);
    ctx.out(formatColumnTable(summarizeColumns(read.columns, read.rows)));
    // Refused rather than only warned about: the upload is in force at once, and drift judged
    // against another model's (or version's) distribution raises false alerts or hides real ones;
    // the cause (a typo in --model, the wrong file, a log of every model) is nearly always a mistake.
    const otherModels = otherNamesProblem('model', read.models, model, read.rows);
    const otherVersions = version === undefined ? null : otherNamesProblem('version', read.versions, version, read.rows);
    const fileProblems = [otherModels, otherVersions].filter((p): p is string => p !== null);
    if (fileProblems.length > 0 && !force && !dryRun) {
      const whose = otherVersions === null ? `model ${model}'s rows` : `the rows of model ${model}, version ${version}`;
      const select = otherVersions === null ? `.model == "${model}"` : `.model == "${model}" and .version == "${version}"`;
      const filter = format === 'jsonl' ? ` (for JSON Lines: jq -c 'select(${select})' ${file} > ${model}.jsonl)` : '';
      throw new CommandError(`${file}: ${fileProblems.join('; ')}\nnothing was uploaded: keep only ${whose}${filter}, or pass --force to upload every row anyway`);
    }
    if (force) for (const problem of fileProblems) ctx.err(`warning: ${file}: ${problem} (uploading anyway: --force)\n`);
    const profile = builder.build();
    const body = JSON.stringify({ model, version, profile: Buffer.from(profileToBytes(profile)).toString('base64'), force: force || undefined, dryRun: dryRun || undefined });

    let answer: UploadAnswer;
    try {
      answer = await request<UploadAnswer>(ctx, '/v1/baselines', { method: 'POST', body, timeoutMs: 120_000 });
    } catch (error) {
      const refused = error instanceof CommandError ? REFUSED.exec(error.message) : null;
      if (refused === null) throw error;
      throw new CommandError(`the gateway refused the profile:\n${refused[1].split('; ').map((p) => `  - ${p}`).join('\n')}\nnothing was changed; check the file, or pass --force to upload it anyway`);
    }
    if (answer.dryRun) {
      ctx.out(describeCreated(answer, 'dry run: would create').replace(/^dry run: would create baseline \S+/, 'dry run: nothing uploaded'));
      ctx.out(describeChecks([...fileProblems, ...answer.problems]));
      return;
    }
    ctx.out(describeCreated(answer, 'created'));
    const problems = [...fileProblems, ...answer.problems];
    if (problems.length > 0) ctx.out(`${describeChecks(problems)}\n  (uploaded anyway: --force)`);
    ctx.out(describeInForce(answer.inForce, model));
  },
};
