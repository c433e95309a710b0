import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode, decode } from '@msgpack/msgpack';
import { Buffer } from 'node:buffer';
import { MsgpackReader, UNSUPPORTED } from '../../src/contract/msgpack-reader.ts';
import { EventDecoder, decodePrediction } from '../../src/events/decode.ts';
import { FeatureBuffer, FeatureSchema } from '../../src/events/feature-schema.ts';

/** What the general decoder makes of bytes, or a marker when it throws. */
function general(bytes: Uint8Array): unknown {
  try {
    return { value: decode(bytes) };
  } catch {
    return 'throws';
  }
}

// events' shapes, and byte arrays (pane states' sketches)
const valueLike = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.maxSafeInteger(),
    fc.string(),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 30 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 6 }),
  ),
})).value;

describe('MsgpackReader', () => {
  it('decodes whatever @msgpack/msgpack encodes exactly as @msgpack/msgpack decodes it', () => {
    const reader = new MsgpackReader();
    fc.assert(
      fc.property(valueLike, (value) => {
        const bytes = encode(value);
        const mine = reader.read(bytes);
        if (mine === UNSUPPORTED) return; // falls back to the general decoder
        expect(mine).toStrictEqual(decode(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads payloads cut from one shared buffer at any offset, as a NATS client hands them on', () => {
    const reader = new MsgpackReader();
    fc.assert(
      fc.property(fc.array(fc.tuple(valueLike, fc.boolean()), { minLength: 1, maxLength: 8 }), fc.nat({ max: 7 }), (values, lead) => {
        // float32 too (forceFloat32), and every integer width through fc.integer / maxSafeInteger
        const payloads = values.map(([value, float32]) => encode(value, { forceFloat32: float32 }));
        const chunk = new Uint8Array(lead + payloads.reduce((n, p) => n + p.length, 0));
        let at = lead;
        const cut = payloads.map((p) => {
          chunk.set(p, at);
          at += p.length;
          return chunk.subarray(at - p.length, at);
        });
        for (const bytes of cut) {
          const mine = reader.read(bytes);
          if (mine !== UNSUPPORTED) expect(mine).toStrictEqual(decode(bytes));
        }
        // a truncated payload (its last byte cut) is never read as something else
        for (const bytes of cut) {
          const truncated = bytes.subarray(0, bytes.length - 1);
          const mine = reader.read(truncated);
          if (mine !== UNSUPPORTED) expect({ value: mine }).toStrictEqual(general(truncated));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('on arbitrary bytes either defers to the general decoder or agrees with it', () => {
    const reader = new MsgpackReader();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const mine = reader.read(bytes);
        if (mine === UNSUPPORTED) return;
        expect({ value: mine }).toStrictEqual(general(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it('returns repeated short strings from its cache and decodes typical events', () => {
    const reader = new MsgpackReader();
    const event = { id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479', model: 'fraud', ts: 1_700_000_000_123, output: 0.25, features: { country: 'FR', city: 'Zürich', n: -3, big: 2 ** 40, f: 1.5, none: null }, segment: { g: 'a' } };
    for (let i = 0; i < 3; i++) expect(reader.read(encode(event))).toStrictEqual(event);
    // different bytes of the same length in the same cache slot are not confused
    expect(reader.read(encode({ country: 'DE' }))).toStrictEqual({ country: 'DE' });
  });

  it("reads an event's id of any shape as the general decoder does, the cache aside, from Buffers and arrays alike", () => {
    // fixstr and str8 lengths at the cache's limit (24) and the fixstr's (31), non-ASCII, numbers, nil
    const ids: unknown[] = ['', 'a', 'x'.repeat(24), 'y'.repeat(25), 'z'.repeat(31), 'w'.repeat(32), 'é-ü-漢'.repeat(9), 'k'.repeat(200), 42, -7, 1.5, null];
    const reader = new MsgpackReader();
    const decoder = new EventDecoder({ maxFeatures: 8 });
    const schema = new FeatureSchema(16);
    const buffer = new FeatureBuffer(8);
    for (const [k, id] of ids.entries()) {
      const label = encode({ id, model: 'm', ts: 5, label: 1 });
      const prediction = encode({ id, model: 'm', ts: 5, output: 0.5, features: { a: 1, b: 'c' } });
      for (const bytes of [label, Buffer.concat([Buffer.alloc(3), prediction]).subarray(3)]) {
        expect(reader.read(bytes), `id ${k}`).toEqual(decode(bytes));
        expect(reader.read(bytes), `id ${k}, read again`).toEqual(decode(bytes));
      }
      const byName = decodePrediction(prediction);
      const byIndex = decoder.decodePredictionInto(Buffer.from(prediction), schema, buffer, undefined, undefined);
      expect(byIndex.ok, `id ${k}`).toBe(byName.ok);
      if (byName.ok && byIndex.ok) expect(byIndex.event.id).toBe(byName.event.id);
      else if (!byName.ok && !byIndex.ok) expect(byIndex.detail).toBe(byName.detail);
    }
  });

  it('reads byte arrays (8, 16 and 32-bit lengths) as views into the bytes read, as the general decoder does', () => {
    const reader = new MsgpackReader();
    for (const length of [0, 2, 255, 256, 70_000]) {
      const sketch = Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);
      const bytes = encode({ s: sketch, n: 1 });
      const mine = reader.read(bytes) as { s: Uint8Array; n: number };
      expect(mine).toStrictEqual(decode(bytes));
      expect(mine.s.buffer).toBe(bytes.buffer);
      // a byte array longer than what is left is not read
      expect(reader.read(bytes.subarray(0, bytes.length - 3))).toBe(UNSUPPORTED);
    }
  });

  it('reads lists of numbers in every number form, and a list cut inside a number not at all', () => {
    const reader = new MsgpackReader();
    const values = [0.5, -1e300, 3, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, Number.MIN_VALUE, 1.5];
    for (const list of [values, [...values].reverse(), [1, 'a', 2.5, null, 3], [2.5, new Uint8Array([1]), 7]]) {
      for (const float32 of [false, true]) {
        const bytes = encode({ v: list }, { forceFloat32: float32 });
        expect(reader.read(bytes)).toStrictEqual(decode(bytes));
        for (let cut = 1; cut < bytes.length; cut++) expect(reader.read(bytes.subarray(0, cut)), `cut at ${cut}`).toBe(UNSUPPORTED);
      }
    }
  });

  it('defers what it does not read (timestamps, non-string keys, deep nesting, invalid UTF-8) to the general decoder', () => {
    const reader = new MsgpackReader();
    expect(reader.read(encode({ ts: new Date(0) }))).toBe(UNSUPPORTED);
    expect(reader.read(new Uint8Array([0x81, 0x01, 0xa1, 0x61]))).toBe(UNSUPPORTED); // {1: 'a'}
    expect(reader.read(encode([[[[[[[[[[1]]]]]]]]]]))).toBe(UNSUPPORTED);
    expect(reader.read(new Uint8Array([0xa2, 0xc3, 0x28]))).toBe(UNSUPPORTED);
    expect(reader.read(new Uint8Array([0x81, 0xa1]))).toBe(UNSUPPORTED); // truncated
  });
});
