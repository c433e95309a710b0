/**
 * Fidelity of the live drift path against exact statistics, on every feature shape.
 *
 * The live side is what the gateway computes: events are spread over 16 partitions (the default
 * partition count; events go by id, so every partition sees every model) and go into pane
 * summaries (PaneInput, as the worker fills them: each partition's panes share that partition's
 * feature centers, the first value it saw of each feature), each pane goes through its changelog
 * wire form (inputToWire) into a model's windows (ModelWindows, as the gateway holds them: on the
 * reference's buckets, panes of other centers moved onto them as they arrive; a window captured as
 * a reference on the first pane's buckets), and buildModelMetrics turns the window and a
 * reference profile into drift entries. The reference is built either from a file
 * (profileFromRows: exact deciles, a sketch of every value centered on the median) or captured
 * from a window (profileFromWindow: sketch only). The exact side runs src/stats/distribution.ts on the raw
 * arrays: KS statistic (ks2Samp), Wasserstein-1 over the reference's population std, PSI on the
 * reference's exact decile edges (categories: on the categories).
 *
 * Battery: shapes (normal, lognormal, bimodal, heavy-tailed t3, mostly-zero, integers of many values, sentinels, offset with
 * mean/sigma = 1e4, discrete with 2 and 5 values, categorical with 2 and 50 categories) x
 * window sizes (1k, 10k) x reference sizes (1k, 50k) x reference source (file, window). Per cell:
 *   - max |live - exact| of KS, normed Wasserstein and PSI over the stationary windows;
 *   - false alarms on stationary windows (fresh draws from the reference's distribution),
 *     evaluated once each (non-overlapping windows): the default verdict (`drift`) and the
 *     `feature_psi` rule of config/alert-rules.json (psi > 0.2, at least 200 values); of the
 *     default verdict's alarms, how many the same rule also raises on the exact statistics of the
 *     raw values (the test's own false-alarm budget, not the sketches);
 *   - 0.5 sigma detection: the mean moves by half the reference's std at a seeded point inside
 *     a window; found when that window or the next is judged drifted (numeric shapes only);
 * and the worker's cost: CPU ns per PaneInput.addFeature of one numeric value, by shape.
 * False alarms per million are measured on far fewer than a million events per cell: the
 * counts are printed, and the total is the figure to judge.
 *
 * Panes are centered on each partition's own first values (`--panes-on own`, the default: a worker
 * before it knows the reference) or on the reference's centers (`--panes-on reference`: a worker
 * following the reference, what a window holds once it has been published for a window length).
 * Shapes include sentinels (a value such as 999 or -1 holding a decile).
 *
 *   npm run bench -- fidelity [--quick] [--panes-on own|reference]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SeededRandom } from '../src/simulator/random.ts';
import { profileFromRows, profileFromWindow } from '../src/reference/profile.ts';
import type { ReferenceProfile, TrainingRow } from '../src/reference/profile.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome, inputToWire } from '../src/window/pane.ts';
import type { FeatureCenters } from '../src/window/pane.ts';
import { ModelWindows } from '../src/window/windows.ts';
import type { WindowAggregate } from '../src/window/windows.ts';
import { LogHistogram } from '../src/sketch/log-histogram.ts';
import { buildModelMetrics } from '../src/gateway/metrics.ts';
import { binCounts, ks2Samp, populationStd, psi, quantileEdges, wassersteinDistance, normByStd } from '../src/stats/distribution.ts';
import { alignCategoryCounts } from '../src/stats/select.ts';
import type { DriftEntry } from '../src/contract/metrics.ts';

type Value = number | string;

interface Shape {
  name: string;
  kind: 'continuous' | 'discrete' | 'categorical';
  draw: (random: SeededRandom) => Value;
}

/** A Poisson draw (Knuth's product of uniforms: fine for small means). */
function poisson(random: SeededRandom, mean: number): number {
  let k = -1;
  for (let p = 1; p > Math.exp(-mean); p *= random.next()) k++;
  return k;
}

function studentT3(random: SeededRandom): number {
  const z = random.normal();
  const chi = random.normal() ** 2 + random.normal() ** 2 + random.normal() ** 2;
  return z / Math.sqrt(chi / 3);
}

function weightedIndex(random: SeededRandom, cumulative: readonly number[]): number {
  const u = random.next() * cumulative[cumulative.length - 1];
  let i = 0;
  while (cumulative[i] <= u) i++;
  return i;
}

