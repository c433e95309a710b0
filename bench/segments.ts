/**
 * Worst segments: how often the ranking claims a drop that is not there, how often it finds one
 * that is, and what the per-segment feature summaries (limits.segmentSketchValues) cost a worker.
 *
 * 1. Statistics (seeded): windows of n labels over 8 segments of one key (shares 30/20/15/10/10/
 *    7/~8 % and one of 20 events), every prediction correct with probability 0.9. "Stationary":
 *    no segment differs; a window where any segment is flagged significant is a false alarm,
 *    reported per million labels (the drift tests' target is <= 1, their budget 0.5). Windows do
 *    not overlap, so each is evaluated once (evaluationsPerWindow 1). "Drop": the 10 % segment at
 *    75 % (15 points); found = it is ranked first and significant.
 * 2. Cost: ns per prediction of the worker's pane path (addPrediction + addFeature for 10 numeric
 *    and 2 categorical features, 2 segment keys), without per-segment summaries (the limit) and
 *    with segmentSketchValues 4 (both keys' values tracked), alternated over rounds; the ratio is
 *    limit / with (1 = free).
 *
 *   npm run bench -- segments [--windows 2000] [--events 200000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SeededRandom } from '../src/simulator/random.ts';
import { rankSegments } from '../src/stats/segments.ts';
import type { SegmentCounts } from '../src/stats/segments.ts';
import { budgetSignificance } from '../src/stats/select.ts';
import { DEFAULT_PANE_LIMITS, PaneInput } from '../src/window/pane.ts';
import type { PaneLimits } from '../src/window/pane.ts';

const SHARES = [0.3, 0.2, 0.15, 0.1, 0.1, 0.07];
const TINY = 20;
const BASE_ACCURACY = 0.9;

interface StatsFigures {
  windows: number;
  labels: number;
  falseAlarmWindows: number;
  falseAlarmsPerMillion: number;
  /** Segments flagged in the false-alarm windows. */
  flagged: Record<string, number>;
  found: number;
}

/** One window's counts: segment 3 (10 %) at `dropTo` accuracy when given. */
function drawWindow(random: SeededRandom, n: number, dropTo: number | null): Map<string, SegmentCounts> {
  const sizes = SHARES.map((share) => Math.round(share * n));
  sizes.push(n - TINY - sizes.reduce((a, b) => a + b, 0), TINY);
  const segments = new Map<string, SegmentCounts>();
  sizes.forEach((size, s) => {
    const accuracy = s === 3 && dropTo !== null ? dropTo : BASE_ACCURACY;
    let correct = 0;
    for (let i = 0; i < size; i++) if (random.chance(accuracy)) correct++;
    segments.set(s === sizes.length - 1 ? 'tiny' : `s${s}`, { predictions: size, labeled: size, correct });
  });
  return segments;
}

function runStatistics(n: number, windows: number, dropTo: number | null, seed: number): StatsFigures {
  const random = new SeededRandom(seed);
  const alpha = budgetSignificance(n, 0.5, 1);
  let falseAlarmWindows = 0;
  let found = 0;
  const flagged: Record<string, number> = {};
  for (let w = 0; w < windows; w++) {
    const segments = drawWindow(random, n, dropTo);
    let labeled = 0;
    let correct = 0;
    for (const c of segments.values()) {
      labeled += c.labeled;
      correct += c.correct;
    }
    const ranked = rankSegments({ labeled, correct }, segments, alpha);
    if (dropTo === null && ranked.some((r) => r.significant)) {
      falseAlarmWindows++;
      for (const r of ranked) if (r.significant) flagged[r.value] = (flagged[r.value] ?? 0) + 1;
    }
    if (dropTo !== null && ranked[0].value === 's3' && ranked[0].significant) found++;
  }
  return { windows, labels: n * windows, falseAlarmWindows, falseAlarmsPerMillion: (falseAlarmWindows / (n * windows)) * 1e6, flagged, found };
}

