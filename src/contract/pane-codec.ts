/**
 * The one codec of the pane changelog: `encodePaneMessage` is what a worker publishes, and
 * `decodePaneMessage` is the only way back. Decoding checks every field's type and shape against
 * the wire types of pane-wire.ts and throws a PaneMessageError naming the field path, so a reader
 * never folds in a message it has not checked. What needs the pane layout or the sketch format
 * (summary lengths and headers, segment widths, LogHistogram bytes) is checked where the wire
 * state becomes pane objects (src/window/pane.ts), still before anything changes.
 */
import { encode, decode } from '@msgpack/msgpack';
import type { CategoryCounterJSON } from '../sketch/category-counter.ts';
import { MsgpackReader, UNSUPPORTED } from './msgpack-reader.ts';
import type { ExactValuesWire, FeatureWire, PaneInputWire, PaneMessage, PaneOutcomeWire, SummaryWire } from './pane-wire.ts';

/** A pane message or state that does not have the wire shape; `field` is the path of the first bad field. */
export class PaneMessageError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`malformed pane message: ${field}: ${problem}`);
    this.name = 'PaneMessageError';
  }
}

/**
 * Bounds on what one message may hold. A pane of one partition is capped far below these by the
 * worker's limits (features, categories, segment keys and values); they only stop a foreign or
 * corrupted message from making the reader allocate without bound.
 */
export const PANE_WIRE_BOUNDS = {
  /** Bytes of one encoded message. */
  messageBytes: 16 << 20,
  /** Characters of a model, version, feature, category, segment key or value. */
  nameLength: 4096,
  /** Cells of one summary array (score histograms: a few hundred). */
  summaryCells: 1 << 16,
  /** Entries of one map (features, segment keys, segment values, detectors, categories). */
  entries: 1 << 16,
  /** Bytes of one sketch. */
  sketchBytes: 4 << 20,
} as const;

export function encodePaneMessage(message: PaneMessage): Uint8Array {
  return encode(message);
}

/**
 * Decodes and checks one message. Throws PaneMessageError for anything that is not a PaneMessage.
 * Byte arrays in the result are views into `bytes`: pass a copy if the caller reuses its buffer.
 * Messages of older workers without `final` or `detections` read as not final / no detections, and
 * without `worker`/`epoch` as unfenced (no such keys in the result). `reader`: a reader kept by a
 * consumer of many messages (its caches of keys and names are what makes it fast); what it does not
 * read, @msgpack/msgpack decodes or refuses.
 */
export function decodePaneMessage(bytes: Uint8Array, reader: MsgpackReader = new MsgpackReader()): CheckedPaneMessage {
  if (!(bytes instanceof Uint8Array)) throw new PaneMessageError('(message)', `expected bytes, got ${describe(bytes)}`);
  if (bytes.length > PANE_WIRE_BOUNDS.messageBytes) {
    throw new PaneMessageError('(message)', `${bytes.length} bytes, more than ${PANE_WIRE_BOUNDS.messageBytes}`);
  }
  let raw = reader.read(bytes, 'state');
  if (raw === UNSUPPORTED) {
    try {
      raw = decode(bytes);
    } catch (error) {
      throw new PaneMessageError('(message)', `not MessagePack: ${(error as Error).message}`);
    }
    return checkPaneMessage(raw);
  }
  const message = checkPaneMessage(raw);
  return reader.valueStart >= 0 ? CheckedPaneMessage.withStateBytes(message, bytes.subarray(reader.valueStart, reader.valueEnd)) : message;
}

/**
 * A message checkPaneMessage made: every field has the wire shape. A reader given one (the
 * changelog's decodePaneMessage) does not check it again; a plain object, or a copy of one of
 * these (a spread is a plain object), is checked. Checking twice was ~6 % of applying a message.
 */
export class CheckedPaneMessage implements PaneMessage {
  declare readonly worker?: string;
  declare readonly epoch?: number;
  #stateBytes: Uint8Array | null = null;
  constructor(
    readonly model: string,
    readonly version: string,
    readonly partition: number,
    readonly paneStart: number,
    readonly paneMs: number,
    readonly part: 'in' | 'out',
    readonly seq: number,
    readonly final: boolean,
    fencing: { worker: string; epoch: number } | null,
    readonly state: PaneInputWire | PaneOutcomeWire,
  ) {
    // absent, not undefined, without fencing: as the wire had it
    if (fencing !== null) Object.assign(this, fencing);
  }

