/**
 * Quantile sketch costs, per value added and per merge, and serialized size:
 *   - npm `tdigest` (TDigest.push; merge via toArray()/push_centroid(); no serializer: JSON of toArray())
 *   - `@datadog/sketches-js` DDSketch (accept, merge, toProto), 1 % relative accuracy
 *   - our LogHistogram (add, merge, subtract, toBytes), 1 % relative accuracy
 *   - counting into 10 reference bins by binary search: the cheapest useful per-value update
 * Each figure is the median of 3 timed runs after a warm-up; ratios are against LogHistogram.
 * Times are process CPU time (user + system), not wall time: the machine is shared, and CPU time
 * does not count the time spent waiting for a core (it does count GC helper threads).
 *
 *   npx tsx bench/sketch.ts        (or npm run bench -- sketch)
 */
import os from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DDSketch } from '@datadog/sketches-js';
import { LogHistogram } from '../src/sketch/index.ts';

interface TDigestCentroid {
  mean: number;
  n: number;
}
interface TDigestInstance {
  push(x: number): void;
  push_centroid(c: TDigestCentroid | TDigestCentroid[]): void;
  percentile(p: number): number;
  toArray(): TDigestCentroid[];
  compress(): void;
}
type TDigestConstructor = new () => TDigestInstance;

const VALUES_PER_RUN = 1_000_000;
const RUNS = 3;
const SKETCH_VALUES = 10_000;

function normalSamples(count: number, seed: number): Float64Array {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

/** Process CPU time in nanoseconds. */
function cpuNs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
}

/** ns per value of `run(values)`, median of RUNS after one warm-up run on a slice. */
function nsPerValue(values: Float64Array, run: (values: Float64Array) => unknown): number {
  run(values.subarray(0, 200_000));
  const timings: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = cpuNs();
    run(values);
    timings.push((cpuNs() - start) / values.length);
  }
  return median(timings);
}

/** microseconds per call of `operation`, median of RUNS batches sized to take about 100 ms. */
function usPerCall(operation: () => unknown): number {
  let batch = 1;
  for (;;) {
    const start = cpuNs();
    for (let i = 0; i < batch; i++) operation();
    if (cpuNs() - start > 20e6 || batch > 1e6) break;
    batch *= 2;
  }
  batch *= 5;
  const timings: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = cpuNs();
    for (let i = 0; i < batch; i++) operation();
    timings.push((cpuNs() - start) / batch / 1000);
  }
  return median(timings);
}

function exactQuantile(sorted: Float64Array, q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits).padStart(10);
}

function printTable(title: string, unit: string, rows: Array<[string, number]>, reference: number, digits = 1): void {
  console.log(`\n${title}`);
  console.log(`  ${'what'.padEnd(52)}${unit.padStart(10)}   vs LogHistogram`);
  for (const [name, value] of rows) console.log(`  ${name.padEnd(52)}${fmt(value, digits)}   ${(value / reference).toFixed(2)}x`);
}

