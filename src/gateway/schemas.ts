/**
 * JSON Schemas of the gateway's HTTP contract. Response schemas double as fast serializers
 * (fast-json-stringify): properties not listed are dropped, so the top-level fields of each
 * contract type are listed explicitly and checked against the TypeScript types at compile time.
 * Nested open-ended parts (drift tests, fairness groups, quality extras) allow extra properties.
 */
import type {
  AlertEvent, AlertRuleStatus, DataQualitySummary, DriftEntry, DriftTestResult, FeatureDataQuality, LabelSummary, LatencySummary, ModelMetrics, ModelSegments, ModelSummary, QualitySummary, ReferenceSummary,
  SegmentFeatureDrift, SegmentRank,
} from '../contract/metrics.ts';
import type { Acknowledgement, ActiveAlert, AuditEntry, Silence } from '../contract/alerting.ts';
import { VERSION_MAX_LENGTH } from '../contract/limits.ts';

/** Model and version names end up in NATS subject tokens: no whitespace, '.', '*' or '>'. */
export const NAME_PATTERN = '^[^\\s.*>]+$';
export const NAME_MAX_LENGTH = 128;

export const nameSchema = { type: 'string', minLength: 1, maxLength: NAME_MAX_LENGTH, pattern: NAME_PATTERN } as const;

/** Versions may hold dots ('1.2.0'): they travel hex-encoded in subjects. Same limit as the wire format. */
export const versionSchema = { type: 'string', minLength: 1, maxLength: VERSION_MAX_LENGTH } as const;

/** Hints replacing ajv's "must match pattern" for fields whose pattern means something. */
export const patternHints: Record<string, string> = {
  [NAME_PATTERN]: "must be a name without whitespace, '.', '*' or '>'",
};

const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const errorSchema = {
  type: 'object',
  required: ['error', 'message', 'statusCode'],
  properties: {
    error: { type: 'string', description: 'HTTP reason phrase, e.g. "Bad Request"' },
    message: { type: 'string', description: 'What was wrong, naming the field' },
    statusCode: { type: 'integer' },
  },
} as const;

/** Error responses every route can produce. */
export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const;

const driftTestResultProperties = {
  test: { type: 'string' },
  statistic: { type: 'number' },
  pValue: { type: 'number' },
  threshold: { type: 'number' },
  drift: { type: 'boolean' },
  errorBound: { type: 'number', description: 'for statistics computed from sketches: the largest distance from the exact sample statistic' },
} as const;

const driftTestResultSchema = {
  type: 'object',
  required: ['test', 'statistic', 'threshold', 'drift'],
  additionalProperties: true,
  properties: driftTestResultProperties,
} as const;

const driftEntryProperties = {
  type: { type: 'string', enum: ['numeric', 'categorical', 'discrete'] },
  count: { type: 'integer' },
  reference: { type: 'string' },
  primary: { type: 'string' },
  confirmedBy: { type: 'string', description: 'p-value test that must agree when the default rule decides by an effect size' },
  drift: { type: 'boolean' },
  tests: { type: 'object', additionalProperties: driftTestResultSchema },
  computedAt: { type: 'integer', description: 'when the statistics were computed (epoch ms); drift is reused for a few seconds' },
  computedOn: { type: 'integer', description: 'predictions in the window when the statistics were computed (compare with count)' },
  bins: {
    type: 'object',
    description: "the distributions compared, as shares: numeric, the reference's PSI bins (inner edges); categorical or discrete, the categories",
    required: ['kind', 'reference', 'window'],
    properties: {
      kind: { type: 'string', enum: ['numeric', 'categorical'] },
      edges: { type: 'array', items: { type: 'number' } },
      labels: { type: 'array', items: { type: 'string' } },
      reference: { type: 'array', items: { type: 'number' } },
      window: { type: 'array', items: { type: 'number' } },
    },
  },
} as const;
const driftEntryRequired = ['type', 'count', 'reference', 'primary', 'drift', 'tests'] as const;

const driftEntrySchema = { type: 'object', additionalProperties: true, required: driftEntryRequired, properties: driftEntryProperties } as const;
const nullableDriftEntrySchema = { type: ['object', 'null'], additionalProperties: true, required: driftEntryRequired, properties: driftEntryProperties } as const;

const fairnessSummarySchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    groups: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: true,
        properties: { count: { type: 'integer' }, selectionRate: nullableNumber, tpr: nullableNumber },
      },
    },
    demographicParityDifference: nullableNumber,
    disparateImpactRatio: nullableNumber,
    equalOpportunityDifference: nullableNumber,
  },
} as const;