  /**
   * The state's MessagePack as the message carried it (a view into the message's bytes), when
   * decodePaneMessage's reader noted where it lay; else null. A reader that holds the state packed
   * keeps these bytes instead of encoding the state again (they passed this check; what the check
   * fills in, an older outcome state's missing `detections`, the pane layer reads as none too).
   */
  stateBytes(): Uint8Array | null {
    return this.#stateBytes;
  }

  /** For decodePaneMessage: `bytes` are this message's state as it came. */
  static withStateBytes(message: CheckedPaneMessage, bytes: Uint8Array): CheckedPaneMessage {
    message.#stateBytes = bytes;
    return message;
  }
}

/** Checks a decoded value against the PaneMessage shape; returns it typed (missing `final` read as false). */
export function checkPaneMessage(raw: unknown): CheckedPaneMessage {
  if (raw instanceof CheckedPaneMessage) return raw;
  const m = record(raw, '(message)');
  const part = m.part;
  if (part !== 'in' && part !== 'out') throw new PaneMessageError('part', `expected 'in' or 'out', got ${describe(part)}`);
  const paneMs = integer(m.paneMs, 'paneMs', 1);
  const paneStart = integer(m.paneStart, 'paneStart', Number.MIN_SAFE_INTEGER);
  if (paneStart % paneMs !== 0) throw new PaneMessageError('paneStart', `${paneStart} is not a multiple of paneMs ${paneMs}`);
  if (m.final !== undefined && typeof m.final !== 'boolean') throw new PaneMessageError('final', `expected a boolean, got ${describe(m.final)}`);
  // worker and epoch come together: one without the other cannot be fenced
  if ((m.worker === undefined) !== (m.epoch === undefined)) {
    throw new PaneMessageError(m.worker === undefined ? 'worker' : 'epoch', 'worker and epoch must both be present or both absent');
  }
  const fencing = m.worker === undefined ? null : { worker: name(m.worker, 'worker'), epoch: integer(m.epoch, 'epoch', 1) };
  return new CheckedPaneMessage(
    name(m.model, 'model'),
    name(m.version, 'version'),
    integer(m.partition, 'partition', 0),
    paneStart,
    paneMs,
    part,
    integer(m.seq, 'seq', 0),
    m.final === true,
    fencing,
    part === 'in' ? checkPaneInputWire(m.state, 'state') : checkPaneOutcomeWire(m.state, 'state'),
  );
}

/** Checks an input state; fields are checked in declaration order, so the first bad one is named. */
export function checkPaneInputWire(raw: unknown, path: string): PaneInputWire {
  const s = record(raw, path);
  return {
    count: count(s.count, `${path}.count`),
    errors: count(s.errors, `${path}.errors`),
    late: count(s.late, `${path}.late`),
    dropped: count(s.dropped, `${path}.dropped`),
    scores: s.scores === null ? null : summary(s.scores, `${path}.scores`),
    latency: sketch(s.latency, `${path}.latency`),
    outputNumeric: s.outputNumeric === null ? null : sketch(s.outputNumeric, `${path}.outputNumeric`),
    outputCategories: s.outputCategories === null ? null : categories(s.outputCategories, `${path}.outputCategories`),
    ...(s.outputExact === undefined ? {} : { outputExact: s.outputExact === null ? null : exactValues(s.outputExact, `${path}.outputExact`) }),
    features: features(s.features, `${path}.features`),
    segments: segments(s.segments, `${path}.segments`),
    // counts by feature name, checked as the detections' counts by kind are; absent from older workers and when none
    ...(s.invalidFeatures === undefined ? {} : { invalidFeatures: detections(s.invalidFeatures, `${path}.invalidFeatures`) }),
    ...(s.segmentFeatures === undefined ? {} : { segmentFeatures: segmentFeatures(s.segmentFeatures, `${path}.segmentFeatures`) }),
    ...(s.multivariate === undefined ? {} : { multivariate: multivariateSums(s.multivariate, `${path}.multivariate`) }),
  };
}

/** Reconstruction error sums per reference id: a few cells of finite sums each. */
function multivariateSums(value: unknown, path: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [reference, cells] of entries(value, path)) out[reference] = numbers(cells, `${path}[${JSON.stringify(reference)}]`, PANE_WIRE_BOUNDS.summaryCells, count);
  return out;
}

