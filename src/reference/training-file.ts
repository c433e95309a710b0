import { extname } from 'node:path';
import type { TrainingRow } from './profile.ts';

/**
 * Training data files for `driftwatch baseline create --file`: JSON Lines or CSV, turned into the
 * rows `POST /v1/baselines` takes. The whole file is in memory (files up to ~100 MB); the parsers
 * scan it once and slice cells out of it, so the work is linear in its size.
 */

export type TrainingFileFormat = 'jsonl' | 'csv';

export interface TrainingFileOptions {
  /** Column (flat JSONL key, CSV header) holding the model output. Default 'output'. */
  outputColumn?: string;
  /** Column holding the ground-truth label. Default 'label'. */
  labelColumn?: string;
  /** Columns that are neither features nor output/label (ids, timestamps): dropped. */
  ignore?: string[];
  /** Stop with an error as soon as the file has more rows than this. */
  maxRows?: number;
}

export type CellValue = number | string | null;

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

const FORMAT_BY_EXTENSION: Record<string, TrainingFileFormat> = { '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'jsonl', '.csv': 'csv' };

/** The format of a training file from its extension (.jsonl/.ndjson/.json: jsonl, .csv: csv). */
export function detectFormat(path: string): TrainingFileFormat {
  const extension = extname(path).toLowerCase();
  const format = FORMAT_BY_EXTENSION[extension];
  if (format === undefined) {
    throw new TrainingFileError(
      `cannot tell the format of '${path}' from its extension ${extension === '' ? '(none)' : `'${extension}'`}: use .jsonl, .ndjson, .json or .csv, or pass --format jsonl|csv`,
    );
  }
  return format;
}

/** Parses a whole training file into rows. Throws TrainingFileError naming the line (and column). */
export function parseTrainingFile(text: string, format: TrainingFileFormat, opts: TrainingFileOptions = {}): TrainingRow[] {
  // A UTF-8 byte order mark (Excel writes one) would otherwise become part of the first key.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (format === 'jsonl') return parseJsonLines(body, opts);
  if (format === 'csv') return parseCsvTraining(body, opts);
  throw new TrainingFileError(`unknown training file format '${String(format)}': expected jsonl or csv`);
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

/** A JSON value as a cell: numbers and strings as they are, booleans as categories. */
function jsonCell(value: unknown, line: number, where: string): CellValue {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'number') {
    // JSON.parse turns 1e999 into Infinity.
    if (!Number.isFinite(value)) throw new TrainingFileError(`line ${line}: ${where} is a non-finite number`, line);
    return value;
  }
  if (typeof value === 'boolean') return String(value);
  throw new TrainingFileError(`line ${line}: ${where} must be a number, a string or null, got ${describeJsonType(value)}`, line);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonLines(text: string, opts: TrainingFileOptions): TrainingRow[] {
  const outputColumn = opts.outputColumn ?? 'output';
  const labelColumn = opts.labelColumn ?? 'label';
  const ignored = new Set(opts.ignore ?? []);
  const rows: TrainingRow[] = [];
  let sawOutputColumn = false;
  let sawLabelColumn = false;
  let start = 0;
  let line = 0;
  while (start < text.length) {
    line++;
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end).trim();
    start = end + 1;
    if (raw === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new TrainingFileError(`line ${line}: invalid JSON (${(error as Error).message})`, line);
    }
    if (!isPlainObject(parsed)) throw new TrainingFileError(`line ${line}: expected a JSON object, got ${describeJsonType(parsed)}`, line);
    checkRowLimit(rows.length + 1, opts, line);

    const row: TrainingRow = { features: {} };
    const nested = isPlainObject(parsed.features);
    const featureSource = nested ? (parsed.features as Record<string, unknown>) : parsed;
    if (nested) {
      // The API's own row shape: anything next to `features` other than output/label is a mistake.
      for (const key of Object.keys(parsed)) {
        if (key !== 'features' && key !== outputColumn && key !== labelColumn && !ignored.has(key)) {
          throw new TrainingFileError(
            `line ${line}: unexpected key '${key}' next to 'features' (a row is either {"features": {...}, "${outputColumn}": ..., "${labelColumn}": ...} or a flat object of columns)`,
            line,
          );
        }
      }
    }
    for (const key of Object.keys(featureSource)) {
      if (!nested && (key === outputColumn || key === labelColumn)) continue;
      if (ignored.has(key)) continue;
      row.features[key] = jsonCell(featureSource[key], line, nested ? `features.${key}` : `'${key}'`);
    }
    if (Object.hasOwn(parsed, outputColumn)) {
      sawOutputColumn = true;
      row.output = jsonCell(parsed[outputColumn], line, `'${outputColumn}'`);
    }
    if (Object.hasOwn(parsed, labelColumn)) {
      sawLabelColumn = true;
      row.label = jsonCell(parsed[labelColumn], line, `'${labelColumn}'`);
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new TrainingFileError('the file has no rows (expected one JSON object per line)');
  if (opts.outputColumn !== undefined && !sawOutputColumn) throw new TrainingFileError(`no row has the output column '${opts.outputColumn}'`);
  if (opts.labelColumn !== undefined && !sawLabelColumn) throw new TrainingFileError(`no row has the label column '${opts.labelColumn}'`);
  return rows;
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
 * them never holds every raw cell of a large file at once.
 */
export function forEachCsvRecord(text: string, onRecord: (cells: string[], line: number) => void): void {
  const length = text.length;
  let i = 0;
  let line = 1;
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

type ColumnRole = 'feature' | 'output' | 'label' | 'ignored';

function parseCsvTraining(text: string, opts: TrainingFileOptions): TrainingRow[] {
  const outputColumn = opts.outputColumn ?? 'output';
  const labelColumn = opts.labelColumn ?? 'label';
  const ignored = new Set(opts.ignore ?? []);
  let names: string[] | null = null;
  let headerLine = 0;
  let roles: ColumnRole[] = [];
  const rows: TrainingRow[] = [];
  forEachCsvRecord(text, (cells, line) => {
    if (names === null) {
      names = cells;
      headerLine = line;
      roles = rolesOfHeader(cells, line, opts, outputColumn, labelColumn, ignored);
      return;
    }
    if (cells.length !== names.length) {
      throw new TrainingFileError(`line ${line}: the row has ${cells.length} cell${cells.length === 1 ? '' : 's'} but the header has ${names.length} columns`, line);
    }
    checkRowLimit(rows.length + 1, opts, line);
    const row: TrainingRow = { features: {} };
    for (let c = 0; c < cells.length; c++) {
      const role = roles[c];
      if (role === 'ignored') continue;
      const value = csvCell(cells[c], line, c, names[c]);
      if (role === 'feature') row.features[names[c]] = value;
      else if (role === 'output') row.output = value;
      else row.label = value;
    }
    rows.push(row);
  });
  if (names === null) throw new TrainingFileError('the file is empty: a CSV training file needs a header row and at least one data row');
  if (rows.length === 0) throw new TrainingFileError(`the file has a header (line ${headerLine}) but no data rows`);
  return rows;
}

function rolesOfHeader(names: string[], line: number, opts: TrainingFileOptions, outputColumn: string, labelColumn: string, ignored: Set<string>): ColumnRole[] {
  const seen = new Map<string, number>();
  for (let c = 0; c < names.length; c++) {
    const name = names[c];
    if (name.trim() === '') throw new TrainingFileError(`line ${line}, column ${c + 1}: empty column name in the header`, line);
    const previous = seen.get(name);
    if (previous !== undefined) throw new TrainingFileError(`line ${line}: duplicate column '${name}' (columns ${previous + 1} and ${c + 1})`, line);
    seen.set(name, c);
  }
  for (const [what, name] of [['output', opts.outputColumn], ['label', opts.labelColumn]] as const) {
    if (name !== undefined && !seen.has(name)) throw new TrainingFileError(`line ${line}: the ${what} column '${name}' is not in the header (columns: ${names.join(', ')})`, line);
  }
  return names.map((name) => (ignored.has(name) ? 'ignored' : name === outputColumn ? 'output' : name === labelColumn ? 'label' : 'feature'));
}