export function main(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  const { TDigest } = require('tdigest') as { TDigest: TDigestConstructor };
  const values = normalSamples(VALUES_PER_RUN, 42);
  let sink = 0;

  // --- per value added -------------------------------------------------------------------
  const logHistogramAdd = nsPerValue(values, (xs) => {
    const sketch = new LogHistogram(0.01);
    for (let i = 0; i < xs.length; i++) sketch.add(xs[i]);
    sink += sketch.count;
  });
  const ddsketchAccept = nsPerValue(values, (xs) => {
    const sketch = new DDSketch({ relativeAccuracy: 0.01 });
    for (let i = 0; i < xs.length; i++) sketch.accept(xs[i]);
    sink += sketch.count;
  });
  const tdigestPush = nsPerValue(values, (xs) => {
    const digest = new TDigest();
    for (let i = 0; i < xs.length; i++) digest.push(xs[i]);
    sink += digest.toArray().length;
  });
  const edges = [-1.28, -0.84, -0.52, -0.25, 0, 0.25, 0.52, 0.84, 1.28];
  const binarySearchBins = nsPerValue(values, (xs) => {
    const counts = new Float64Array(edges.length + 1);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      let lo = 0;
      let hi = edges.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (x < edges[mid]) hi = mid;
        else lo = mid + 1;
      }
      counts[lo]++;
    }
    sink += counts[0];
  });

  // --- sketches of 10k normal values: merge, size, accuracy ----------------------------------
  const small = values.subarray(0, SKETCH_VALUES);
  const sortedSmall = Float64Array.from(small).sort();
  const ours = new LogHistogram(0.01);
  const theirs = new DDSketch({ relativeAccuracy: 0.01 });
  const digest = new TDigest();
  for (let i = 0; i < small.length; i++) {
    ours.add(small[i]);
    theirs.accept(small[i]);
    digest.push(small[i]);
  }
  digest.compress();

  const oursAccumulator = new LogHistogram(0.01);
  const logHistogramMerge = usPerCall(() => oursAccumulator.merge(ours));
  const logHistogramSubtract = usPerCall(() => {
    oursAccumulator.merge(ours);
    oursAccumulator.subtract(ours);
  }) - logHistogramMerge;
  const ddAccumulator = new DDSketch({ relativeAccuracy: 0.01 });
  const ddsketchMerge = usPerCall(() => ddAccumulator.merge(theirs));
  const tdigestMerge = usPerCall(() => {
    const merged = new TDigest();
    merged.push_centroid(digest.toArray());
    merged.push_centroid(digest.toArray());
    sink += merged.toArray().length;
  });
  const logHistogramRoundTrip = usPerCall(() => LogHistogram.fromBytes(ours.toBytes()));
  const ddsketchRoundTrip = usPerCall(() => DDSketch.fromProto(theirs.toProto()));

  const logHistogramBytes = ours.toBytes().length;
  const ddsketchBytes = theirs.toProto().length;
  const tdigestJsonBytes = Buffer.byteLength(JSON.stringify(digest.toArray()));

  // Value error relative to the exact order statistic (what DDSketch-style sketches bound), and
  // rank error |F(estimate) - q| (what t-digest bounds), worst over these quantiles.
  const accuracyQuantiles = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
  const worstErrors = (estimate: (q: number) => number): { value: number; rank: number } => {
    let value = 0;
    let rank = 0;
    for (const q of accuracyQuantiles) {
      const exact = exactQuantile(sortedSmall, q);
      const x = estimate(q);
      value = Math.max(value, Math.abs(x - exact) / Math.abs(exact));
      let below = 0;
      while (below < sortedSmall.length && sortedSmall[below] <= x) below++;
      rank = Math.max(rank, Math.abs(below / sortedSmall.length - q));
    }
    return { value, rank };
  };
  const accuracy = {
    logHistogram: worstErrors((q) => ours.quantile(q)),
    ddsketch: worstErrors((q) => theirs.getValueAtQuantile(q)),
    tdigest: worstErrors((q) => digest.percentile(q)),
  };

  console.log(`sketch bench: ${VALUES_PER_RUN.toLocaleString('en')} normal(0,1) values per run, median of ${RUNS}, CPU time, ${os.cpus().length} cores, node ${process.version}`);
  printTable('per value added', 'ns/op', [
    ['LogHistogram.add (ours, 1 %)', logHistogramAdd],
    ['@datadog/sketches-js DDSketch.accept (1 %)', ddsketchAccept],
    ['tdigest TDigest.push', tdigestPush],
    ['count into 10 reference bins (binary search)', binarySearchBins],
  ], logHistogramAdd);
  printTable(`merge one sketch of ${SKETCH_VALUES.toLocaleString('en')} normal values`, 'us/op', [
    ['LogHistogram.merge', logHistogramMerge],
    ['LogHistogram.subtract', logHistogramSubtract],
    ['DDSketch.merge', ddsketchMerge],
    ['tdigest toArray()+push_centroid() x2 into a new digest', tdigestMerge],
  ], logHistogramMerge, 2);
  printTable(`serialized size of ${SKETCH_VALUES.toLocaleString('en')} normal values`, 'bytes', [
    ['LogHistogram.toBytes', logHistogramBytes],
    ['DDSketch.toProto', ddsketchBytes],
    ['tdigest JSON.stringify(toArray()) (no serializer)', tdigestJsonBytes],
  ], logHistogramBytes, 0);
  printTable('serialize + deserialize round trip', 'us/op', [
    ['LogHistogram toBytes/fromBytes', logHistogramRoundTrip],
    ['DDSketch toProto/fromProto', ddsketchRoundTrip],
  ], logHistogramRoundTrip, 2);
  console.log(`\nworst error over q in {${accuracyQuantiles.join(', ')}} (10k normal values)`);
  console.log(`  ${'what'.padEnd(20)}${'value error'.padStart(14)}${'rank error'.padStart(14)}`);
  for (const [name, { value, rank }] of Object.entries(accuracy)) {
    console.log(`  ${name.padEnd(20)}${((value * 100).toFixed(3) + ' %').padStart(14)}${((rank * 100).toFixed(3) + ' %').padStart(14)}`);
  }
  if (sink === -1) console.log(sink); // keeps the measured work observable

  const result = {
    name: 'sketch',
    valuesPerRun: VALUES_PER_RUN,
    logHistogramAddNs: round(logHistogramAdd),
    ddsketchAcceptNs: round(ddsketchAccept),
    tdigestPushNs: round(tdigestPush),
    binarySearch10BinsNs: round(binarySearchBins),
    logHistogramMergeUs: round(logHistogramMerge),
    logHistogramSubtractUs: round(logHistogramSubtract),
    ddsketchMergeUs: round(ddsketchMerge),
    tdigestMergeUs: round(tdigestMerge),
    logHistogramBytes,
    ddsketchBytes,
    tdigestJsonBytes,
    logHistogramRoundTripUs: round(logHistogramRoundTrip),
    ddsketchRoundTripUs: round(ddsketchRoundTrip),
    ...Object.fromEntries(
      Object.entries(accuracy).flatMap(([k, v]) => [
        [`${k}WorstValueError`, Number(v.value.toPrecision(3))],
        [`${k}WorstRankError`, Number(v.rank.toPrecision(3))],
      ]),
    ),
    cores: os.cpus().length,
  };
  console.log(JSON.stringify(result));
  return result;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
