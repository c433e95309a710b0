/**
 * CBPE accuracy: how close driftwatch's estimated accuracy (before labels) comes to the accuracy
 * the labels later show, on ten scenarios of miscalibrated models and shifted populations.
 *
 * Each scenario draws, with a seeded RNG, a true probability q of label 1 per prediction
 * (logit(q) ~ N(mean, 1.5)) and the model's score as a distortion of q (over-confident:
 * logit scaled up; under-confident: scaled down; biased: shifted; ...). The reference is a
 * labelled file-like row set (score, label, one feature); the analysis windows hold scores only,
 * as a pane would, from a population whose mean logit may have moved. For every window:
 *   realized  accuracy of the hidden labels at threshold 0.5
 *   raw       the scores taken as probabilities (what a reference without calibration gives)
 *   file      buildModelMetrics with a reference from profileFromRows (labels in the file)
 *   window    buildModelMetrics with a reference from profileFromWindow (labels joined live)
 * and the mean absolute error over all windows of all scenarios. Realized accuracy itself has
 * sampling noise (sd sqrt(a(1 - a)/n), about 0.006 at 5 000 predictions): an estimator cannot
 * beat that floor, so the windows are large.
 *
 *   npm run bench -- cbpe [--windows 4] [--window-size 5000] [--reference-size 5000]
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SeededRandom } from '../src/simulator/random.ts';
import { profileFromRows, profileFromWindow } from '../src/reference/profile.ts';
import type { ReferenceProfile, TrainingRow } from '../src/reference/profile.ts';
import { WindowAggregate } from '../src/window/windows.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome } from '../src/window/pane.ts';
import { addBinaryOutcome, addPredictionScore } from '../src/stats/quality.ts';
import { estimatePerformance } from '../src/stats/cbpe.ts';
import { predictionScoreBins } from '../src/stats/quality.ts';
import { buildModelMetrics } from '../src/gateway/metrics.ts';

interface Scenario {
  name: string;
  /** Model score from the true logit. */
  score: (trueLogit: number) => number;
  referenceMean: number;
  analysisMean: number;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export const SCENARIOS: Scenario[] = [
  { name: 'calibrated', score: (z) => sigmoid(z), referenceMean: 0, analysisMean: 0 },
  { name: 'over-confident', score: (z) => sigmoid(2.5 * z), referenceMean: 0, analysisMean: 0 },
  { name: 'under-confident', score: (z) => sigmoid(0.4 * z), referenceMean: 0, analysisMean: 0 },
  { name: 'biased-up', score: (z) => sigmoid(z + 1), referenceMean: 0, analysisMean: 0 },
  { name: 'biased-down', score: (z) => sigmoid(z - 0.8), referenceMean: 0.5, analysisMean: 0.5 },
  { name: 'calibrated-shifted', score: (z) => sigmoid(z), referenceMean: 0, analysisMean: 1.2 },
  { name: 'over-confident-shifted', score: (z) => sigmoid(2.5 * z), referenceMean: 0, analysisMean: 1 },
  { name: 'under-confident-shifted', score: (z) => sigmoid(0.4 * z), referenceMean: 0, analysisMean: -1 },
  { name: 'biased-rare-positives', score: (z) => sigmoid(1.5 * z + 1.2), referenceMean: -1.5, analysisMean: -2.5 },
  { name: 'squashed-shifted', score: (z) => sigmoid(z) ** 2, referenceMean: 0.5, analysisMean: 1.5 },
];

const LOGIT_SD = 1.5;

function draw(random: SeededRandom, scenario: Scenario, mean: number): { score: number; label: 0 | 1; x: number } {
  const z = random.gaussian(mean, LOGIT_SD);
  const score = Math.min(1, Math.max(0, scenario.score(z)));
  return { score, label: random.chance(sigmoid(z)) ? 1 : 0, x: z + random.normal() };
}

function fileReference(random: SeededRandom, scenario: Scenario, size: number): ReferenceProfile {
  const rows: TrainingRow[] = [];
  for (let i = 0; i < size; i++) {
    const { score, label, x } = draw(random, scenario, scenario.referenceMean);
    rows.push({ output: score, label, features: { x } });
  }
  return profileFromRows('file', 'bench', null, rows);
}

