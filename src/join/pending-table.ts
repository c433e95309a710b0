/**
 * The late-label join of one partition: pending predictions waiting for their label, and labels
 * that arrived before their prediction ("early labels") waiting for it.
 *
 * Semantics (a Map-based model of exactly these rules lives in test/join/model.ts):
 * - An id is never both pending and early: a label looks in the pending table first, a prediction
 *   looks in the early buffer first.
 * - addPrediction: a duplicate of a pending id is counted and ignored (the first one wins). If an
 *   early label waits for the id, they join at once and nothing is stored. A prediction already
 *   older than the horizon (nowMs - ts > horizonMs) with no waiting label is not stored (TooLate:
 *   the caller counts it as expired right away). When the table is full, the OLDEST pending entry
 *   is evicted to make room (the caller counts it like an expired one): memory stays bounded and
 *   the entry given up is the one closest to expiry anyway.
 * - Keys are (model, id): two models may use the same ids and each label joins its own model's
 *   prediction. Models are interned to 16-bit scopes that are part of the id key.
 * - addLabel: joins with the pending prediction and removes it. Otherwise the label is buffered as
 *   early; a second label for an id already buffered is counted as a duplicate and dropped (first
 *   label wins). When the buffer is full its oldest label is dropped, counted as expired.
 * - Joined keys are remembered (JoinedIdSet: 64-bit fingerprints in time buckets) until their
 *   prediction leaves the horizon: a copy of the prediction or of the label arriving after the
 *   join is a duplicate (DuplicateJoined), counted in duplicatePredictions / duplicateLabels and
 *   in the *AfterJoin counters, never joined or stored again.
 * - expire(nowMs): `nowMs` is the partition's event-time watermark, not the wall clock. Pending
 *   predictions expire when nowMs - ts > horizonMs, early labels when nowMs - (watermark when the
 *   label arrived) > horizonMs. Both are removed from the oldest-inserted end and the scan stops at
 *   the first entry still inside the horizon, so expiry costs O(expired); an entry inserted after a
 *   younger one (out-of-order ts) waits for that one, i.e. it expires at most "stream disorder"
 *   late, never early.
 *
 * Hot-path results are a numeric status; the joined fields are exposed through the `last*`
 * properties, which the caller reads immediately (the next call overwrites them). No object is
 * allocated per event.
 *
 * Memory per pending entry: one 48-byte record (hash, arena offset, id tag, insertion-order links,
 * ts, output, score, group/segment/flags) + hash buckets (4 bytes each, load <= 1/2: ~8 bytes at
 * full capacity) + id bytes in the arena (16 for a lowercase UUID, else the WTF-8 length; up to
 * 1.5x slack after growth) + 4 bytes of checkpoint generation per slot (incremental checkpoints:
 * markCheckpoint / deltaBytes). Measured at 1M entries (bench/join.ts): ~73 B for UUID ids, ~93 B for
 * 36-character text ids. Categorical outputs, groups (model+version) and segments are interned to
 * small integers; their name tables are capped (maxClassesPerGroup, maxGroups, maxSegments).
 */
import { IdKey, MAX_ID_BYTES_LIMIT, MAX_SCOPE, PACKED_UUID_FLAG, checkWtf8, tagLength, tagScope } from './id-key.ts';
import { JoinedIdSet } from './joined-ids.ts';
import { OWNER_F64_START, OWNER_I32_START, OrderedIdIndex } from './ordered-id-index.ts';
import { JoinSnapshotError, SnapshotReader, SnapshotWriter } from './snapshot-bytes.ts';

/** Result of addPrediction. */
export const AddPredictionStatus = {
  /** Stored as a new pending entry. */
  Added: 0,
  /** The id is already pending: ignored, counted in stats.duplicatePredictions. */
  Duplicate: 1,
  /** An early label was waiting: joined now, not stored. last* hold the prediction and the label. */
  MatchedEarlyLabel: 2,
  /** Stored, and the table being full, the oldest pending entry was evicted: see evicted*. */
  AddedEvictedOldest: 3,
  /** Already older than the horizon and no label waiting: not stored, counted in stats.tooLate. */
  TooLate: 4,
  /** Not stored: id longer than maxIdBytes, non-finite ts, too many groups or models. stats.rejected. */
  Rejected: 5,
  /**
   * This (model, id) already joined with its label (a copy arriving after the join): ignored,
   * counted in stats.duplicatePredictions and stats.duplicatePredictionsAfterJoin.
   */
  DuplicateJoined: 6,
} as const;
export type AddPredictionResult = (typeof AddPredictionStatus)[keyof typeof AddPredictionStatus];

/** Result of addLabel. */
export const LabelJoinStatus = {
  /** The prediction was pending: joined and removed. last* hold its fields and the label. */
  Joined: 0,
  /** No pending prediction: buffered as an early label. */
  BufferedEarly: 1,
  /** Buffered as early, and the buffer being full its oldest label was dropped (counted expired). */
  BufferedEarlyDroppedOldest: 2,
  /** A label for this id is already buffered: dropped, counted in stats.duplicateLabels. */
  DuplicateEarly: 3,
  /** Not buffered: id longer than maxIdBytes, non-finite labelTs or too many models. stats.rejected. */
  Rejected: 4,
  /** This (model, id) already joined: a copy of its label, dropped, counted in stats.duplicateLabels and stats.duplicateLabelsAfterJoin. */
  DuplicateJoined: 5,
} as const;
export type LabelJoinResult = (typeof LabelJoinStatus)[keyof typeof LabelJoinStatus];

export interface PendingJoinTableOptions {
  /** Max pending predictions (default 1_000_000). */
  capacity?: number;
  /** Max buffered early labels (default 100_000). */
  earlyCapacity?: number;
  /** Label horizon in event-time ms (default 3_600_000). */
  horizonMs?: number;
  /** Longest id accepted, in stored bytes (default 1024; the wire limit is 256 UTF-16 units). */
  maxIdBytes?: number;
  /** Distinct model+version groups (default 4096, at most 65536); beyond, predictions are rejected. */
  maxGroups?: number;
  /** Distinct categorical outputs per group (default 1024); beyond, they map to OTHER_CLASS. */
  maxClassesPerGroup?: number;
  /** Distinct segments (default 4096, at most 32767); beyond, they map to OTHER_SEGMENT. */
  maxSegments?: number;
  /**
   * Joined keys remembered to recognise copies arriving after the join (default: capacity); beyond,
   * the oldest time bucket of them is forgotten.
   */
  joinedCapacity?: number;
}