function cumulativeOf(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}

const FIVE_VALUES = cumulativeOf([0.1, 0.3, 0.25, 0.2, 0.15]);
/** 50 categories with Zipf-like shares (1/rank). */
const FIFTY_CATEGORIES = cumulativeOf(Array.from({ length: 50 }, (_, i) => 1 / (i + 1)));

export const SHAPES: Shape[] = [
  { name: 'normal', kind: 'continuous', draw: (r) => r.normal() },
  { name: 'lognormal', kind: 'continuous', draw: (r) => r.lognormal(0, 1) },
  { name: 'bimodal', kind: 'continuous', draw: (r) => (r.chance(0.5) ? r.gaussian(-2, 0.6) : r.gaussian(2, 0.6)) },
  { name: 'heavy-tailed', kind: 'continuous', draw: studentT3 },
  { name: 'mostly-zero', kind: 'continuous', draw: (r) => (r.chance(0.9) ? 0 : -10 * Math.log(1 - r.next())) },
  // integers of many values (more than a pane counts one by one): every value an atom of 1-3 %
  { name: 'age', kind: 'continuous', draw: (r) => Math.max(18, Math.round(r.gaussian(45, 15))) },
  { name: 'count-20', kind: 'continuous', draw: (r) => poisson(r, 20) },
  // a sentinel (missing value coded as 999) holding a decile: an exact decile edge sits on it
  { name: 'sentinel', kind: 'continuous', draw: (r) => (r.chance(0.15) ? 999 : r.gaussian(40, 12)) },
  { name: 'sentinel-mix', kind: 'continuous', draw: (r) => (r.chance(0.15) ? -1 : r.chance(0.15) ? 0 : r.chance(0.1) ? 100 : r.lognormal(2, 0.8)) },
  { name: 'offset', kind: 'continuous', draw: (r) => r.gaussian(1e4, 1) },
  { name: 'discrete-2', kind: 'discrete', draw: (r) => (r.chance(0.3) ? 1 : 0) },
  { name: 'discrete-5', kind: 'discrete', draw: (r) => 1 + weightedIndex(r, FIVE_VALUES) },
  { name: 'categorical-2', kind: 'categorical', draw: (r) => (r.chance(0.3) ? 'yes' : 'no') },
  { name: 'categorical-50', kind: 'categorical', draw: (r) => `c${weightedIndex(r, FIFTY_CATEGORIES)}` },
];

const FEATURE = 'f';
const PANES_PER_WINDOW = 10;
const PANE_MS = 10_000;
/** Partitions (producers of panes, each with its own feature centers): the default partition count. */
const PARTITIONS = 16;
const PSI_RULE = { threshold: 0.2, minCount: 200 };

interface Protocol {
  windowSizes: number[];
  referenceSizes: number[];
  /** Stationary windows per cell, by window size: exact errors and false alarms. */
  stationaryWindows: Record<number, number>;
  /** 0.5 sigma change trials per cell. */
  shiftTrials: number;
  costValues: number;
}

const FULL: Protocol = { windowSizes: [1000, 10_000], referenceSizes: [1000, 50_000], stationaryWindows: { 1000: 40, 10_000: 6 }, shiftTrials: 6, costValues: 1_000_000 };
const QUICK: Protocol = { windowSizes: [1000, 10_000], referenceSizes: [1000, 50_000], stationaryWindows: { 1000: 8, 10_000: 2 }, shiftTrials: 2, costValues: 200_000 };

// ---------------------------------------------------------------------------------------------
// Live path

/**
 * Where the worker's panes are centered (`--panes-on`): `own`, each partition on the first values it
 * saw (a worker before it knows the reference: up to one window length after a reference is
 * published, panes made before it are still in the window); `reference`, every partition on the
 * reference's centers (a worker that follows the reference, a file's or one captured from the
 * windows: what the windows hold after that). A window captured as a reference is made of panes
 * of their own centers either way (before it, the model had no reference to follow).
 */
export type PanesOn = 'own' | 'reference';

/** The partitions' feature centers, kept for a whole cell as a worker keeps them while it runs. */
function partitionCenters(reference: ReferenceProfile | null): FeatureCenters[] {
  const summary = reference?.features[FEATURE];
  const center = summary?.type === 'numeric' && summary.summary instanceof LogHistogram ? summary.summary.center : null;
  return Array.from({ length: PARTITIONS }, () => new Map<string, number>(center === null ? [] : [[FEATURE, center]]));
}

