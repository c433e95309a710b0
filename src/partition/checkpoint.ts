/**
 * The partition checkpoint's bytes: a MessagePack body (stream sequence, event time, counters, the
 * panes of every model version, its error-stream detectors, the join table) in the frame the join
 * table's snapshot uses too (magic 'DWPC', format version, FNV-1a checksum; src/join/snapshot-bytes.ts).
 * Decoding checks every field and converts every pane before it returns, so a corrupted or
 * truncated checkpoint is refused with a CheckpointError naming what is wrong, and nothing is built
 * from it.
 *
 * Format 1 (before the frame) was the bare MessagePack body with `v: 1`. It is still read: a
 * MessagePack map starts with a byte in 0x80-0x8f, 0xde or 0xdf, never with 'D' (0x44), the first
 * byte of the magic, so the two cannot be mistaken for each other. Format 1 has no checksum: its
 * damage is caught only where it breaks a field's type or shape (or the join table's own checksum).
 *
 * Incremental checkpoints: a base (this format, with a `baseId`) followed by deltas (magic 'DWPD'),
 * each holding what changed since the previous one: counters, the panes changed (and the starts of
 * all live panes, so dropped ones go), detectors, the held events, and the join table's delta
 * (PendingJoinTable.deltaBytes). A delta names its base, its place in the chain and the sequence
 * it follows (`fromSeq`), so a delta is applied only in order onto the state it was taken after.
 * A base without `baseId` (written before deltas existed) restores alone.
 */
import { encode, decode } from '@msgpack/msgpack';
import { checkPaneInputWire, checkPaneOutcomeWire, PaneMessageError } from '../contract/pane-codec.ts';
import type { PaneInputWire, PaneOutcomeWire } from '../contract/pane-wire.ts';
import { REJECT_REASONS } from '../events/types.ts';
import type { RejectReason } from '../events/types.ts';
import { PendingJoinTable } from '../join/pending-table.ts';
import { frameSnapshot, hasSnapshotMagic, openSnapshotFrame } from '../join/snapshot-bytes.ts';
import { detectorFromJSON } from '../stats/detectors/index.ts';
import type { ChangeDetector, DetectorStateBase } from '../stats/detectors/index.ts';
import { inputFromWire, outcomeFromWire } from '../window/pane.ts';
import type { PaneInput, PaneLimits, PaneOutcome } from '../window/pane.ts';

const CHECKPOINT_MAGIC = 0x43505744; // 'DWPC' little-endian
export const CHECKPOINT_VERSION = 2;
const DELTA_MAGIC = 0x44505744; // 'DWPD' little-endian
const DELTA_VERSION = 1;
/** The unframed MessagePack checkpoint written before the frame. */
const LEGACY_VERSION = 1;

/** A checkpoint that cannot be restored; the message says which partition, and what is wrong where. */
export class CheckpointError extends Error {
  constructor(
    readonly partition: number,
    problem: string,
  ) {
    super(`checkpoint of partition ${partition} is invalid: ${problem}`);
    this.name = 'CheckpointError';
  }
}

export interface CheckpointCounters {
  predictions: number;
  labels: number;
  late: number;
  duplicates: number;
  rejected: Record<RejectReason, number>;
  /**
   * Refused events by `${reason}|${model}`: all of them in a base, those changed since the
   * previous checkpoint in a delta (absent in checkpoints written before they were kept).
   */
  refusedByModel?: Array<[string, number]>;
}

/** What a processor writes: plain data, panes in their wire form. */
export interface CheckpointWire {
  partition: number;
  seq: number;
  watermark: number | null;
  counters: CheckpointCounters;
  groups: Array<{
    model: string;
    version: string;
    inputs: Array<[number, PaneInputWire]>;
    outcomes: Array<[number, PaneOutcomeWire]>;
    detectors: DetectorStateBase[];
    watermark: number | null;
  }>;
  join: Uint8Array;
  /** Events held while their model's admission was asked: [seq, subject, data, content type]. */
  held: Array<[number, string, Uint8Array, string | null]>;
  /** The worker and lease epoch that wrote it (absent in older checkpoints and without a lease). */
  owner?: { worker: string; epoch: number };
  /** Names the chain of deltas that may follow this base (absent in checkpoints written before deltas). */
  baseId?: string;
}