function windowReference(random: SeededRandom, scenario: Scenario, size: number): ReferenceProfile {
  const input = new PaneInput(DEFAULT_PANE_LIMITS);
  const outcome = new PaneOutcome(DEFAULT_PANE_LIMITS);
  for (let i = 0; i < size; i++) {
    const { score, label, x } = draw(random, scenario, scenario.referenceMean);
    input.count++;
    input.numericOutput().add(score);
    addPredictionScore(input.scoreSummary(), score);
    input.addFeature('x', x);
    outcome.joined++;
    if ((score >= 0.5 ? 1 : 0) === label) outcome.correct++;
    addBinaryOutcome(outcome.binaryOutcomes(), score, label);
  }
  return profileFromWindow('window', 'bench', null, 'window', input, outcome, 0, 1);
}

interface WindowFigures {
  realized: number;
  raw: number;
  file: number;
  window: number;
}

function estimated(aggregate: WindowAggregate, reference: ReferenceProfile): number {
  const metrics = buildModelMetrics(aggregate, { model: 'bench', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {} });
  return metrics.estimatedAccuracy as number;
}

export function runScenario(scenario: Scenario, seed: number, windows: number, windowSize: number, referenceSize: number): WindowFigures[] {
  const random = new SeededRandom(seed);
  const file = fileReference(random, scenario, referenceSize);
  const captured = windowReference(random, scenario, referenceSize);
  const out: WindowFigures[] = [];
  for (let w = 0; w < windows; w++) {
    const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
    let correct = 0;
    for (let i = 0; i < windowSize; i++) {
      const { score, label, x } = draw(random, scenario, scenario.analysisMean);
      aggregate.input.count++;
      aggregate.input.numericOutput().add(score);
      addPredictionScore(aggregate.input.scoreSummary(), score);
      aggregate.input.addFeature('x', x);
      if ((score >= 0.5 ? 1 : 0) === label) correct++;
    }
    const raw = estimatePerformance(predictionScoreBins(aggregate.input.scoreSummary()), null).accuracy as number;
    out.push({ realized: correct / windowSize, raw, file: estimated(aggregate, file), window: estimated(aggregate, captured) });
  }
  return out;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      windows: { type: 'string', default: '4' },
      'window-size': { type: 'string', default: '5000' },
      'reference-size': { type: 'string', default: '5000' },
    },
  });
  const windows = Number(values.windows);
  const windowSize = Number(values['window-size']);
  const referenceSize = Number(values['reference-size']);
  console.log(`CBPE estimated accuracy vs realized: ${SCENARIOS.length} scenarios x ${windows} windows of ${windowSize} predictions, references of ${referenceSize} labelled rows`);
  console.log('scenario                     realized     raw   |err|    file   |err|  window   |err|');
  const errors = { raw: [] as number[], file: [] as number[], window: [] as number[] };
  SCENARIOS.forEach((scenario, s) => {
    const figures = runScenario(scenario, 1000 + s, windows, windowSize, referenceSize);
    const mean = (pick: (f: WindowFigures) => number) => figures.reduce((sum, f) => sum + pick(f), 0) / figures.length;
    for (const f of figures) {
      errors.raw.push(Math.abs(f.raw - f.realized));
      errors.file.push(Math.abs(f.file - f.realized));
      errors.window.push(Math.abs(f.window - f.realized));
    }
    const mae = (pick: (f: WindowFigures) => number) => mean((f) => Math.abs(pick(f) - f.realized));
    console.log(
      `${scenario.name.padEnd(28)} ${mean((f) => f.realized).toFixed(4)}  ${mean((f) => f.raw).toFixed(4)}  ${mae((f) => f.raw).toFixed(4)}  ${mean((f) => f.file).toFixed(4)}  ${mae((f) => f.file).toFixed(4)}  ${mean((f) => f.window).toFixed(4)}  ${mae((f) => f.window).toFixed(4)}`,
    );
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const result = { bench: 'cbpe', scenarios: SCENARIOS.length, windows, windowSize, referenceSize, maeRaw: +mean(errors.raw).toFixed(4), maeFile: +mean(errors.file).toFixed(4), maeWindow: +mean(errors.window).toFixed(4), target: 0.012 };
  console.log(`mean absolute error: raw scores ${result.maeRaw}, file reference ${result.maeFile}, window-captured reference ${result.maeWindow} (target <= ${result.target}: ${result.maeFile <= result.target && result.maeWindow <= result.target ? 'met' : 'missed'})`);
  console.log(JSON.stringify(result));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