/** Checks an outcome state, like checkPaneInputWire; a missing `detections` (older workers) reads as none. */
export function checkPaneOutcomeWire(raw: unknown, path: string): PaneOutcomeWire {
  const s = record(raw, path);
  return {
    joined: count(s.joined, `${path}.joined`),
    early: count(s.early, `${path}.early`),
    expired: count(s.expired, `${path}.expired`),
    correct: count(s.correct, `${path}.correct`),
    binary: s.binary === null ? null : summary(s.binary, `${path}.binary`),
    regression: s.regression === null ? null : summary(s.regression, `${path}.regression`),
    confusion: s.confusion === null ? null : categories(s.confusion, `${path}.confusion`),
    labelDelay: sketch(s.labelDelay, `${path}.labelDelay`),
    segments: segments(s.segments, `${path}.segments`),
    detections: s.detections === undefined ? {} : detections(s.detections, `${path}.detections`),
  };
}

// ---------------------------------------------------------------------------------------------
// Field checks: each returns the value typed or throws naming `path`.

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return `a ${typeof value}`;
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new PaneMessageError(path, `expected an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function entries(value: unknown, path: string): Array<[string, unknown]> {
  const out = Object.entries(record(value, path));
  if (out.length > PANE_WIRE_BOUNDS.entries) throw new PaneMessageError(path, `${out.length} entries, more than ${PANE_WIRE_BOUNDS.entries}`);
  for (const [key] of out) {
    if (key.length > PANE_WIRE_BOUNDS.nameLength) throw new PaneMessageError(path, `a key of ${key.length} characters, more than ${PANE_WIRE_BOUNDS.nameLength}`);
    // a worker cannot publish this key (its wire objects are plain objects), and copying it would set a prototype
    if (key === '__proto__') throw new PaneMessageError(path, 'a key named __proto__');
  }
  return out;
}

function name(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new PaneMessageError(path, `expected a non-empty string, got ${describe(value)}`);
  if (value.length > PANE_WIRE_BOUNDS.nameLength) throw new PaneMessageError(path, `${value.length} characters, more than ${PANE_WIRE_BOUNDS.nameLength}`);
  return value;
}

function integer(value: unknown, path: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new PaneMessageError(path, `expected an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** A sum of events: finite and not negative (panes only ever add). */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value < Infinity;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function count(value: unknown, path: string): number {
  if (!isCount(value)) throw new PaneMessageError(path, `expected a finite count >= 0, got ${describe(value)}`);
  return value;
}

function finite(value: unknown, path: string): number {
  if (!isFiniteNumber(value)) throw new PaneMessageError(path, `expected a finite number, got ${describe(value)}`);
  return value;
}

function sketch(value: unknown, path: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new PaneMessageError(path, `expected sketch bytes, got ${describe(value)}`);
  if (value.length > PANE_WIRE_BOUNDS.sketchBytes) throw new PaneMessageError(path, `${value.length} bytes, more than ${PANE_WIRE_BOUNDS.sketchBytes}`);
  return value;
}

function numbers(value: unknown, path: string, max: number, check: (v: unknown, path: string) => number): number[] {
  if (!Array.isArray(value)) throw new PaneMessageError(path, `expected an array of numbers, got ${describe(value)}`);
  if (value.length > max) throw new PaneMessageError(path, `${value.length} cells, more than ${max}`);
  // Lists of finite numbers and of counts (a message's exact values and their counts, most of its
  // cells) are checked in a loop of their own; the check is called per cell only to name a refusal
  // (a call per cell was ~2 % of applying a message at 16 partitions)
  if ((check === finite && allFinite(value)) || (check === count && allCounts(value))) return value as number[];
  for (let k = 0; k < value.length; k++) {
    // the cell's path is formatted only for its error (one per cell was most of what checking a
    // pane message allocated): the check runs on the array's path, and a refusal is re-issued on the cell's
    try {
      check(value[k], path);
    } catch (error) {
      if (error instanceof PaneMessageError && error.field === path) throw new PaneMessageError(`${path}[${k}]`, error.problem);
      throw error;
    }
  }
  return value as number[];
}

// A loop each, the test called by name (inlined): Array.prototype.every, or one loop given the
// test, measured ~10 % slower decoding a message
function allFinite(values: readonly unknown[]): boolean {
  for (let k = 0; k < values.length; k++) if (!isFiniteNumber(values[k])) return false;
  return true;
}

function allCounts(values: readonly unknown[]): boolean {
  for (let k = 0; k < values.length; k++) if (!isCount(values[k])) return false;
  return true;
}

function summary(value: unknown, path: string): SummaryWire {
  if (Array.isArray(value)) return numbers(value, path, PANE_WIRE_BOUNDS.summaryCells, finite);
  const s = record(value, path);
  const n = s.n;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > PANE_WIRE_BOUNDS.summaryCells) {
    throw new PaneMessageError(`${path}.n`, `expected a length in [1, ${PANE_WIRE_BOUNDS.summaryCells}], got ${describe(n)}`);
  }
  const i = numbers(s.i, `${path}.i`, n, (v, at) => integer(v, at, 0));
  const v = numbers(s.v, `${path}.v`, n, finite);
  if (i.length !== v.length) throw new PaneMessageError(`${path}.v`, `${v.length} values for ${i.length} indexes`);
  for (let k = 0; k < i.length; k++) {
    // strictly ascending, as summaryToWire writes them: no cell is set twice
    if (i[k] >= n) throw new PaneMessageError(`${path}.i[${k}]`, `index ${i[k]} out of range for length ${n}`);
    if (k > 0 && i[k] <= i[k - 1]) throw new PaneMessageError(`${path}.i[${k}]`, `index ${i[k]} does not follow ${i[k - 1]}`);
  }
  return { n, i, v };
}