const latencyProperties = { p50: nullableNumber, p95: nullableNumber, p99: nullableNumber, mean: nullableNumber } as const;

const qualityProperties = {
  labeled: { type: 'integer' },
  accuracy: nullableNumber,
  precision: nullableNumber,
  recall: nullableNumber,
  f1: nullableNumber,
  auc: nullableNumber,
  logLoss: nullableNumber,
  brier: nullableNumber,
  mae: nullableNumber,
  rmse: nullableNumber,
  mape: nullableNumber,
  estimatedPrecision: nullableNumber,
  estimatedRecall: nullableNumber,
  estimatedF1: nullableNumber,
  estimatedAuc: nullableNumber,
  estimatedOn: { type: 'integer' },
  confusion: {
    type: 'object',
    required: ['classes', 'matrix'],
    properties: {
      classes: { type: 'array', items: { type: 'string' } },
      matrix: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
    },
  },
} as const;

const labelProperties = {
  joined: { type: 'integer' },
  pending: { type: 'integer' },
  expired: { type: 'integer' },
  early: { type: 'integer' },
} as const;

const referenceProperties = {
  id: { type: 'string' },
  accuracy: nullableNumber,
  labeled: nullableNumber,
  errorRate: nullableNumber,
  latencyP99: nullableNumber,
  f1: nullableNumber,
  auc: nullableNumber,
  confusion: {
    type: ['object', 'null'],
    required: ['tp', 'fp', 'fn', 'tn'],
    properties: { tp: { type: 'number' }, fp: { type: 'number' }, fn: { type: 'number' }, tn: { type: 'number' } },
  },
} as const;

const featureDataQualityProperties = {
  values: { type: 'number', description: 'non-null values of the feature in the window' },
  missingShare: { ...nullableNumber, description: "share of the window's predictions without a value (absent or null)" },
  referenceMissingShare: { ...nullableNumber, description: "the reference's share of rows without a value" },
  missingIncrease: { ...nullableNumber, description: 'missingShare - referenceMissingShare' },
  wrongTypeShare: { ...nullableNumber, description: "share of the values of the wrong type: the other type than the reference's (strings for a numeric feature, numbers for a categorical one), or a type no feature can have (boolean, array, map)" },
  newCategoryShare: { ...nullableNumber, description: 'share of categorical values in categories the reference never held' },
  unknownCategoryShare: { ...nullableNumber, description: 'share the category caps leave undecided (folded __other__ values)' },
  newCategories: { type: 'array', items: { type: 'string' }, description: 'the heaviest new categories (at most 10)' },
  outOfRangeShare: { ...nullableNumber, description: "share of numeric values outside the reference's [min, max] (on the reference's sketch buckets)" },
  outOfQuantileShare: { ...nullableNumber, description: "share of numeric values outside the reference's 0.1 %-99.9 % quantiles" },
  appeared: { type: 'boolean', description: 'not in the reference, with values in the window' },
  vanished: { type: 'boolean', description: 'in the reference, no value in a window where that is not chance (probability <= 1e-6)' },
} as const;

const featureDataQualitySchema = {
  type: 'object',
  additionalProperties: false,
  required: Object.keys(featureDataQualityProperties),
  properties: featureDataQualityProperties,
} as const;

const dataQualityProperties = {
  reference: nullableString,
  appeared: { type: 'array', items: { type: 'string' } },
  vanished: { type: 'array', items: { type: 'string' } },
  features: { type: 'object', additionalProperties: featureDataQualitySchema },
} as const;

