/**
 * Payload -> validated event. MessagePack by default, JSON accepted.
 *
 * Format choice, in order: an explicit content type from the caller (the message's
 * `content-type` header), else the first non-whitespace byte: '{' (0x7b) means JSON. In
 * MessagePack 0x7b is the positive fixint 123 and whitespace bytes are fixints too; a bare
 * integer followed by more bytes is not a valid MessagePack document and never a valid event,
 * so the sniff cannot misread a real MessagePack event.
 *
 * The size limit is checked before any decoding, so an oversized payload costs nothing.
 */
import { TextDecoder } from 'node:util';
import { Decoder, decode as decodeMsgpackOnce } from '@msgpack/msgpack';
import type { DecodeResult, LabelEvent, PredictionEvent } from './types.ts';
import { WIRE_LIMITS, checkLabel, checkPrediction, reject } from './validate.ts';
import type { Rejection, ValidateOptions } from './validate.ts';
import { EventReader, UNSUPPORTED } from './msgpack-reader.ts';
import type { FeatureBuffer, FeatureSchema } from './feature-schema.ts';

export interface DecodeOptions extends ValidateOptions {
  /** Payloads larger than this many bytes are rejected as 'oversized' (default 64 KiB). */
  maxBytes?: number;
  /**
   * The message's content type, when it carried one: 'application/json' or
   * 'application/msgpack' (also 'application/x-msgpack', 'application/vnd.msgpack').
   * Anything else, or nothing, falls back to sniffing the first byte.
   */
  contentType?: string | null;
}

/** Header a publisher may set to declare the payload format. */
export const CONTENT_TYPE_HEADER = 'content-type';
export const CONTENT_TYPE_JSON = 'application/json';
export const CONTENT_TYPE_MSGPACK = 'application/msgpack';

const OPEN_BRACE = 0x7b;

type PayloadFormat = 'json' | 'msgpack';

function formatFromContentType(contentType: string): PayloadFormat | null {
  const lower = contentType.toLowerCase();
  if (lower.includes('json')) return 'json';
  if (lower.includes('msgpack') || lower.includes('messagepack')) return 'msgpack';
  return null;
}

/** '{' after optional JSON whitespace means JSON; everything else is MessagePack. */
function sniffFormat(data: Uint8Array): PayloadFormat {
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === OPEN_BRACE ? 'json' : 'msgpack';
  }
  return 'msgpack';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The two decoders a caller may reuse; `msgpack: null` means the one-shot library `decode`. */
interface PayloadDecoders {
  msgpack: Decoder | null;
  utf8: TextDecoder;
  /** The fast reader for the common shapes; null for one-shot decodes. */
  fast: EventReader | null;
}

/** Marks a failed payload decode; never produced by MessagePack or JSON, so `instanceof` is exact. */
class PayloadRejection {
  constructor(readonly rejection: Rejection) {}
}

function decodePayload(
  data: Uint8Array,
  maxBytes: number,
  contentType: string | null | undefined,
  decoders: PayloadDecoders,
  /** Where a prediction's features go on the fast path (see feature-schema.ts); null: into the event object. */
  schema: FeatureSchema | null = null,
  into: FeatureBuffer | null = null,
): unknown {
  if (data.byteLength > maxBytes) {
    return new PayloadRejection(reject('oversized', `payload is ${data.byteLength} bytes, the limit is ${maxBytes}`));
  }
  if (data.byteLength === 0) return new PayloadRejection(reject('undecodable', 'payload is empty'));
  const declared = contentType ? formatFromContentType(contentType) : null;
  const format = declared ?? sniffFormat(data);
  if (format === 'json') {
    try {
      return JSON.parse(decoders.utf8.decode(data));
    } catch (error) {
      return new PayloadRejection(reject('undecodable', `not valid JSON: ${errorMessage(error)}`));
    }
  }
  if (decoders.fast !== null) {
    const value = schema === null || into === null ? decoders.fast.read(data) : decoders.fast.readEvent(data, schema, into);
    if (value !== UNSUPPORTED) return value;
  }
  try {
    return decoders.msgpack === null ? decodeMsgpackOnce(data) : decoders.msgpack.decode(data);
  } catch (error) {
    return new PayloadRejection(reject('undecodable', `not valid MessagePack: ${errorMessage(error)}`));
  }
}

