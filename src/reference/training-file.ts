import { extname } from 'node:path';
import { decodeMultiStream } from '@msgpack/msgpack';
import { AddPredictionStatus, LabelJoinStatus, PendingJoinTable } from '../join/pending-table.ts';
import type { TrainingRow } from './profile.ts';
import { excludedByName, newColumnStats, observeCell } from './column-table.ts';
import type { ColumnStats, IgnoredReason } from './column-table.ts';

/**
 * Training data files for `driftwatch baseline create --file`: JSON Lines, CSV or a MessagePack
 * stream, turned into training rows one record at a time (readers take the file in chunks, so a
 * file of any size streams through). A record is either a row (`features` + `output` + `label`),
 * a logged wire-format prediction event (`{id, model, ts, features, output, ...}`: only
 * `features` are features), or a flat object/CSV row whose columns other than output, label,
 * ids and timestamps are features. Every column is counted for the column table (column-table.ts).
 *
 * In a log of wire events, label events (`{id, model, ts, label}`) are joined to their
 * predictions by model + id, in either order, with the worker's join table (bounded: at most
 * `maxPendingPredictions` predictions wait for their label, the oldest given up beyond), and each
 * join is handed to `onOutcome` (accuracy and score calibration of the profile). A copy of a
 * prediction or label already seen is counted once. A vector output (class probabilities) is
 * profiled as the worker profiles it: its most probable class index, as a class.
 */

export type TrainingFileFormat = 'jsonl' | 'csv' | 'msgpack';

export interface TrainingFileOptions {
  /** Column (flat JSONL key, CSV header) holding the model output. Default 'output'. */
  outputColumn?: string;
  /** Column holding the ground-truth label. Default 'label'. */
  labelColumn?: string;
  /** Columns that are neither features nor output/label (ids, timestamps): dropped. */
  ignore?: string[];
  /** Stop with an error as soon as the file has more rows than this. */
  maxRows?: number;
  /** Predictions of an event log waiting for their label event at most (default 1,000,000, ~75 MB). */
  maxPendingPredictions?: number;
  /** Columns named like ids or timestamps to keep as features all the same (`--feature-column`). */
  featureColumns?: string[];
}

/** A prediction's output as the worker joins and profiles it: a vector becomes its most probable class index. */
export interface JoinedOutcome {
  output: number | string;
  label: number | string;
}

/** What the join of an event log's labels found. */
export interface EventJoinStats {
  /** Label events met. */
  labelEvents: number;
  /** Of them, joined to their prediction. */
  joined: number;
  /** Copies of a prediction already seen (not profiled twice) and of a label already seen. */
  duplicatePredictions: number;
  duplicateLabels: number;
}

export type CellValue = number | string | null;

/** Distinct model names counted one by one; rows naming further ones are counted together. */
export const MAX_COUNTED_MODELS = 100;

/**
 * Rows per name in one field of the file: the model (a wire event's or an object's top-level
 * `model`, a CSV `model` column) or the version (a wire event's or an object's top-level
 * `version`), so that a file of another model or version, or of several, is told apart from the
 * one it is uploaded for (`baseline create --model / --version`). Rows naming none are not counted.
 */
export class RowNames {
  readonly rows = new Map<string, number>();
  /** Rows naming a model beyond the first MAX_COUNTED_MODELS distinct ones. */
  uncountedRows = 0;

  add(model: unknown): void {
    if (typeof model !== 'string' || model === '') return;
    const count = this.rows.get(model);
    if (count !== undefined) this.rows.set(model, count + 1);
    else if (this.rows.size < MAX_COUNTED_MODELS) this.rows.set(model, 1);
    else this.uncountedRows++;
  }
}

/** A file that cannot be turned into training rows; `line` is 1-based when the problem has one. */
export class TrainingFileError extends Error {
  constructor(
    message: string,
    readonly line: number | null = null,
  ) {
    super(message);
    this.name = 'TrainingFileError';
  }
}