const modelMetricsProperties = {
  model: { type: 'string' },
  version: { ...nullableString, description: 'null = all versions merged' },
  window: { type: 'string' },
  windowMs: { type: 'integer' },
  from: { type: 'integer', description: 'window start, epoch ms (event time)' },
  to: { type: 'integer', description: 'window end, epoch ms (event time)' },
  count: { type: 'integer' },
  errors: { type: 'integer' },
  errorRate: nullableNumber,
  late: { type: 'integer' },
  latency: { type: 'object', required: ['p50', 'p95', 'p99', 'mean'], additionalProperties: true, properties: latencyProperties },
  accuracy: nullableNumber,
  quality: { type: 'object', required: ['labeled', 'accuracy'], additionalProperties: true, properties: qualityProperties },
  estimatedAccuracy: nullableNumber,
  labelCoverage: nullableNumber,
  labels: { type: 'object', required: ['joined', 'pending', 'expired', 'early'], additionalProperties: true, properties: labelProperties },
  labelDelayMs: {
    type: 'object',
    required: ['p50', 'p95'],
    additionalProperties: true,
    properties: { p50: nullableNumber, p95: nullableNumber },
  },
  drift: {
    type: 'object',
    required: ['reference', 'output', 'features'],
    additionalProperties: true,
    properties: {
      reference: nullableString,
      output: nullableDriftEntrySchema,
      features: { type: 'object', additionalProperties: driftEntrySchema },
      stale: { type: 'boolean', description: "true when the window's panes changed since the entries were computed (see each entry's computedAt/computedOn): drift is recomputed at most every windowMs / 60, later when the gateway is busy" },
      multivariate: {
        type: ['object', 'null'],
        description: "multivariate drift (PCA reconstruction error, as NannyML): the window's mean error against the reference chunks' mean +- the normal quantile of the drift false-alarm budget's alpha times the spread of a window's mean (NannyML uses 3 std); null when the reference has no multivariate model or no event was scored",
        required: ['reference', 'count', 'errorMean', 'lower', 'upper', 'drift', 'imputedEvents', 'imputedValues', 'components'],
        additionalProperties: false,
        properties: {
          reference: { type: 'string' },
          count: { type: 'number' },
          errorMean: { type: 'number' },
          lower: { type: 'number' },
          upper: { type: 'number' },
          drift: { type: 'boolean' },
          imputedEvents: { type: 'number' },
          imputedValues: { type: 'number' },
          components: { type: 'number' },
        },
      },
    },
  },
  reference: { type: ['object', 'null'], required: ['id', 'accuracy', 'errorRate', 'latencyP99'], additionalProperties: true, properties: referenceProperties },
  detectors: { type: 'object', additionalProperties: { type: 'number' }, description: 'error-stream detector signals in the window, by detector' },
  fairness: { type: 'object', additionalProperties: fairnessSummarySchema },
  dataQuality: {
    type: 'object',
    required: Object.keys(dataQualityProperties),
    additionalProperties: false,
    properties: dataQualityProperties,
    description: 'data quality per feature against the reference (README "Data quality")',
  },
} as const;

export const modelMetricsSchema = {
  $id: 'driftwatch.ModelMetrics',
  type: 'object',
  additionalProperties: false,
  required: [
    'model', 'version', 'window', 'windowMs', 'from', 'to', 'count', 'errors', 'errorRate', 'late', 'latency',
    'accuracy', 'quality', 'estimatedAccuracy', 'labelCoverage', 'labels', 'labelDelayMs', 'drift', 'reference', 'detectors',
  ],
  properties: modelMetricsProperties,
} as const;

const modelSummaryProperties = {
  model: { type: 'string' },
  versions: { type: 'array', items: { type: 'string' } },
  lastEventAt: { type: ['integer', 'null'], description: 'last event time seen, epoch ms' },
  count5m: { type: 'integer' },
} as const;

export const modelSummarySchema = {
  $id: 'driftwatch.ModelSummary',
  type: 'object',
  additionalProperties: false,
  required: ['model', 'versions', 'lastEventAt', 'count5m'],
  properties: modelSummaryProperties,
} as const;

const alertEventProperties = {
  id: { type: 'string' },
  model: { type: 'string' },
  rule: { type: 'string' },
  scope: { type: 'string' },
  state: { type: 'string', enum: ['firing', 'resolved'] },
  severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
  value: nullableNumber,
  threshold: { type: 'number' },
  window: { type: 'string' },
  startsAt: { type: 'integer' },
  at: { type: 'integer' },
  message: { type: 'string' },
  silenced: { type: 'boolean', description: 'an active silence covered the transition: recorded and published on NATS, not sent to webhooks' },
  silencedBy: { type: 'array', items: { type: 'string' } },
} as const;

export const alertEventSchema = {
  $id: 'driftwatch.AlertEvent',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'model', 'rule', 'scope', 'state', 'severity', 'value', 'threshold', 'window', 'startsAt', 'at', 'message'],
  properties: alertEventProperties,
} as const;

const alertRuleStatusProperties = {
  rule: { type: 'string' },
  model: { type: 'string' },
  scope: { type: 'string' },
  state: { type: 'string', enum: ['insufficient_reference'] },
  baselineLabels: nullableNumber,
  neededLabels: nullableNumber,
  since: { type: 'integer' },
  message: { type: 'string' },
} as const;

/** A rule that cannot judge its baseline (GET /v1/alerts `rules`). */
export const alertRuleStatusSchema = {
  type: 'object',
  additionalProperties: false,
  required: Object.keys(alertRuleStatusProperties),
  properties: alertRuleStatusProperties,
} as const;
const alertRuleStatusKeysMatch: SameKeys<keyof typeof alertRuleStatusProperties, keyof AlertRuleStatus> = true;