/** A checkpoint delta: what changed since the previous checkpoint of a chain (base, then deltas 1, 2, ...). */
export interface CheckpointDeltaWire {
  partition: number;
  baseId: string;
  /** Its place in the chain: 1 for the first delta after the base. */
  index: number;
  /** The sequence of the checkpoint it follows; it brings the state to `seq`. */
  fromSeq: number;
  seq: number;
  watermark: number | null;
  counters: CheckpointCounters;
  /** Every live model version: its changed panes, the starts of all its live panes, its detectors. */
  groups: Array<{
    model: string;
    version: string;
    inputs: Array<[number, PaneInputWire]>;
    outcomes: Array<[number, PaneOutcomeWire]>;
    inputStarts: number[];
    outcomeStarts: number[];
    detectors: DetectorStateBase[];
    watermark: number | null;
  }>;
  /** PendingJoinTable.deltaBytes(). */
  join: Uint8Array;
  held: Array<[number, string, Uint8Array, string | null]>;
  owner?: { worker: string; epoch: number };
}

export interface CheckpointDelta {
  partition: number;
  baseId: string;
  index: number;
  fromSeq: number;
  seq: number;
  watermark: number;
  counters: CheckpointCounters;
  groups: Array<Checkpoint['groups'][number] & { inputStarts: number[]; outcomeStarts: number[] }>;
  join: Uint8Array;
  held: Checkpoint['held'];
  owner: { worker: string; epoch: number } | null;
}

/** What a processor restores: every part checked and converted. */
export interface Checkpoint {
  /** The format it was read from (1: unframed, without checksum). */
  format: number;
  partition: number;
  seq: number;
  watermark: number;
  counters: CheckpointCounters;
  groups: Array<{
    model: string;
    version: string;
    inputs: Array<[number, PaneInput]>;
    outcomes: Array<[number, PaneOutcome]>;
    detectors: ChangeDetector[];
    watermark: number;
  }>;
  join: PendingJoinTable;
  held: Array<{ seq: number; subject: string; data: Uint8Array; contentType: string | undefined }>;
  /** Who wrote it under which lease epoch; null for older checkpoints and manual partition lists. */
  owner: { worker: string; epoch: number } | null;
  /** The chain its deltas name; null for checkpoints written before deltas (no delta follows them). */
  baseId: string | null;
}

export function encodeCheckpoint(checkpoint: CheckpointWire): Uint8Array {
  return frameSnapshot(CHECKPOINT_MAGIC, CHECKPOINT_VERSION, encode(checkpoint));
}

/** Reads checkpoint bytes of `partition` (format 2, or 1); throws CheckpointError before building anything it cannot trust. */
export function decodeCheckpoint(bytes: Uint8Array, partition: number, limits: PaneLimits): Checkpoint {
  const fail = (problem: string): CheckpointError => new CheckpointError(partition, problem);
  let format: number;
  let body: Uint8Array;
  if (bytes instanceof Uint8Array && !hasSnapshotMagic(bytes, CHECKPOINT_MAGIC) && bytes.length > 0 && isMsgpackMap(bytes[0])) {
    format = LEGACY_VERSION;
    body = bytes;
  } else {
    ({ version: format, body } = openSnapshotFrame(bytes, CHECKPOINT_MAGIC, [CHECKPOINT_VERSION], fail));
  }
  let raw: unknown;
  try {
    raw = decode(body);
  } catch (error) {
    throw fail(`body is not MessagePack: ${(error as Error).message}`);
  }
  const c = record(raw, '(checkpoint)', fail);
  if (format === LEGACY_VERSION && c.v !== LEGACY_VERSION) throw fail(`unsupported snapshot version ${String(c.v)}`);
  const saved = integer(c.partition, 'partition', fail);
  if (saved !== partition) throw fail(`it is of partition ${saved}, expected ${partition}`);
  const groups = array(c.groups, 'groups', fail).map((g, k) => group(g, `groups[${k}]`, limits, fail));
  const keys = new Set<string>();
  for (const [k, g] of groups.entries()) {
    const key = `${g.model}\u0000${g.version}`;
    if (keys.has(key)) throw fail(`groups[${k}]: model ${JSON.stringify(g.model)} version ${JSON.stringify(g.version)} appears twice`);
    keys.add(key);
  }
  if (!(c.join instanceof Uint8Array)) throw fail(`join: expected the join table's bytes, got ${typeof c.join}`);
  let join: PendingJoinTable;
  try {
    join = PendingJoinTable.fromBytes(c.join);
  } catch (error) {
    throw fail(`join: ${(error as Error).message}`);
  }
  return {
    format,
    partition,
    seq: integer(c.seq, 'seq', fail),
    watermark: time(c.watermark, 'watermark', fail),
    counters: counters(c.counters, 'counters', fail),
    groups,
    join,
    // absent in checkpoints written before model admission held events
    held: c.held === undefined ? [] : array(c.held, 'held', fail).map((entry, k) => heldEvent(entry, `held[${k}]`, fail)),
    owner: c.owner === undefined ? null : checkpointOwner(c.owner, fail),
    baseId: c.baseId === undefined ? null : name(c.baseId, 'baseId', fail),
  };
}

