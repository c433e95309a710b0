/**
 * driftwatch publisher SDK: `import { DriftPublisher } from 'driftwatch/client'`, or from the light
 * package 'driftwatch-client' (packages/client: src/client and what it imports,
 * compiled on their own; it depends on the NATS client and msgpack only).
 * The wire format it writes is documented in docs/wire-format.md.
 */
export { DriftPublisher, PublishError, NOT_PROVISIONED_MESSAGE } from './publisher.ts';
export type { PredictionInput, LabelInput, PublisherOptions } from './publisher.ts';
export type { PredictionEvent, LabelEvent, FeatureValue, Output } from '../events/types.ts';
export { partitionOf, fnv1a32 } from '../partition/hash.ts';
export { predictionSubject, labelSubject } from '../cluster/subjects.ts';
export { encodePrediction, encodeLabel, encodeJson } from '../events/encode.ts';
