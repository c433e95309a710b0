/**
 * Worker cost of multivariate drift: ns per event to score an event's PCA reconstruction error and
 * add it to its pane (WorkerReferences.observe), at 10 and 50 numeric features, next to the raw
 * limit measured in the same run: the per-feature pane work the worker does for the same event
 * anyway (PaneInput.addFeature for every feature). Best of several interleaved rounds over 1,000
 * distinct events. The figures are of a shared machine: read them as such.
 *
 *   npm run bench -- multivariate
 */
import os from 'node:os';
import { profileFromRows } from '../src/reference/profile.ts';
import type { TrainingRow } from '../src/reference/profile.ts';
import { WorkerReferences } from '../src/reference/worker-references.ts';
import { mulberry32 } from '../src/sketch/random.ts';
import { DEFAULT_PANE_LIMITS, PaneInput } from '../src/window/pane.ts';

const DISTINCT_EVENTS = 1_000;
const EVENTS_PER_ROUND = 50_000;
const ROUNDS = 9;

/** `width` numeric features driven by three latent factors (so PCA has structure to find). */
function rowsOf(width: number, n: number, seed: number): Record<string, number>[] {
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const rows: Record<string, number>[] = [];
  for (let i = 0; i < n; i++) {
    const factors = [normal(), normal(), normal()];
    const row: Record<string, number> = {};
    for (let f = 0; f < width; f++) row[`f${f}`] = factors[f % 3] * (1 + f / width) + 0.5 * normal() + f;
    rows.push(row);
  }
  return rows;
}

function measure(width: number) {
  const reference = profileFromRows('bench', 'm', null, rowsOf(width, 5_000, 1).map((features): TrainingRow => ({ features })));
  const scorers = new WorkerReferences();
  scorers.setReference(reference);
  const events = rowsOf(width, DISTINCT_EVENTS, 2);
  const run = (score: boolean): number => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    const start = process.hrtime.bigint();
    for (let i = 0; i < EVENTS_PER_ROUND; i++) {
      const features = events[i % DISTINCT_EVENTS];
      for (const name in features) pane.addFeature(name, features[name]);
      if (score) scorers.observe(pane, 'm', 'v1', features);
    }
    return Number(process.hrtime.bigint() - start) / EVENTS_PER_ROUND;
  };
  let raw = Infinity;
  let withScore = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    raw = Math.min(raw, run(false));
    withScore = Math.min(withScore, run(true));
  }
  return { features: width, components: reference.multivariate?.model.components.length ?? 0, rawNsPerEvent: raw, withScoreNsPerEvent: withScore, scoreNsPerEvent: withScore - raw, ratio: raw / withScore };
}

const results = [10, 50].map(measure);
console.log(`multivariate drift cost per event (${os.cpus().length} cores, shared with other work: figures are of a loaded machine)`);
for (const r of results) {
  console.log(
    `  ${String(r.features).padStart(2)} numeric features, ${r.components} components: pane features alone ${r.rawNsPerEvent.toFixed(0)} ns, ` +
      `with the reconstruction error ${r.withScoreNsPerEvent.toFixed(0)} ns (+${r.scoreNsPerEvent.toFixed(0)} ns); ratio to the raw limit ${r.ratio.toFixed(2)}`,
  );
}
console.log(JSON.stringify({ bench: 'multivariate', results }));