export interface JoinStats {
  /** Labels joined with their prediction (both orders). */
  joined: number;
  /** Of `joined`, those where the label came first. */
  joinedEarly: number;
  /** Labels buffered as early. */
  early: number;
  /** Pending predictions removed by expire(). */
  expiredPredictions: number;
  /** Early labels removed unmatched: by expire() or dropped because the buffer was full. */
  expiredLabels: number;
  /** Of `expiredLabels`, those dropped because the buffer was full. */
  earlyDropped: number;
  duplicatePredictions: number;
  duplicateLabels: number;
  /** Pending predictions evicted because the table was full. */
  evicted: number;
  /** Predictions older than the horizon on arrival, not stored. */
  tooLate: number;
  /** Events refused: id too long, non-finite time, group or model limit. */
  rejected: number;
  /** Of `duplicatePredictions`, copies of a prediction that had already joined. */
  duplicatePredictionsAfterJoin: number;
  /** Of `duplicateLabels`, copies of a label that had already joined. */
  duplicateLabelsAfterJoin: number;
}

const STAT_KEYS: readonly (keyof JoinStats)[] = [
  'joined',
  'joinedEarly',
  'early',
  'expiredPredictions',
  'expiredLabels',
  'earlyDropped',
  'duplicatePredictions',
  'duplicateLabels',
  'evicted',
  'tooLate',
  'rejected',
];
/** Counters added in snapshot format 2 (format 1 restores them as 0). */
const STAT_KEYS_V2: readonly (keyof JoinStats)[] = ['duplicatePredictionsAfterJoin', 'duplicateLabelsAfterJoin'];
const ALL_STAT_KEYS = [...STAT_KEYS, ...STAT_KEYS_V2];

/** All counters at zero (also the snapshot's field order: STAT_KEYS). */
export function emptyJoinStats(): JoinStats {
  const stats = {} as JoinStats;
  for (const key of ALL_STAT_KEYS) stats[key] = 0;
  return stats;
}

/** Class name that categorical outputs map to once a group holds maxClassesPerGroup classes. */
export const OTHER_CLASS = '__other__';
/** Segment name that segments map to once maxSegments are known. */
export const OTHER_SEGMENT = '__other__';

const FLAG_OUTPUT_IS_CLASS = 1; // snapshot flag byte
const SNAPSHOT_MAGIC = 0x544a5744; // 'DWJT' little-endian
/**
 * Format 2 adds the model table, a model scope per entry and the joined-id memory. Format 1 (keys
 * were ids alone) still restores: its entries get the "unknown model" scope 0, which any model's
 * lookup falls back to until the last of them has left the table.
 */
const SNAPSHOT_VERSION = 2;
const LEGACY_SNAPSHOT_VERSION = 1;
/** Scope of entries restored from format 1, whose model is unknown. */
const LEGACY_SCOPE = 0;
const DELTA_MAGIC = 0x444a5744; // 'DWJD' little-endian
const DELTA_VERSION = 1;
const MAX_NAME_BYTES = 1 << 16;

function positiveInt(value: number | undefined, fallback: number, name: string, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`PendingJoinTable: ${name} must be an integer in [1, ${max}], got ${String(value)}`);
  }
  return v;
}

