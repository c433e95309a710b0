import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { copyBytes } from '../../src/contract/bytes.ts';
import { MsgpackReader } from '../../src/contract/msgpack-reader.ts';
import { EventDecoder } from '../../src/events/decode.ts';
import { encodePrediction } from '../../src/events/encode.ts';
import { FeatureBuffer, FeatureSchema } from '../../src/events/feature-schema.ts';
import type { PredictionEvent } from '../../src/events/types.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A socket read as the NATS client hands it on: messages are Buffer views into it. */
const CHUNK_BYTES = 65_536;

/** `bytes` written at `at` into a chunk of its own, as a Buffer view; with a weak reference to the chunk. */
function inChunk(bytes: Uint8Array, at = 1_000): { view: Buffer; chunk: WeakRef<ArrayBuffer> } {
  const chunk = new ArrayBuffer(CHUNK_BYTES);
  const view = Buffer.from(chunk, at, bytes.length);
  view.set(bytes);
  return { view, chunk: new WeakRef(chunk) };
}

async function collected(ref: WeakRef<ArrayBuffer>): Promise<boolean> {
  // a WeakRef holds its target until the job that made it is over
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  return ref.deref() === undefined;
}

function prediction(i: number, country: string): PredictionEvent {
  return { id: `p-${i}`, model: 'fraud', version: 'v2', ts: 1_700_000_000_000 + i, output: 0.25, latencyMs: 3, features: { amount: 12.5 + i, country, device: 'ios' } };
}

describe('copyBytes', () => {
  it.each([
    ['a Buffer view (as the NATS client hands a message)', (chunk: ArrayBuffer) => Buffer.from(chunk, 100, 16)],
    ['a Uint8Array view', (chunk: ArrayBuffer) => new Uint8Array(chunk, 100, 16)],
  ])('copies %s into an array of its own', (_, viewOf) => {
    const chunk = new ArrayBuffer(CHUNK_BYTES);
    const view = viewOf(chunk);
    view.set(Array.from({ length: 16 }, (_, i) => i * 3));
    const copy = copyBytes(view, 2, 10);
    expect(Array.from(copy)).toEqual([6, 9, 12, 15, 18, 21, 24, 27]);
    expect(copy.buffer).not.toBe(chunk);
    expect(copy.buffer.byteLength).toBe(8);
    view[2] = 99;
    expect(copy[0]).toBe(6);
    expect(Array.from(copyBytes(view))).toHaveLength(16);
  });
});

describe('a reader keeps none of the socket reads it read strings from', () => {
  it('MsgpackReader: the short strings and keys it remembers are copies', async () => {
    const reader = new MsgpackReader();
    const reads = ['NL', 'DE', 'FR'].map((country) => {
      const { view, chunk } = inChunk(encodeMap({ model: 'fraud', version: 'v2', country }));
      expect(reader.read(view)).toEqual({ model: 'fraud', version: 'v2', country });
      return chunk;
    });
    // the reader views the last buffer it read (one at a time): a message of its own after
    expect(reader.read(encodeMap({ model: 'fraud', version: 'v2', country: 'NL' }))).toEqual({ model: 'fraud', version: 'v2', country: 'NL' });
    for (const [k, chunk] of reads.entries()) expect(await collected(chunk), `read ${k}`).toBe(true);
  });

  it("a worker's event decoder: model, version and category values of events read from socket reads", async () => {
    const decoder = new EventDecoder({ maxFeatures: 16 });
    const schema = new FeatureSchema(64);
    const buffer = new FeatureBuffer(16);
    const reads = ['NL', 'DE', 'FR', 'BE'].map((country, i) => {
      const { view, chunk } = inChunk(encodePrediction(prediction(i, country)));
      const result = decoder.decodePredictionInto(view, schema, buffer, 'fraud', undefined);
      expect(result.ok && result.event.model === 'fraud' && result.event.version === 'v2').toBe(true);
      expect(buffer.count).toBe(3);
      expect(buffer.strings.slice(0, 3)).toContain(country);
      return chunk;
    });
    decoder.decodePredictionInto(encodePrediction(prediction(9, 'NL')), schema, buffer, 'fraud', undefined);
    for (const [k, chunk] of reads.entries()) expect(await collected(chunk), `event ${k}`).toBe(true);
  });
});

function encodeMap(value: Record<string, string>): Uint8Array {
  const entries = Object.entries(value);
  const parts: number[] = [0x80 | entries.length];
  const str = (s: string) => {
    const bytes = Buffer.from(s, 'utf8');
    parts.push(0xa0 | bytes.length, ...bytes);
  };
  for (const [k, v] of entries) {
    str(k);
    str(v);
  }
  return Uint8Array.from(parts);
}
