import { MsgpackReader, UNSUPPORTED_ERROR } from '../contract/msgpack-reader.ts';
import type { ExactValuesWire, FeatureWire, PaneInputWire } from '../contract/pane-wire.ts';
import type { BucketScratch } from '../sketch/bucket-store.ts';
import type { CategoryCounterJSON } from '../sketch/category-counter.ts';
import { featureFromWire, inputWithFeatures } from './pane.ts';
import type { FeatureSummary, PaneInput, PaneLimits } from './pane.ts';

/** What packStateBytes puts before a state's MessagePack: a fixarray of two, then RAW_STATE (0). */
const RAW_STATE_HEAD_0 = 0x92;
const RAW_STATE_HEAD_1 = 0x00;
/** The fields a feature's map (c, z) and its exact counts' (v, c, o) must have, as bits of what was read. */
const SEEN_C = 1;
const SEEN_Z = 2;
const SEEN_V = 4;
const SEEN_O = 8;

/**
 * Reads a partition input state the gateway holds packed raw (packStateBytes: the state's
 * MessagePack as its message carried it) straight into a PaneInput, its features without the wire
 * objects in between: a held state is decoded again each time the next state of its partition
 * replaces it, and building each feature's wire objects (the feature's map, its exact counts' map,
 * then the summary made from them) was a third of applying a pane message (bench pane-apply, CPU
 * profile: `wireOf` 14 % of applying, `inputFromWire` 22 %). The features are read into one wire
 * object used again for each (featureFromWire copies what it keeps); the rest of the state, a few
 * fields, is read as the general reader reads it. What it reads is what unpackPaneState then
 * inputFromWire give, field for field (test/window/held-state-reader.test.ts).
 *
 * A held state was checked when it came (ModelWindows.applyState), so nothing here is checked
 * again; anything this reader does not expect (another packing, a field it does not know, bytes
 * it cannot read) makes it return null, and the caller reads the state the general way; what the
 * general way would refuse in the state's other fields, it refuses as that does (the same
 * PaneMessageError). One reader per window store, as the MsgpackReader it is: not reentrant.
 */
export class HeldStateReader extends MsgpackReader {
  /** The feature being read (its fields set anew for each). */
  private readonly feature: { n: Uint8Array | null | undefined; r: number[] | undefined; c: CategoryCounterJSON | null; z: number; x: ExactValuesWire | null | undefined } = {
    n: undefined,
    r: undefined,
    c: null,
    z: 0,
    x: undefined,
  };
  /** The feature's exact counts being read. */
  private readonly exact: { v: number[]; c: number[]; o: number; f: number | undefined } = { v: [], c: [], o: 0, f: undefined };
  /** The features read, in their order, until the pane is made. */
  private readonly names: string[] = [];
  private readonly summaries: FeatureSummary[] = [];

  /** The input state held packed raw in `packed`; null: not one this reader reads (read it the general way). */
  readHeldInput(packed: Uint8Array, limits: PaneLimits, scratch: BucketScratch | undefined): PaneInput | null {
    if (packed.length < 3 || packed[0] !== RAW_STATE_HEAD_0 || packed[1] !== RAW_STATE_HEAD_1) return null;
    this.begin(packed);
    this.pos = 2;
    const rest: Record<string, unknown> = {};
    const names = this.names;
    const summaries = this.summaries;
    names.length = 0;
    summaries.length = 0;
    try {
      // the depths the general reader reads the same bytes at ([0, state]: the state's map at 1),
      // so the keys' cache slots are the ones it fills
      const fields = this.mapSize();
      let featuresRead = false;
      for (let i = 0; i < fields; i++) {
        const key = this.mapKey(1, i);
        if (key !== 'features') rest[key] = this.value(2);
        // a map with the key twice holds the later one alone: the general reader decides
        else if (featuresRead) return null;
        else {
          this.readFeatures(scratch);
          featuresRead = true;
        }
      }
      if (this.pos !== packed.length) return null;
    } catch {
      return null;
    }
    return inputWithFeatures(rest as Omit<PaneInputWire, 'features'>, limits, 'state', scratch, true, (pane) => {
      for (let k = 0; k < names.length; k++) pane.features.set(names[k], summaries[k]);
    });
  }

  private readFeatures(scratch: BucketScratch | undefined): void {
    const count = this.mapSize();
    const feature = this.feature;
    for (let i = 0; i < count; i++) {
      const name = this.mapKey(2, i);
      // the optional fields set anew; the others must be there (a field missing must not be the
      // previous feature's: one a changed byte renamed was, where the general reader refuses or
      // leaves it out). Cleared to undefined instead, a number field's reads got slower (~3 % of applying).
      feature.n = undefined;
      feature.r = undefined;
      feature.x = undefined;
      let seen = 0;
      const fields = this.mapSize();
      for (let j = 0; j < fields; j++) {
        switch (this.mapKey(3, j)) {
          case 'n':
            feature.n = this.value(4) as Uint8Array | null;
            break;
          case 'r':
            feature.r = this.value(4) as number[];
            break;
          case 'c':
            feature.c = this.value(4) as CategoryCounterJSON | null;
            seen |= SEEN_C;
            break;
          case 'z':
            feature.z = this.value(4) as number;
            seen |= SEEN_Z;
            break;
          case 'x':
            feature.x = this.readExact();
            break;
          default:
            throw UNSUPPORTED_ERROR;
        }
      }
      if (seen !== (SEEN_C | SEEN_Z)) throw UNSUPPORTED_ERROR;
      this.names.push(name);
      this.summaries.push(featureFromWire(feature as FeatureWire, 'state.features', name, scratch, true));
    }
  }

  /** A feature's exact counts (its `x`): the lists as read, in the object used again; null for nil. */
  private readExact(): ExactValuesWire | null {
    if (this.bytes[this.pos] === 0xc0) {
      this.pos++;
      return null;
    }
    const exact = this.exact;
    // `f` set anew, the others must be there (see readFeatures)
    exact.f = undefined;
    let seen = 0;
    const fields = this.mapSize();
    for (let k = 0; k < fields; k++) {
      switch (this.mapKey(4, k)) {
        case 'v':
          exact.v = this.value(5) as number[];
          seen |= SEEN_V;
          break;
        case 'c':
          exact.c = this.value(5) as number[];
          seen |= SEEN_C;
          break;
        case 'o':
          exact.o = this.value(5) as number;
          seen |= SEEN_O;
          break;
        case 'f':
          exact.f = this.value(5) as number;
          break;
        default:
          throw UNSUPPORTED_ERROR;
      }
    }
    if (seen !== (SEEN_V | SEEN_C | SEEN_O)) throw UNSUPPORTED_ERROR;
    return exact as ExactValuesWire;
  }

  /** The size of the map starting at `pos`; throws for anything else. */
  private mapSize(): number {
    const b = this.bytes[this.pos++];
    if ((b & 0xf0) === 0x80) return b & 0x0f;
    if (b === 0xde) {
      const size = this.uint16(this.pos);
      this.pos += 2;
      return size;
    }
    throw UNSUPPORTED_ERROR;
  }
}
