/**
 * What an alert rule looks at, parsed once from the rule's `metric` string at load. The evaluator
 * switches on the selector's `kind`, so a metric that could never resolve (a typo'd test, a
 * quality metric that does not exist, a p-value of a test that has none) is refused at start
 * instead of silently never firing.
 */
import type { FairnessSummary, FeatureDataQuality, QualitySummary, ReferenceSummary } from '../contract/metrics.ts';
import { DETECTOR_KINDS, type DetectorKind } from '../stats/detectors/index.ts';
import { CATEGORICAL_DRIFT_TESTS, NUMERIC_DRIFT_TESTS, P_VALUE_TESTS, type DriftTestName } from '../stats/select.ts';

/** Values a metric can take; a fixed threshold outside them could never be crossed. */
export interface ValueRange {
  min: number;
  max: number;
}

const UNIT: ValueRange = { min: 0, max: 1 };
const NON_NEGATIVE: ValueRange = { min: 0, max: Infinity };
const ANY: ValueRange = { min: -Infinity, max: Infinity };

/** Window-level metrics named by a single word, and the values each can take. */
const PLAIN_METRICS = {
  count: NON_NEGATIVE,
  errorRate: UNIT,
  accuracy: UNIT,
  estimatedAccuracy: UNIT,
  labelCoverage: UNIT,
} as const satisfies Record<string, ValueRange>;
export type PlainMetric = keyof typeof PLAIN_METRICS;

const LATENCY_QUANTILES = ['p50', 'p95', 'p99', 'mean'] as const;
export type LatencyQuantile = (typeof LATENCY_QUANTILES)[number];

/** The numeric fields of QualitySummary (not `confusion`), and the values each can take. */
const QUALITY_METRICS = {
  labeled: NON_NEGATIVE,
  accuracy: UNIT,
  precision: UNIT,
  recall: UNIT,
  f1: UNIT,
  auc: UNIT,
  logLoss: NON_NEGATIVE,
  brier: UNIT,
  mae: NON_NEGATIVE,
  rmse: NON_NEGATIVE,
  mape: NON_NEGATIVE,
} as const satisfies Partial<Record<keyof QualitySummary, ValueRange>>;
export type QualityMetric = keyof typeof QUALITY_METRICS;

/** The numeric fields of FairnessSummary: differences and a ratio of rates, all within [0, 1]. */
const FAIRNESS_METRICS = ['demographicParityDifference', 'disparateImpactRatio', 'equalOpportunityDifference'] as const satisfies ReadonlyArray<keyof FairnessSummary>;
export type FairnessMetric = (typeof FAIRNESS_METRICS)[number];

/** The per-feature fields of FeatureDataQuality an alert rule can read (booleans read as 1/0), and their values. */
const DATA_QUALITY_METRICS = {
  missingShare: UNIT,
  missingIncrease: { min: -1, max: 1 },
  wrongTypeShare: UNIT,
  newCategoryShare: UNIT,
  unknownCategoryShare: UNIT,
  outOfRangeShare: UNIT,
  outOfQuantileShare: UNIT,
  appeared: UNIT,
  vanished: UNIT,
} as const satisfies Partial<Record<keyof FeatureDataQuality, ValueRange>>;
export type DataQualityMetric = keyof typeof DATA_QUALITY_METRICS;

/** Segment keys are single tokens (a '.' would make the metric ambiguous). */
const SEGMENT_KEY = /^[A-Za-z0-9_-]+$/;

/** Every drift test some feature type computes (the stats layer's lists). */
const DRIFT_TESTS: readonly DriftTestName[] = [...new Set([...NUMERIC_DRIFT_TESTS, ...CATEGORICAL_DRIFT_TESTS])];
const P_VALUE_TEST_NAMES: readonly DriftTestName[] = DRIFT_TESTS.filter((test) => P_VALUE_TESTS.has(test));

