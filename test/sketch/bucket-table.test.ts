import { describe, expect, it } from 'vitest';
import { BucketStore } from '../../src/sketch/bucket-store.ts';
import { LogHistogram } from '../../src/sketch/log-histogram.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, addInput, inputToWire, reserveFeatureSketches } from '../../src/window/pane.ts';

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), t | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** A store that is an array from the start (the layout every store had before tables). */
function arrayStore(maxBuckets: number): BucketStore {
  const store = new BucketStore(maxBuckets);
  store.densify();
  return store;
}

/** Everything a reader can see of a store: its range, collapsed bucket and every weight in the range. */
function contents(store: BucketStore): { low: number; high: number; collapsedInto: number; total: number; buckets: number; weights: Array<[number, number]> } {
  const weights: Array<[number, number]> = [];
  if (!store.isEmpty) for (let index = store.low; index <= store.high; index++) if (store.weightAt(index) !== 0) weights.push([index, store.weightAt(index)]);
  return { low: store.low, high: store.high, collapsedInto: store.collapsedInto, total: store.total(), buckets: store.nonEmpty(), weights };
}

interface Stream {
  name: string;
  next: (rng: () => number) => [number, number];
}

// indexes and weights as the sketches give them: a few buckets, a wide sparse spread, a range
// reaching beyond maxBuckets from either end (collapsing), drifting upwards, weights that are not
// counts, and counts beyond what a table slot holds
const streams: Stream[] = [
  { name: 'a few buckets', next: (rng) => [100 + Math.floor(rng() * 12), 1] },
  { name: 'sparse over a wide range', next: (rng) => [Math.floor(rng() * 3000) - 1500, 1] },
  { name: 'beyond maxBuckets, both ends', next: (rng) => [Math.floor((rng() - 0.5) * 20_000), 1 + Math.floor(rng() * 3)] },
  { name: 'drifting upwards', next: (rng) => [Math.floor(rng() * 50) + Math.floor(rng() * rng() * 40_000), 1] },
  { name: 'weights that are not counts', next: (rng) => [Math.floor(rng() * 400), rng() < 0.97 ? 1 : 0.25] },
  { name: 'counts beyond a slot', next: (rng) => [Math.floor(rng() * 30), rng() < 0.99 ? 1 : 2 ** 30] },
];