/**
 * A window as the gateway holds it: panes filled like the worker's (one per partition and pane
 * time, events spread over the partitions), through their wire form, into a model's windows
 * (ModelWindows, as the gateway's window store keeps them: each feature held on its reference's
 * buckets when `reference` has a sketch of it, else on the first pane's, panes of other centers
 * moved onto those as they arrive).
 */
function liveWindow(values: readonly Value[], centers: FeatureCenters[], reference: ReferenceProfile | null = null): WindowAggregate {
  const windows = new ModelWindows('bench', new Map([['window', PANES_PER_WINDOW * PANE_MS]]), DEFAULT_PANE_LIMITS, {
    bucketsHint: (feature) => {
      const summary = reference?.features[feature];
      return summary?.type === 'numeric' && summary.summary instanceof LogHistogram ? summary.summary : undefined;
    },
  });
  const paneSize = Math.ceil(values.length / PANES_PER_WINDOW);
  let previous: PaneInput[] | null = null;
  for (let start = 0, k = 0; start < values.length; start += paneSize, k++) {
    const panes = centers.map((partition, p) => {
      const pane = new PaneInput(DEFAULT_PANE_LIMITS, partition);
      // as a worker opens a partition's next pane: the values the previous one kept counting go on
      if (previous !== null) pane.keepValuesLike(previous[p]);
      return pane;
    });
    previous = panes;
    for (let i = start; i < Math.min(values.length, start + paneSize); i++) {
      const pane = panes[i % PARTITIONS];
      pane.count++;
      pane.addFeature(FEATURE, values[i]);
    }
    panes.forEach((pane, partition) => {
      if (pane.count > 0) windows.applyMessage({ model: 'bench', version: 'v1', partition, paneStart: k * PANE_MS, paneMs: PANE_MS, part: 'in', seq: 0, state: inputToWire(pane), final: true });
    });
  }
  const aggregate = windows.get('window');
  if (aggregate === undefined) throw new Error('no window for a non-empty run of values');
  return aggregate;
}

function fileReference(values: readonly Value[]): ReferenceProfile {
  const rows: TrainingRow[] = values.map((value) => ({ features: { [FEATURE]: value } }));
  return profileFromRows('file', 'bench', null, rows);
}

function windowReference(values: readonly Value[], centers: FeatureCenters[]): ReferenceProfile {
  const input = liveWindow(values, centers).input;
  return profileFromWindow('window', 'bench', null, 'window', input, new PaneOutcome(DEFAULT_PANE_LIMITS), 0, 1);
}

function liveDrift(aggregate: WindowAggregate, reference: ReferenceProfile): DriftEntry {
  const metrics = buildModelMetrics(aggregate, { model: 'bench', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {} });
  const entry = metrics.drift.features[FEATURE];
  if (entry === undefined) throw new Error('no drift entry for a non-empty window');
  return entry;
}

// ---------------------------------------------------------------------------------------------
// Exact side

interface ExactReference {
  numeric: Float64Array | null;
  std: number;
  innerEdges: number[];
  binCounts: Float64Array | null;
  categories: Map<string, number> | null;
}

function exactReference(values: readonly Value[]): ExactReference {
  if (typeof values[0] === 'string') {
    const categories = new Map<string, number>();
    for (const v of values) categories.set(v as string, (categories.get(v as string) ?? 0) + 1);
    return { numeric: null, std: 0, innerEdges: [], binCounts: null, categories };
  }
  const numeric = Float64Array.from(values as number[]);
  const innerEdges = quantileEdges(numeric, 10);
  return { numeric, std: populationStd(numeric), innerEdges, binCounts: binCounts(numeric, innerEdges), categories: null };
}

interface Statistics {
  ks: number | null;
  wasserstein: number | null;
  psi: number;
}

function exactStatistics(reference: ExactReference, values: readonly Value[]): Statistics {
  if (reference.categories !== null) {
    const current = new Map<string, number>();
    for (const v of values) current.set(v as string, (current.get(v as string) ?? 0) + 1);
    const aligned = alignCategoryCounts(reference.categories, current);
    return { ks: null, wasserstein: null, psi: psi(aligned.reference, aligned.current) };
  }
  const current = Float64Array.from(values as number[]);
  const ref = reference.numeric as Float64Array;
  return {
    ks: ks2Samp(ref, current, 'asymp').statistic,
    wasserstein: normByStd(wassersteinDistance(ref, current), reference.std),
    psi: psi(reference.binCounts as Float64Array, binCounts(current, reference.innerEdges)),
  };
}

