/**
 * Event -> payload, for the publisher SDK and tests. The SDK validates before encoding; these
 * functions encode whatever they are given.
 */
import { TextEncoder } from 'node:util';
import { Encoder } from '@msgpack/msgpack';
import type { LabelEvent, PredictionEvent } from './types.ts';

/**
 * A MessagePack encoder to create once per publisher and reuse (one `Encoder` and its buffer).
 * Undefined optional fields are left out of the map rather than sent as nil. Every call returns
 * a fresh copy of the bytes, safe to hand to an asynchronous publish.
 */
export class EventEncoder {
  readonly #msgpack = new Encoder({ ignoreUndefined: true });
  readonly #utf8 = new TextEncoder();

  encodePrediction(event: PredictionEvent): Uint8Array {
    return this.#msgpack.encode(event);
  }

  encodeLabel(event: LabelEvent): Uint8Array {
    return this.#msgpack.encode(event);
  }

  encodeJson(event: PredictionEvent | LabelEvent): Uint8Array {
    return this.#utf8.encode(JSON.stringify(event));
  }
}

/** One-shot MessagePack encoding of a prediction. */
export function encodePrediction(event: PredictionEvent): Uint8Array {
  return new EventEncoder().encodePrediction(event);
}

/** One-shot MessagePack encoding of a label. */
export function encodeLabel(event: LabelEvent): Uint8Array {
  return new EventEncoder().encodeLabel(event);
}

/** One-shot JSON encoding (UTF-8 bytes) of a prediction or a label. */
export function encodeJson(event: PredictionEvent | LabelEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}