describe('bucket stores kept as tables while few buckets hold a weight', () => {
  for (const stream of streams) {
    it(`hold what an array holds, add by add: ${stream.name} (property)`, () => {
      for (let seed = 1; seed <= 12; seed++) {
        const rng = random(seed * 7919);
        const maxBuckets = seed % 3 === 0 ? 64 : 2048;
        const table = new BucketStore(maxBuckets);
        const array = arrayStore(maxBuckets);
        const adds = 1 + Math.floor(rng() * 400);
        for (let k = 0; k < adds; k++) {
          if (seed % 2 === 0 && k === adds >> 1) {
            // a pane's sketches are cleared for reuse: the table stays, empty
            table.clear();
            array.clear();
          }
          const [index, weight] = stream.next(rng);
          table.add(index, weight);
          array.add(index, weight);
          if (k % 37 === 0 || k === adds - 1) expect(contents(table), `${stream.name}, seed ${seed}, add ${k}`).toEqual(contents(array));
        }
        // a copy (LogHistogram.clone) holds the same, collapsed bucket included
        const copy = new BucketStore(maxBuckets);
        copy.copyFrom(table);
        expect(contents(copy), `${stream.name}, seed ${seed}, copy`).toEqual(contents(array));
      }
    });
  }

  it('stay tables while few, and become arrays past their largest size or a non-count weight', () => {
    const few = new BucketStore(2048);
    for (let k = 0; k < 100; k++) few.add(k * 17, 1);
    expect(few.isTable).toBe(true);
    expect(few.capacityBytes).toBeLessThan(100 * 17 * 8);
    const many = new BucketStore(2048);
    for (let k = 0; k < 300; k++) many.add(k * 5, 1);
    expect(many.isTable).toBe(false);
    const fractional = new BucketStore(2048);
    fractional.add(3, 1);
    fractional.add(4, 0.5);
    expect(fractional.isTable).toBe(false);
    expect(contents(fractional).weights).toEqual([
      [3, 1],
      [4, 0.5],
    ]);
  });

  it('collapse the lowest buckets as an array does when the range passes maxBuckets, and stay tables', () => {
    const table = new BucketStore(100);
    const array = arrayStore(100);
    for (const [index, weight] of [
      [50, 1],
      [70, 2],
      [140, 1],
      [160, 3],
      [20, 4],
      [300, 1],
      [190, 1],
    ]) {
      table.add(index, weight);
      array.add(index, weight);
    }
    expect(table.isTable).toBe(true);
    // 300 keeps [201, 300]: everything below went into 201, and so does 190 after it
    expect(contents(table)).toEqual(contents(array));
    expect(contents(table)).toMatchObject({ low: 201, high: 300, collapsedInto: 201, weights: [[201, 12], [300, 1]] });
  });

  it('merge into and subtract from an array as an array store of the same weights does', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = random(seed);
      const maxBuckets = seed % 2 === 0 ? 128 : 2048;
      const window = arrayStore(maxBuckets);
      const reference = arrayStore(maxBuckets);
      const panes: Array<[BucketStore, BucketStore]> = [];
      for (let p = 0; p < 6; p++) {
        const pane = new BucketStore(maxBuckets);
        const same = arrayStore(maxBuckets);
        const base = Math.floor(rng() * 400);
        for (let k = 0; k < 60; k++) {
          const index = base + Math.floor(rng() * rng() * 300);
          pane.add(index, 1);
          same.add(index, 1);
        }
        expect(pane.isTable).toBe(true);
        window.merge(pane);
        reference.merge(same);
        panes.push([pane, same]);
      }
      expect(contents(window)).toEqual(contents(reference));
      for (const [pane, same] of panes.slice(0, 4)) {
        window.subtract(pane);
        reference.subtract(same);
        expect(contents(window), `seed ${seed}`).toEqual(contents(reference));
      }
      // the panes are read, not changed
      expect(panes.every(([pane]) => pane.isTable)).toBe(true);
    }
  });

  it('a sketch of tables writes the bytes its arrays write, and reads back the same', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rng = random(seed);
      const center = seed % 2 === 0 ? 0 : 10 * rng();
      const sketch = new LogHistogram(0.01, { center, minIndexable: 1e-6 });
      const n = 1 + Math.floor(rng() * 250);
      for (let k = 0; k < n; k++) {
        const cauchy = Math.tan(Math.PI * (rng() - 0.5));
        sketch.add(center + (seed % 3 === 0 ? Math.round(cauchy) : cauchy), seed % 5 === 0 && k % 7 === 0 ? 0.5 : 1);
      }
      const fromTables = sketch.toBytes();
      const capacityAsTables = sketch.bucketCapacityBytes;
      const median = sketch.quantile(0.5); // reading the sketch's range makes its stores arrays
      expect(sketch.toBytes(), `seed ${seed}`).toEqual(fromTables);
      const back = LogHistogram.fromBytes(fromTables);
      expect(back.quantile(0.5)).toBe(median);
      expect(back.count).toBe(sketch.count);
      if (seed % 5 !== 0) expect(capacityAsTables).toBeLessThanOrEqual(sketch.bucketCapacityBytes);
    }
  });

  it('a new sketch sized like another holds the same figures as one grown as it fills', () => {
    const rng = random(42);
    const values = Array.from({ length: 400 }, () => 5 + Math.tan(Math.PI * (rng() - 0.5)));
    const previous = new LogHistogram(0.01, { center: 5 });
    for (const value of values.slice(0, 150)) previous.add(value);
    const sized = new LogHistogram(0.01, { center: 5 }).reserveLike(previous);
    const grown = new LogHistogram(0.01, { center: 5 });
    expect(sized.bucketCapacityBytes).toBe(previous.bucketCapacityBytes);
    for (const value of values.slice(150)) {
      sized.add(value);
      grown.add(value);
    }
    expect(sized.toBytes()).toEqual(grown.toBytes());
    // a sketch holding a value is left as it is
    const capacity = sized.bucketCapacityBytes;
    sized.reserveLike(new LogHistogram(0.01, { center: 5 }));
    expect(sized.bucketCapacityBytes).toBe(capacity);
  });
});

