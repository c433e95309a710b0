/**
 * Validation of decoded events against the wire contract (docs/wire-format.md).
 *
 * The validators check the decoded value in place and hand it back as the event: no copy, no
 * intermediate objects on the happy path. The only writes are the ones the contract implies:
 * `version` defaults to 'default', and optional fields sent as null (Python's None) become
 * undefined so downstream code can test `=== undefined` alone. Unknown fields are left on the
 * object untouched and ignored by every stage.
 */
import { MODEL_NAME_PATTERN } from '../cluster/subjects.ts';
import { VERSION_MAX_LENGTH } from '../contract/limits.ts';
import type { DecodeResult, LabelEvent, PredictionEvent, RejectReason } from './types.ts';
import { INVALID_FEATURES } from './types.ts';

/** Limits of the wire format. Changing one changes the contract: update docs/wire-format.md. */
export const WIRE_LIMITS = {
  /** Payload bytes accepted by default (checked before decoding). */
  maxBytes: 64 * 1024,
  /** Features per prediction accepted by default. */
  maxFeatures: 256,
  /** Characters (UTF-16 code units) in an id. */
  maxIdLength: 256,
  /** Characters in a version. */
  maxVersionLength: VERSION_MAX_LENGTH,
  /** Numbers in an array output (class probabilities, embeddings). */
  maxOutputLength: 1024,
  /** Characters in a feature name or segment name. */
  maxNameLength: 128,
  /** Characters in a categorical value: string output, string feature, segment value, string label. */
  maxCategoryLength: 256,
  /** Entries in `segment`. */
  maxSegments: 32,
} as const;

export const DEFAULT_VERSION = 'default';

/** A rejection: the reason is a metric label, the detail names the field and what was wrong. */
export interface Rejection {
  ok: false;
  reason: RejectReason;
  detail: string;
}

export function reject(reason: RejectReason, detail: string): Rejection {
  return { ok: false, reason, detail };
}

/** Short, safe description of a value for a rejection detail (never the whole value). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'number':
      return Number.isNaN(value) ? 'NaN' : `number ${String(value)}`;
    case 'string':
      return value.length > 40 ? `string "${value.slice(0, 40)}…" (${value.length} chars)` : `string ${JSON.stringify(value)}`;
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'bigint':
      return `bigint ${String(value)}`;
    case 'object':
      if (Array.isArray(value)) return `array of length ${value.length}`;
      if (value instanceof Uint8Array) return `binary (${value.byteLength} bytes)`;
      if (value instanceof Date) return 'a MessagePack timestamp';
      return 'object';
    default:
      return typeof value;
  }
}

/** A map decoded from MessagePack or JSON (or a literal an SDK user wrote). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export interface ValidateOptions {
  /** Features accepted per prediction (default WIRE_LIMITS.maxFeatures). */
  maxFeatures?: number;
  /** When set, an event whose model differs is rejected with 'model_mismatch' (the subject's model). */
  expectedModel?: string;
}

function checkId(value: unknown): Rejection | null {
  if (typeof value !== 'string') {
    if (value === undefined) return reject('missing_field', "field 'id' is missing");
    return reject('wrong_type', `field 'id': expected a string, got ${describeValue(value)}`);
  }
  if (value.length === 0) return reject('invalid_value', "field 'id': expected a non-empty string, got an empty string");
  if (value.length > WIRE_LIMITS.maxIdLength) {
    return reject('invalid_value', `field 'id': expected at most ${WIRE_LIMITS.maxIdLength} characters, got ${value.length}`);
  }
  return null;
}

function checkModel(value: unknown, expectedModel: string | undefined): Rejection | null {
  if (typeof value !== 'string') {
    if (value === undefined) return reject('missing_field', "field 'model' is missing");
    return reject('wrong_type', `field 'model': expected a string, got ${describeValue(value)}`);
  }
  if (!MODEL_NAME_PATTERN.test(value)) {
    return reject(
      'invalid_value',
      `field 'model': expected 1-128 letters, digits, '_' or '-' (it is a subject token), got ${describeValue(value)}`,
    );
  }
  if (expectedModel !== undefined && value !== expectedModel) {
    return reject('model_mismatch', `field 'model' is ${JSON.stringify(value)} but the subject names model ${JSON.stringify(expectedModel)}`);
  }
  return null;
}

function checkTs(value: unknown): Rejection | null {
  if (typeof value !== 'number') {
    if (value === undefined) return reject('missing_field', "field 'ts' is missing");
    return reject('wrong_type', `field 'ts': expected a finite number (epoch milliseconds), got ${describeValue(value)}`);
  }
  if (!Number.isFinite(value)) return reject('non_finite', `field 'ts': expected a finite number, got ${describeValue(value)}`);
  return null;
}

