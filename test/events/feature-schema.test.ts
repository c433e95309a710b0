import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { EventDecoder } from '../../src/events/decode.ts';
import { encodeJson, encodePrediction } from '../../src/events/encode.ts';
import { FEATURE_NULL, FEATURE_NUMBER, FeatureBuffer, FeatureSchema } from '../../src/events/feature-schema.ts';
import type { DecodeResult, FeatureValue, PredictionEvent } from '../../src/events/types.ts';

const MAX_FEATURES = 16;

function event(features: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'p1', model: 'm', version: 'v1', ts: 1_700_000_000_000, output: 0.25, features, latencyMs: 3, ...extra };
}

/** A MessagePack map written entry by entry, so a test can repeat a key (an object cannot). */
function mapBytes(entries: readonly [string, Uint8Array][]): Uint8Array {
  const parts = [Uint8Array.of(0x80 | entries.length), ...entries.flatMap(([key, value]) => [encode(key), value])];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The fast decode with its buffered features put back on the event, in the buffer's order. */
function decodeBuffered(decoder: EventDecoder, data: Uint8Array, schema: FeatureSchema, buffer: FeatureBuffer): DecodeResult<PredictionEvent> {
  const result = decoder.decodePredictionInto(data, schema, buffer, 'm', undefined);
  if (!result.ok || buffer.count === 0) return result;
  expect(result.event.features).toBeUndefined();
  const features: Record<string, FeatureValue> = {};
  for (let k = 0; k < buffer.count; k++) {
    const name = schema.names[buffer.indexes[k]];
    const kind = buffer.kinds[k];
    features[name] = kind === FEATURE_NUMBER ? buffer.numbers[k] : kind === FEATURE_NULL ? null : buffer.strings[k];
  }
  return { ok: true, event: { ...result.event, features } };
}

/** Decodes `payloads` both ways, in order, with one schema; returns how many the fast path buffered. */
function expectSameDecodes(payloads: readonly Uint8Array[], schema = new FeatureSchema(MAX_FEATURES * 4)): boolean[] {
  const byName = new EventDecoder({ maxFeatures: MAX_FEATURES });
  const byIndex = new EventDecoder({ maxFeatures: MAX_FEATURES });
  const buffer = new FeatureBuffer(MAX_FEATURES);
  return payloads.map((data) => {
    const expected = byName.decodePrediction(data, { expectedModel: 'm' });
    const actual = decodeBuffered(byIndex, data, schema, buffer);
    expect(actual).toEqual(expected);
    if (expected.ok && expected.event.features !== undefined && actual.ok) {
      // the order a pane sees the features in (its feature cap keeps the first ones)
      expect(Object.keys(actual.event.features ?? {})).toEqual(Object.keys(expected.event.features));
    }
    return buffer.count > 0;
  });
}

describe('decodePredictionInto (features by schema index)', () => {
  it('buffers the features of ordinary events, in their order, whatever order and set each event sends', () => {
    const buffered = expectSameDecodes([
      encodePrediction(event({ a: 1.5, b: 'x', c: null }) as unknown as PredictionEvent),
      encodePrediction(event({ c: null, a: 2, b: 'y' }) as unknown as PredictionEvent),
      encodePrediction(event({ ab: -7, ac: 2 ** 40, 'température': 0.1, d: 'é' }) as unknown as PredictionEvent),
      encodePrediction(event({ ac: 1, ab: 2, '01': 3 }) as unknown as PredictionEvent),
      encodePrediction(event({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10, k: 11, l: 12, m: 13, n: 14, o: 15, p: 16 }) as unknown as PredictionEvent),
    ]);
    expect(buffered).toEqual([true, true, true, true, true]);
  });

  it('gives every rejection, with its message, exactly as decodePrediction does', () => {
    const long = 'x'.repeat(129);
    const buffered = expectSameDecodes([
      encodePrediction(event({ a: Number.NaN }) as unknown as PredictionEvent),
      encodePrediction(event({ a: Number.POSITIVE_INFINITY, b: 1 }) as unknown as PredictionEvent),
      encodePrediction(event({ a: 1, b: true }) as unknown as PredictionEvent),
      encodePrediction(event({ a: [1, 2] }) as unknown as PredictionEvent),
      encodePrediction(event({ a: { nested: 1 } }) as unknown as PredictionEvent),
      encodePrediction(event({ a: 'c'.repeat(257) }) as unknown as PredictionEvent),
      encodePrediction(event({ [long]: 1 }) as unknown as PredictionEvent),
      encodePrediction(event(Object.fromEntries(Array.from({ length: MAX_FEATURES + 1 }, (_, i) => [`f${i}`, i]))) as unknown as PredictionEvent),
      encodePrediction(event([1, 2]) as unknown as PredictionEvent),
      encodePrediction(event('a string') as unknown as PredictionEvent),
      // two problems: the output is checked before the features, on both paths
      encodePrediction(event({ a: Number.NaN }, { output: 'o'.repeat(300) }) as unknown as PredictionEvent),
      encodePrediction(event({ a: 1 }, { model: 'other' }) as unknown as PredictionEvent),
      encodePrediction(event({ a: 1 }, { latencyMs: -1 }) as unknown as PredictionEvent),
    ]);
    // the last two have good features: buffered, then rejected for another field
    expect(buffered).toEqual([...new Array<boolean>(11).fill(false), true, true]);
  });

  it('leaves to the by-name path what an object would enumerate or keep differently', () => {
    const features = mapBytes([
      ['a', encode(1)],
      ['b', encode(2)],
      ['a', encode(3)],
    ]);
    const repeatedFeature = mapBytes([
      ['a', encode(1)],
      ['b', encode(2)],
    ]);
    const topLevel = (entries: [string, Uint8Array][]) =>
      mapBytes([['id', encode('p1')], ['model', encode('m')], ['ts', encode(1_700_000_000_000)], ['output', encode(0.5)], ...entries]);
    const buffered = expectSameDecodes([
      // array-index names come first in an object's key order, whatever the order sent
      topLevel([
        [
          'features',
          mapBytes([
            ['b', encode(1)],
            ['1', encode(2)],
            ['0', encode(3)],
          ]),
        ],
      ]),
      // a repeated key: its first position, its last value
      topLevel([['features', features]]),
      // `features` twice: the last one counts
      topLevel([
        ['features', repeatedFeature],
        ['features', encode({ z: 9 })],
      ]),
      topLevel([
        ['features', encode(null)],
        ['features', repeatedFeature],
      ]),
      topLevel([['__proto__', encode({ x: 1 })]]),
      topLevel([['features', mapBytes([['__proto__', encode(1)]])]]),
      encodeJson(event({ a: 1, b: 'x' }) as unknown as PredictionEvent),
      // ordinary again afterwards
      encodePrediction(event({ a: 1, b: 'x' }) as unknown as PredictionEvent),
    ]);
    expect(buffered).toEqual([false, false, false, false, false, false, false, true]);
  });

  it('decodes features without or beyond a full schema by name, with the same results', () => {
    const schema = new FeatureSchema(3);
    const buffered = expectSameDecodes(
      [
        encodePrediction(event({ a: 1, b: 2 }) as unknown as PredictionEvent),
        encodePrediction(event({ a: 1, b: 2, c: 3, d: 4 }) as unknown as PredictionEvent),
        encodePrediction(event({ c: 5, a: 1 }) as unknown as PredictionEvent),
        encodePrediction(event({}) as unknown as PredictionEvent),
        encodePrediction(event(null) as unknown as PredictionEvent),
        encodePrediction(event(undefined) as unknown as PredictionEvent),
      ],
      schema,
    );
    expect(buffered).toEqual([true, false, true, false, false, false]);
    expect(schema.names).toEqual(['a', 'b', 'c']);
  });

  it('decodes right, in bounded memory, when the key at each position keeps changing', () => {
    // every event rotates the order of 16 long names: each key misses at its position, and is
    // remembered again, until the schema's key memory (1 MB) is full and starts over
    const names = Array.from({ length: MAX_FEATURES }, (_, i) => `feature_${i}_`.padEnd(120, 'x'));
    const payloads = Array.from({ length: 1200 }, (_, e) => {
      const features: Record<string, number> = {};
      for (let i = 0; i < names.length; i++) features[names[(i + e) % names.length]] = e + i / 10;
      return encodePrediction(event(features) as unknown as PredictionEvent);
    });
    const schema = new FeatureSchema(MAX_FEATURES * 4);
    expect(expectSameDecodes(payloads, schema).every(Boolean)).toBe(true);
    expect(schema.names).toHaveLength(MAX_FEATURES);
    expect(schema.keyBytes.length).toBe(1 << 20);
  });

  it('tells a key from one of the same length that differs in any one byte, at every length', () => {
    // the key at a position is compared four bytes at a time, the last four overlapping the rest
    // (see MsgpackReader.features): a byte left out of the comparison would read the second name
    // as the first one remembered there
    for (let length = 1; length <= 21; length++) {
      const remembered = Array.from({ length }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
      const payloads: Uint8Array[] = [];
      for (let at = 0; at < length; at++) {
        const other = `${remembered.slice(0, at)}${at % 2 === 0 ? 'Z' : '_'}${remembered.slice(at + 1)}`;
        payloads.push(encodePrediction(event({ [remembered]: 1, z: 2 }) as unknown as PredictionEvent));
        payloads.push(encodePrediction(event({ [other]: 3, z: 4 }) as unknown as PredictionEvent));
      }
      const schema = new FeatureSchema(MAX_FEATURES * 4);
      expect(expectSameDecodes(payloads, schema).every(Boolean)).toBe(true);
      expect(schema.names).toHaveLength(length + 2);
    }
  });

  it('forgets every remembered key when its key memory starts over', () => {
    // position 0 keeps one name while position 1 alternates two until the key memory (here 1 KB)
    // starts over; the next event brings at position 0 a name just remembered at the memory's
    // start. Still remembered there from before, position 0 must not read it as its old name.
    const name = (label: string): string => label.padEnd(100, '_');
    const [a, x, y, c, z] = ['a', 'x', 'y', 'c', 'z'].map(name);
    for (let churn = 1; churn <= 30; churn++) {
      for (const first of [x, y]) {
        const payloads = Array.from({ length: churn }, (_, e) => encodePrediction(event({ [a]: 1, [e % 2 === 0 ? x : y]: 2, [c]: 3 }) as unknown as PredictionEvent));
        payloads.push(encodePrediction(event({ [first]: 4, [z]: 5, [c]: 6 }) as unknown as PredictionEvent));
        const schema = new FeatureSchema(MAX_FEATURES * 4, 1024);
        expect(expectSameDecodes(payloads, schema).every(Boolean)).toBe(true);
        expect(schema.keyBytes.length).toBe(1024);
      }
    }
  });

  it('refuses a buffer smaller than what the decoder accepts', () => {
    const decoder = new EventDecoder({ maxFeatures: MAX_FEATURES });
    expect(() => decoder.decodePredictionInto(encodePrediction(event({ a: 1 }) as unknown as PredictionEvent), new FeatureSchema(4), new FeatureBuffer(4), 'm', undefined)).toThrow(
      /feature buffer holds 4 features, the decoder accepts 16/,
    );
  });
});
