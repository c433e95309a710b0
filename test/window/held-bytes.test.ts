import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ModelWindows } from '../../src/window/windows.ts';
import { DEFAULT_PANE_LIMITS, FEATURE_MIN_INDEXABLE, PaneInput, featureAccuracyOf, inputToWire } from '../../src/window/pane.ts';
import { decodePaneMessage, encodePaneMessage } from '../../src/contract/pane-codec.ts';
import { MsgpackReader } from '../../src/contract/msgpack-reader.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PANE = 10_000;
const WINDOWS = new Map([['1m', 60_000], ['5m', 300_000]]);
/**
 * What the NATS client hands the changelog: each message a Buffer view into a 64 KB socket read
 * (a Buffer's slice() is a view too, where a Uint8Array's copies: tested with plain views, a copy
 * made with slice() passed and kept the read alive under NATS).
 */
const CHUNK_BYTES = 65_536;

function paneBytes(partition: number, paneStart: number, values: number[]): Uint8Array {
  const pane = new PaneInput(DEFAULT_PANE_LIMITS);
  for (const v of values) {
    pane.count++;
    pane.latency.add(v);
    pane.addFeature('x', v);
    pane.addFeature('y', v * 3);
  }
  return encodePaneMessage({ model: 'm', version: 'v1', partition, paneStart, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(pane), final: false });
}

/**
 * Applies the message decoded by `reader` from a Buffer view into a chunk of its own; returns a
 * weak reference to the chunk. One reader for every message, as the changelog has: it remembers
 * the strings it read (keys, model, version), and views of the last buffer it read.
 */
function applyFromChunk(windows: ModelWindows, reader: MsgpackReader, bytes: Uint8Array): WeakRef<ArrayBuffer> {
  const chunk = new ArrayBuffer(CHUNK_BYTES);
  const view = Buffer.from(chunk, 1_000, bytes.length);
  view.set(bytes);
  windows.applyMessage(decodePaneMessage(view, reader));
  return new WeakRef(chunk);
}

async function collected(ref: WeakRef<ArrayBuffer>): Promise<boolean> {
  // a WeakRef holds its target until the job that made it is over
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  return ref.deref() === undefined;
}

describe('a held pane state keeps none of the bytes it was read from', () => {
  const values = Array.from({ length: 40 }, (_, i) => 100 + ((i * 7) % 40) - 20);

  it.each([
    ['held as its bytes (on the model buckets)', false],
    ['held as objects (its sketches moved onto the reference buckets)', true],
  ])('%s: the socket read it came in is let go', async (_, hinted) => {
    const accuracy = featureAccuracyOf(DEFAULT_PANE_LIMITS);
    const reference = new LogHistogram(accuracy, { center: 97.5, minIndexable: FEATURE_MIN_INDEXABLE });
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, hinted ? { bucketsHint: () => reference } : {});
    const reader = new MsgpackReader();
    const chunks = [0, 1, 2].map((partition) => applyFromChunk(windows, reader, paneBytes(partition, 0, values)));
    // the windows' scratch and the reader remember the last buffer they read: a message of its own after
    windows.applyMessage(decodePaneMessage(paneBytes(9, 0, values), reader));
    expect(windows.heldStates.perPartition).toBe(4);
    for (const [k, chunk] of chunks.entries()) expect(await collected(chunk), `chunk of partition ${k}`).toBe(true);
    // and what they held is whole: each partition's state, replaced, leaves exactly what it brought
    for (const partition of [0, 1, 2, 9]) windows.applyMessage(decodePaneMessage(paneBytes(partition, 0, [5]), reader));
    const x = windows.get('1m')?.input.features.get('x')?.numeric;
    expect(x?.count).toBe(4);
    expect(x?.quantile(0.5)).toBeCloseTo(5, 0);
  });
});

describe("a window's feature sums", () => {
  function paneOf(values: number[]): PaneInput {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const v of values) {
      pane.count++;
      pane.addFeature('x', v);
    }
    return pane;
  }

  it('hold one byte a bucket while each is below 256, two from the first past it, with the figures of two-byte counts', () => {
    const windows = new ModelWindows('m', WINDOWS, DEFAULT_PANE_LIMITS, {});
    const reader = new MsgpackReader();
    const spread = (partition: number): number[] => Array.from({ length: 200 }, (_, i) => 50 + ((i * 37 + partition * 11) % 200) * 0.73);
    // the same sum with the sketches' default counts (two bytes), merged in the same order
    let plain: LogHistogram | null = null;
    const addToPlain = (values: number[]): void => {
      const sketch = paneOf(values).features.get('x')?.numeric as LogHistogram;
      plain ??= new LogHistogram(sketch.relativeAccuracy, { ...sketch.options, byteCounts: false });
      plain.merge(LogHistogram.rebinnedLike(sketch, plain));
    };
    const sumOfX = (): LogHistogram => windows.get('1m')?.input.features.get('x')?.numeric as LogHistogram;
    for (const partition of [0, 1, 2]) {
      const values = spread(partition);
      windows.applyMessage(decodePaneMessage(encodePaneMessage({ model: 'm', version: 'v1', partition, paneStart: 0, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(paneOf(values)), final: false }), reader));
      addToPlain(values);
    }
    const sum = sumOfX();
    const twoBytes = plain as unknown as LogHistogram;
    expect(sum.count).toBe(600);
    expect(sum.storeForms()).toMatchObject({ positive: 'array', negative: 'array', bytesPerWeight: 1 });
    expect(twoBytes.storeForms().bytesPerWeight).toBe(2);
    for (const q of [0.01, 0.1, 0.5, 0.9, 0.99]) expect(sum.quantile(q), `q ${q}`).toBe(twoBytes.quantile(q));
    // a partition whose pane holds 300 of one value: that bucket is past a byte
    const busy = [...spread(3).slice(0, 100), ...Array.from({ length: 300 }, () => 123.4)];
    windows.applyMessage(decodePaneMessage(encodePaneMessage({ model: 'm', version: 'v1', partition: 3, paneStart: 0, paneMs: PANE, part: 'in', seq: 0, state: inputToWire(paneOf(busy)), final: false }), reader));
    addToPlain(busy);
    const widened = sumOfX();
    expect(widened.count).toBe(1000);
    expect(widened.storeForms().bytesPerWeight).toBe(2);
    for (const q of [0.01, 0.1, 0.5, 0.9, 0.99]) expect(widened.quantile(q), `q ${q}`).toBe(twoBytes.quantile(q));
  });
});