/** A required or optional finite number; `field` is the name used in the detail. */
function checkFiniteNumber(value: unknown, field: string): Rejection | null {
  if (typeof value !== 'number') return reject('wrong_type', `field '${field}': expected a finite number, got ${describeValue(value)}`);
  if (!Number.isFinite(value)) return reject('non_finite', `field '${field}': expected a finite number, got ${describeValue(value)}`);
  return null;
}

function checkCategory(value: string, field: string): Rejection | null {
  if (value.length > WIRE_LIMITS.maxCategoryLength) {
    return reject('invalid_value', `field '${field}': expected at most ${WIRE_LIMITS.maxCategoryLength} characters, got ${value.length}`);
  }
  return null;
}

function checkOutput(value: unknown): Rejection | null {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? null : reject('non_finite', `field 'output': expected a finite number, got ${describeValue(value)}`);
  }
  if (typeof value === 'string') return checkCategory(value, 'output');
  if (Array.isArray(value)) {
    const length = value.length;
    if (length === 0 || length > WIRE_LIMITS.maxOutputLength) {
      return reject(
        'invalid_value',
        `field 'output': expected an array of 1 to ${WIRE_LIMITS.maxOutputLength} numbers, got ${length} elements`,
      );
    }
    for (let i = 0; i < length; i++) {
      const element: unknown = value[i];
      if (typeof element !== 'number' || !Number.isFinite(element)) return checkFiniteNumber(element, `output[${i}]`);
    }
    return null;
  }
  if (value === undefined) return reject('missing_field', "field 'output' is missing");
  return reject('wrong_type', `field 'output': expected a number, a string or an array of numbers, got ${describeValue(value)}`);
}

/**
 * Checks the features in place. A feature whose value no feature can hold (a boolean, an array, a
 * map, binary, a timestamp) does not reject the event when `invalid` is given (the worker): it is
 * taken out and named there (the event's INVALID_FEATURES), so the other features and the
 * prediction still count. Without it (a publisher checking its own event) it rejects as wrong_type.
 */
function checkFeatures(value: unknown, maxFeatures: number, invalid: string[] | null): Rejection | null {
  if (!isPlainObject(value)) {
    return reject('wrong_type', `field 'features': expected a map of name to number, string or null, got ${describeValue(value)}`);
  }
  let count = 0;
  for (const name in value) {
    count++;
    if (name.length > WIRE_LIMITS.maxNameLength) {
      return reject('invalid_value', `field 'features': feature name ${describeValue(name)} is longer than ${WIRE_LIMITS.maxNameLength} characters`);
    }
    const feature = value[name];
    if (typeof feature === 'number') {
      if (!Number.isFinite(feature)) return reject('non_finite', `field 'features.${name}': expected a finite number, got ${describeValue(feature)}`);
    } else if (typeof feature === 'string') {
      if (feature.length > WIRE_LIMITS.maxCategoryLength) return checkCategory(feature, `features.${name}`);
    } else if (feature !== null) {
      if (invalid === null) return reject('wrong_type', `field 'features.${name}': expected a number, a string or null, got ${describeValue(feature)}`);
      // deleting the property being visited is safe in for-in
      delete value[name];
      invalid.push(name);
    }
  }
  if (count > maxFeatures) {
    return reject('invalid_value', `field 'features': at most ${maxFeatures} features are accepted, got ${count}`);
  }
  return null;
}

function checkSegment(value: unknown): Rejection | null {
  if (!isPlainObject(value)) {
    return reject('wrong_type', `field 'segment': expected a map of name to string, got ${describeValue(value)}`);
  }
  let count = 0;
  for (const name in value) {
    count++;
    if (name.length > WIRE_LIMITS.maxNameLength) {
      return reject('invalid_value', `field 'segment': segment name ${describeValue(name)} is longer than ${WIRE_LIMITS.maxNameLength} characters`);
    }
    const segmentValue = value[name];
    if (typeof segmentValue !== 'string') {
      return reject('wrong_type', `field 'segment.${name}': expected a string, got ${describeValue(segmentValue)}`);
    }
    if (segmentValue.length > WIRE_LIMITS.maxCategoryLength) return checkCategory(segmentValue, `segment.${name}`);
  }
  if (count > WIRE_LIMITS.maxSegments) {
    return reject('invalid_value', `field 'segment': at most ${WIRE_LIMITS.maxSegments} entries are accepted, got ${count}`);
  }
  return null;
}

/**
 * Validates a decoded prediction in place; on success the same object is returned as the event,
 * with `version` defaulted and null optional fields turned into undefined.
 */
