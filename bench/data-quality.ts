/**
 * Data quality's cost on the gateway: dataQualityOf is computed with every metrics build (REST,
 * WebSocket frames, alert evaluation, scrapes), not throttled like drift, so its time per window
 * matters. A window of `--events` predictions with `--numeric` numeric and `--categorical`
 * categorical features, from 16 producers (16 sketch centers, merged as the gateway merges them),
 * against a file reference (another center: the window is rebinned onto the reference's buckets).
 *
 *   raw limit   one walk over every numeric feature's window buckets (forEachBucket): the least
 *               any reading of the sketches costs
 *   data        dataQualityOf on the same window and reference
 *   metrics     buildModelMetrics with drift reused (what a count/latency rule or a frame costs),
 *               data quality included: data quality's share of it is printed
 *   no ranges   dataQualityOf without the numeric out-of-range and out-of-quantile shares, as the
 *               alert rules on missing values, types and categories (the default rules) have it
 *               built for every changed model
 *
 *   Each figure is the best of three rounds of `--seconds`.
 *
 *   npm run bench -- data-quality [--events 20000] [--numeric 30] [--categorical 5] [--seconds 1]
 */
import { parseArgs } from 'node:util';
import { SeededRandom } from '../src/simulator/random.ts';
import { profileFromRows } from '../src/reference/profile.ts';
import type { TrainingRow } from '../src/reference/profile.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, addInput } from '../src/window/pane.ts';
import { WindowAggregate } from '../src/window/windows.ts';
import { dataQualityOf } from '../src/window/data-quality.ts';
import { buildModelMetrics } from '../src/gateway/metrics.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    numeric: { type: 'string', default: '30' },
    categorical: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '1' },
  },
});
const EVENTS = Number(args.events);
const NUMERIC = Number(args.numeric);
const CATEGORICAL = Number(args.categorical);
const SECONDS = Number(args.seconds);
const PRODUCERS = 16;

const random = new SeededRandom(15);
function features(): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (let f = 0; f < NUMERIC; f++) out[`n${f}`] = 100 * f + 10 * random.normal();
  for (let f = 0; f < CATEGORICAL; f++) out[`c${f}`] = `v${Math.floor(random.next() * 20)}`;
  return out;
}

const rows: TrainingRow[] = Array.from({ length: 5000 }, () => ({ features: features(), output: random.next() }));
const reference = profileFromRows('ref', 'm', null, rows);

const producers = Array.from({ length: PRODUCERS }, () => new PaneInput(DEFAULT_PANE_LIMITS));
for (let i = 0; i < EVENTS; i++) {
  const pane = producers[i % PRODUCERS];
  pane.addPrediction(0.5, 0.5, 0.5, undefined, false, undefined);
  const event = features();
  // 5 % of the events without their first feature
  if (i % 20 === 0) delete event.n0;
  for (const name in event) pane.addFeature(name, event[name]);
}
const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
for (const pane of producers) addInput(aggregate.input, pane, 1);
const window = aggregate.input;

/** Calls `run` for about SECONDS and returns microseconds per call. */
function time(run: () => unknown): number {
  for (let i = 0; i < 20; i++) run();
  let calls = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(SECONDS * 1e9));
  let now = start;
  while (now < until) {
    run();
    calls++;
    now = process.hrtime.bigint();
  }
  return Number(now - start) / 1000 / calls;
}

let sink = 0;
const rawUs = time(() => {
  for (const summary of window.features.values()) summary.numeric?.forEachBucket((value, weight) => (sink += value * weight));
});
const drift = buildModelMetrics(aggregate, { model: 'm', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {} }).drift;
// alternated, so load on the shared machine falls on both alike
let dataUs = Infinity;
let noRangesUs = Infinity;
let metricsUs = Infinity;
for (let round = 0; round < 3; round++) {
  dataUs = Math.min(dataUs, time(() => dataQualityOf(window, reference)));
  noRangesUs = Math.min(noRangesUs, time(() => dataQualityOf(window, reference, false)));
  metricsUs = Math.min(
    metricsUs,
    time(() => buildModelMetrics(aggregate, { model: 'm', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {}, drift })),
  );
}

const check = dataQualityOf(window, reference).features.n0;
console.log(`window: ${EVENTS} predictions, ${NUMERIC} numeric + ${CATEGORICAL} categorical features, ${PRODUCERS} producers; reference 5000 rows (file)`);
console.log(`n0 missing share ${check.missingShare?.toFixed(4)} (0.05 sent), out of range ${check.outOfRangeShare?.toFixed(4)}`);
console.log(`raw limit (one walk of every bucket of every numeric feature, what a rebinning or full read costs at least): ${rawUs.toFixed(1)} us per window`);
console.log(`dataQualityOf: ${dataUs.toFixed(1)} us per window = ${(dataUs / rawUs).toFixed(2)} x raw`);
console.log(`dataQualityOf without the range shares (the default rules' reads): ${noRangesUs.toFixed(1)} us per window = ${(noRangesUs / rawUs).toFixed(2)} x raw, ${((100 * noRangesUs) / dataUs).toFixed(0)} % of the full one`);
console.log(`buildModelMetrics (drift reused), data quality included: ${metricsUs.toFixed(1)} us; data quality is ${((100 * dataUs) / metricsUs).toFixed(0)} % of it`);
console.log('(figures from a machine shared with other sessions: see the load average)');
console.log(JSON.stringify({ bench: 'data-quality', events: EVENTS, numeric: NUMERIC, categorical: CATEGORICAL, rawUs, dataUs, ratioToRaw: dataUs / rawUs, noRangesUs, noRangesRatioToRaw: noRangesUs / rawUs, metricsUs, dataShareOfMetrics: dataUs / metricsUs, sink: sink === 0 ? 0 : 1 }));