export function encodeCheckpointDelta(delta: CheckpointDeltaWire): Uint8Array {
  return frameSnapshot(DELTA_MAGIC, DELTA_VERSION, encode(delta));
}

/** Whether bytes are a checkpoint delta (by its magic), not a base. */
export function isCheckpointDelta(bytes: Uint8Array): boolean {
  return hasSnapshotMagic(bytes, DELTA_MAGIC);
}

/** Reads a checkpoint delta of `partition`; throws CheckpointError before anything is built from bytes it cannot trust. */
export function decodeCheckpointDelta(bytes: Uint8Array, partition: number, limits: PaneLimits): CheckpointDelta {
  const fail = (problem: string): CheckpointError => new CheckpointError(partition, `delta: ${problem}`);
  const { body } = openSnapshotFrame(bytes, DELTA_MAGIC, [DELTA_VERSION], fail);
  let raw: unknown;
  try {
    raw = decode(body);
  } catch (error) {
    throw fail(`body is not MessagePack: ${(error as Error).message}`);
  }
  const c = record(raw, '(delta)', fail);
  const saved = integer(c.partition, 'partition', fail);
  if (saved !== partition) throw fail(`it is of partition ${saved}, expected ${partition}`);
  const groups = array(c.groups, 'groups', fail).map((g, k) => {
    const path = `groups[${k}]`;
    const base = group(g, path, limits, fail);
    const r = record(g, path, fail);
    const starts = (value: unknown, at: string, changed: Array<[number, unknown]>): number[] => {
      const list = array(value, at, fail).map((start, i) => {
        if (typeof start !== 'number' || !Number.isSafeInteger(start)) throw fail(`${at}[${i}]: expected a pane start, got ${String(start)}`);
        return start;
      });
      const live = new Set(list);
      for (const [start] of changed) if (!live.has(start)) throw fail(`${at}: changed pane ${start} is not among the live ones`);
      return list;
    };
    return { ...base, inputStarts: starts(r.inputStarts, `${path}.inputStarts`, base.inputs), outcomeStarts: starts(r.outcomeStarts, `${path}.outcomeStarts`, base.outcomes) };
  });
  if (!(c.join instanceof Uint8Array)) throw fail(`join: expected the join table's delta bytes, got ${typeof c.join}`);
  return {
    partition,
    baseId: name(c.baseId, 'baseId', fail),
    index: integer(c.index, 'index', fail),
    fromSeq: integer(c.fromSeq, 'fromSeq', fail),
    seq: integer(c.seq, 'seq', fail),
    watermark: time(c.watermark, 'watermark', fail),
    counters: counters(c.counters, 'counters', fail),
    groups,
    join: c.join,
    held: array(c.held, 'held', fail).map((entry, k) => heldEvent(entry, `held[${k}]`, fail)),
    owner: c.owner === undefined ? null : checkpointOwner(c.owner, fail),
  };
}

function heldEvent(value: unknown, path: string, fail: Fail): Checkpoint['held'][number] {
  if (!Array.isArray(value) || value.length !== 4) throw fail(`${path}: expected [seq, subject, data, contentType]`);
  const [seq, subject, data, contentType] = value as unknown[];
  if (typeof subject !== 'string') throw fail(`${path}[1]: expected a subject`);
  if (!(data instanceof Uint8Array)) throw fail(`${path}[2]: expected the event's bytes`);
  if (contentType !== null && typeof contentType !== 'string') throw fail(`${path}[3]: expected a content type or null`);
  return { seq: integer(seq, `${path}[0]`, fail), subject, data, contentType: contentType ?? undefined };
}

function checkpointOwner(value: unknown, fail: Fail): { worker: string; epoch: number } {
  const o = record(value, 'owner', fail);
  if (typeof o.worker !== 'string' || o.worker.length === 0) throw fail(`owner.worker: expected a worker id, got ${String(o.worker)}`);
  return { worker: o.worker, epoch: integer(o.epoch, 'owner.epoch', fail) };
}