const segmentRankProperties = {
  value: { type: 'string' },
  predictions: { type: 'number', description: 'predictions in the segment in this window' },
  labeled: { type: 'number', description: 'labelled classifications joined to them' },
  correct: { type: 'number' },
  accuracy: nullableNumber,
  drop: { ...nullableNumber, description: "the window's overall accuracy minus the segment's (0.15 = 15 points lower)" },
  z: { ...nullableNumber, description: 'pooled two-proportion z of the segment against the rest of the window (positive: worse): an effect size beside pValue' },
  pValue: { ...nullableNumber, description: "one-sided Fisher's exact test of the segment against the rest (lower accuracy)" },
  adjustedPValue: { ...nullableNumber, description: "Holm-adjusted over the key's segments" },
  significant: { type: 'boolean', description: 'adjustedPValue <= alpha with a positive drop: listed first' },
} as const;

const segmentFeatureDriftProperties = {
  feature: { type: 'string' },
  type: { type: 'string', enum: ['numeric', 'categorical', 'discrete'] },
  count: { type: 'number' },
  referenceCount: { type: 'number', description: 'values of the feature in the segment in the window before' },
  psi: { type: 'number' },
  primary: { type: 'string' },
  statistic: { type: 'number' },
  drift: { type: 'boolean' },
} as const;

const modelSegmentsProperties = {
  model: { type: 'string' },
  version: nullableString,
  window: { type: 'string' },
  windowMs: { type: 'integer' },
  from: { type: 'number' },
  to: { type: 'number' },
  overall: {
    type: 'object',
    additionalProperties: false,
    required: ['labeled', 'correct', 'accuracy'],
    properties: { labeled: { type: 'number' }, correct: { type: 'number' }, accuracy: nullableNumber },
  },
  alpha: { type: 'number', description: "family-wise significance level of each key's list (the drift tests' false-alarm budget)" },
  correction: { type: 'string', enum: ['holm'] },
  keys: {
    type: 'object',
    description: 'segment key -> its values, significant drops first (largest first), then the rest by drop',
    additionalProperties: { type: 'array', items: { type: 'object', additionalProperties: false, required: Object.keys(segmentRankProperties), properties: segmentRankProperties } },
  },
  worst: {
    type: ['object', 'null'],
    additionalProperties: false,
    required: ['key', 'value', 'drop', 'features'],
    properties: {
      key: { type: 'string' },
      value: { type: 'string' },
      drop: { type: 'number' },
      features: { type: 'array', items: { type: 'object', additionalProperties: false, required: Object.keys(segmentFeatureDriftProperties), properties: segmentFeatureDriftProperties } },
      featuresNote: { type: 'string' },
    },
  },
} as const;

/** GET /v1/models/:model/segments. */
export const modelSegmentsSchema = {
  $id: 'driftwatch.ModelSegments',
  type: 'object',
  additionalProperties: false,
  required: Object.keys(modelSegmentsProperties),
  properties: modelSegmentsProperties,
} as const;
const segmentKeysMatch: [
  SameKeys<keyof typeof modelSegmentsProperties, keyof ModelSegments>,
  SameKeys<keyof typeof segmentRankProperties, keyof SegmentRank>,
  SameKeys<keyof typeof segmentFeatureDriftProperties, keyof SegmentFeatureDrift>,
] = [true, true, true];

/** Shared schemas registered with `app.addSchema` and referenced as `{ $ref: '<id>#' }`. */
export const sharedSchemas = [modelMetricsSchema, modelSummarySchema, alertEventSchema, modelSegmentsSchema] as const;
// (activeAlertSchema, silenceSchema and auditEntrySchema are registered too: see alertingSchemas below)

// Compile-time check: the listed top-level properties are exactly the fields of the contract
// types, so adding a field to a type without serving it (or the reverse) fails `tsc`.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const modelMetricsKeysMatch: SameKeys<keyof typeof modelMetricsProperties, keyof ModelMetrics> = true;
const modelSummaryKeysMatch: SameKeys<keyof typeof modelSummaryProperties, keyof ModelSummary> = true;
const alertEventKeysMatch: SameKeys<keyof typeof alertEventProperties, keyof AlertEvent> = true;
const nestedKeysMatch: [
  SameKeys<keyof typeof driftTestResultProperties, keyof DriftTestResult>,
  SameKeys<keyof typeof driftEntryProperties, keyof DriftEntry>,
  SameKeys<keyof typeof latencyProperties, keyof LatencySummary>,
  SameKeys<keyof typeof qualityProperties, keyof QualitySummary>,
  SameKeys<keyof typeof labelProperties, keyof LabelSummary>,
  SameKeys<keyof typeof referenceProperties, keyof ReferenceSummary>,
  SameKeys<keyof typeof featureDataQualityProperties, keyof FeatureDataQuality>,
  SameKeys<keyof typeof dataQualityProperties, keyof DataQualitySummary>,
] = [true, true, true, true, true, true, true, true];
export const contractKeysMatch = segmentKeysMatch.every(Boolean) && alertRuleStatusKeysMatch && modelMetricsKeysMatch && modelSummaryKeysMatch && alertEventKeysMatch && nestedKeysMatch.every(Boolean);