/**
 * The default rule's verdict for a numeric entry on the exact statistics of the raw values, at the
 * thresholds the live entry used (KS p-value; normed Wasserstein confirmed by KS): tells a false
 * alarm the test itself raises (its false-alarm budget, spent on a reference that happens to be
 * unrepresentative) from one the sketches add. Non-numeric entries are tested on exact counts.
 */
function exactVerdict(entry: DriftEntry, reference: ExactReference, values: readonly Value[]): boolean {
  if (entry.type !== 'numeric' || reference.numeric === null) return entry.drift;
  const current = Float64Array.from(values as number[]);
  const ksDrift = ks2Samp(reference.numeric, current, 'auto').pValue <= entry.tests.ks.threshold;
  if (entry.primary === 'ks') return ksDrift;
  const w = normByStd(wassersteinDistance(reference.numeric, current), reference.std);
  return w >= entry.tests.wasserstein_normed.threshold && ksDrift;
}

function liveStatistics(entry: DriftEntry): Statistics {
  return { ks: entry.tests.ks?.statistic ?? null, wasserstein: entry.tests.wasserstein_normed?.statistic ?? null, psi: entry.tests.psi.statistic };
}

function psiRuleFires(entry: DriftEntry): boolean {
  return entry.count >= PSI_RULE.minCount && entry.tests.psi.statistic > PSI_RULE.threshold;
}

// ---------------------------------------------------------------------------------------------
// One cell of the battery

interface Cell {
  shape: string;
  source: 'file' | 'window';
  windowSize: number;
  referenceSize: number;
  maxError: { ks: number | null; wasserstein: number | null; psi: number };
  stationaryEvents: number;
  alarmsDefault: number;
  /** Of alarmsDefault, those the default rule also raises on the exact statistics of the raw values (numeric entries). */
  alarmsDefaultAlsoExact: number;
  alarmsPsiRule: number;
  /** 0.5 sigma shifts found within two windows / tried (null: not applicable). */
  detected: number | null;
  shiftTrials: number;
}

function draws(random: SeededRandom, shape: Shape, n: number, shift = 0): Value[] {
  const out: Value[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = shape.draw(random);
    out[i] = typeof v === 'number' ? v + shift : v;
  }
  return out;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

function runCell(shape: Shape, source: 'file' | 'window', windowSize: number, referenceSize: number, protocol: Protocol, seed: number, panesOn: PanesOn): Cell {
  const random = new SeededRandom(seed);
  const referenceValues = draws(random, shape, referenceSize);
  const captureCenters = partitionCenters(null);
  const reference = source === 'file' ? fileReference(referenceValues) : windowReference(referenceValues, captureCenters);
  const centers = panesOn === 'reference' ? partitionCenters(reference) : captureCenters;
  const exact = exactReference(referenceValues);

  const maxError: Cell['maxError'] = { ks: null, wasserstein: null, psi: 0 };
  let alarmsDefault = 0;
  let alarmsDefaultAlsoExact = 0;
  let alarmsPsiRule = 0;
  const windows = protocol.stationaryWindows[windowSize];
  for (let w = 0; w < windows; w++) {
    const values = draws(random, shape, windowSize);
    const entry = liveDrift(liveWindow(values, centers, reference), reference);
    const live = liveStatistics(entry);
    const truth = exactStatistics(exact, values);
    if (truth.ks !== null && live.ks !== null) maxError.ks = maxOrNull(maxError.ks, Math.abs(live.ks - truth.ks));
    if (truth.wasserstein !== null && live.wasserstein !== null) maxError.wasserstein = maxOrNull(maxError.wasserstein, Math.abs(live.wasserstein - truth.wasserstein));
    maxError.psi = Math.max(maxError.psi, Math.abs(live.psi - truth.psi));
    if (entry.drift) {
      alarmsDefault++;
      if (exactVerdict(entry, exact, values)) alarmsDefaultAlsoExact++;
    }
    if (psiRuleFires(entry)) alarmsPsiRule++;
  }

  let detected: number | null = null;
  if (shape.kind !== 'categorical') {
    detected = 0;
    const shift = 0.5 * exact.std;
    for (let t = 0; t < protocol.shiftTrials; t++) {
      // the change lands at a seeded point inside the first window: it is partly old data
      const changeAt = Math.floor(random.uniform(0.1, 0.9) * windowSize);
      const first = [...draws(random, shape, changeAt), ...draws(random, shape, windowSize - changeAt, shift)];
      const second = draws(random, shape, windowSize, shift);
      if (liveDrift(liveWindow(first, centers, reference), reference).drift || liveDrift(liveWindow(second, centers, reference), reference).drift) detected++;
    }
  }
  return { shape: shape.name, source, windowSize, referenceSize, maxError, stationaryEvents: windows * windowSize, alarmsDefault, alarmsDefaultAlsoExact, alarmsPsiRule, detected, shiftTrials: protocol.shiftTrials };
}

// ---------------------------------------------------------------------------------------------
// Worker cost

function cpuNs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
}

