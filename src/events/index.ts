export * from './types.ts';
export { EventDecoder, decodePrediction, decodeLabel, CONTENT_TYPE_HEADER, CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK } from './decode.ts';
export type { DecodeOptions } from './decode.ts';
export { EventEncoder, encodePrediction, encodeLabel, encodeJson } from './encode.ts';
export { WIRE_LIMITS, DEFAULT_VERSION, validatePrediction, validateLabel, checkPrediction, checkLabel, describeValue } from './validate.ts';
export type { ValidateOptions, Rejection } from './validate.ts';
export { FeatureSchema, FeatureBuffer, FEATURE_NUMBER, FEATURE_STRING, FEATURE_NULL } from './feature-schema.ts';
export type { FeatureKind } from './feature-schema.ts';