const FORMAT_BY_EXTENSION: Record<string, TrainingFileFormat> = { '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'jsonl', '.csv': 'csv', '.msgpack': 'msgpack', '.mpk': 'msgpack' };

/** The format of a training file from its extension (.jsonl/.ndjson/.json: jsonl, .csv: csv, .msgpack/.mpk: msgpack). */
export function detectFormat(path: string): TrainingFileFormat {
  const extension = extname(path).toLowerCase();
  const format = FORMAT_BY_EXTENSION[extension];
  if (format === undefined) {
    throw new TrainingFileError(
      `cannot tell the format of '${path}' from its extension ${extension === '' ? '(none)' : `'${extension}'`}: use .jsonl, .ndjson, .json, .csv, .msgpack or .mpk, or pass --format jsonl|csv|msgpack`,
    );
  }
  return format;
}

/** Parses a whole training file (text: JSON Lines or CSV) into rows. Throws TrainingFileError naming the line (and column). */
export function parseTrainingFile(text: string, format: TrainingFileFormat, opts: TrainingFileOptions = {}): TrainingRow[] {
  if (format !== 'jsonl' && format !== 'csv') throw new TrainingFileError(`parseTrainingFile reads text formats (jsonl or csv), not '${String(format)}'`);
  const rows: TrainingRow[] = [];
  const reader = format === 'jsonl' ? new JsonLinesReader(opts, (row) => rows.push(row)) : new CsvReader(opts, (row) => rows.push(row));
  reader.push(text);
  reader.end();
  return rows;
}

function checkRowLimit(count: number, opts: TrainingFileOptions, line: number): void {
  if (opts.maxRows !== undefined && count > opts.maxRows) {
    throw new TrainingFileError(`line ${line}: the file has more than ${opts.maxRows.toLocaleString('en-US')} rows; sample it down (a few hundred thousand rows describe a distribution well)`, line);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON Lines

function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A JSON or MessagePack value as a cell: numbers and strings as they are, booleans as categories. */
function jsonCell(value: unknown, place: string, line: number | null, where: string): CellValue {
  if (value === null || value === undefined || typeof value === 'string') return value ?? null;
  if (typeof value === 'number') {
    // JSON.parse turns 1e999 into Infinity.
    if (!Number.isFinite(value)) throw new TrainingFileError(`${place}: ${where} is a non-finite number`, line);
    return value;
  }
  if (typeof value === 'boolean') return String(value);
  throw new TrainingFileError(`${place}: ${where} must be a number, a string or null, got ${describeJsonType(value)}`, line);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The keys of a logged wire-format event (docs/wire-format.md): together they mark one. */
const EVENT_KEYS = ['id', 'model', 'ts'] as const;

/** Output, label and ignored columns, as TrainingFileOptions name them. */
interface ColumnNames {
  outputColumn: string;
  labelColumn: string;
  ignored: Set<string>;
  /** Kept as features although named like ids or timestamps. */
  kept: Set<string>;
}

function columnNames(opts: TrainingFileOptions): ColumnNames {
  return { outputColumn: opts.outputColumn ?? 'output', labelColumn: opts.labelColumn ?? 'label', ignored: new Set(opts.ignore ?? []), kept: new Set(opts.featureColumns ?? []) };
}

/** Why a flat column is not a feature, or null: --ignore first, then --feature-column, then its name. */
function exclusionOf(name: string, names: ColumnNames): IgnoredReason | null {
  if (names.ignored.has(name)) return '--ignore';
  if (names.kept.has(name)) return null;
  return excludedByName(name);
}

/** Throws when --output-column, --label-column or --ignore names a column the file does not have. */
function checkNamedColumns(opts: TrainingFileOptions, has: (name: string) => boolean, columns: readonly string[], where: string, line: number | null): void {
  const named: Array<[string, string | undefined]> = [
    ['output column', opts.outputColumn],
    ['label column', opts.labelColumn],
    ...(opts.ignore ?? []).map((name): [string, string] => ['ignored column', name]),
    ...(opts.featureColumns ?? []).map((name): [string, string] => ['feature column', name]),
  ];
  for (const [what, name] of named) {
    if (name !== undefined && !has(name)) throw new TrainingFileError(`${where}the ${what} '${name}' is not in the file (columns: ${columns.join(', ')})`, line);
  }
}

/**
 * Turns parsed objects (JSON Lines, MessagePack records) into training rows. An object with a
 * `features` map, or with a wire event's id, model and ts, is a row or an event: its `features`
 * are the features, and every other key except output and label is ignored. Any other object is
 * flat: its keys are columns, and those named like ids or timestamps are ignored.
 */
export class ObjectRowReader {
  private readonly names: ColumnNames;
  /** Feature, output and label columns by name; ignored top-level keys under '\u0000' + name. */
  private readonly columns = new Map<string, ColumnStats>();
  private rowCount = 0;
  /** The join of an event log's labels to its predictions (created at the first event). */
  private eventJoin: PendingJoinTable | null = null;
  readonly joinStats: EventJoinStats = { labelEvents: 0, joined: 0, duplicatePredictions: 0, duplicateLabels: 0 };
  readonly models = new RowNames();
  readonly versions = new RowNames();

  constructor(
    private readonly opts: TrainingFileOptions,
    private readonly onRow: (row: TrainingRow) => void,
    /** Called with each (output, label) of a label event joined to its prediction. */
    private readonly onOutcome?: (outcome: JoinedOutcome) => void,
  ) {
    this.names = columnNames(opts);
  }

  /** Label events (`{id, model, ts, label}` without features or output) met: not rows of a profile. */
  get labelEvents(): number {
    return this.joinStats.labelEvents;
  }

  private join(): PendingJoinTable {
    // event time never runs past the horizon: a log's labels may come any time after their prediction
    this.eventJoin ??= new PendingJoinTable({ capacity: this.opts.maxPendingPredictions ?? 1_000_000, earlyCapacity: 100_000, horizonMs: Number.MAX_SAFE_INTEGER });
    return this.eventJoin;
  }

  private emitOutcome(output: number | string, label: unknown): void {
    // a failed inference (no output) made no decision: its label is matched, not graded
    if (this.onOutcome === undefined || (typeof output === 'number' && Number.isNaN(output))) return;
    if (typeof label !== 'number' && typeof label !== 'string') return;
    this.onOutcome({ output, label });
  }

  get rows(): number {
    return this.rowCount;
  }

  /** The columns met so far, in the order first seen. */
  columnStats(): ColumnStats[] {
    return [...this.columns.values()];
  }

  add(parsed: unknown, place: string, line: number | null): void {
    if (!isPlainObject(parsed)) throw new TrainingFileError(`${place}: expected an object, got ${describeJsonType(parsed)}`, line);
    const { outputColumn, labelColumn, ignored } = this.names;
    const isEvent = EVENT_KEYS.every((key) => Object.hasOwn(parsed, key));
    const nested = isPlainObject(parsed.features) || isEvent;
    let joinStatus: number = -1;
    let joinOutput: number | string = NaN;
    if (isEvent) {
      const { id, model, ts } = parsed;
      if (typeof id !== 'string' || id === '') throw new TrainingFileError(`${place}: an event's 'id' must be a non-empty string, got ${describeJsonType(id)}`, line);
      if (typeof model !== 'string' || model === '') throw new TrainingFileError(`${place}: an event's 'model' must be a non-empty string, got ${describeJsonType(model)}`, line);
      if (typeof ts !== 'number' || !Number.isFinite(ts)) throw new TrainingFileError(`${place}: an event's 'ts' must be a finite number (epoch ms), got ${describeJsonType(ts)}`, line);
      if (!Object.hasOwn(parsed, 'features') && !Object.hasOwn(parsed, outputColumn) && !Object.hasOwn(parsed, 'error') && Object.hasOwn(parsed, labelColumn)) {
        // A label event: its outcome belongs to its prediction, before or after it in the log.
        const label = jsonCell(parsed[labelColumn], place, line, `'${labelColumn}'`);
        this.joinStats.labelEvents++;
        if (label === null) return;
        const join = this.join();
        const status = join.addLabel(id, label, ts, ts, model);
        if (status === LabelJoinStatus.Joined) {
          this.joinStats.joined++;
          this.emitOutcome(join.lastOutputIsClass ? (join.lastOutputClass as string) : join.lastOutput, label);
        } else if (status === LabelJoinStatus.DuplicateEarly || status === LabelJoinStatus.DuplicateJoined) {
          this.joinStats.duplicateLabels++;
        }
        return;
      }
      const raw = parsed[outputColumn];
      joinOutput = outputOfEvent(raw, place, line, outputColumn);
      const join = this.join();
      joinStatus = join.addPrediction(id, ts, model, joinOutput, NaN, null, ts, model);
      if (joinStatus === AddPredictionStatus.Duplicate || joinStatus === AddPredictionStatus.DuplicateJoined) {
        // a copy of a prediction already profiled (a publisher retry logged twice)
        this.joinStats.duplicatePredictions++;
        return;
      }
    }
    checkRowLimit(this.rowCount + 1, this.opts, line ?? this.rowCount + 1);
    const row: TrainingRow = { features: {} };
    if (nested) {
      const features = parsed.features;
      if (features !== undefined && features !== null && !isPlainObject(features)) throw new TrainingFileError(`${place}: 'features' must be a map of name to value, got ${describeJsonType(features)}`, line);
      for (const key in features ?? {}) {
        if (ignored.has(key)) continue;
        const value = jsonCell((features as Record<string, unknown>)[key], place, line, `features.${key}`);
        row.features[key] = value;
        observeCell(this.column(key, key, 'feature', null), value);
      }
      for (const key in parsed) {
        if (key === 'features' || key === outputColumn || key === labelColumn) continue;
        this.observeIgnored(key, parsed[key], ignored.has(key) ? '--ignore' : 'not a feature');
      }
    } else {
      for (const key in parsed) {
        if (key === outputColumn || key === labelColumn) continue;
        const reason = exclusionOf(key, this.names);
        if (reason !== null) {
          this.observeIgnored(key, parsed[key], reason);
          continue;
        }
        const value = jsonCell(parsed[key], place, line, `'${key}'`);
        row.features[key] = value;
        observeCell(this.column(key, key, 'feature', null), value);
      }
    }
    if (Object.hasOwn(parsed, outputColumn)) {
      const raw = parsed[outputColumn];
      // A vector of class probabilities is profiled as the worker profiles it: its most probable class.
      const value = nested && Array.isArray(raw) ? argmaxClass(raw, place, line, outputColumn) : jsonCell(raw, place, line, `'${outputColumn}'`);
      row.output = value;
      observeCell(this.column(`\u0001${outputColumn}`, outputColumn, 'output', null), value);
    }
    if (Object.hasOwn(parsed, labelColumn)) {
      const value = jsonCell(parsed[labelColumn], place, line, `'${labelColumn}'`);
      row.label = value;
      observeCell(this.column(`\u0002${labelColumn}`, labelColumn, 'label', null), value);
    }
    this.rowCount++;
    this.models.add(parsed.model);
    this.versions.add(parsed.version);
    this.onRow(row);
    if (joinStatus === AddPredictionStatus.MatchedEarlyLabel && row.label === undefined) {
      this.joinStats.joined++;
      this.emitOutcome(joinOutput, this.eventJoin?.lastLabelString ?? this.eventJoin?.lastLabel);
    } else if (this.eventJoin !== null && (joinStatus === AddPredictionStatus.Added || joinStatus === AddPredictionStatus.AddedEvictedOldest) && row.label !== undefined && row.label !== null) {
      // an event that carries its own label is graded as a row: a label event for it later is a copy
      this.eventJoin.addLabel(parsed.id as string, row.label, parsed.ts as number, parsed.ts as number, parsed.model as string);
    }
  }

  /** Checks the whole file: rows found, every column named on the command line present. */
  end(what: string): void {
    if (this.rowCount === 0) {
      throw new TrainingFileError(this.labelEvents > 0 ? `the file has ${this.labelEvents} label events but no predictions to profile` : `the file has no rows (expected ${what})`);
    }
    const names = [...new Set([...this.columns.values()].map((c) => c.name))];
    checkNamedColumns(this.opts, (name) => names.includes(name), names, '', null);
  }

  private column(key: string, name: string, role: ColumnStats['role'], reason: IgnoredReason | null): ColumnStats {
    let stats = this.columns.get(key);
    if (stats === undefined) this.columns.set(key, (stats = newColumnStats(name, role, reason)));
    return stats;
  }

  private observeIgnored(key: string, value: unknown, reason: IgnoredReason): void {
    const stats = this.column(`\u0000${key}`, key, 'ignored', reason);
    observeCell(stats, value === null || value === undefined || typeof value === 'number' || typeof value === 'string' ? value : describeJsonType(value));
  }
}

/** The most probable class of a probability vector, as the worker names it (its index, as a string). */
function argmaxClass(raw: unknown[], place: string, line: number | null, outputColumn: string): string | null {
  if (raw.length === 0) return null;
  let best = 0;
  for (let i = 0; i < raw.length; i++) {
    const p = raw[i];
    if (typeof p !== 'number' || !Number.isFinite(p)) throw new TrainingFileError(`${place}: '${outputColumn}[${i}]' must be a finite number (a vector output holds class probabilities)`, line);
    if (p > (raw[best] as number)) best = i;
  }
  return String(best);
}

/** A prediction event's output as the join keeps it: a number, a class, or NaN when it has none (a failed inference). */
function outputOfEvent(raw: unknown, place: string, line: number | null, outputColumn: string): number | string {
  if (Array.isArray(raw)) return argmaxClass(raw, place, line, outputColumn) ?? NaN;
  const value = jsonCell(raw, place, line, `'${outputColumn}'`);
  return value ?? NaN;
}

/** JSON Lines, pushed in chunks of text of any size; lines are counted across chunks. */
export class JsonLinesReader {
  readonly objects: ObjectRowReader;
  private tail = '';
  private line = 0;
  private started = false;

  constructor(opts: TrainingFileOptions, onRow: (row: TrainingRow) => void, onOutcome?: (outcome: JoinedOutcome) => void) {
    this.objects = new ObjectRowReader(opts, onRow, onOutcome);
  }

  push(chunk: string): void {
    let text = this.tail + chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      // A UTF-8 byte order mark (Excel writes one) would otherwise become part of the first key.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break;
      this.addLine(text.slice(start, end));
      start = end + 1;
    }
    this.tail = text.slice(start);
  }

  end(): void {
    if (this.tail !== '') this.addLine(this.tail);
    this.tail = '';
    this.objects.end('one JSON object per line');
  }

  private addLine(text: string): void {
    this.line++;
    const raw = text.trim();
    if (raw === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new TrainingFileError(`line ${this.line}: invalid JSON (${(error as Error).message})`, this.line);
    }
    if (!isPlainObject(parsed)) throw new TrainingFileError(`line ${this.line}: expected a JSON object, got ${describeJsonType(parsed)}`, this.line);
    this.objects.add(parsed, `line ${this.line}`, this.line);
  }
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180)

const QUOTE = 0x22; // "
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** A decimal number as spreadsheets and pandas write it; surrounding blanks allowed. */
const NUMERIC = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
/** Spellings of NaN/±Infinity (pandas writes `inf`): numbers a profile cannot hold, not categories. */
const NON_FINITE = /^\s*[+-]?(?:nan|inf|infinity)\s*$/i;

export interface CsvRecord {
  /** 1-based line the record starts on (a quoted cell may span lines). */
  line: number;
  cells: string[];
}

/** Splits CSV text into records of raw cell strings (see forEachCsvRecord). */
export function splitCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  forEachCsvRecord(text, (cells, line) => {
    records.push({ line, cells });
  });
  return records;
}

/**
 * Calls `onRecord` with the raw cell strings of each CSV record (RFC 4180: quoted cells may hold
 * commas, line breaks and doubled quotes; CRLF or LF line ends) and the line it starts on. Blank
 * lines are skipped. Cells are sliced out of the text; a quoted cell is joined from pieces only
 * when it contains an escaped quote. Records are handed over one by one so a caller converting
 * them never holds every raw cell of a large file at once. Returns the line after the text
 * (`firstLine` numbers the text's first line: a chunk of a longer file).
 */
export function forEachCsvRecord(text: string, onRecord: (cells: string[], line: number) => void, firstLine = 1): number {
  const length = text.length;
  let i = 0;
  let line = firstLine;
  while (i < length) {
    const recordLine = line;
    const first = text.charCodeAt(i);
    if (first === LF || first === CR) {
      // A blank line: not a record.
      i += first === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      continue;
    }
    const cells: string[] = [];
    for (;;) {
      // One cell starting at i.
      if (text.charCodeAt(i) === QUOTE) {
        const column = cells.length + 1;
        let cellStart = i + 1;
        let pieces: string[] | null = null;
        let j = cellStart;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) throw new TrainingFileError(`line ${recordLine}, column ${column}: unterminated quoted cell (no closing '"' before the end of the file)`, recordLine);
          // Count line breaks inside the quoted cell so later line numbers stay right.
          for (let k = j; k < q; k++) {
            const c = text.charCodeAt(k);
            if (c === LF || (c === CR && text.charCodeAt(k + 1) !== LF)) line++;
          }
          if (text.charCodeAt(q + 1) === QUOTE) {
            // "" is an escaped quote: keep the text up to and including one quote.
            (pieces ??= []).push(text.slice(cellStart, q + 1));
            cellStart = q + 2;
            j = q + 2;
            continue;
          }
          const tail = text.slice(cellStart, q);
          cells.push(pieces === null ? tail : pieces.join('') + tail);
          i = q + 1;
          break;
        }
        const next = text.charCodeAt(i);
        if (i < length && next !== COMMA && next !== LF && next !== CR) {
          throw new TrainingFileError(`line ${line}, column ${column}: unexpected character '${text[i]}' after the closing quote of a quoted cell (a quote inside a quoted cell is written "")`, line);
        }
      } else {
        let j = i;
        while (j < length) {
          const c = text.charCodeAt(j);
          if (c === COMMA || c === LF || c === CR) break;
          j++;
        }
        cells.push(text.slice(i, j));
        i = j;
      }
      // i is at a separator, a line end or the end of the text.
      if (i >= length) break;
      const c = text.charCodeAt(i);
      if (c === COMMA) {
        i++;
        if (i >= length) {
          cells.push('');
          break;
        }
        continue;
      }
      i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      break;
    }
    onRecord(cells, recordLine);
  }
  return line;
}

