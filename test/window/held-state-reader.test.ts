import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { HeldStateReader } from '../../src/window/held-state-reader.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, inputFromWire, inputToWire } from '../../src/window/pane.ts';
import { packPaneState, packStateBytes, unpackPaneState } from '../../src/window/packed-state.ts';
import { BucketScratch } from '../../src/sketch/bucket-store.ts';
import { MsgpackReader } from '../../src/contract/msgpack-reader.ts';
import type { PaneInputWire } from '../../src/contract/pane-wire.ts';

const limits = { ...DEFAULT_PANE_LIMITS, segmentSketchValues: 4 };

/** A pane as a worker fills it: numeric features of few and many values, categories, nulls, outputs, segments, invalid values. */
const paneShape = fc.record({
  events: fc.array(
    fc.record({
      numbers: fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -3, max: 3 }), fc.constant(null)), { minLength: 1, maxLength: 6 }),
      city: fc.oneof(fc.constantFrom('paris', 'lyon', 'nice'), fc.constant(null)),
      output: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('cat', 'dog')),
      segment: fc.option(fc.record({ region: fc.constantFrom('eu', 'us') }), { nil: undefined }),
      invalid: fc.boolean(),
    }),
    { minLength: 1, maxLength: 60 },
  ),
  // a feature past the exact cap: its sketch sent as bytes (`n`), not as its values (`r`)
  manyValues: fc.boolean(),
});

type PaneShape = typeof paneShape extends fc.Arbitrary<infer T> ? T : never;

function paneOf(shape: PaneShape): PaneInput {
  const pane = new PaneInput(limits);
  shape.events.forEach((event, i) => {
    pane.addPrediction(event.output, typeof event.output === 'number' ? event.output : Number.NaN, 0.5, 10 + i, i % 7 === 0, event.segment);
    event.numbers.forEach((value, k) => pane.addFeature(`f${k}`, value));
    pane.addFeature('city', event.city);
    if (event.segment !== undefined) pane.addSegmentFeatures(event.segment, { f0: event.numbers[0], city: event.city });
    if (event.invalid) pane.countInvalidFeatures(['flag']);
    if (shape.manyValues) for (let k = 0; k < 40; k++) pane.addFeature('wide', i * 40 + k + 0.5);
  });
  return pane;
}

/** What the general path makes of a packed state, and what the reader makes, both as wire (the decoded pane's every field). */
function bothWays(packed: Uint8Array): { general: PaneInputWire; held: PaneInputWire | null } {
  const general = inputToWire(inputFromWire(unpackPaneState<PaneInputWire>(packed, new MsgpackReader()), limits, 'state', new BucketScratch(), true));
  const held = new HeldStateReader().readHeldInput(packed, limits, new BucketScratch());
  return { general, held: held === null ? null : inputToWire(held) };
}

describe('a held input state read without wire objects (HeldStateReader)', () => {
  it('is the pane the general reader makes of the same bytes, field for field, in the features\' order', () => {
    fc.assert(
      fc.property(paneShape, (shape) => {
        const wire = inputToWire(paneOf(shape));
        // as a message carries it (a state's MessagePack behind the raw head), and as a fold packs one raw
        for (const packed of [packStateBytes(encode(wire)), packPaneState(wire, false)]) {
          const { general, held } = bothWays(packed);
          expect(held).not.toBeNull();
          expect(held).toEqual(general);
          expect(Object.keys((held as PaneInputWire).features)).toEqual(Object.keys(general.features));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('one reader reads state after state: nothing of one feature or state is left in the next', () => {
    const reader = new HeldStateReader();
    const scratch = new BucketScratch();
    const wires = fc.sample(paneShape, { numRuns: 40, seed: 7 }).map((shape) => inputToWire(paneOf(shape)));
    for (const wire of wires) {
      const packed = packStateBytes(encode(wire));
      const held = reader.readHeldInput(packed, limits, scratch);
      expect(held).not.toBeNull();
      expect(inputToWire(held as PaneInput)).toEqual(bothWays(packed).general);
    }
  });

  it('on bytes changed anywhere, reads (or refuses) what the general reader does, or leaves them to it: never another pane', () => {
    const shapes = fc.sample(paneShape, { numRuns: 20, seed: 11 });
    fc.assert(
      fc.property(fc.nat(shapes.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }), (which, flips) => {
        const bytes = packStateBytes(encode(inputToWire(paneOf(shapes[which]))));
        for (const [at, value] of flips) bytes[2 + (at % (bytes.length - 2))] = value;
        // the pane as wire, or what was refused and why
        const outcome = (read: () => PaneInput | null): PaneInputWire | string | null => {
          try {
            const pane = read();
            return pane === null ? null : inputToWire(pane);
          } catch (error) {
            // the field refused (its figures may differ: a reader that gives up leaves the bytes to
            // @msgpack/msgpack, which reads a changed byte its own way)
            return `${(error as Error).name}: ${(error as { field?: string }).field ?? (error as Error).message}`;
          }
        };
        const held = outcome(() => new HeldStateReader().readHeldInput(bytes, limits, new BucketScratch()));
        if (held === null) return;
        const general = outcome(() => inputFromWire(unpackPaneState<PaneInputWire>(bytes, new MsgpackReader()), limits, 'state', new BucketScratch(), true));
        expect(held).toEqual(general);
      }),
      { numRuns: 1500 },
    );
  });

  it('leaves to the general reader what it does not read: deflated sketches, a field it does not know, bytes cut short', () => {
    const wire = inputToWire(paneOf({ events: [{ numbers: [1.5, 2], city: 'paris', output: 0.3, segment: undefined, invalid: false }], manyValues: true }));
    const reader = new HeldStateReader();
    // packed with its sketches deflated: a map, not [0, state]
    expect(reader.readHeldInput(packPaneState(wire, true), limits, undefined)).toBeNull();
    const unknown = { ...wire, features: { ...wire.features, f0: { ...wire.features.f0, q: 1 } } };
    expect(reader.readHeldInput(packStateBytes(encode(unknown)), limits, undefined)).toBeNull();
    // features twice: a map holds the later alone
    const twice = encode(wire);
    const featuresKey = Buffer.from(encode('features'));
    const at = Buffer.from(twice).indexOf(featuresKey);
    const doubled = new Uint8Array([...twice.subarray(0, at), ...encode('features').subarray(0), ...encode({}), ...twice.subarray(at)]);
    doubled[0] += 1; // one more field in the fixmap
    expect(reader.readHeldInput(packStateBytes(doubled), limits, undefined)).toBeNull();
    const whole = packStateBytes(encode(wire));
    expect(reader.readHeldInput(whole.subarray(0, whole.length - 3), limits, undefined)).toBeNull();
    // and then reads a whole one as before
    expect(inputToWire(reader.readHeldInput(whole, limits, undefined) as PaneInput)).toEqual(bothWays(whole).general);
  });
});
