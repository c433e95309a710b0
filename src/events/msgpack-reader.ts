/**
 * The event reader: MsgpackReader (src/contract/msgpack-reader.ts) with `readEvent`, which reads
 * a top-level map the same way, except that a `features` map goes into a FeatureBuffer by schema
 * index instead of into an object (src/events/feature-schema.ts); an event whose features it
 * cannot buffer exactly is UNSUPPORTED, and the caller decodes it by name.
 */
import { KEY_SLOTS, MsgpackReader, UNSUPPORTED, UNSUPPORTED_ERROR } from '../contract/msgpack-reader.ts';
import { FEATURE_NULL, FEATURE_NUMBER, FEATURE_STRING } from './feature-schema.ts';
import type { FeatureBuffer, FeatureSchema } from './feature-schema.ts';
import { WIRE_LIMITS } from './validate.ts';

export { UNSUPPORTED };

export class EventReader extends MsgpackReader {
  /**
   * Like `read`, for an event: its `features` map (when it is one) is decoded into `into` by
   * `schema` index and left off the returned object. UNSUPPORTED (with `into.count` 0) when the
   * payload or its features are outside what the buffer represents exactly: a feature value that
   * is not a finite number, a string within the category limit or nil; a name the schema does not
   * intern; a key repeated; more features than `into` holds. The by-name path then decides.
   */
  readEvent(bytes: Uint8Array, schema: FeatureSchema, into: FeatureBuffer): unknown {
    this.begin(bytes);
    into.count = 0;
    try {
      const value = this.eventMap(schema, into);
      if (this.pos === bytes.length) return value;
    } catch {
      // truncated input or an unsupported type: as in read()
    }
    into.count = 0;
    return UNSUPPORTED;
  }

  private eventMap(schema: FeatureSchema, into: FeatureBuffer): unknown {
    const bytes = this.bytes;
    if (this.pos >= bytes.length) throw UNSUPPORTED_ERROR;
    const b = bytes[this.pos];
    let size: number;
    if ((b & 0xf0) === 0x80) {
      size = b & 0x0f;
      this.pos++;
    } else if (b === 0xde) {
      size = this.uint16(this.pos + 1);
      this.pos += 3;
    } else {
      // not a map (or a 32-bit sized one): read() makes the value and the validator judges it
      return this.value(0);
    }
    if (size > bytes.length - this.pos) throw UNSUPPORTED_ERROR;
    const out: Record<string, unknown> = {};
    let sawFeatures = false;
    for (let i = 0; i < size; i++) {
      const k = bytes[this.pos++];
      let length: number;
      if ((k & 0xe0) === 0xa0) length = k & 0x1f;
      else if (k === 0xd9) length = bytes[this.pos++];
      else throw UNSUPPORTED_ERROR; // non-string keys
      const key = this.key(length, i & (KEY_SLOTS - 1));
      if (key === '__proto__') throw UNSUPPORTED_ERROR;
      if (key === 'features') {
        if (sawFeatures) throw UNSUPPORTED_ERROR; // a repeated key: the last one wins in an object
        sawFeatures = true;
        // an empty map stays an (empty) object, as read() makes it
        const next = bytes[this.pos];
        if (((next & 0xf0) === 0x80 && next !== 0x80) || (next === 0xde && (bytes[this.pos + 1] | bytes[this.pos + 2]) !== 0)) {
          this.features(schema, into);
          continue;
        }
      }
      out[key] = key === 'id' ? this.uniqueValue(1) : this.value(1);
    }
    return out;
  }

