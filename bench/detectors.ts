/**
 * Sequential change detectors: speed and detection quality.
 *
 *   npx tsx bench/detectors.ts
 *
 * 1. ns per update of each detector on a pre-generated 1M-event Bernoulli(0.1) error stream.
 * 2. Detection quality on error streams of a fixed model with known change points, 20 seeds each:
 *    - SEA concepts (3 features uniform on [0, 10], label = f1 + f2 <= theta, 10% label noise); the
 *      model predicts with theta = 8 (the first concept). 5000 events of concept theta=8, then a
 *      switch to theta 9, 7 or 9.5: abrupt, or gradual (MOA's sigmoid, width 1000, centred on the
 *      change point);
 *    - rotating hyperplane (10 features, 5% noise): from the change point on, the true weights rotate
 *      by 1e-4 per event while the model keeps the initial ones (error 0.05 -> ~0.09 after 1000
 *      events, ~0.14 after 2000);
 *    - label-prior shift: a classifier with 5% false positives and 30% false negatives sees the
 *      positive rate move from 0.2 to 0.5 (error 0.10 -> 0.175).
 *    Every stream has 5000 events before the change and 5000 after. Delay = first detection at or
 *    after the change (for gradual changes: after the start of the sigmoid, measured from its
 *    centre, so it may be negative); missed = no detection within the 5000 events after it; alarms
 *    before the change are false alarms.
 * 3. False alarms per million events on long stationary error streams (1M events x 3 seeds, at
 *    error rates 0.1 and 0.3).
 * Ends with one JSON line.
 */

import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { createDetector, DETECTOR_KINDS, DETECTORS, type ChangeDetector, type DetectorKind } from '../src/stats/detectors/index.ts';
import {
  bernoulliErrors,
  ERROR_STREAM_AFTER,
  ERROR_STREAM_BEFORE,
  hyperplaneStream,
  mean,
  mulberry32,
  percentile,
  priorShiftStream,
  seaStream,
  type ErrorStream,
} from './streams.ts';

const SPEED_EVENTS = 1_000_000;
const SEEDS = 20;
const BEFORE = ERROR_STREAM_BEFORE;
const AFTER = ERROR_STREAM_AFTER;
const STATIONARY_EVENTS = 1_000_000;
const STATIONARY_SEEDS = 4;
const STATIONARY_RATES = [0.1, 0.3];

// ---------------------------------------------------------------- measurements

/** Best-of-3 ns per update of a default-settings detector over `errors`. */
export function nsPerUpdate(kind: DetectorKind, errors: Uint8Array): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const detector = createDetector(kind);
    let drifts = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < errors.length; i++) {
      detector.update(errors[i]);
      if (detector.driftDetected) drifts++;
    }
    const elapsed = Number(process.hrtime.bigint() - start);
    if (drifts < 0) throw new Error('unreachable: keeps the loop observable');
    best = Math.min(best, elapsed / errors.length);
  }
  return best;
}

export interface ScenarioResult {
  delays: number[];
  missed: number;
  falseAlarms: number;
  runs: number;
}

/**
 * Runs a fresh detector over each stream up to AFTER events past the change: the first detection
 * at or after changeStart gives the delay (from changeAt), earlier ones count as false alarms.
 */
export function runScenario(kind: DetectorKind, streams: ErrorStream[], options: object = {}): ScenarioResult {
  const result: ScenarioResult = { delays: [], missed: 0, falseAlarms: 0, runs: streams.length };
  for (const stream of streams) {
    const detector: ChangeDetector = createDetector(kind, options as never);
    let delay: number | undefined;
    const end = Math.min(stream.errors.length, stream.changeAt + AFTER);
    for (let t = 0; t < end && delay === undefined; t++) {
      detector.update(stream.errors[t]);
      if (!detector.driftDetected) continue;
      if (t < stream.changeStart) result.falseAlarms++;
      else delay = t - stream.changeAt;
    }
    if (delay === undefined) result.missed++;
    else result.delays.push(delay);
  }
  return result;
}

/**
 * Alarms per million events of `runs` fresh detectors, each fed `events` Bernoulli(rate) errors
 * from its own seeded stream (`seedBase` keeps the long-stream and start-up samples apart).
 */
function alarmsPerMillion(kind: DetectorKind, rate: number, options: object, events: number, runs: number, seedBase: number): number {
  let alarms = 0;
  for (let run = 1; run <= runs; run++) {
    const random = mulberry32(run * seedBase + Math.round(rate * 1000));
    const detector = createDetector(kind, options as never);
    for (let t = 0; t < events; t++) {
      detector.update(random() < rate ? 1 : 0);
      if (detector.driftDetected) alarms++;
    }
  }
  return (alarms / (events * runs)) * 1e6;
}

/** False alarms per million events on long stationary streams (a detector that starts over after each alarm). */
export function stationaryAlarmsPerMillion(
  kind: DetectorKind,
  rate: number,
  options: object = {},
  events = STATIONARY_EVENTS,
  seeds = STATIONARY_SEEDS,
): number {
  return alarmsPerMillion(kind, rate, options, events, seeds, 7919);
}