/** One number of a DriftEntry: the deciding test's verdict (1 = drift), a test's statistic or its p-value. */
export type DriftReading = { field: 'verdict' } | { field: 'statistic'; test: DriftTestName } | { field: 'pValue'; test: DriftTestName };

export type MetricSelector =
  | { kind: PlainMetric }
  | { kind: 'latency'; quantile: LatencyQuantile }
  | { kind: 'quality'; metric: QualityMetric }
  | { kind: 'detector'; detector: DetectorKind }
  | { kind: 'fairness'; segmentKey: string; metric: FairnessMetric }
  | { kind: 'drift'; target: 'output' | 'feature'; reading: DriftReading }
  | { kind: 'dataQuality'; metric: DataQualityMetric }
  /** Multivariate drift (ModelMetrics.drift.multivariate): its verdict (1 = drift) or its mean reconstruction error. */
  | { kind: 'multivariate'; reading: 'verdict' | 'error' };

export type ParsedMetric = { ok: true; selector: MetricSelector } | { ok: false; expected: string };

export const METRIC_FORMS =
  'one of count, errorRate, accuracy, estimatedAccuracy, labelCoverage, latency.p50|p95|p99|mean, quality.<name>, detector.<kind>, fairness.<segment key>.<metric>, drift.output.<test>[.pvalue], drift.output.drift, drift.feature.<test>[.pvalue], drift.feature.drift, drift.multivariate[.drift], drift.multivariate.error, dataQuality.<metric>';

function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

function parseDrift(target: 'output' | 'feature', rest: readonly string[]): ParsedMetric {
  const form = `drift.${target}`;
  const [test, suffix] = rest;
  if (rest.length === 1 && test === 'drift') return { ok: true, selector: { kind: 'drift', target, reading: { field: 'verdict' } } };
  const tests = `${form}.<test> with a test from ${DRIFT_TESTS.join(', ')} (optionally .pvalue), or ${form}.drift (1 when the deciding test finds drift)`;
  if (rest.length < 1 || rest.length > 2 || !isOneOf(DRIFT_TESTS, test)) return { ok: false, expected: tests };
  if (rest.length === 1) return { ok: true, selector: { kind: 'drift', target, reading: { field: 'statistic', test } } };
  if (suffix !== 'pvalue') return { ok: false, expected: tests };
  if (!P_VALUE_TESTS.has(test)) {
    return { ok: false, expected: `.pvalue only on a test that has a p-value (${P_VALUE_TEST_NAMES.join(', ')}); ${test} has a statistic only (${form}.${test})` };
  }
  return { ok: true, selector: { kind: 'drift', target, reading: { field: 'pValue', test } } };
}

