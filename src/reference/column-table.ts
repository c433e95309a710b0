/**
 * What a training file holds, column by column: the role each column plays in the profile, the
 * type its values suggest and how often it is missing. Built while the file streams by (bounded:
 * one entry per column, at most DISCRETE_MAX_DISTINCT remembered values each), printed by the CLI
 * before it uploads so a wrong role or type is seen before it becomes a reference.
 */

export type ColumnRole = 'feature' | 'output' | 'label' | 'ignored';
/** Why a column is ignored: named like an id or a timestamp, the model column (rows of several models), --ignore, or outside features/output/label of a row object. */
export type IgnoredReason = 'id' | 'timestamp' | 'model' | '--ignore' | 'not a feature';
/** numeric: numbers; discrete: few distinct integers; categorical: strings; mixed: both (numbers win); empty: no value at all. */
export type ColumnType = 'numeric' | 'discrete' | 'categorical' | 'mixed' | 'empty';

/** A numeric column with at most this many distinct integer values is shown as discrete. */
export const DISCRETE_MAX_DISTINCT = 20;

export interface ColumnStats {
  name: string;
  role: ColumnRole;
  reason: IgnoredReason | null;
  /** Cells (or rows that had the key) seen, missing included. */
  cells: number;
  missing: number;
  numbers: number;
  strings: number;
  /** Distinct integer values while there are at most DISCRETE_MAX_DISTINCT and every number is an integer; null past that. */
  integers: Set<number> | null;
}

export interface ColumnSummary {
  name: string;
  role: ColumnRole;
  reason: IgnoredReason | null;
  type: ColumnType;
  /** Values present. */
  count: number;
  /** Share of the file's rows where the column is missing (absent, null or empty). */
  missingShare: number;
}

// Exact names in any case; suffixes after a separator in any case, camelCase suffixes as written
// (so `userId` and `createdAt` are caught but `paid` and `format` are not).
const ID_NAME = /^(?:id|uuid|guid|rowid|row_id|index|idx|pk|(?:.+[_\-. ])?(?:id|uuid|guid))$/i;
const ID_CAMEL = /^[a-z].*(?:Id|ID|Uuid|UUID)$/;
const TIMESTAMP_NAME = /^(?:ts|time|timestamp|date|datetime|(?:.+[_\-. ])(?:at|ts|time|timestamp|date|datetime))$/i;
const TIMESTAMP_CAMEL = /^[a-z].*(?:At|Ts|Time|Timestamp|Date|DateTime)$/;

/** Whether a column's name says it is an id or a timestamp (never a feature: each row's is new). */
export function excludedByName(name: string): 'id' | 'timestamp' | 'model' | null {
  // the model a row belongs to (baseline create checks it against --model), never a feature
  if (/^model$/i.test(name)) return 'model';
  if (ID_NAME.test(name) || ID_CAMEL.test(name)) return 'id';
  if (TIMESTAMP_NAME.test(name) || TIMESTAMP_CAMEL.test(name)) return 'timestamp';
  return null;
}

export function newColumnStats(name: string, role: ColumnRole, reason: IgnoredReason | null = null): ColumnStats {
  return { name, role, reason, cells: 0, missing: 0, numbers: 0, strings: 0, integers: new Set() };
}

/** Counts one cell of a column. */
export function observeCell(stats: ColumnStats, value: number | string | null | undefined): void {
  stats.cells++;
  if (value === null || value === undefined || value === '') {
    stats.missing++;
    return;
  }
  if (typeof value === 'number') {
    stats.numbers++;
    const distinct = stats.integers;
    if (distinct !== null) {
      if (!Number.isInteger(value)) stats.integers = null;
      else if (!distinct.has(value)) {
        if (distinct.size >= DISCRETE_MAX_DISTINCT) stats.integers = null;
        else distinct.add(value);
      }
    }
  } else stats.strings++;
}

export function columnType(stats: ColumnStats): ColumnType {
  if (stats.numbers > 0 && stats.strings > 0) return 'mixed';
  if (stats.numbers > 0) return stats.integers !== null ? 'discrete' : 'numeric';
  if (stats.strings > 0) return 'categorical';
  return 'empty';
}

/** The columns in the order first seen, with type and missing share over `rows` rows. */
export function summarizeColumns(columns: Iterable<ColumnStats>, rows: number): ColumnSummary[] {
  return [...columns].map((stats) => {
    const count = stats.numbers + stats.strings;
    return { name: stats.name, role: stats.role, reason: stats.reason, type: columnType(stats), count, missingShare: rows > 0 ? Math.max(0, rows - count) / rows : 0 };
  });
}