/**
 * False alarms per million events in the start-up of fresh detectors: `runs` detectors, each fed
 * the first `events` values of its own stationary Bernoulli stream (a model version's first
 * traffic, or the traffic right after a detected change, when the detector starts over).
 */
export function startupAlarmsPerMillion(kind: DetectorKind, rate: number, options: object = {}, runs = 1000, events = 5000): number {
  return alarmsPerMillion(kind, rate, options, events, runs, 104_729);
}

export interface ErrorScenario {
  name: string;
  /** Abrupt SEA change: the scenarios the "mean delay < 1000" target is about. */
  abruptSea: boolean;
  streams: ErrorStream[];
}

/** The eight change scenarios (SEA abrupt x3, SEA gradual x3, hyperplane, label prior), `seedCount` streams each. */
export function errorScenarios(seedCount: number): ErrorScenario[] {
  const seeds = Array.from({ length: seedCount }, (_, i) => i + 1);
  const scenarios: ErrorScenario[] = [];
  for (const theta of [9, 7, 9.5]) {
    scenarios.push({ name: `sea 8->${theta} abrupt`, abruptSea: true, streams: seeds.map((s) => seaStream(s * 101 + theta * 10, theta, false)) });
  }
  for (const theta of [9, 7, 9.5]) {
    scenarios.push({ name: `sea 8->${theta} gradual`, abruptSea: false, streams: seeds.map((s) => seaStream(s * 103 + theta * 10, theta, true)) });
  }
  scenarios.push({ name: 'hyperplane rotating', abruptSea: false, streams: seeds.map((s) => hyperplaneStream(s * 107)) });
  scenarios.push({ name: 'label prior 0.2->0.5', abruptSea: false, streams: seeds.map((s) => priorShiftStream(s * 109)) });
  return scenarios;
}

// ---------------------------------------------------------------- report

const fmt = (value: number, digits = 0): string => (Number.isNaN(value) ? '-' : value.toFixed(digits));

