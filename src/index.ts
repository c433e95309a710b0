/**
 * driftwatch as a library: the publisher SDK, the wire format, and the pure statistics, sketches
 * and detectors the workers use. The processes (worker, gateway, simulator) are `npm` scripts.
 */
export * from './client/index.ts';
export type { RejectReason, DecodeResult, EventKind } from './events/types.ts';
export { EventDecoder, decodePrediction, decodeLabel } from './events/decode.ts';
export { LogHistogram, CategoryCounter, Moments } from './sketch/index.ts';
export type { QuantileSummary } from './sketch/index.ts';
export * from './stats/distribution.ts';
export { ksFromSummaries, wassersteinFromSummaries, wassersteinNormedFromSummaries } from './stats/sketch-distance.ts';
export { evaluateDrift, defaultDriftTest, numericReferenceFromValues } from './stats/select.ts';
export type { DriftTestName, FeatureReference, FeatureWindow, DriftOptions } from './stats/select.ts';
export * from './stats/quality.ts';
export * from './stats/fairness.ts';
export * from './stats/detectors/index.ts';
export type { ModelMetrics, AlertEvent, DriftEntry, DriftTestResult } from './contract/metrics.ts';