function categories(value: unknown, path: string): CategoryCounterJSON {
  const c = record(value, path);
  const cap = c.cap;
  if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1 || cap > PANE_WIRE_BOUNDS.entries) {
    throw new PaneMessageError(`${path}.cap`, `expected an integer in [1, ${PANE_WIRE_BOUNDS.entries}], got ${describe(cap)}`);
  }
  // at most cap categories and '__other__'
  const counts = numbers(c.counts, `${path}.counts`, cap + 1, (v, at) => {
    if (typeof v !== 'number' || !(v > 0 && v < Infinity)) throw new PaneMessageError(at, `expected a positive finite weight, got ${describe(v)}`);
    return v;
  });
  const keys = c.keys;
  if (!Array.isArray(keys) || keys.length !== counts.length) {
    throw new PaneMessageError(`${path}.keys`, `expected an array of ${counts.length} strings (one per count), got ${describe(keys)}`);
  }
  for (let k = 0; k < keys.length; k++) {
    const key: unknown = keys[k];
    if (typeof key !== 'string' || key.length > PANE_WIRE_BOUNDS.nameLength) throw new PaneMessageError(`${path}.keys[${k}]`, `expected a category name, got ${describe(key)}`);
  }
  return { cap, keys: keys as string[], counts };
}

/**
 * A state's features, checked where they are: the object and each feature's record are the
 * decoded ones (a key other than n, c, z, x is left alone, and nothing reads it), so checking
 * allocates nothing per feature; making a copy of each was ~6 % of what applying a message
 * allocated. A key is named (JSON.stringify) only in a refusal.
 */
function features(value: unknown, path: string): Record<string, FeatureWire> {
  const all = record(value, path);
  let seen = 0;
  for (const feature in all) {
    if (!Object.hasOwn(all, feature)) continue;
    if (++seen > PANE_WIRE_BOUNDS.entries) throw new PaneMessageError(path, `more than ${PANE_WIRE_BOUNDS.entries} entries`);
    if (feature.length > PANE_WIRE_BOUNDS.nameLength) throw new PaneMessageError(path, `a key of ${feature.length} characters, more than ${PANE_WIRE_BOUNDS.nameLength}`);
    // a decoder refuses this key (a worker's wire objects are plain objects); an object made in memory may have it
    if (feature === '__proto__') throw new PaneMessageError(path, 'a key named __proto__');
    try {
      const f = record(all[feature], '');
      if (f.n === undefined && f.r !== undefined) listedSketch(f.r, f.x, '');
      else if (f.n !== null) sketch(f.n, '.n');
      if (f.c !== null) categories(f.c, '.c');
      count(f.z, '.z');
      if (f.x !== undefined && f.x !== null) checkExactValues(f.x, '.x');
    } catch (error) {
      if (error instanceof PaneMessageError) throw new PaneMessageError(`${path}[${JSON.stringify(feature)}]${error.field}`, error.problem);
      throw error;
    }
  }
  return all as Record<string, FeatureWire>;
}

/**
 * A sketch sent as the values it holds (FeatureWire.r): its center and sum, and the settings that
 * are not the defaults; the exact counts must list every value (`o` 0).
 */
