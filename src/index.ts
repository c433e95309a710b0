/**
 * driftwatch as a library: the publisher SDK, the wire format, and the pure statistics, sketches
 * and detectors the workers use. The processes (worker, gateway, simulator) are `npm` scripts.
 *
 * Every export is named here on purpose (no `export *`): what is listed is the public API, and
 * an internal helper (a summary's cell offsets, a sorted-input kernel, a gateway limit) does not
 * become public by being exported from its module. test/api/public-api.test.ts holds the list.
 */

// ---------------------------------------------------------------------------------------------
// Publisher client (also `driftwatch/client`): events in, encoded and published to JetStream

export {
  DriftPublisher,
  PublishError,
  NOT_PROVISIONED_MESSAGE,
  partitionOf,
  fnv1a32,
  predictionSubject,
  labelSubject,
  encodePrediction,
  encodeLabel,
  encodeJson,
} from './client/index.ts';
export type { PredictionInput, LabelInput, PublisherOptions, PredictionEvent, LabelEvent, FeatureValue, Output } from './client/index.ts';

// ---------------------------------------------------------------------------------------------
// Wire format: decode and validate events as the workers do (docs/wire-format.md)

export { EventDecoder, decodePrediction, decodeLabel } from './events/decode.ts';
export type { DecodeOptions } from './events/decode.ts';
export { validatePrediction, validateLabel, WIRE_LIMITS } from './events/validate.ts';
export type { ValidateOptions } from './events/validate.ts';
export type { RejectReason, DecodeResult, EventKind } from './events/types.ts';

// ---------------------------------------------------------------------------------------------
// Drift statistics on raw samples and counts (scipy / Evidently definitions)

export {
  psi,
  quantileEdges,
  binCounts,
  ks2Samp,
  ksPValue,
  chiSquaredGoodnessOfFit,
  chiSquaredContingency,
  jensenShannonDistance,
  hellingerDistance,
  wassersteinDistance,
  wassersteinNormed,
  twoProportionZTest,
} from './stats/distribution.ts';
export type { KsMethod, KsResult, ChiSquaredResult, ZTestResult } from './stats/distribution.ts';

// Drift statistics on sketches (LogHistogram, any QuantileSummary), with their error bounds
export { ksFromSummaries, wassersteinFromSummaries, wassersteinNormedFromSummaries } from './stats/sketch-distance.ts';
export type { SketchKsResult, SketchWassersteinResult } from './stats/sketch-distance.ts';

// The drift test the workers choose for a feature (reference vs window), and its thresholds
export { evaluateDrift, defaultDriftTest, numericReferenceFromValues, DEFAULT_DRIFT_THRESHOLDS } from './stats/select.ts';
export type {
  DriftTestName,
  DriftTestOverride,
  DriftOptions,
  FeatureReference,
  FeatureWindow,
  NumericReference,
  CategoricalReference,
  NumericCurrent,
  CategoricalCurrent,
  CategoryCounts,
} from './stats/select.ts';

// ---------------------------------------------------------------------------------------------
// Model quality from additive summaries (branded Float64Arrays: one kind never passes for another)

export {
  createBinaryOutcomeSummary,
  binaryOutcomeSummaryFrom,
  addBinaryOutcome,
  mergeBinaryOutcome,
  subtractBinaryOutcome,
  binaryQuality,
  binaryConfusion,
  classificationFromConfusion,
  binaryRocAuc,
  reliabilityDiagram,
  expectedCalibrationError,
  createMulticlassOutcomeSummary,
  multiclassOutcomeSummaryFrom,
  addMulticlassOutcome,
  mergeMulticlassOutcome,
  subtractMulticlassOutcome,
  multiclassQuality,
  createRegressionOutcomeSummary,
  regressionOutcomeSummaryFrom,
  addRegressionOutcome,
  mergeRegressionOutcome,
  subtractRegressionOutcome,
  regressionQuality,
  createPredictionScoreSummary,
  predictionScoreSummaryFrom,
  addPredictionScore,
  mergePredictionScores,
  subtractPredictionScores,
  estimatedAccuracy,
  copyOutcomeSummary,
} from './stats/quality.ts';
export type {
  BinaryOutcomeSummary,
  MulticlassOutcomeSummary,
  RegressionOutcomeSummary,
  PredictionScoreSummary,
  OutcomeSummary,
  BinaryQuality,
  ConfusionCounts,
  HistogramAuc,
  ReliabilityBin,
} from './stats/quality.ts';

// Group fairness (fairlearn definitions) from additive per-group counts
export { fairnessSummary, emptyGroupCounts, addGroupPrediction, addGroupLabel, mergeGroupCounts, FOUR_FIFTHS } from './stats/fairness.ts';
export type { GroupCounts, FairnessReport } from './stats/fairness.ts';

// ---------------------------------------------------------------------------------------------
// Sequential change detectors on an error stream (River's definitions)

export { Adwin, PageHinkley, Ddm, Eddm, HddmA, HddmW, createDetector, detectorFromJSON, DETECTOR_KINDS } from './stats/detectors/index.ts';
export type {
  ChangeDetector,
  DetectorKind,
  DetectorByKind,
  DetectorOptionsByKind,
  DetectorState,
  AdwinOptions,
  PageHinkleyOptions,
  DdmOptions,
  EddmOptions,
  HddmAOptions,
  HddmWOptions,
} from './stats/detectors/index.ts';

// ---------------------------------------------------------------------------------------------
// Mergeable sketches

export { LogHistogram, CategoryCounter, Moments, OTHER_CATEGORY } from './sketch/index.ts';
export type { QuantileSummary, LogHistogramOptions, CategoryCounterJSON, MomentsJSON } from './sketch/index.ts';

// ---------------------------------------------------------------------------------------------
// What the gateway serves (REST /api/models/..., WebSocket, alert events)

export type { ModelMetrics, DriftEntry, DriftTestResult, QualitySummary, FairnessSummary, AlertEvent } from './contract/metrics.ts';