// ---- alerting: active alerts, silences, acknowledgements, audit -------------------------------

const matchersSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    rule: { type: 'string', minLength: 1, maxLength: 256 },
    scope: { type: 'string', minLength: 1, maxLength: 256 },
  },
} as const;

const acknowledgementProperties = { by: { type: 'string' }, comment: { type: 'string' }, at: { type: 'integer' } } as const;
const acknowledgementSchema = { type: 'object', additionalProperties: false, required: ['by', 'comment', 'at'], properties: acknowledgementProperties } as const;

const activeAlertProperties = {
  id: { type: 'string', description: "the firing transition's id (model:rule:scope:startsAt:firing); ...:pending while pending" },
  model: { type: 'string' },
  rule: { type: 'string' },
  scope: { type: 'string' },
  state: { type: 'string', enum: ['pending', 'firing'] },
  severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
  value: nullableNumber,
  threshold: { type: 'number' },
  window: { type: 'string' },
  startsAt: { type: 'integer' },
  firedAt: { type: ['integer', 'null'] },
  message: { type: 'string' },
  silenced: { type: 'boolean' },
  silencedBy: { type: 'array', items: { type: 'string' } },
  acknowledged: { anyOf: [acknowledgementSchema, { type: 'null' }] },
} as const;

export const activeAlertSchema = {
  $id: 'driftwatch.ActiveAlert',
  type: 'object',
  additionalProperties: false,
  required: Object.keys(activeAlertProperties),
  properties: activeAlertProperties,
} as const;

const silenceProperties = {
  id: { type: 'string' },
  matchers: matchersSchema,
  startsAt: { type: 'integer' },
  endsAt: { type: 'integer' },
  comment: { type: 'string' },
  createdBy: { type: 'string' },
  createdAt: { type: 'integer' },
  expiredAt: { type: ['integer', 'null'] },
  expiredBy: nullableString,
} as const;

export const silenceSchema = {
  $id: 'driftwatch.Silence',
  type: 'object',
  additionalProperties: false,
  required: Object.keys(silenceProperties),
  properties: { ...silenceProperties, state: { type: 'string', enum: ['active', 'pending', 'expired'] } },
} as const;

export const silenceRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['matchers', 'comment', 'createdBy'],
  properties: {
    matchers: matchersSchema,
    duration: { anyOf: [{ type: 'string' }, { type: 'integer' }], description: "how long, e.g. '2h' or milliseconds (or give endsAt)" },
    endsAt: { anyOf: [{ type: 'string' }, { type: 'integer' }], description: 'epoch ms or ISO 8601 time (or give duration)' },
    startsAt: { anyOf: [{ type: 'string' }, { type: 'integer' }], description: 'default now' },
    comment: { type: 'string', minLength: 1, maxLength: 1000 },
    createdBy: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

const auditEntryProperties = {
  id: { type: 'string' },
  kind: { type: 'string', enum: ['transition', 'silence', 'ack'] },
  action: { type: 'string' },
  at: { type: 'integer' },
  actor: { type: 'string' },
  model: nullableString,
  rule: nullableString,
  scope: nullableString,
  alertId: nullableString,
  silenceId: nullableString,
  comment: nullableString,
  detail: { type: 'object', additionalProperties: true },
} as const;

export const auditEntrySchema = {
  $id: 'driftwatch.AuditEntry',
  type: 'object',
  additionalProperties: false,
  required: Object.keys(auditEntryProperties),
  properties: auditEntryProperties,
} as const;

export const alertingSchemas = [activeAlertSchema, silenceSchema, auditEntrySchema] as const;
const alertingKeysMatch: [
  SameKeys<keyof typeof activeAlertProperties, keyof ActiveAlert>,
  SameKeys<keyof typeof silenceProperties, keyof Silence>,
  SameKeys<keyof typeof auditEntryProperties, keyof AuditEntry>,
  SameKeys<keyof typeof acknowledgementProperties, keyof Acknowledgement>,
] = [true, true, true, true];
export const alertingContractKeysMatch = alertingKeysMatch.every(Boolean);