describe('a sum sized for its parts before they are merged (a window store merging a pane\'s states)', () => {
  it('holds what merging them into a new sketch holds, each sign in one array over their buckets, made once', () => {
    const rng = random(11);
    const parts = Array.from({ length: 16 }, () => {
      const part = new LogHistogram(0.01, { center: 5 });
      for (let k = 0; k < 12; k++) part.add(5 + 3 * Math.tan(Math.PI * (rng() - 0.5)));
      return part;
    });
    const sized = new LogHistogram(0.01, { center: 5 }).reserveForMerging(parts);
    const capacity = sized.bucketCapacityBytes;
    // one array per sign over the lowest to the highest bucket the parts hold (counts of a byte or more each)
    const span = (sign: 'positive' | 'negative'): number => {
      const stores = parts.map((part) => (part as unknown as Record<string, BucketStore>)[sign]).filter((store) => !store.isEmpty);
      return Math.max(...stores.map((store) => store.high)) - Math.min(...stores.map((store) => store.low)) + 1;
    };
    expect(capacity).toBeGreaterThanOrEqual(span('positive') + span('negative'));
    expect(capacity).toBeLessThanOrEqual(8 * (span('positive') + span('negative')));
    const grown = new LogHistogram(0.01, { center: 5 });
    for (const part of parts) {
      sized.merge(part);
      grown.merge(part);
      expect(sized.bucketCapacityBytes).toBe(capacity);
    }
    expect(sized.toBytes()).toEqual(grown.toBytes());
    expect(capacity).toBeLessThan(grown.bucketCapacityBytes);
    // parts on other buckets are left out; a sketch holding a value is left as it is
    expect(new LogHistogram(0.01, { center: 9 }).reserveForMerging(parts).bucketCapacityBytes).toBe(0);
    const far = new LogHistogram(0.01, { center: 5 });
    far.add(1e9);
    sized.reserveForMerging([...parts, far]);
    expect(sized.bucketCapacityBytes).toBe(capacity);
  });

  it("a pane's features sized for its states hold what adding the states to an empty pane holds", () => {
    const rng = random(5);
    const centers = new Map<string, number>();
    const states = Array.from({ length: 6 }, (_, k) => {
      // the first four share their centers (partitions following their model's); the last two center on their own values
      const pane = new PaneInput(DEFAULT_PANE_LIMITS, k < 4 ? centers : null);
      for (let e = 0; e < 12; e++) {
        pane.addFeature('f0', 10 + Math.tan(Math.PI * (rng() - 0.5)));
        if (k % 2 === 0) pane.addFeature('f1', -50 + 20 * rng());
        pane.addFeature('city', rng() < 0.5 ? 'paris' : 'lyon');
      }
      pane.settleCenters();
      return pane;
    });
    const sized = new PaneInput(DEFAULT_PANE_LIMITS);
    reserveFeatureSketches(sized, states);
    const reserved = [...sized.features].map(([name, summary]) => [name, summary.numeric?.bucketCapacityBytes]);
    expect(reserved).toEqual([
      ['f0', expect.any(Number)],
      ['f1', expect.any(Number)],
    ]);
    expect(Math.min(...reserved.map(([, bytes]) => bytes as number))).toBeGreaterThan(0);
    const sketches = ['f0', 'f1'].map((name) => sized.features.get(name)?.numeric);
    const plain = new PaneInput(DEFAULT_PANE_LIMITS);
    for (const state of states) {
      addInput(sized, state, 1);
      addInput(plain, state, 1);
    }
    expect(inputToWire(sized)).toEqual(inputToWire(plain));
    // the sketches sized are the ones the states were added to (made as adding the first state makes one)
    ['f0', 'f1'].forEach((name, k) => expect(sized.features.get(name)?.numeric).toBe(sketches[k]));
  });
});

describe("a worker pane's memory", () => {
  it('keeps 200 heavy-tailed values of a feature in under 4 KB of buckets, flushed or not', () => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    const rng = random(7);
    for (let e = 0; e < 200; e++) for (let f = 0; f < 10; f++) pane.addFeature(`f${f}`, 10 * f + Math.tan(Math.PI * (rng() - 0.5)));
    const before = inputToWire(pane);
    let bytes = 0;
    for (const summary of pane.features.values()) bytes += summary.numeric?.bucketCapacityBytes ?? 0;
    // a dense array over each sign's range was ~16 KB per feature
    expect(bytes / pane.features.size).toBeLessThan(4096);
    // flushing again writes the same state: writing reads the tables without changing them
    expect(inputToWire(pane)).toEqual(before);
    let after = 0;
    for (const summary of pane.features.values()) after += summary.numeric?.bucketCapacityBytes ?? 0;
    expect(after).toBe(bytes);
  });

  it('a new pane of a producer starts its feature sketches at the size of the previous pane', () => {
    const centers = new Map<string, number>();
    const first = new PaneInput(DEFAULT_PANE_LIMITS, centers);
    const rng = random(3);
    const value = (): number => Math.tan(Math.PI * (rng() - 0.5));
    for (let e = 0; e < 200; e++) first.addFeature('f', value());
    first.settleCenters();
    const second = new PaneInput(DEFAULT_PANE_LIMITS, centers);
    second.sizeSketchesLike(first);
    second.addFeature('f', value());
    expect(second.features.get('f')?.numeric?.bucketCapacityBytes).toBe(first.features.get('f')?.numeric?.bucketCapacityBytes);
  });
});

describe('LogHistogram.toBytesMany', () => {
  it('writes each sketch as toBytes does, into one buffer', () => {
    const rng = random(11);
    const sketches = Array.from({ length: 7 }, (_, s) => {
      const sketch = new LogHistogram(0.01, { center: s, minIndexable: 1e-6 });
      for (let k = 0; k < 20 + 40 * s; k++) sketch.add(s + Math.tan(Math.PI * (rng() - 0.5)), s === 3 ? 0.5 : 1);
      if (s % 2 === 0) sketch.quantile(0.5); // some as arrays, some as tables
      return sketch;
    });
    sketches.push(new LogHistogram(0.01));
    const many = LogHistogram.toBytesMany(sketches);
    expect(many.map((bytes) => Array.from(bytes))).toEqual(sketches.map((sketch) => Array.from(sketch.toBytes())));
    expect(new Set(many.map((bytes) => bytes.buffer)).size).toBe(1);
    for (const [k, bytes] of many.entries()) expect(LogHistogram.fromBytes(bytes).count).toBe(sketches[k].count);
    expect(LogHistogram.toBytesMany([])).toEqual([]);
  });
});