type Fail = (problem: string) => CheckpointError;

function isMsgpackMap(first: number): boolean {
  return (first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf;
}

function record(value: unknown, path: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) throw fail(`${path}: expected an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string, fail: Fail): unknown[] {
  if (!Array.isArray(value)) throw fail(`${path}: expected an array`);
  return value;
}

function integer(value: unknown, path: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw fail(`${path}: expected an integer >= 0, got ${String(value)}`);
  return value;
}

/** An event time: finite, or null for none yet (-Infinity). */
function time(value: unknown, path: string, fail: Fail): number {
  if (value === null) return -Infinity;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(`${path}: expected a time or null, got ${String(value)}`);
  return value;
}

function count(value: unknown, path: string, fail: Fail): number {
  if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) throw fail(`${path}: expected a count, got ${String(value)}`);
  return value;
}

function name(value: unknown, path: string, fail: Fail): string {
  if (typeof value !== 'string' || value.length === 0) throw fail(`${path}: expected a non-empty string`);
  return value;
}

function counters(value: unknown, path: string, fail: Fail): CheckpointCounters {
  const c = record(value, path, fail);
  const rejected = {} as Record<RejectReason, number>;
  const saved = record(c.rejected, `${path}.rejected`, fail);
  for (const reason of Object.keys(saved)) {
    if (!(REJECT_REASONS as readonly string[]).includes(reason)) throw fail(`${path}.rejected: unknown reason ${JSON.stringify(reason)}`);
  }
  // reasons added since the checkpoint was written start at 0
  for (const reason of REJECT_REASONS) rejected[reason] = saved[reason] === undefined ? 0 : count(saved[reason], `${path}.rejected.${reason}`, fail);
  return {
    predictions: count(c.predictions, `${path}.predictions`, fail),
    labels: count(c.labels, `${path}.labels`, fail),
    late: count(c.late, `${path}.late`, fail),
    duplicates: count(c.duplicates, `${path}.duplicates`, fail),
    rejected,
    refusedByModel: c.refusedByModel === undefined ? [] : refusals(c.refusedByModel, `${path}.refusedByModel`, fail),
  };
}

function refusals(value: unknown, path: string, fail: Fail): Array<[string, number]> {
  return array(value, path, fail).map((entry, k): [string, number] => {
    if (!Array.isArray(entry) || entry.length !== 2) throw fail(`${path}[${k}]: expected [reason|model, count]`);
    return [name(entry[0], `${path}[${k}][0]`, fail), count(entry[1], `${path}[${k}][1]`, fail)];
  });
}

/** [paneStart, state] pairs, each state checked and converted by `convert`. */
function panes<T>(value: unknown, path: string, fail: Fail, convert: (state: unknown, path: string) => T): Array<[number, T]> {
  const seen = new Set<number>();
  return array(value, path, fail).map((entry, k) => {
    const at = `${path}[${k}]`;
    if (!Array.isArray(entry) || entry.length !== 2) throw fail(`${at}: expected [paneStart, state]`);
    const start: unknown = entry[0];
    if (typeof start !== 'number' || !Number.isSafeInteger(start)) throw fail(`${at}[0]: expected a pane start, got ${String(start)}`);
    if (seen.has(start)) throw fail(`${at}: pane ${start} appears twice`);
    seen.add(start);
    try {
      return [start, convert(entry[1], `${at}[1]`)];
    } catch (error) {
      if (error instanceof PaneMessageError) throw fail(error.message.replace('malformed pane message: ', ''));
      throw error;
    }
  });
}

function group(value: unknown, path: string, limits: PaneLimits, fail: Fail): Checkpoint['groups'][number] {
  const g = record(value, path, fail);
  return {
    model: name(g.model, `${path}.model`, fail),
    version: name(g.version, `${path}.version`, fail),
    inputs: panes(g.inputs, `${path}.inputs`, fail, (state, at) => inputFromWire(checkPaneInputWire(state, at), limits, at)),
    outcomes: panes(g.outcomes, `${path}.outcomes`, fail, (state, at) => outcomeFromWire(checkPaneOutcomeWire(state, at), limits, at)),
    detectors: array(g.detectors, `${path}.detectors`, fail).map((state, k) => {
      try {
        return detectorFromJSON(state);
      } catch (error) {
        throw fail(`${path}.detectors[${k}]: ${(error as Error).message}`);
      }
    }),
    watermark: time(g.watermark, `${path}.watermark`, fail),
  };
}