export function validatePrediction(value: unknown, opts?: ValidateOptions): DecodeResult<PredictionEvent> {
  return checkPrediction(value, opts?.maxFeatures ?? WIRE_LIMITS.maxFeatures, opts?.expectedModel);
}

/**
 * What a feature value of a type no feature can have does to an event: 'reject' it (wrong_type:
 * a publisher checking its own event), or 'count' it (the worker: the feature is taken out and
 * named in INVALID_FEATURES, the event kept).
 */
export type InvalidFeaturePolicy = 'reject' | 'count';

/** validatePrediction with its options as arguments, so a hot loop allocates no options object. */
export function checkPrediction(
  value: unknown,
  maxFeatures: number,
  expectedModel: string | undefined,
  invalidFeatures: InvalidFeaturePolicy = 'reject',
): DecodeResult<PredictionEvent> {
  if (!isPlainObject(value)) return reject('not_an_object', `expected a map/object at the top level, got ${describeValue(value)}`);
  const problem = checkId(value.id) ?? checkModel(value.model, expectedModel) ?? checkTs(value.ts);
  if (problem !== null) return problem;

  // A failed inference may have no output: with an error present, output is optional (and null
  // is then the same as absent); without one it is required.
  const error = value.error;
  if (error === null) value.error = undefined;
  else if (error !== undefined && typeof error !== 'string') {
    return reject('wrong_type', `field 'error': expected a string, got ${describeValue(error)}`);
  }
  const output = value.output;
  if (typeof value.error === 'string' && (output === undefined || output === null)) {
    value.output = undefined;
  } else {
    const bad = checkOutput(output);
    if (bad !== null) return bad;
  }

  const version = value.version;
  if (version === undefined || version === null) {
    value.version = DEFAULT_VERSION;
  } else if (typeof version !== 'string') {
    return reject('wrong_type', `field 'version': expected a string, got ${describeValue(version)}`);
  } else if (version.length === 0 || version.length > WIRE_LIMITS.maxVersionLength) {
    return reject('invalid_value', `field 'version': expected 1 to ${WIRE_LIMITS.maxVersionLength} characters, got ${version.length}`);
  }

  const features = value.features;
  if (features === null) value.features = undefined;
  else if (features !== undefined) {
    const invalid: string[] | null = invalidFeatures === 'count' ? [] : null;
    const bad = checkFeatures(features, maxFeatures, invalid);
    if (bad !== null) return bad;
    if (invalid !== null && invalid.length > 0) (value as { [INVALID_FEATURES]?: string[] })[INVALID_FEATURES] = invalid;
  }

  const latencyMs = value.latencyMs;
  if (latencyMs === null) value.latencyMs = undefined;
  else if (latencyMs !== undefined) {
    const bad = checkFiniteNumber(latencyMs, 'latencyMs');
    if (bad !== null) return bad;
    if ((latencyMs as number) < 0) return reject('invalid_value', `field 'latencyMs': expected a number >= 0, got ${describeValue(latencyMs)}`);
  }

  const segment = value.segment;
  if (segment === null) value.segment = undefined;
  else if (segment !== undefined) {
    const bad = checkSegment(segment);
    if (bad !== null) return bad;
  }

  return { ok: true, event: value as unknown as PredictionEvent };
}

/** Validates a decoded label in place; on success the same object is returned as the event. */
export function validateLabel(value: unknown, opts?: ValidateOptions): DecodeResult<LabelEvent> {
  return checkLabel(value, opts?.expectedModel);
}

/** validateLabel with its option as an argument. */
export function checkLabel(value: unknown, expectedModel: string | undefined): DecodeResult<LabelEvent> {
  if (!isPlainObject(value)) return reject('not_an_object', `expected a map/object at the top level, got ${describeValue(value)}`);
  const problem = checkId(value.id) ?? checkModel(value.model, expectedModel) ?? checkTs(value.ts);
  if (problem !== null) return problem;
  const label = value.label;
  if (typeof label === 'number') {
    if (!Number.isFinite(label)) return reject('non_finite', `field 'label': expected a finite number, got ${describeValue(label)}`);
  } else if (typeof label === 'string') {
    const bad = checkCategory(label, 'label');
    if (bad !== null) return bad;
  } else if (label === undefined) {
    return reject('missing_field', "field 'label' is missing");
  } else {
    const hint = typeof label === 'boolean' ? ' (send 1/0 for a binary label)' : '';
    return reject('wrong_type', `field 'label': expected a number or a string, got ${describeValue(label)}${hint}`);
  }
  return { ok: true, event: value as unknown as LabelEvent };
}
