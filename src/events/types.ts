/** Wire-format event types. Field names are the contract (see README "Wire format"). */

export type FeatureValue = number | string | null;
export type Output = number | string | number[];

/**
 * Features of an event whose value was of a type no feature can have (a boolean, an array, a map,
 * binary, a timestamp): the validator takes them out of `features` and names them under this key,
 * so the event and its other features still count and the worker counts these per feature (data
 * quality). A symbol: a decoded payload cannot carry it.
 */
export const INVALID_FEATURES: unique symbol = Symbol('driftwatch.invalidFeatures');

export interface PredictionEvent {
  id: string;
  model: string;
  /** `'default'` when the publisher sent none. */
  version: string;
  /** Event time, epoch milliseconds. */
  ts: number;
  /**
   * What the model returned. Absent only for a failed inference (`error` present): such an event
   * counts in volume and error rate, not in output statistics or accuracy.
   */
  output?: Output;
  features?: Record<string, FeatureValue>;
  latencyMs?: number;
  /** Present when the inference failed: counts toward the error rate. */
  error?: string;
  segment?: Record<string, string>;
  /** Set by the validator only: see INVALID_FEATURES. */
  [INVALID_FEATURES]?: string[];
}

export interface LabelEvent {
  /** The prediction id this label belongs to. */
  id: string;
  model: string;
  ts: number;
  label: number | string;
}

export type EventKind = 'pred' | 'label';

/** Why an event was rejected: a fixed, low-cardinality set (it is a metric label and a subject token). */
export type RejectReason =
  | 'undecodable' // neither valid MessagePack nor valid JSON
  | 'not_an_object' // decoded, but not a map/object
  | 'missing_field' // id, model, ts or label absent, or output absent without an error
  | 'wrong_type' // a field of the wrong type
  | 'non_finite' // NaN or +-Infinity in a numeric field
  | 'oversized' // payload larger than the configured limit
  | 'bad_subject' // the subject does not name a partition/model/kind we know
  | 'model_mismatch' // model in the payload differs from the model in the subject
  | 'invalid_value' // right type, outside its limits (empty or too long id, bad model name, too many features, ...)
  | 'future_timestamp' // ts further in the future than panes.maxFutureMs (a clock bug would close every pane)
  | 'limit_exceeded' // a model or version refused cluster-wide: beyond limits.maxModels / maxVersionsPerModel
  | 'model_not_allowed'; // a model not on models.allow

export const REJECT_REASONS: readonly RejectReason[] = [
  'undecodable',
  'not_an_object',
  'missing_field',
  'wrong_type',
  'non_finite',
  'oversized',
  'bad_subject',
  'model_mismatch',
  'invalid_value',
  'future_timestamp',
  'limit_exceeded',
  'model_not_allowed',
];

export type DecodeResult<T> =
  | { ok: true; event: T }
  | { ok: false; reason: RejectReason; detail: string };