/** ns per prediction of the pane path for `events` predictions. */
function paneCost(limits: PaneLimits, events: number): number {
  const random = new SeededRandom(7);
  const regions = ['na', 'eu', 'apac', 'latam'];
  const plans = ['basic', 'pro', 'enterprise'];
  const inputs = Array.from({ length: 1024 }, () => {
    const features: Record<string, number | string> = {};
    for (let f = 0; f < 10; f++) features[`f${f}`] = random.gaussian(f * 10, 1 + f);
    features.plan = plans[random.int(0, 2)];
    features.region = regions[random.int(0, 3)];
    return { features, segment: { region: features.region as string, group: random.chance(0.4) ? 'b' : 'a' }, score: random.next() };
  });
  let pane = new PaneInput(limits);
  const start = process.hrtime.bigint();
  for (let i = 0; i < events; i++) {
    // a new pane every 10,000 predictions, as panes close
    if (i % 10_000 === 0) pane = new PaneInput(limits);
    const e = inputs[i & 1023];
    pane.addPrediction(e.score, e.score, 0.5, 10, false, e.segment);
    for (const name in e.features) pane.addFeature(name, e.features[name]);
    pane.addSegmentFeatures(e.segment, e.features);
  }
  return Number(process.hrtime.bigint() - start) / events;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1];
}

export function main(): void {
  const { values } = parseArgs({
    options: {
      windows: { type: 'string', default: '2000' },
      events: { type: 'string', default: '200000' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const windows = Number(values.windows);
  const events = Number(values.events);
  const rounds = Number(values.rounds);

  console.log(`segment ranking: ${windows} windows per size, 8 segments (one of ${TINY} events), accuracy ${BASE_ACCURACY}`);
  const stats: Record<string, StatsFigures> = {};
  for (const n of [1000, 10_000]) {
    const stationary = runStatistics(n, windows, null, 11 + n);
    const drop = runStatistics(n, Math.min(windows, 500), BASE_ACCURACY - 0.15, 13 + n);
    stats[`n${n}`] = stationary;
    stats[`n${n}drop`] = drop;
    console.log(
      `  window of ${n} labels: false alarms ${stationary.falseAlarmWindows} in ${stationary.windows} windows = ${stationary.falseAlarmsPerMillion.toFixed(2)} per million labels (target <= 1; flagged: ${JSON.stringify(stationary.flagged)}); ` +
        `15-point drop in the 10 % segment found first and significant in ${drop.found} / ${drop.windows} windows`,
    );
  }

  const off = DEFAULT_PANE_LIMITS;
  const on: PaneLimits = { ...DEFAULT_PANE_LIMITS, segmentSketchValues: 4 };
  paneCost(off, Math.min(events, 50_000));
  paneCost(on, Math.min(events, 50_000));
  const limitNs: number[] = [];
  const withNs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    limitNs.push(paneCost(off, events));
    withNs.push(paneCost(on, events));
  }
  const limit = median(limitNs);
  const withSketches = median(withNs);
  console.log(
    `pane path, 10 numeric + 2 categorical features, 2 segment keys, ${events} predictions x ${rounds} rounds (medians): ` +
      `without per-segment summaries (the limit) ${limit.toFixed(0)} ns, with segmentSketchValues 4 ${withSketches.toFixed(0)} ns per prediction; ratio ${(limit / withSketches).toFixed(2)}`,
  );
  console.log(
    JSON.stringify({
      bench: 'segments',
      falseAlarmsPerMillion1k: +stats.n1000.falseAlarmsPerMillion.toFixed(3),
      falseAlarmsPerMillion10k: +stats.n10000.falseAlarmsPerMillion.toFixed(3),
      found1k: `${stats.n1000drop.found}/${stats.n1000drop.windows}`,
      found10k: `${stats.n10000drop.found}/${stats.n10000drop.windows}`,
      paneNsLimit: Math.round(limit),
      paneNsWithSegmentSketches: Math.round(withSketches),
      ratio: +(limit / withSketches).toFixed(3),
    }),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