function csvCell(raw: string, line: number, columnIndex: number, columnName: string): CellValue {
  if (raw === '') return null;
  if (NUMERIC.test(raw)) {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new TrainingFileError(`line ${line}, column ${columnIndex + 1} ('${columnName}'): '${raw.trim()}' is a non-finite number`, line);
    return value;
  }
  if (NON_FINITE.test(raw)) {
    throw new TrainingFileError(`line ${line}, column ${columnIndex + 1} ('${columnName}'): '${raw.trim()}' is a non-finite number (leave the cell empty for a missing value)`, line);
  }
  return raw;
}

/** Offset just past the last line end outside quotes in text: where a chunk can be cut safely. */
function lastCompleteRecordEnd(text: string): number {
  let inQuotes = false;
  let cut = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) inQuotes = !inQuotes;
    else if (c === LF && !inQuotes) cut = i + 1;
  }
  return cut;
}

/**
 * CSV with a header row, pushed in chunks of text of any size: records are cut at line ends
 * outside quotes, so a quoted cell may span chunks. Columns named like ids or timestamps are
 * ignored; every column is counted for the column table.
 */
export class CsvReader {
  private tail = '';
  private line = 1;
  private started = false;
  private names: string[] | null = null;
  private headerLine = 0;
  private roles: ColumnStats['role'][] = [];
  private stats: ColumnStats[] = [];
  private rowCount = 0;
  /** Index of the column named `model`, -1 without one. */
  private modelColumn = -1;
  readonly models = new RowNames();
  readonly versions = new RowNames();

