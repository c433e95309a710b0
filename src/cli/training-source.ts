import { createReadStream, statSync } from 'node:fs';
import { CsvReader, JsonLinesReader, ObjectRowReader, readMessagePackRecords } from '../reference/training-file.ts';
import type { RowNames } from '../reference/training-file.ts';
import type { JoinedOutcome, TrainingFileFormat, TrainingFileOptions } from '../reference/training-file.ts';
import type { ColumnStats } from '../reference/column-table.ts';
import type { TrainingRow } from '../reference/profile.ts';
import { CommandError } from './errors.ts';
import type { Progress } from './progress.ts';

/** What reading a training file found besides its rows. */
export interface TrainingFileRead {
  rows: number;
  bytes: number;
  columns: ColumnStats[];
  /** Label events of a logged event stream: not rows of a profile. */
  labelEvents: number;
  /** Of them, joined to their prediction (their outcome went to `onOutcome`). */
  joinedLabels: number;
  /** Copies of a prediction event already read: not profiled twice. */
  duplicatePredictions: number;
  /** Rows per model the file names (events' `model`, a `model` column). */
  models: RowNames;
  /** Rows per version named (wire events and row objects; a CSV names none). */
  versions: RowNames;
}

function eventsRead(reader: ObjectRowReader): Pick<TrainingFileRead, 'labelEvents' | 'joinedLabels' | 'duplicatePredictions'> {
  const { labelEvents, joined, duplicatePredictions } = reader.joinStats;
  return { labelEvents, joinedLabels: joined, duplicatePredictions };
}

/** Size of a file, as a CommandError that says why it cannot be read. */
export function fileSize(file: string): number {
  try {
    const stats = statSync(file);
    if (stats.isDirectory()) throw new CommandError(`cannot read --file ${file}: it is a directory`);
    return stats.size;
  } catch (error) {
    if (error instanceof CommandError) throw error;
    const code = (error as { code?: string }).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new CommandError(`cannot read --file ${file}: ${reason}`);
  }
}

/**
 * Streams a training file through its reader, one row at a time to `onRow`: memory stays bounded
 * by the chunk size and what `onRow` keeps, whatever the size of the file.
 */
export async function readTrainingFile(
  file: string,
  format: TrainingFileFormat,
  opts: TrainingFileOptions,
  onRow: (row: TrainingRow) => void,
  progress: Progress,
  onOutcome?: (outcome: JoinedOutcome) => void,
): Promise<TrainingFileRead> {
  let bytes = 0;
  let rows = 0;
  const countRow = (row: TrainingRow) => {
    rows++;
    onRow(row);
  };
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      progress.update(rows, bytes);
      yield chunk;
    }
  }
  try {
    if (format === 'msgpack') {
      const reader = new ObjectRowReader(opts, countRow, onOutcome);
      await readMessagePackRecords(chunks(), reader);
      return { rows, bytes, columns: reader.columnStats(), ...eventsRead(reader), models: reader.models, versions: reader.versions };
    }
    const decoder = new TextDecoder('utf-8');
    const reader = format === 'jsonl' ? new JsonLinesReader(opts, countRow, onOutcome) : new CsvReader(opts, countRow);
    for await (const chunk of chunks()) reader.push(decoder.decode(chunk, { stream: true }));
    reader.push(decoder.decode());
    reader.end();
    return reader instanceof JsonLinesReader
      ? { rows, bytes, columns: reader.objects.columnStats(), ...eventsRead(reader.objects), models: reader.objects.models, versions: reader.objects.versions }
      : { rows, bytes, columns: reader.columnStats(), labelEvents: 0, joinedLabels: 0, duplicatePredictions: 0, models: reader.models, versions: reader.versions };
  } finally {
    stream.destroy();
    progress.done(rows, bytes);
  }
}