  // The hot loop of a worker at many features per event: the position, the payload and the
  // schema's arrays are locals (a field store per byte read cost a third of the decoding).
  private features(schema: FeatureSchema, into: FeatureBuffer): void {
    const bytes = this.bytes;
    const end = bytes.length;
    let pos = this.pos;
    const b = bytes[pos++];
    let size: number;
    if (b === 0xde) {
      if (pos + 2 > end) throw UNSUPPORTED_ERROR;
      size = (bytes[pos] << 8) | bytes[pos + 1];
      pos += 2;
    } else size = b & 0x0f;
    // more than the buffer holds is more than the decoder accepts: the validator says so
    if (size > into.capacity || size > end - pos) throw UNSUPPORTED_ERROR;
    schema.beginEvent(size);
    const { seenIn, stamp, keyAt, keyLength, keyIndexes } = schema;
    let { keyBytes, keyView } = schema;
    const { indexes, kinds, numbers } = into;
    const { view, base } = this;
    for (let position = 0; position < size; position++) {
      if (pos >= end) throw UNSUPPORTED_ERROR;
      const k = bytes[pos++];
      let length: number;
      if ((k & 0xe0) === 0xa0) length = k & 0x1f;
      else if (k === 0xd9 && pos < end) length = bytes[pos++];
      else throw UNSUPPORTED_ERROR;
      const start = pos;
      pos += length;
      if (pos >= end) throw UNSUPPORTED_ERROR; // a value must follow
      let index = -1;
      if (keyLength[position] === length) {
        // four bytes at a time (byte by byte, the comparison was 40 % of decoding), the last four as
        // one word overlapping the one before rather than a loop over the rest: a 200-feature
        // event's decoding 6-13 % cheaper with keys of 5 to 7 bytes (bench decode)
        const at = keyAt[position];
        if (length >= 4) {
          let i = 0;
          while (i + 4 < length && keyView.getUint32(at + i, true) === view.getUint32(base + start + i, true)) i += 4;
          if (i + 4 >= length && keyView.getUint32(at + length - 4, true) === view.getUint32(base + pos - 4, true)) index = keyIndexes[position];
        } else {
          let i = 0;
          while (i < length && keyBytes[at + i] === bytes[start + i]) i++;
          if (i === length) index = keyIndexes[position];
        }
      }
      if (index < 0) {
        this.pos = start;
        index = schema.indexOf(this.string(length));
        if (index < 0) throw UNSUPPORTED_ERROR;
        schema.rememberKey(position, bytes, start, length, index);
        keyBytes = schema.keyBytes;
        keyView = schema.keyView;
      }
      if (seenIn[index] === stamp) throw UNSUPPORTED_ERROR; // a repeated key
      seenIn[index] = stamp;
      indexes[position] = index;
      const v = bytes[pos];
      // the common encodings first, read in place: a float64, a small integer
      if (v === 0xcb) {
        if (pos + 9 > end) throw UNSUPPORTED_ERROR;
        const x = view.getFloat64(base + pos + 1);
        pos += 9;
        if (x - x !== 0) throw UNSUPPORTED_ERROR; // NaN or +-Infinity: the validator names it
        kinds[position] = FEATURE_NUMBER;
        numbers[position] = x;
      } else if (v <= 0x7f) {
        pos++;
        kinds[position] = FEATURE_NUMBER;
        numbers[position] = v;
      } else if (v === 0xc0) {
        pos++;
        kinds[position] = FEATURE_NULL;
      } else if ((v & 0xe0) === 0xa0 || v === 0xd9 || v === 0xda || v === 0xdb) {
        this.pos = pos;
        const text = this.value(2) as string;
        pos = this.pos;
        if (text.length > WIRE_LIMITS.maxCategoryLength) throw UNSUPPORTED_ERROR;
        kinds[position] = FEATURE_STRING;
        into.strings[position] = text;
      } else if (v >= 0xe0 || (v >= 0xca && v <= 0xd3)) {
        this.pos = pos;
        const x = this.value(2) as number;
        pos = this.pos;
        if (x - x !== 0) throw UNSUPPORTED_ERROR; // NaN or +-Infinity: the validator names it
        kinds[position] = FEATURE_NUMBER;
        numbers[position] = x;
      } else throw UNSUPPORTED_ERROR;
    }
    this.pos = pos;
    into.count = size;
  }
}