function checksum(bytes: Uint8Array, end: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/**
 * Record layout (48 bytes, see OrderedIdIndex): the index uses i32[0..5), then
 * pending: f64[3] ts, f64[4] output, f64[5] score, i32[5] group | segment << 16 | class-output flag << 31;
 * early:   f64[3] numeric label, f64[4] labelTs, f64[5] watermark at arrival.
 */
const RECORD_BYTES = 48;
const F64_STRIDE = RECORD_BYTES / 8;
const I32_STRIDE = RECORD_BYTES / 4;
const P_TS = OWNER_F64_START;
const P_OUTPUT = OWNER_F64_START + 1;
const P_SCORE = OWNER_F64_START + 2;
const P_META = OWNER_I32_START;
const E_LABEL = OWNER_F64_START;
const E_LABEL_TS = OWNER_F64_START + 1;
const E_ARRIVED = OWNER_F64_START + 2;
const OUTPUT_IS_CLASS_BIT = 0x80000000;
/** Segment codes are 15 bits of the meta word. */
const MAX_SEGMENT_CODE = 0x7fff;

export class PendingJoinTable {
  readonly capacity: number;
  readonly earlyCapacity: number;
  readonly horizonMs: number;
  readonly maxIdBytes: number;
  readonly maxGroups: number;
  readonly maxClassesPerGroup: number;
  readonly maxSegments: number;
  readonly joinedCapacity: number;

  /** Counters, updated in place. */
  readonly stats: JoinStats = emptyJoinStats();

  // ---- results of the last call (read immediately; overwritten by the next call) ----
  /** Prediction ts of the joined entry. */
  lastTs = NaN;
  /** Group index of the joined entry (groupKeyOf gives the key). */
  lastGroup = -1;
  /** Output: the number, or the class index when lastOutputIsClass. */
  lastOutput = NaN;
  lastOutputIsClass = false;
  /** Score, NaN when none. */
  lastScore = NaN;
  /** Segment code, 0 = none. */
  lastSegment = 0;
  /** Numeric label, NaN when the label is a string. */
  lastLabel = NaN;
  /** String label, null when numeric. */
  lastLabelString: string | null = null;
  /** Class index of a string label in the prediction's group, -1 when unknown there or numeric. */
  lastLabelClass = -1;
  lastLabelTs = NaN;
  /** Fields of the entry evicted by the last AddedEvictedOldest. */
  evictedTs = NaN;
  evictedGroup = -1;
  evictedSegment = 0;

  private readonly key: IdKey;
  private readonly joinedIds: JoinedIdSet;
  /** Model names by scope; scope 0 is the unknown model of entries restored from format 1. */
  private readonly modelNames: string[] = [''];
  private readonly modelScopeByName = new Map<string, number>();
  private cachedModel = '';
  private cachedScope = -1;
  /** Entries (pending or early) still in the legacy scope: while > 0, lookups fall back to it. */
  private legacyLive = 0;
  private readonly pending: OrderedIdIndex;
  private readonly early: OrderedIdIndex;
  /** String labels by early slot (bounded by earlyCapacity); null for numeric labels. */
  private eLabelString: (string | null)[];

  private readonly groupKeys: string[] = [];
  private readonly groupIndexByKey = new Map<string, number>();
  private readonly classNames: string[][] = [];
  private readonly classIndexByName: Map<string, number>[] = [];
  /** Index 0 is "no segment". */
  private readonly segmentNames: string[] = [''];
  private readonly segmentCodeByName = new Map<string, number>();
  private cachedGroupKey = '';
  private cachedGroup = -1;
  /** markCheckpoint() was called: changes are journaled for deltaBytes(). */
  private checkpointMarked = false;

  constructor(options: PendingJoinTableOptions = {}) {
    this.capacity = positiveInt(options.capacity, 1_000_000, 'capacity', 0x7fffffff);
    this.earlyCapacity = positiveInt(options.earlyCapacity, 100_000, 'earlyCapacity', 0x7fffffff);
    const horizonMs = options.horizonMs ?? 3_600_000;
    if (!Number.isFinite(horizonMs) || horizonMs < 0) {
      throw new RangeError(`PendingJoinTable: horizonMs must be a finite number >= 0, got ${String(options.horizonMs)}`);
    }
    this.horizonMs = horizonMs;
    this.maxIdBytes = positiveInt(options.maxIdBytes, 1024, 'maxIdBytes', MAX_ID_BYTES_LIMIT);
    this.maxGroups = positiveInt(options.maxGroups, 4096, 'maxGroups', 65536);
    this.maxClassesPerGroup = positiveInt(options.maxClassesPerGroup, 1024, 'maxClassesPerGroup', 0x7fffffff);
    this.maxSegments = positiveInt(options.maxSegments, 4096, 'maxSegments', MAX_SEGMENT_CODE);
    this.joinedCapacity = positiveInt(options.joinedCapacity, this.capacity, 'joinedCapacity', 0x7fffffff);
    this.key = new IdKey(Math.max(16, this.maxIdBytes));
    this.joinedIds = new JoinedIdSet(this.horizonMs, this.joinedCapacity);

    this.pending = new OrderedIdIndex(this.capacity, RECORD_BYTES);
    this.early = new OrderedIdIndex(this.earlyCapacity, RECORD_BYTES, 256);
    this.eLabelString = new Array<string | null>(this.early.slotCapacity).fill(null);
  }

  /** Pending predictions. */
  get size(): number {
    return this.pending.size;
  }

  /** Buffered early labels. */
  get earlySize(): number {
    return this.early.size;
  }

  // ---------------------------------------------------------------- hot path

  addPrediction(
    id: string,
    ts: number,
    groupKey: string,
    output: number | string,
    score: number,
    segment: string | null,
    nowMs: number,
    model = '',
  ): AddPredictionResult {
    const key = this.key;
    const scope = this.internModel(model);
    if (scope < 0 || !Number.isFinite(ts) || !key.set(id, scope)) {
      this.stats.rejected++;
      return AddPredictionStatus.Rejected;
    }
    if (this.findIn(this.pending) !== -1) {
      this.stats.duplicatePredictions++;
      return AddPredictionStatus.Duplicate;
    }
    const group = this.internGroup(groupKey);
    if (group < 0) {
      this.stats.rejected++;
      return AddPredictionStatus.Rejected;
    }
    let outputValue: number;
    let flags = 0;
    if (typeof output === 'string') {
      outputValue = this.internClass(group, output);
      flags = FLAG_OUTPUT_IS_CLASS;
    } else {
      outputValue = output;
    }
    const segmentCode = segment === null ? 0 : this.internSegment(segment);

    const earlySlot = this.findIn(this.early);
    if (earlySlot !== -1) {
      const labelString = this.eLabelString[earlySlot];
      this.lastTs = ts;
      this.lastGroup = group;
      this.lastOutput = outputValue;
      this.lastOutputIsClass = flags === FLAG_OUTPUT_IS_CLASS;
      this.lastScore = score;
      this.lastSegment = segmentCode;
      const er = earlySlot * F64_STRIDE;
      this.setLastLabel(group, this.early.f64[er + E_LABEL], labelString, this.early.f64[er + E_LABEL_TS]);
      this.removeEarly(earlySlot);
      this.joinedIds.add(ts, key.hash, key.hash2());
      this.stats.joined++;
      this.stats.joinedEarly++;
      return AddPredictionStatus.MatchedEarlyLabel;
    }

    if (nowMs - ts > this.horizonMs) {
      this.stats.tooLate++;
      return AddPredictionStatus.TooLate;
    }
    if (this.joinedIds.size > 0 && this.joinedIds.hasAt(ts, key.hash, key.hash2())) {
      this.stats.duplicatePredictions++;
      this.stats.duplicatePredictionsAfterJoin++;
      return AddPredictionStatus.DuplicateJoined;
    }

    let status: AddPredictionResult = AddPredictionStatus.Added;
    if (this.pending.size >= this.capacity) {
      const oldest = this.pending.head;
      const meta = this.pending.i32[oldest * I32_STRIDE + P_META];
      this.evictedTs = this.pending.f64[oldest * F64_STRIDE + P_TS];
      this.evictedGroup = meta & 0xffff;
      this.evictedSegment = (meta >>> 16) & MAX_SEGMENT_CODE;
      this.removePending(oldest);
      this.stats.evicted++;
      status = AddPredictionStatus.AddedEvictedOldest;
    }
    const slot = this.pending.insert(key);
    this.writePending(slot, ts, outputValue, score, group, segmentCode, flags);
    return status;
  }

  addLabel(id: string, label: number | string, labelTs: number, nowMs: number, model = ''): LabelJoinResult {
    const key = this.key;
    const scope = this.internModel(model);
    if (scope < 0 || !Number.isFinite(labelTs) || !key.set(id, scope)) {
      this.stats.rejected++;
      return LabelJoinStatus.Rejected;
    }
    const slot = this.findIn(this.pending);
    if (slot !== -1) {
      const f64 = this.pending.f64;
      const r = slot * F64_STRIDE;
      const meta = this.pending.i32[slot * I32_STRIDE + P_META];
      const group = meta & 0xffff;
      this.lastTs = f64[r + P_TS];
      this.lastGroup = group;
      this.lastOutput = f64[r + P_OUTPUT];
      this.lastOutputIsClass = meta < 0;
      this.lastScore = f64[r + P_SCORE];
      this.lastSegment = (meta >>> 16) & MAX_SEGMENT_CODE;
      if (typeof label === 'string') this.setLastLabel(group, NaN, label, labelTs);
      else this.setLastLabel(group, label, null, labelTs);
      this.removePending(slot);
      this.joinedIds.add(this.lastTs, key.hash, key.hash2());
      this.stats.joined++;
      return LabelJoinStatus.Joined;
    }
    if (this.findIn(this.early) !== -1) {
      this.stats.duplicateLabels++;
      return LabelJoinStatus.DuplicateEarly;
    }
    if (this.joinedIds.hasAny(key.hash, key.hash2())) {
      this.stats.duplicateLabels++;
      this.stats.duplicateLabelsAfterJoin++;
      return LabelJoinStatus.DuplicateJoined;
    }
    let status: LabelJoinResult = LabelJoinStatus.BufferedEarly;
    if (this.early.size >= this.earlyCapacity) {
      this.removeEarly(this.early.head);
      this.stats.expiredLabels++;
      this.stats.earlyDropped++;
      status = LabelJoinStatus.BufferedEarlyDroppedOldest;
    }
    const earlySlot = this.early.insert(key);
    this.writeEarly(earlySlot, label, labelTs, nowMs);
    this.stats.early++;
    return status;
  }

  /**
   * Removes pending predictions with nowMs - ts > horizonMs and early labels that arrived more than
   * horizonMs before nowMs (nowMs = the partition's event-time watermark), oldest first, stopping
   * at the first one still inside the horizon. onExpired is called for each expired prediction
   * after its removal; it must not call back into this table.
   */
  expire(
    nowMs: number,
    onExpired?: (groupKey: string, ts: number, segment: string | null) => void,
  ): { predictions: number; earlyLabels: number } {
    const horizon = this.horizonMs;
    let predictions = 0;
    for (let slot = this.pending.head; slot !== -1; slot = this.pending.head) {
      const ts = this.pending.f64[slot * F64_STRIDE + P_TS];
      if (!(nowMs - ts > horizon)) break;
      const meta = this.pending.i32[slot * I32_STRIDE + P_META];
      const group = meta & 0xffff;
      const segment = (meta >>> 16) & MAX_SEGMENT_CODE;
      this.removePending(slot);
      predictions++;
      if (onExpired !== undefined) onExpired(this.groupKeys[group], ts, segment === 0 ? null : this.segmentNames[segment]);
    }
    let earlyLabels = 0;
    for (let slot = this.early.head; slot !== -1; slot = this.early.head) {
      if (!(nowMs - this.early.f64[slot * F64_STRIDE + E_ARRIVED] > horizon)) break;
      this.removeEarly(slot);
      earlyLabels++;
    }
    this.joinedIds.expire(nowMs);
    this.stats.expiredPredictions += predictions;
    this.stats.expiredLabels += earlyLabels;
    return { predictions, earlyLabels };
  }

  // ---------------------------------------------------------------- lookups

  /** Whether a prediction with this model and id is pending (false for an id too long to store). */
  hasPending(id: string, model = ''): boolean {
    return this.setLookupKey(id, model) && this.findIn(this.pending) !== -1;
  }

  /** Whether a label with this model and id is buffered as early. */
  hasEarly(id: string, model = ''): boolean {
    return this.setLookupKey(id, model) && this.findIn(this.early) !== -1;
  }

  /** Whether this model and id has joined and is still remembered (a copy of it is a duplicate). */
  hasJoined(id: string, model = ''): boolean {
    return this.setLookupKey(id, model) && this.joinedIds.hasAny(this.key.hash, this.key.hash2());
  }

  /** Joined keys remembered, and the buckets holding them. */
  get joinedSize(): number {
    return this.joinedIds.size;
  }

  /** Bytes of typed arrays held by the joined-id memory alone (part of memoryBytes()). */
  joinedMemoryBytes(): number {
    return this.joinedIds.memoryBytes();
  }

  /** Width of a time bucket of the joined-id memory (1/16 of the horizon, at least 1 ms). */
  get joinedBucketMs(): number {
    return this.joinedIds.bucketMs;
  }

  get groupCount(): number {
    return this.groupKeys.length;
  }

  groupKeyOf(group: number): string {
    const key = this.groupKeys[group];
    if (key === undefined) throw new RangeError(`PendingJoinTable: no group with index ${group}`);
    return key;
  }

  /** Class name of a categorical output index in a group. */
  className(group: number, classIndex: number): string {
    const name = this.classNames[group]?.[classIndex];
    if (name === undefined) throw new RangeError(`PendingJoinTable: no class ${classIndex} in group ${group}`);
    return name;
  }

  /** Class index of a name in a group without interning it; -1 when unknown. */
  classIndexOf(group: number, name: string): number {
    return this.classIndexByName[group]?.get(name) ?? -1;
  }

  /** Segment name of a code; null for 0 (no segment). */
  segmentName(code: number): string | null {
    if (code === 0) return null;
    const name = this.segmentNames[code];
    if (name === undefined) throw new RangeError(`PendingJoinTable: no segment with code ${code}`);
    return name;
  }

  get lastGroupKey(): string {
    return this.groupKeyOf(this.lastGroup);
  }
  /** The output class string of the last result, null when the output is numeric. */
  get lastOutputClass(): string | null {
    return this.lastOutputIsClass ? this.className(this.lastGroup, this.lastOutput) : null;
  }
  get lastSegmentName(): string | null {
    return this.segmentName(this.lastSegment);
  }

  /**
   * Pending entries oldest first, decoded (allocates: for tests, debugging and tools).
   */
  *pendingEntries(): IterableIterator<{
    id: string;
    /** The model of the key ('' for an entry restored from format 1, whose model is unknown). */
    model: string;
    ts: number;
    groupKey: string;
    output: number | string;
    score: number;
    segment: string | null;
  }> {
    for (let slot = this.pending.head; slot !== -1; slot = this.pending.next(slot)) {
      const r = slot * F64_STRIDE;
      const meta = this.pending.i32[slot * I32_STRIDE + P_META];
      const group = meta & 0xffff;
      const output = this.pending.f64[r + P_OUTPUT];
      yield {
        id: this.pending.idOf(slot),
        model: this.modelNames[tagScope(this.pending.tagOf(slot))],
        ts: this.pending.f64[r + P_TS],
        groupKey: this.groupKeys[group],
        output: meta < 0 ? this.classNames[group][output] : output,
        score: this.pending.f64[r + P_SCORE],
        segment: this.segmentName((meta >>> 16) & MAX_SEGMENT_CODE),
      };
    }
  }

  /** Early labels oldest first, decoded (allocates). */
  *earlyEntries(): IterableIterator<{ id: string; model: string; label: number | string; labelTs: number; arrivedAt: number }> {
    for (let slot = this.early.head; slot !== -1; slot = this.early.next(slot)) {
      const r = slot * F64_STRIDE;
      yield {
        id: this.early.idOf(slot),
        model: this.modelNames[tagScope(this.early.tagOf(slot))],
        label: this.eLabelString[slot] ?? this.early.f64[r + E_LABEL],
        labelTs: this.early.f64[r + E_LABEL_TS],
        arrivedAt: this.early.f64[r + E_ARRIVED],
      };
    }
  }

  /**
   * Bytes of typed arrays held by both tables (grows with the live size, up to what capacity
   * needs). Not counted: the JS strings of buffered string labels and the name tables.
   */
  memoryBytes(): number {
    return this.pending.memoryBytes() + this.early.memoryBytes() + this.joinedIds.memoryBytes();
  }

  // ---------------------------------------------------------------- snapshot

  /**
   * Serializes the whole state: options, counters, name tables, pending entries and early labels
   * in insertion order, then an FNV-1a checksum. Size is O(entries), not O(capacity).
   */
  toBytes(): Uint8Array {
    const w = new SnapshotWriter(256 + this.pending.idBytes + this.pending.size * 31 + this.early.idBytes + this.early.size * 27);
    w.u32(SNAPSHOT_MAGIC);
    w.u16(SNAPSHOT_VERSION);
    w.u16(0);
    w.u32(this.capacity);
    w.u32(this.earlyCapacity);
    w.f64(this.horizonMs);
    w.u32(this.maxIdBytes);
    w.u32(this.maxGroups);
    w.u32(this.maxClassesPerGroup);
    w.u32(this.maxSegments);
    w.u32(this.joinedCapacity);
    this.writeCountersAndNames(w);
    w.u32(this.pending.size);
    for (let slot = this.pending.head; slot !== -1; slot = this.pending.next(slot)) this.writePendingEntry(w, slot);
    w.u32(this.early.size);
    for (let slot = this.early.head; slot !== -1; slot = this.early.next(slot)) this.writeEarlyEntry(w, slot);
    w.u32(this.joinedIds.bucketCount);
    // each bucket's exact slot layout, so that a restored table goes on exactly like this one
    for (const { bucket, slotCount, triples } of this.joinedIds.bucketEntries()) {
      w.f64(bucket);
      w.u32(slotCount);
      w.u32(triples.length / 3);
      for (let i = 0; i < triples.length; i++) w.u32(triples[i]);
    }
    w.u32(checksum(w.bytes, w.pos));
    return w.finish();
  }

  /**
   * Starts a checkpoint generation: deltaBytes() will hold what changes from now on. Call it right
   * after taking toBytes() or deltaBytes() for a checkpoint. Until the first call nothing is
   * journaled (a table that is never checkpointed pays nothing).
   */
  markCheckpoint(): void {
    this.checkpointMarked = true;
    this.pending.mark();
    this.early.mark();
    this.joinedIds.mark();
  }

  /**
   * What changed since markCheckpoint(), for an incremental checkpoint: counters and name tables
   * (small, whole), the ids removed since (pending and early), the entries inserted since, and the
   * joined-id memory's change. applyDelta() on the state at the mark gives this table's state.
   * Size is O(changes) plus the name tables; throws when markCheckpoint() was never called.
   */
  deltaBytes(): Uint8Array {
    if (!this.checkpointMarked) throw new Error('PendingJoinTable.deltaBytes: markCheckpoint() was never called');
    const pendingRemoved = this.pending.removedIds();
    const earlyRemoved = this.early.removedIds();
    const joined = this.joinedIds.delta();
    const w = new SnapshotWriter(256 + pendingRemoved.length + earlyRemoved.length + joined.added.length * 6);
    w.u32(DELTA_MAGIC);
    w.u16(DELTA_VERSION);
    w.u16(0);
    this.writeCountersAndNames(w);
    w.u32(this.pending.removedSinceMark);
    w.raw(pendingRemoved);
    const firstPending = this.pending.firstSinceMark();
    let added = 0;
    for (let slot = firstPending; slot !== -1; slot = this.pending.next(slot)) added++;
    w.u32(added);
    for (let slot = firstPending; slot !== -1; slot = this.pending.next(slot)) this.writePendingEntry(w, slot);
    w.u32(this.early.removedSinceMark);
    w.raw(earlyRemoved);
    const firstEarly = this.early.firstSinceMark();
    added = 0;
    for (let slot = firstEarly; slot !== -1; slot = this.early.next(slot)) added++;
    w.u32(added);
    for (let slot = firstEarly; slot !== -1; slot = this.early.next(slot)) this.writeEarlyEntry(w, slot);
    w.u32(joined.removed.length);
    for (const b of joined.removed) w.f64(b);
    w.u32(joined.live.length);
    for (const b of joined.live) w.f64(b);
    w.u32(joined.added.length / 3);
    for (let i = 0; i < joined.added.length; i += 3) {
      w.f64(joined.added[i]);
      w.u32(joined.added[i + 1]);
      w.u32(joined.added[i + 2]);
    }
    w.u32(checksum(w.bytes, w.pos));
    return w.finish();
  }

  /**
   * Applies deltaBytes() taken from the table this one restores (base + earlier deltas, in order).
   * Throws JoinSnapshotError saying what is wrong and where; the table is then not to be used.
   */
  applyDelta(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new JoinSnapshotError(`delta: expected a Uint8Array, got ${typeof bytes}`);
    if (bytes.length < 12) throw new JoinSnapshotError(`delta: only ${bytes.length} bytes, too short for a header`);
    const header = new SnapshotReader(bytes, bytes.length);
    if (header.u32('magic') !== DELTA_MAGIC) throw new JoinSnapshotError('delta: bad magic: not a driftwatch join table delta');
    const version = header.u16('format version');
    if (version !== DELTA_VERSION) throw new JoinSnapshotError(`delta: unsupported format version ${version} (this build reads ${DELTA_VERSION})`);
    const bodyEnd = bytes.length - 4;
    const stored = new DataView(bytes.buffer, bytes.byteOffset + bodyEnd, 4).getUint32(0, true);
    const actual = checksum(bytes, bodyEnd);
    if (stored !== actual) {
      throw new JoinSnapshotError(`delta: checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}): corrupted or truncated`);
    }
    const r = new SnapshotReader(bytes, bodyEnd);
    r.pos = 8;
    this.readCountersAndNames(r, false);
    const key = this.key;
    const removedPending = r.u32('removed pending count');
    for (let i = 0; i < removedPending; i++) {
      const what = `delta removed pending ${i}`;
      this.readId(r, bytes, what, false);
      const slot = this.pending.find(key);
      if (slot === -1) throw new JoinSnapshotError(`${what}: the id is not pending in the state the delta follows`);
      this.removePending(slot);
    }
    const addedPending = r.u32('added pending count');
    for (let i = 0; i < addedPending; i++) this.readPendingEntry(r, bytes, `delta added pending ${i}`, false);
    const removedEarly = r.u32('removed early count');
    for (let i = 0; i < removedEarly; i++) {
      const what = `delta removed early label ${i}`;
      this.readId(r, bytes, what, false);
      const slot = this.early.find(key);
      if (slot === -1) throw new JoinSnapshotError(`${what}: the id is not buffered in the state the delta follows`);
      this.removeEarly(slot);
    }
    const addedEarly = r.u32('added early count');
    for (let i = 0; i < addedEarly; i++) this.readEarlyEntry(r, bytes, `delta added early label ${i}`, false);
    const bucketList = (what: string): number[] => {
      const count = r.u32(`${what} count`);
      if (count * 8 > bodyEnd - r.pos) throw new JoinSnapshotError(`delta: ${count} ${what} do not fit in the ${bodyEnd - r.pos} bytes left`);
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const b = r.f64(what);
        if (!Number.isInteger(b)) throw new JoinSnapshotError(`delta: ${what} ${b} is not an integer`);
        out.push(b);
      }
      return out;
    };
    const removedBuckets = bucketList('removed joined buckets');
    const liveBuckets = bucketList('live joined buckets');
    const addedJoined = r.u32('added joined count');
    if (addedJoined * 16 > bodyEnd - r.pos) throw new JoinSnapshotError(`delta: ${addedJoined} joined ids do not fit in the ${bodyEnd - r.pos} bytes left`);
    const triples: number[] = [];
    for (let i = 0; i < addedJoined; i++) triples.push(r.f64('joined bucket'), r.u32('joined hi'), r.u32('joined lo'));
    if (!this.joinedIds.applyDelta(removedBuckets, liveBuckets, triples)) throw new JoinSnapshotError('delta: a joined id is in a bucket that is not live');
    if (r.pos !== bodyEnd) throw new JoinSnapshotError(`delta: ${bodyEnd - r.pos} unexpected bytes after the last entry at offset ${r.pos}`);
    if (this.pending.size > this.capacity) throw new JoinSnapshotError(`delta: ${this.pending.size} pending entries, more than capacity ${this.capacity}`);
  }

  /** Restores a table from toBytes(); throws JoinSnapshotError saying what is wrong and where. */
  static fromBytes(bytes: Uint8Array): PendingJoinTable {
    if (!(bytes instanceof Uint8Array)) throw new JoinSnapshotError(`expected a Uint8Array, got ${typeof bytes}`);
    if (bytes.length < 12) throw new JoinSnapshotError(`only ${bytes.length} bytes, too short for a header`);
    const header = new SnapshotReader(bytes, bytes.length);
    if (header.u32('magic') !== SNAPSHOT_MAGIC) throw new JoinSnapshotError('bad magic: not a driftwatch join table snapshot');
    const version = header.u16('format version');
    if (version !== SNAPSHOT_VERSION && version !== LEGACY_SNAPSHOT_VERSION) {
      throw new JoinSnapshotError(`unsupported format version ${version} (this build reads ${LEGACY_SNAPSHOT_VERSION} and ${SNAPSHOT_VERSION})`);
    }
    const legacy = version === LEGACY_SNAPSHOT_VERSION;
    const bodyEnd = bytes.length - 4;
    const stored = new DataView(bytes.buffer, bytes.byteOffset + bodyEnd, 4).getUint32(0, true);
    const actual = checksum(bytes, bodyEnd);
    if (stored !== actual) {
      throw new JoinSnapshotError(`checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}): corrupted or truncated`);
    }

    const r = new SnapshotReader(bytes, bodyEnd);
    r.pos = 8;
    const option = (name: string): number => r.u32(name);
    let table: PendingJoinTable;
    try {
      table = new PendingJoinTable({
        capacity: option('capacity'),
        earlyCapacity: option('earlyCapacity'),
        horizonMs: r.f64('horizonMs'),
        maxIdBytes: option('maxIdBytes'),
        maxGroups: option('maxGroups'),
        maxClassesPerGroup: option('maxClassesPerGroup'),
        maxSegments: option('maxSegments'),
        joinedCapacity: legacy ? undefined : option('joinedCapacity'),
      });
    } catch (error) {
      if (error instanceof JoinSnapshotError) throw error;
      throw new JoinSnapshotError(`bad options in header: ${(error as Error).message}`);
    }
    table.readCountersAndNames(r, legacy);

    const pendingCount = r.u32('pending count');
    if (pendingCount > table.capacity) throw new JoinSnapshotError(`${pendingCount} pending entries, more than capacity ${table.capacity}`);
    for (let i = 0; i < pendingCount; i++) table.readPendingEntry(r, bytes, `pending entry ${i}`, legacy);

    const earlyCount = r.u32('early label count');
    if (earlyCount > table.earlyCapacity) throw new JoinSnapshotError(`${earlyCount} early labels, more than earlyCapacity ${table.earlyCapacity}`);
    for (let i = 0; i < earlyCount; i++) table.readEarlyEntry(r, bytes, `early label ${i}`, legacy);
    if (!legacy) {
      const bucketCount = r.u32('joined bucket count');
      let held = 0;
      for (let b = 0; b < bucketCount; b++) {
        const what = `joined bucket ${b}`;
        const bucket = r.f64(`${what} number`);
        if (!Number.isInteger(bucket)) throw new JoinSnapshotError(`${what}: number ${bucket} is not an integer`);
        const slotCount = r.u32(`${what} slot count`);
        const count = r.u32(`${what} size`);
        if (count * 12 > bodyEnd - r.pos) throw new JoinSnapshotError(`${what}: ${count} entries do not fit in the ${bodyEnd - r.pos} bytes left`);
        held += count;
        if (held > table.joinedCapacity) throw new JoinSnapshotError(`${what}: more joined ids than joinedCapacity ${table.joinedCapacity}`);
        const triples = new Uint32Array(count * 3);
        for (let i = 0; i < count * 3; i++) triples[i] = r.u32(`${what} entry`);
        if (!table.joinedIds.restoreBucket(bucket, slotCount, triples)) {
          throw new JoinSnapshotError(`${what}: its slot layout is not a valid set (slot order, probe runs, load), or the bucket appears twice`);
        }
      }
    }
    if (r.pos !== bodyEnd) throw new JoinSnapshotError(`${bodyEnd - r.pos} unexpected bytes after the last entry at offset ${r.pos}`);
    return table;
  }

  // ---------------------------------------------------------------- snapshot parts

  /** Counters, then the name tables (groups with their classes, segments, models): whole, in a snapshot and in a delta. */
  private writeCountersAndNames(w: SnapshotWriter): void {
    for (const name of ALL_STAT_KEYS) w.f64(this.stats[name]);
    w.u32(this.groupKeys.length);
    for (let g = 0; g < this.groupKeys.length; g++) {
      w.str(this.groupKeys[g]);
      const classes = this.classNames[g];
      w.u32(classes.length);
      for (const name of classes) w.str(name);
    }
    w.u32(this.segmentNames.length - 1);
    for (let s = 1; s < this.segmentNames.length; s++) w.str(this.segmentNames[s]);
    w.u32(this.modelNames.length - 1);
    for (let m = 1; m < this.modelNames.length; m++) w.str(this.modelNames[m]);
  }

  /**
   * Reads writeCountersAndNames() into this table. Names only ever grow: the ones this table has
   * must come first, in the same order (a delta that does not follow this state is refused).
   */
  private readCountersAndNames(r: SnapshotReader, legacy: boolean): void {
    for (const name of legacy ? STAT_KEYS : ALL_STAT_KEYS) {
      const value = r.f64(`stats.${name}`);
      if (!Number.isInteger(value) || value < 0) throw new JoinSnapshotError(`stats.${name} is ${value}, expected a count`);
      this.stats[name] = value;
    }
    const known = (what: string, name: string, index: number, names: readonly string[]): boolean => {
      if (index >= names.length) return false;
      if (names[index] !== name) throw new JoinSnapshotError(`${what} is ${JSON.stringify(name)}, but the state it follows has ${JSON.stringify(names[index])} there`);
      return true;
    };
    const groupCount = r.u32('group count');
    if (groupCount > this.maxGroups) throw new JoinSnapshotError(`${groupCount} groups, more than maxGroups ${this.maxGroups}`);
    if (groupCount < this.groupKeys.length) throw new JoinSnapshotError(`${groupCount} groups, fewer than the ${this.groupKeys.length} of the state it follows`);
    for (let g = 0; g < groupCount; g++) {
      const groupKey = r.str(`group ${g} key`, MAX_NAME_BYTES);
      if (!known(`group ${g} key`, groupKey, g, this.groupKeys)) {
        if (this.groupIndexByKey.has(groupKey)) throw new JoinSnapshotError(`group key ${JSON.stringify(groupKey)} appears twice`);
        this.groupIndexByKey.set(groupKey, g);
        this.groupKeys.push(groupKey);
        this.classNames.push([]);
        this.classIndexByName.push(new Map());
      }
      const classCount = r.u32(`group ${g} class count`);
      if (classCount > this.maxClassesPerGroup) {
        throw new JoinSnapshotError(`group ${g} has ${classCount} classes, more than maxClassesPerGroup ${this.maxClassesPerGroup}`);
      }
      const names = this.classNames[g];
      const index = this.classIndexByName[g];
      if (classCount < names.length) throw new JoinSnapshotError(`group ${g} has ${classCount} classes, fewer than the ${names.length} of the state it follows`);
      for (let c = 0; c < classCount; c++) {
        const name = r.str(`group ${g} class ${c}`, MAX_NAME_BYTES);
        if (known(`group ${g} class ${c}`, name, c, names)) continue;
        if (index.has(name)) throw new JoinSnapshotError(`group ${g} class ${JSON.stringify(name)} appears twice`);
        index.set(name, c);
        names.push(name);
      }
    }
    const segmentCount = r.u32('segment count');
    if (segmentCount > this.maxSegments) throw new JoinSnapshotError(`${segmentCount} segments, more than maxSegments ${this.maxSegments}`);
    if (segmentCount < this.segmentNames.length - 1) throw new JoinSnapshotError(`${segmentCount} segments, fewer than the state it follows`);
    for (let s = 1; s <= segmentCount; s++) {
      const name = r.str(`segment ${s}`, MAX_NAME_BYTES);
      if (known(`segment ${s}`, name, s, this.segmentNames)) continue;
      if (this.segmentCodeByName.has(name)) throw new JoinSnapshotError(`segment ${JSON.stringify(name)} appears twice`);
      this.segmentCodeByName.set(name, s);
      this.segmentNames.push(name);
    }
    if (!legacy) {
      const modelCount = r.u32('model count');
      if (modelCount > MAX_SCOPE) throw new JoinSnapshotError(`${modelCount} models, more than ${MAX_SCOPE}`);
      if (modelCount < this.modelNames.length - 1) throw new JoinSnapshotError(`${modelCount} models, fewer than the state it follows`);
      for (let m = 1; m <= modelCount; m++) {
        const name = r.str(`model ${m}`, MAX_NAME_BYTES);
        if (known(`model ${m}`, name, m, this.modelNames)) continue;
        if (this.modelScopeByName.has(name)) throw new JoinSnapshotError(`model ${JSON.stringify(name)} appears twice`);
        this.modelScopeByName.set(name, m);
        this.modelNames.push(name);
      }
    }
  }

  /** Writes an id as [u16 tag][u16 scope][bytes] (the journal of OrderedIdIndex uses the same form). */
  private static writeId(w: SnapshotWriter, index: OrderedIdIndex, slot: number): void {
    const tag = index.tagOf(slot);
    w.u16(tag & 0xffff);
    w.u16(tagScope(tag));
    const at = w.reserve(tagLength(tag));
    index.copyIdBytes(slot, w.bytes, at);
  }

  private writePendingEntry(w: SnapshotWriter, slot: number): void {
    PendingJoinTable.writeId(w, this.pending, slot);
    const r = slot * F64_STRIDE;
    const meta = this.pending.i32[slot * I32_STRIDE + P_META];
    w.f64(this.pending.f64[r + P_TS]);
    w.f64(this.pending.f64[r + P_OUTPUT]);
    w.f64(this.pending.f64[r + P_SCORE]);
    w.u16(meta & 0xffff);
    w.u16((meta >>> 16) & MAX_SEGMENT_CODE);
    w.u8(meta < 0 ? FLAG_OUTPUT_IS_CLASS : 0);
  }

  private writeEarlyEntry(w: SnapshotWriter, slot: number): void {
    PendingJoinTable.writeId(w, this.early, slot);
    const r = slot * F64_STRIDE;
    const labelString = this.eLabelString[slot];
    if (labelString === null) {
      w.u8(0);
      w.f64(this.early.f64[r + E_LABEL]);
    } else {
      w.u8(1);
      w.str(labelString);
    }
    w.f64(this.early.f64[r + E_LABEL_TS]);
    w.f64(this.early.f64[r + E_ARRIVED]);
  }

  /** Reads an id into this.key (legacy: no scope, the unknown model's). */
  private readId(r: SnapshotReader, bytes: Uint8Array, what: string, legacy: boolean): void {
    const tag = r.u16(`${what} id tag`);
    const scope = legacy ? LEGACY_SCOPE : r.u16(`${what} model`);
    if (scope >= this.modelNames.length) throw new JoinSnapshotError(`${what}: model ${scope} does not exist (${this.modelNames.length - 1} models)`);
    const length = tagLength(tag);
    const packed = (tag & PACKED_UUID_FLAG) !== 0;
    if (packed ? length !== 16 : length > this.maxIdBytes) {
      throw new JoinSnapshotError(`${what} id length ${length} at offset ${r.pos - 2} is invalid (maxIdBytes ${this.maxIdBytes})`);
    }
    const at = r.skip(length, `${what} id`);
    if (!packed) {
      const problem = checkWtf8(bytes, at, length);
      if (problem !== null) throw new JoinSnapshotError(`${what} id at offset ${at} is not valid text: ${problem}`);
    }
    this.key.setEncoded(bytes, at, tag, scope);
  }

  private readPendingEntry(r: SnapshotReader, bytes: Uint8Array, what: string, legacy: boolean): void {
    this.readId(r, bytes, what, legacy);
    if (this.pending.find(this.key) !== -1) throw new JoinSnapshotError(`${what}: id appears twice`);
    if (this.pending.size >= this.capacity) throw new JoinSnapshotError(`${what}: more pending entries than capacity ${this.capacity}`);
    const ts = r.f64(`${what} ts`);
    const output = r.f64(`${what} output`);
    const score = r.f64(`${what} score`);
    const group = r.u16(`${what} group`);
    const segment = r.u16(`${what} segment`);
    const flags = r.u8(`${what} flags`);
    const groupCount = this.groupKeys.length;
    const segmentCount = this.segmentNames.length - 1;
    if (!Number.isFinite(ts)) throw new JoinSnapshotError(`${what}: ts ${ts} is not finite`);
    if (group >= groupCount) throw new JoinSnapshotError(`${what}: group ${group} does not exist (${groupCount} groups)`);
    if (segment > segmentCount) throw new JoinSnapshotError(`${what}: segment ${segment} does not exist (${segmentCount} segments)`);
    if (flags > FLAG_OUTPUT_IS_CLASS) throw new JoinSnapshotError(`${what}: unknown flags ${flags}`);
    if (flags === FLAG_OUTPUT_IS_CLASS && !(Number.isInteger(output) && output >= 0 && output < this.classNames[group].length)) {
      throw new JoinSnapshotError(`${what}: class ${output} does not exist in group ${group}`);
    }
    if (this.key.scope === LEGACY_SCOPE) this.legacyLive++;
    const slot = this.pending.insert(this.key);
    this.writePending(slot, ts, output, score, group, segment, flags);
  }

  private readEarlyEntry(r: SnapshotReader, bytes: Uint8Array, what: string, legacy: boolean): void {
    this.readId(r, bytes, what, legacy);
    const key = this.key;
    if (this.early.find(key) !== -1) throw new JoinSnapshotError(`${what}: id appears twice`);
    if (this.pending.find(key) !== -1) throw new JoinSnapshotError(`${what}: id is also pending`);
    if (this.early.size >= this.earlyCapacity) throw new JoinSnapshotError(`${what}: more early labels than earlyCapacity ${this.earlyCapacity}`);
    const kind = r.u8(`${what} kind`);
    let label = NaN;
    let labelString: string | null = null;
    if (kind === 0) label = r.f64(`${what} value`);
    else if (kind === 1) labelString = r.str(`${what} value`, MAX_NAME_BYTES);
    else throw new JoinSnapshotError(`${what}: unknown label kind ${kind}`);
    const labelTs = r.f64(`${what} labelTs`);
    const arrivedAt = r.f64(`${what} arrival`);
    if (key.scope === LEGACY_SCOPE) this.legacyLive++;
    const slot = this.early.insert(key);
    this.writeEarly(slot, labelString ?? label, labelTs, arrivedAt);
  }

  // ---------------------------------------------------------------- internals

  private setLastLabel(group: number, label: number, labelString: string | null, labelTs: number): void {
    this.lastLabel = label;
    this.lastLabelString = labelString;
    this.lastLabelClass = labelString === null ? -1 : this.classIndexOf(group, labelString);
    this.lastLabelTs = labelTs;
  }

  private removeEarly(slot: number): void {
    this.eLabelString[slot] = null; // let the string go
    if (this.legacyLive > 0 && tagScope(this.early.tagOf(slot)) === LEGACY_SCOPE) this.legacyLive--;
    this.early.remove(slot);
  }

  private removePending(slot: number): void {
    if (this.legacyLive > 0 && tagScope(this.pending.tagOf(slot)) === LEGACY_SCOPE) this.legacyLive--;
    this.pending.remove(slot);
  }

  /**
   * The slot of the current key in `index`; while entries restored from format 1 (model unknown)
   * are live, a miss falls back to them. The key keeps its own scope afterwards.
   */
  private findIn(index: OrderedIdIndex): number {
    const key = this.key;
    const slot = index.find(key);
    if (slot !== -1 || this.legacyLive === 0 || key.scope === LEGACY_SCOPE) return slot;
    const scope = key.scope;
    key.setScope(LEGACY_SCOPE);
    const legacySlot = index.find(key);
    key.setScope(scope);
    return legacySlot;
  }

  /** Sets the key for a read-only lookup (no model is interned); false when it cannot exist. */
  private setLookupKey(id: string, model: string): boolean {
    const scope = this.modelScopeByName.get(model);
    if (scope === undefined && this.legacyLive === 0) return false;
    return this.key.set(id, scope ?? LEGACY_SCOPE);
  }

  /** Scope of a model, interning it; -1 when MAX_SCOPE models are known already. */
  private internModel(model: string): number {
    if (model === this.cachedModel && this.cachedScope >= 0) return this.cachedScope;
    let scope = this.modelScopeByName.get(model);
    if (scope === undefined) {
      if (this.modelNames.length > MAX_SCOPE) return -1;
      scope = this.modelNames.length;
      this.modelNames.push(model);
      this.modelScopeByName.set(model, scope);
    }
    this.cachedModel = model;
    this.cachedScope = scope;
    return scope;
  }

  /** Group index of a key, interning it; -1 when maxGroups groups already exist. */
  private internGroup(groupKey: string): number {
    if (groupKey === this.cachedGroupKey && this.cachedGroup >= 0) return this.cachedGroup;
    let group = this.groupIndexByKey.get(groupKey);
    if (group === undefined) {
      if (this.groupKeys.length >= this.maxGroups) return -1;
      group = this.groupKeys.length;
      this.groupKeys.push(groupKey);
      this.groupIndexByKey.set(groupKey, group);
      this.classNames.push([]);
      this.classIndexByName.push(new Map());
    }
    this.cachedGroupKey = groupKey;
    this.cachedGroup = group;
    return group;
  }

  private internClass(group: number, name: string): number {
    const index = this.classIndexByName[group];
    const known = index.get(name);
    if (known !== undefined) return known;
    const names = this.classNames[group];
    // The last free place is kept for OTHER_CLASS, so the table never exceeds its cap.
    const interned = names.length < this.maxClassesPerGroup - 1 ? name : OTHER_CLASS;
    const existing = index.get(interned);
    if (existing !== undefined) return existing;
    names.push(interned);
    index.set(interned, names.length - 1);
    return names.length - 1;
  }

  private internSegment(name: string): number {
    const known = this.segmentCodeByName.get(name);
    if (known !== undefined) return known;
    const interned = this.segmentNames.length - 1 < this.maxSegments - 1 ? name : OTHER_SEGMENT;
    const existing = this.segmentCodeByName.get(interned);
    if (existing !== undefined) return existing;
    this.segmentNames.push(interned);
    this.segmentCodeByName.set(interned, this.segmentNames.length - 1);
    return this.segmentNames.length - 1;
  }

  /** Fills a pending record (after insert, which may have replaced the record views). */
  private writePending(slot: number, ts: number, output: number, score: number, group: number, segment: number, flags: number): void {
    const f64 = this.pending.f64;
    const r = slot * F64_STRIDE;
    f64[r + P_TS] = ts;
    f64[r + P_OUTPUT] = output;
    f64[r + P_SCORE] = score;
    this.pending.i32[slot * I32_STRIDE + P_META] = group | (segment << 16) | (flags === FLAG_OUTPUT_IS_CLASS ? OUTPUT_IS_CLASS_BIT : 0);
  }

  /** Fills an early-label record (after insert). */
  private writeEarly(slot: number, label: number | string, labelTs: number, arrivedAt: number): void {
    const f64 = this.early.f64;
    const r = slot * F64_STRIDE;
    // Keep the string column as long as the records (it grows with them, never beyond earlyCapacity).
    while (this.eLabelString.length < this.early.slotCapacity) this.eLabelString.push(null);
    if (typeof label === 'string') {
      f64[r + E_LABEL] = NaN;
      this.eLabelString[slot] = label;
    } else {
      f64[r + E_LABEL] = label;
      this.eLabelString[slot] = null;
    }
    f64[r + E_LABEL_TS] = labelTs;
    f64[r + E_ARRIVED] = arrivedAt;
  }
}