/**
 * A decoder to create once per consumer (worker partition loop) and reuse for every message:
 * it keeps one MessagePack `Decoder` (its buffers and key cache) instead of building one per call.
 * Per-call options override the constructor's defaults; nothing is allocated to merge them.
 */
export class EventDecoder {
  readonly #decoders: PayloadDecoders = { msgpack: new Decoder(), utf8: new TextDecoder('utf-8', { fatal: true }), fast: new EventReader() };
  readonly #maxBytes: number;
  readonly #maxFeatures: number;

  constructor(defaults?: { maxBytes?: number; maxFeatures?: number }) {
    this.#maxBytes = defaults?.maxBytes ?? WIRE_LIMITS.maxBytes;
    this.#maxFeatures = defaults?.maxFeatures ?? WIRE_LIMITS.maxFeatures;
  }

  decodePrediction(data: Uint8Array, opts?: DecodeOptions): DecodeResult<PredictionEvent> {
    const decoded = decodePayload(data, opts?.maxBytes ?? this.#maxBytes, opts?.contentType, this.#decoders);
    if (decoded instanceof PayloadRejection) return decoded.rejection;
    return checkPrediction(decoded, opts?.maxFeatures ?? this.#maxFeatures, opts?.expectedModel, 'count');
  }

  /**
   * decodePrediction for a hot loop: the features of a MessagePack event go into `into` by `schema`
   * index (`into.count` of them) and the event has no `features` field; when the fast path cannot
   * take the event (JSON, unusual encodings or values, names beyond the schema), `into.count` is 0
   * and the features are on the event as decodePrediction returns them. Either way the result, and
   * every rejection with its message, is decodePrediction's. `into` must hold this decoder's
   * maxFeatures, so an event with more is left to the validator's count check.
   */
  decodePredictionInto(
    data: Uint8Array,
    schema: FeatureSchema,
    into: FeatureBuffer,
    expectedModel: string | undefined,
    contentType: string | undefined,
  ): DecodeResult<PredictionEvent> {
    if (into.capacity < this.#maxFeatures) {
      throw new RangeError(`decodePredictionInto: the feature buffer holds ${into.capacity} features, the decoder accepts ${this.#maxFeatures}`);
    }
    into.count = 0;
    const decoded = decodePayload(data, this.#maxBytes, contentType, this.#decoders, schema, into);
    if (decoded instanceof PayloadRejection) return decoded.rejection;
    return checkPrediction(decoded, this.#maxFeatures, expectedModel, 'count');
  }

  decodeLabel(data: Uint8Array, opts?: DecodeOptions): DecodeResult<LabelEvent> {
    const decoded = decodePayload(data, opts?.maxBytes ?? this.#maxBytes, opts?.contentType, this.#decoders);
    if (decoded instanceof PayloadRejection) return decoded.rejection;
    return checkLabel(decoded, opts?.expectedModel);
  }
}

function oneShotDecoders(): PayloadDecoders {
  return { msgpack: null, utf8: new TextDecoder('utf-8', { fatal: true }), fast: null };
}

/** One-shot decode of a prediction (builds a MessagePack decoder per call: use EventDecoder in loops). */
export function decodePrediction(data: Uint8Array, opts?: DecodeOptions): DecodeResult<PredictionEvent> {
  const decoded = decodePayload(data, opts?.maxBytes ?? WIRE_LIMITS.maxBytes, opts?.contentType, oneShotDecoders());
  if (decoded instanceof PayloadRejection) return decoded.rejection;
  return checkPrediction(decoded, opts?.maxFeatures ?? WIRE_LIMITS.maxFeatures, opts?.expectedModel, 'count');
}

/** One-shot decode of a label (builds a MessagePack decoder per call: use EventDecoder in loops). */
export function decodeLabel(data: Uint8Array, opts?: DecodeOptions): DecodeResult<LabelEvent> {
  const decoded = decodePayload(data, opts?.maxBytes ?? WIRE_LIMITS.maxBytes, opts?.contentType, oneShotDecoders());
  if (decoded instanceof PayloadRejection) return decoded.rejection;
  return checkLabel(decoded, opts?.expectedModel);
}