function listedSketch(r: unknown, x: unknown, path: string): void {
  if (!Array.isArray(r) || (r.length !== 2 && r.length !== 5)) throw new PaneMessageError(`${path}.r`, `expected [center, sum] or [center, sum, relativeAccuracy, minIndexable, maxBuckets], got ${describe(r)}`);
  for (let k = 0; k < r.length; k++) if (!isFiniteNumber(r[k])) throw new PaneMessageError(`${path}.r[${k}]`, `expected a finite number, got ${describe(r[k])}`);
  if (r.length === 5) {
    const [, , accuracy, minIndexable, maxBuckets] = r as number[];
    if (!(accuracy > 0 && accuracy < 1)) throw new PaneMessageError(`${path}.r[2]`, `expected a relative accuracy in (0, 1), got ${accuracy}`);
    if (!(minIndexable > 0)) throw new PaneMessageError(`${path}.r[3]`, `expected a zero threshold > 0, got ${minIndexable}`);
    if (!(Number.isInteger(maxBuckets) && maxBuckets >= 2)) throw new PaneMessageError(`${path}.r[4]`, `expected an integer maxBuckets >= 2, got ${maxBuckets}`);
  }
  if (x === undefined || x === null) throw new PaneMessageError(`${path}.x`, 'a sketch sent as its values (r) needs the exact counts that list them');
  if ((x as { o?: unknown }).o !== 0) throw new PaneMessageError(`${path}.x.o`, `a sketch sent as its values (r) needs every value listed (o 0), got ${describe((x as { o?: unknown }).o)}`);
}

/** Exact value counts: distinct finite values, one finite count each, and a count of the rest. */
function exactValues(value: unknown, path: string): ExactValuesWire {
  const x = checkExactValues(value, path);
  return x.f === undefined ? { v: x.v, c: x.c, o: x.o } : { v: x.v, c: x.c, o: x.o, f: x.f };
}

/**
 * `value` checked as exact values, returned as it is: a feature's are kept in the checked state
 * (a copy of each feature's was 6 % of what bench pane-apply allocated).
 */
function checkExactValues(value: unknown, path: string): ExactValuesWire {
  const x = record(value, path);
  const v = numbers(x.v, `${path}.v`, PANE_WIRE_BOUNDS.entries, finite);
  const c = numbers(x.c, `${path}.c`, PANE_WIRE_BOUNDS.entries, count);
  if (v.length !== c.length) throw new PaneMessageError(`${path}.c`, `expected ${v.length} counts (one per value), got ${c.length}`);
  if (repeats(v)) throw new PaneMessageError(`${path}.v`, 'values repeat: each value must be listed once');
  const o = count(x.o, `${path}.o`);
  if (x.f === undefined) return x as unknown as ExactValuesWire;
  const f = count(x.f, `${path}.f`);
  if (f > o) throw new PaneMessageError(`${path}.f`, `expected at most the ${o} values not counted one by one, got ${f}`);
  return x as unknown as ExactValuesWire;
}

/** Whether a value is listed twice (exact values are a few per feature: pairs, not a Set per feature and message). */
function repeats(values: readonly number[]): boolean {
  if (values.length > 64) return new Set(values).size !== values.length;
  for (let i = 1; i < values.length; i++) for (let j = 0; j < i; j++) if (values[i] === values[j]) return true;
  return false;
}

function detections(value: unknown, path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, n] of entries(value, path)) out[kind] = count(n, `${path}[${JSON.stringify(kind)}]`);
  return out;
}

function segmentFeatures(value: unknown, path: string): Record<string, Record<string, Record<string, FeatureWire>>> {
  const out: Record<string, Record<string, Record<string, FeatureWire>>> = {};
  for (const [key, byValue] of entries(value, path)) {
    const values: Record<string, Record<string, FeatureWire>> = {};
    const at = `${path}[${JSON.stringify(key)}]`;
    for (const [segmentValue, raw] of entries(byValue, at)) values[segmentValue] = features(raw, `${at}[${JSON.stringify(segmentValue)}]`);
    out[key] = values;
  }
  return out;
}

function segments(value: unknown, path: string): Record<string, Record<string, number[]>> {
  const out: Record<string, Record<string, number[]>> = {};
  for (const [key, byValue] of entries(value, path)) {
    const values: Record<string, number[]> = {};
    const at = `${path}[${JSON.stringify(key)}]`;
    for (const [segmentValue, counts] of entries(byValue, at)) {
      values[segmentValue] = numbers(counts, `${at}[${JSON.stringify(segmentValue)}]`, 16, count);
    }
    out[key] = values;
  }
  return out;
}