  constructor(
    private readonly opts: TrainingFileOptions,
    private readonly onRow: (row: TrainingRow) => void,
  ) {}

  get rows(): number {
    return this.rowCount;
  }

  /** The header's columns (empty before the header is read). */
  columnStats(): ColumnStats[] {
    return this.stats;
  }

  push(chunk: string): void {
    let text = this.tail + chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const cut = lastCompleteRecordEnd(text);
    if (cut === 0) {
      this.tail = text;
      return;
    }
    this.tail = text.slice(cut);
    this.line = forEachCsvRecord(text.slice(0, cut), (cells, line) => this.record(cells, line), this.line);
  }

  end(): void {
    if (this.tail !== '') this.line = forEachCsvRecord(this.tail, (cells, line) => this.record(cells, line), this.line);
    this.tail = '';
    if (this.names === null) throw new TrainingFileError('the file is empty: a CSV training file needs a header row and at least one data row');
    if (this.rowCount === 0) throw new TrainingFileError(`the file has a header (line ${this.headerLine}) but no data rows`);
  }

  private record(cells: string[], line: number): void {
    const names = this.names;
    if (names === null) {
      this.names = cells;
      this.headerLine = line;
      this.stats = statsOfHeader(cells, line, this.opts);
      this.roles = this.stats.map((s) => s.role);
      this.modelColumn = cells.indexOf('model');
      return;
    }
    if (cells.length !== names.length) {
      throw new TrainingFileError(`line ${line}: the row has ${cells.length} cell${cells.length === 1 ? '' : 's'} but the header has ${names.length} columns`, line);
    }
    checkRowLimit(this.rowCount + 1, this.opts, line);
    const row: TrainingRow = { features: {} };
    const roles = this.roles;
    for (let c = 0; c < cells.length; c++) {
      const role = roles[c];
      if (role === 'ignored') {
        // Typed for the table only: an ignored cell is never refused.
        observeCell(this.stats[c], NUMERIC.test(cells[c]) ? Number(cells[c]) : cells[c]);
        continue;
      }
      const value = csvCell(cells[c], line, c, names[c]);
      observeCell(this.stats[c], value);
      if (role === 'feature') row.features[names[c]] = value;
      else if (role === 'output') row.output = value;
      else row.label = value;
    }
    this.rowCount++;
    if (this.modelColumn >= 0) this.models.add(cells[this.modelColumn].trim());
    this.onRow(row);
  }
}