export async function main(): Promise<void> {
  const started = performance.now();
  console.log(`Sequential change detectors (node ${process.version}, ${os.cpus().length} cores)\n`);

  // 1. speed
  const speedStream = bernoulliErrors(42, SPEED_EVENTS, 0.1);
  const nsPer: Record<string, number> = {};
  console.log(`ns per update, ${SPEED_EVENTS.toLocaleString('en')}-event Bernoulli(0.1) stream (best of 3):`);
  for (const kind of DETECTOR_KINDS) {
    nsPer[kind] = nsPerUpdate(kind, speedStream);
    console.log(`  ${kind.padEnd(13)} ${fmt(nsPer[kind], 1).padStart(7)} ns`);
  }

  // 2. quality
  const scenarios = errorScenarios(SEEDS);

  console.log(`\nDetection quality (${SEEDS} seeds per scenario; ${BEFORE} events before the change, ${AFTER} after; defaults):`);
  console.log(
    `  ${'scenario'.padEnd(22)} ${'detector'.padEnd(13)} ${'mean delay'.padStart(10)} ${'p90 delay'.padStart(9)} ${'missed'.padStart(6)} ${'false alarms before'.padStart(19)}`,
  );
  interface Summary {
    seaAbruptDelays: number[];
    seaAbruptMissed: number;
    missed: number;
    preChangeFalseAlarms: number;
    runs: number;
  }
  const summary: Record<string, Summary> = {};
  const perScenario: Record<string, Record<string, { meanDelay: number; p90Delay: number; missed: number; falseAlarms: number }>> = {};
  for (const kind of DETECTOR_KINDS) summary[kind] = { seaAbruptDelays: [], seaAbruptMissed: 0, missed: 0, preChangeFalseAlarms: 0, runs: 0 };
  for (const scenario of scenarios) {
    perScenario[scenario.name] = {};
    for (const kind of DETECTOR_KINDS) {
      const r = runScenario(kind, scenario.streams);
      const meanDelay = mean(r.delays);
      const p90 = percentile(r.delays, 0.9);
      perScenario[scenario.name][kind] = { meanDelay: Math.round(meanDelay), p90Delay: p90, missed: r.missed, falseAlarms: r.falseAlarms };
      const s = summary[kind];
      s.missed += r.missed;
      s.preChangeFalseAlarms += r.falseAlarms;
      s.runs += r.runs;
      if (scenario.abruptSea) {
        s.seaAbruptDelays.push(...r.delays);
        s.seaAbruptMissed += r.missed;
      }
      console.log(
        `  ${scenario.name.padEnd(22)} ${kind.padEnd(13)} ${fmt(meanDelay).padStart(10)} ${fmt(p90).padStart(9)} ${`${r.missed}/${r.runs}`.padStart(6)} ${String(r.falseAlarms).padStart(19)}`,
      );
    }
  }

  console.log(
    '  (A detector that fires again and again before the change, like EDDM at its defaults, also fires soon after it:\n' +
      '   its delays say little. Read delay together with the false alarms before the change.)',
  );

  // 3. stationary false alarms
  console.log(`\nFalse alarms per million events, stationary error streams (${STATIONARY_SEEDS} x ${STATIONARY_EVENTS.toLocaleString('en')} events):`);
  const alarmsPerMillion: Record<string, Record<string, number>> = {};
  for (const kind of DETECTOR_KINDS) {
    alarmsPerMillion[kind] = {};
    const cells: string[] = [];
    for (const rate of STATIONARY_RATES) {
      const value = stationaryAlarmsPerMillion(kind, rate);
      alarmsPerMillion[kind][`p${rate}`] = Number(value.toFixed(2));
      cells.push(`error rate ${rate}: ${fmt(value, 2).padStart(7)}`);
    }
    console.log(`  ${kind.padEnd(13)} ${cells.join('   ')}`);
  }

  // Targets
  console.log('\nTargets: every abrupt SEA change detected with mean delay < 1000; <= 1 false alarm per million stationary events.');
  const targets: Record<string, { seaAbruptMeanDelay: number; seaAbruptMissed: number; seaTarget: boolean; falseAlarmTarget: boolean }> = {};
  for (const kind of DETECTOR_KINDS) {
    const s = summary[kind];
    const seaMean = mean(s.seaAbruptDelays);
    const seaOk = s.seaAbruptMissed === 0 && seaMean < 1000;
    const worstFa = Math.max(...Object.values(alarmsPerMillion[kind]));
    const faOk = worstFa <= 1;
    targets[kind] = { seaAbruptMeanDelay: Math.round(seaMean), seaAbruptMissed: s.seaAbruptMissed, seaTarget: seaOk, falseAlarmTarget: faOk };
    console.log(
      `  ${kind.padEnd(13)} SEA abrupt: mean delay ${fmt(seaMean)}, missed ${s.seaAbruptMissed}/${SEEDS * 3} -> ${seaOk ? 'met' : 'MISSED'};` +
        ` false alarms ${fmt(worstFa, 2)}/M (worst rate) -> ${faOk ? 'met' : 'MISSED'};` +
        ` start-up false alarms in change streams: ${s.preChangeFalseAlarms} over ${s.runs} runs`,
    );
  }
  // River's own settings, for comparison: the options that reproduce River's behaviour exactly
  // (test/detectors/golden.test.ts); the class comments say why driftwatch's defaults differ.
  console.log("\nRiver's settings, for comparison (SEA abrupt; stationary alarms at the worst of the two rates):");
  const riverSettings: { kind: DetectorKind; options: object }[] = DETECTORS.flatMap((definition) =>
    definition.riverOptions === undefined ? [] : [{ kind: definition.kind, options: definition.riverOptions }],
  );
  const riverResults: { kind: DetectorKind; options: object; seaAbruptMeanDelay: number; seaAbruptMissed: number; preChangeFalseAlarms: number; falseAlarmsPerMillion: number }[] = [];
  for (const { kind, options } of riverSettings) {
    const delays: number[] = [];
    let missed = 0;
    let preChange = 0;
    for (const scenario of scenarios.filter((sc) => sc.abruptSea)) {
      const r = runScenario(kind, scenario.streams, options);
      delays.push(...r.delays);
      missed += r.missed;
      preChange += r.falseAlarms;
    }
    const worstFa = Math.max(...STATIONARY_RATES.map((rate) => stationaryAlarmsPerMillion(kind, rate, options)));
    riverResults.push({ kind, options, seaAbruptMeanDelay: Math.round(mean(delays)), seaAbruptMissed: missed, preChangeFalseAlarms: preChange, falseAlarmsPerMillion: Number(worstFa.toFixed(2)) });
    console.log(
      `  ${`${kind} ${JSON.stringify(options)}`.padEnd(70)} mean delay ${fmt(mean(delays)).padStart(5)}, p90 ${fmt(percentile(delays, 0.9)).padStart(5)}, missed ${missed}/${SEEDS * 3}, false alarms before the change ${preChange}, stationary ${fmt(worstFa, 2)}/M`,
    );
  }

  const seconds = (performance.now() - started) / 1000;
  console.log(`\n(${seconds.toFixed(1)} s)`);

  console.log(
    JSON.stringify({
      name: 'detectors',
      nsPerUpdate: Object.fromEntries(Object.entries(nsPer).map(([k, v]) => [k, Number(v.toFixed(1))])),
      targets,
      falseAlarmsPerMillion: alarmsPerMillion,
      preChangeFalseAlarms: Object.fromEntries(DETECTOR_KINDS.map((k) => [k, summary[k].preChangeFalseAlarms])),
      scenarios: perScenario,
      riverSettings: riverResults,
      seeds: SEEDS,
      seconds: Number(seconds.toFixed(1)),
      cores: os.cpus().length,
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