/** CPU ns per numeric value folded into a pane (PaneInput.addFeature), median of 3 runs. */
function workerNsPerValue(shape: Shape, count: number): number {
  const values = (draws(new SeededRandom(7), shape, count) as number[]).map(Number);
  const run = (): number => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS, new Map());
    const start = cpuNs();
    for (let i = 0; i < values.length; i++) pane.addFeature(FEATURE, values[i]);
    return (cpuNs() - start) / values.length;
  };
  run();
  const timings = [run(), run(), run()].sort((a, b) => a - b);
  return timings[1];
}

// ---------------------------------------------------------------------------------------------

const TARGETS = { ks: 0.01, wasserstein: 0.02, psi: 0.01, alarmsPerMillion: 1, workerNs: 60 };

function fmt(x: number | null, digits = 4): string {
  return x === null ? 'n/a' : x.toFixed(digits);
}

function main(): void {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, 'panes-on': { type: 'string', default: 'own' } } });
  const protocol = values.quick ? QUICK : FULL;
  const panesOn = values['panes-on'];
  if (panesOn !== 'own' && panesOn !== 'reference') throw new RangeError(`bench fidelity: --panes-on needs 'own' or 'reference', got '${panesOn}'`);
  const started = Date.now();
  console.log(`Fidelity of the live drift path (${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version})${values.quick ? ' --quick' : ''}; panes on ${panesOn === 'own' ? "each partition's own centers" : "the reference's centers (those of a window captured: their own)"}`);
  console.log(
    `stationary windows per cell: ${protocol.windowSizes.map((w) => `${protocol.stationaryWindows[w]} x ${w}`).join(', ')}; 0.5 sigma trials per cell: ${protocol.shiftTrials}; panes per window: ${PANES_PER_WINDOW}`,
  );
  console.log('\nshape           source window   ref     |KS err| |W err|  |PSI err| alarms(default/psi rule)/events  0.5σ found');
  const cells: Cell[] = [];
  let seed = 1;
  for (const shape of SHAPES) {
    for (const source of ['file', 'window'] as const) {
      for (const windowSize of protocol.windowSizes) {
        for (const referenceSize of protocol.referenceSizes) {
          const cell = runCell(shape, source, windowSize, referenceSize, protocol, seed++, panesOn);
          cells.push(cell);
          console.log(
            `${shape.name.padEnd(15)} ${source.padEnd(6)} ${String(windowSize).padStart(6)} ${String(referenceSize).padStart(6)}  ${fmt(cell.maxError.ks).padStart(7)}  ${fmt(cell.maxError.wasserstein).padStart(7)}  ${fmt(cell.maxError.psi).padStart(7)}   ${`${cell.alarmsDefault}/${cell.alarmsPsiRule}/${cell.stationaryEvents}`.padStart(18)}      ${cell.detected === null ? 'n/a' : `${cell.detected}/${cell.shiftTrials}`}`,
          );
        }
      }
    }
  }

  console.log('\nWorker cost, CPU ns per numeric value into a pane (PaneInput.addFeature -> LogHistogram.add), median of 3:');
  const workerNs: Record<string, number> = {};
  for (const shape of SHAPES.filter((s) => s.kind !== 'categorical')) {
    workerNs[shape.name] = +workerNsPerValue(shape, protocol.costValues).toFixed(1);
    console.log(`  ${shape.name.padEnd(15)} ${workerNs[shape.name]} ns`);
  }

  const worst = (pick: (c: Cell) => number | null, filter: (c: Cell) => boolean = () => true): number | null =>
    cells.filter(filter).reduce<number | null>((m, c) => maxOrNull(m, pick(c)), null);
  const events = cells.reduce((s, c) => s + c.stationaryEvents, 0);
  const alarmsDefault = cells.reduce((s, c) => s + c.alarmsDefault, 0);
  const alarmsPsiRule = cells.reduce((s, c) => s + c.alarmsPsiRule, 0);
  const alarmsAlsoExact = cells.reduce((s, c) => s + c.alarmsDefaultAlsoExact, 0);
  const continuous = new Set(SHAPES.filter((s) => s.kind === 'continuous').map((s) => s.name));
  const shiftCells = cells.filter((c) => continuous.has(c.shape));
  const found = shiftCells.reduce((s, c) => s + (c.detected ?? 0), 0);
  const tried = shiftCells.reduce((s, c) => s + c.shiftTrials, 0);
  const figures = {
    bench: 'fidelity',
    quick: values.quick,
    panesOn,
    cells: cells.length,
    maxKsError: worst((c) => c.maxError.ks),
    maxWassersteinNormedError: worst((c) => c.maxError.wasserstein),
    maxPsiError: worst((c) => c.maxError.psi),
    maxKsErrorByShape: Object.fromEntries(SHAPES.map((s) => [s.name, worst((c) => c.maxError.ks, (c) => c.shape === s.name)])),
    maxWassersteinErrorByShape: Object.fromEntries(SHAPES.map((s) => [s.name, worst((c) => c.maxError.wasserstein, (c) => c.shape === s.name)])),
    maxPsiErrorByShape: Object.fromEntries(SHAPES.map((s) => [s.name, worst((c) => c.maxError.psi, (c) => c.shape === s.name)])),
    stationaryEvents: events,
    falseAlarmsDefault: alarmsDefault,
    falseAlarmsDefaultAlsoOnExactStatistics: alarmsAlsoExact,
    falseAlarmsPsiRule: alarmsPsiRule,
    falseAlarmsPerMillionDefault: +((alarmsDefault / events) * 1e6).toFixed(2),
    falseAlarmsPerMillionPsiRule: +((alarmsPsiRule / events) * 1e6).toFixed(2),
    halfSigmaFoundWithinTwoWindows: `${found}/${tried}`,
    halfSigmaMissedCells: shiftCells.filter((c) => (c.detected ?? 0) < c.shiftTrials).map((c) => `${c.shape}/${c.source}/${c.windowSize}/${c.referenceSize}`),
    workerNsPerNumericValue: workerNs,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
  const maxWorker = Math.max(...Object.values(workerNs));
  console.log('\nTargets:');
  console.log(`  KS error <= ${TARGETS.ks}: worst ${fmt(figures.maxKsError)} -> ${verdict((figures.maxKsError ?? 0) <= TARGETS.ks)}`);
  console.log(`  normed Wasserstein error <= ${TARGETS.wasserstein}: worst ${fmt(figures.maxWassersteinNormedError)} -> ${verdict((figures.maxWassersteinNormedError ?? 0) <= TARGETS.wasserstein)}`);
  console.log(`  PSI error <= ${TARGETS.psi}: worst ${fmt(figures.maxPsiError)} -> ${verdict(figures.maxPsiError! <= TARGETS.psi)}`);
  console.log(
    `  <= ${TARGETS.alarmsPerMillion} false alarm per million: default verdict ${alarmsDefault} in ${events} events (${figures.falseAlarmsPerMillionDefault}/M; ${alarmsAlsoExact} of them raised on the exact statistics too) -> ${verdict(figures.falseAlarmsPerMillionDefault <= TARGETS.alarmsPerMillion)}; feature_psi rule ${alarmsPsiRule} (${figures.falseAlarmsPerMillionPsiRule}/M) -> ${verdict(figures.falseAlarmsPerMillionPsiRule <= TARGETS.alarmsPerMillion)}`,
  );
  console.log(`  every 0.5σ shift on continuous shapes found within two windows: ${found}/${tried} -> ${verdict(found === tried)}`);
  console.log(`  worker cost per numeric feature <= ${TARGETS.workerNs} ns: worst ${maxWorker} ns -> ${verdict(maxWorker <= TARGETS.workerNs)}`);
  console.log(JSON.stringify(figures));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