function statsOfHeader(names: string[], line: number, opts: TrainingFileOptions): ColumnStats[] {
  const { outputColumn, labelColumn, ignored } = columnNames(opts);
  const seen = new Map<string, number>();
  for (let c = 0; c < names.length; c++) {
    const name = names[c];
    if (name.trim() === '') throw new TrainingFileError(`line ${line}, column ${c + 1}: empty column name in the header`, line);
    const previous = seen.get(name);
    if (previous !== undefined) throw new TrainingFileError(`line ${line}: duplicate column '${name}' (columns ${previous + 1} and ${c + 1})`, line);
    seen.set(name, c);
  }
  checkNamedColumns(opts, (name) => seen.has(name), names, `line ${line}: `, line);
  const names_ = columnNames(opts);
  return names.map((name) => {
    if (ignored.has(name)) return newColumnStats(name, 'ignored', '--ignore');
    if (name === outputColumn) return newColumnStats(name, 'output');
    if (name === labelColumn) return newColumnStats(name, 'label');
    const reason = exclusionOf(name, names_);
    return reason === null ? newColumnStats(name, 'feature') : newColumnStats(name, 'ignored', reason);
  });
}

/**
 * A MessagePack stream (records one after another, as a publisher's log writes them) into rows.
 * Records are numbered from 1 in error messages.
 */
export async function readMessagePackRecords(chunks: AsyncIterable<Uint8Array>, reader: ObjectRowReader): Promise<void> {
  let record = 0;
  try {
    for await (const value of decodeMultiStream(chunks)) {
      record++;
      reader.add(value, `record ${record}`, record);
    }
  } catch (error) {
    if (error instanceof TrainingFileError) throw error;
    throw new TrainingFileError(`record ${record + 1}: invalid MessagePack (${(error as Error).message})`, record + 1);
  }
  reader.end('one MessagePack map per record');
}