/** Turns a rule's `metric` into a selector, or says what was expected instead. Pure. */
export function parseMetricSelector(metric: string): ParsedMetric {
  const [head, ...rest] = metric.split('.');
  if (rest.length === 0 && Object.hasOwn(PLAIN_METRICS, head)) return { ok: true, selector: { kind: head as PlainMetric } };
  const one = rest.length === 1 ? rest[0] : '';
  switch (head) {
    case 'latency':
      return isOneOf(LATENCY_QUANTILES, one)
        ? { ok: true, selector: { kind: 'latency', quantile: one } }
        : { ok: false, expected: `latency.<quantile> with a quantile from ${LATENCY_QUANTILES.join(', ')}` };
    case 'quality': {
      const names = Object.keys(QUALITY_METRICS) as QualityMetric[];
      return isOneOf(names, one)
        ? { ok: true, selector: { kind: 'quality', metric: one } }
        : { ok: false, expected: `quality.<metric> with a metric from ${names.join(', ')}` };
    }
    case 'detector':
      return isOneOf(DETECTOR_KINDS, one)
        ? { ok: true, selector: { kind: 'detector', detector: one } }
        : { ok: false, expected: `detector.<kind> with a detector from ${DETECTOR_KINDS.join(', ')}` };
    case 'fairness': {
      const [segmentKey, name] = rest;
      return rest.length === 2 && SEGMENT_KEY.test(segmentKey) && isOneOf(FAIRNESS_METRICS, name)
        ? { ok: true, selector: { kind: 'fairness', segmentKey, metric: name } }
        : { ok: false, expected: `fairness.<segment key>.<metric> with a segment key of letters, digits, _ and - and a metric from ${FAIRNESS_METRICS.join(', ')}` };
    }
    case 'dataQuality': {
      const names = Object.keys(DATA_QUALITY_METRICS) as DataQualityMetric[];
      return isOneOf(names, one)
        ? { ok: true, selector: { kind: 'dataQuality', metric: one } }
        : { ok: false, expected: `dataQuality.<metric> (per feature) with a metric from ${names.join(', ')}` };
    }
    case 'drift': {
      const [target, ...reading] = rest;
      if (target === 'output' || target === 'feature') return parseDrift(target, reading);
      if (target === 'multivariate') {
        if (reading.length === 0 || (reading.length === 1 && reading[0] === 'drift')) return { ok: true, selector: { kind: 'multivariate', reading: 'verdict' } };
        if (reading.length === 1 && reading[0] === 'error') return { ok: true, selector: { kind: 'multivariate', reading: 'error' } };
        return { ok: false, expected: 'drift.multivariate or drift.multivariate.drift (1 when the mean reconstruction error is outside its bounds), or drift.multivariate.error (the mean error)' };
      }
      return { ok: false, expected: 'drift.output.<...>, drift.feature.<...> or drift.multivariate[.drift|.error]' };
    }
  }
  return { ok: false, expected: METRIC_FORMS };
}

/** A value the reference profile keeps (ReferenceSummary), which `baseline: 'reference'` compares with. */
export type ReferenceField = keyof Pick<ReferenceSummary, 'accuracy' | 'errorRate' | 'latencyP99' | 'f1' | 'auc'>;

/** The reference profile's value compared with this metric under `baseline: 'reference'`, when the profile has one. */
export function referenceFieldOf(selector: MetricSelector): ReferenceField | null {
  switch (selector.kind) {
    case 'accuracy':
      return 'accuracy';
    case 'estimatedAccuracy':
      // the estimate before labels is compared with the accuracy the reference realised (NannyML's CBPE does the same)
      return 'accuracy';
    case 'errorRate':
      return 'errorRate';
    case 'latency':
      return selector.quantile === 'p99' ? 'latencyP99' : null;
    case 'quality':
      return selector.metric === 'accuracy' ? 'accuracy' : selector.metric === 'f1' ? 'f1' : selector.metric === 'auc' ? 'auc' : null;
    default:
      return null;
  }
}

/** Metrics that `baseline: 'reference'` supports, for messages. */
export const REFERENCE_METRICS = 'accuracy, estimatedAccuracy, quality.accuracy, quality.f1, quality.auc, errorRate, latency.p99';

/** The values a metric can take. */
export function valueRangeOf(selector: MetricSelector): ValueRange {
  switch (selector.kind) {
    case 'latency':
      // events with a negative latencyMs are rejected at ingest
      return NON_NEGATIVE;
    case 'quality':
      return QUALITY_METRICS[selector.metric];
    case 'detector':
      return NON_NEGATIVE;
    case 'fairness':
      return UNIT;
    case 'dataQuality':
      return DATA_QUALITY_METRICS[selector.metric];
    case 'drift':
      // a statistic's range depends on the test (z is signed, psi unbounded): only verdicts and p-values are bounded here
      return selector.reading.field === 'statistic' ? ANY : UNIT;
    case 'multivariate':
      return selector.reading === 'verdict' ? UNIT : NON_NEGATIVE;
    default:
      return PLAIN_METRICS[selector.kind];
  }
}
