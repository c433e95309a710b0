/**
 * Seeded synthetic streams with known change points, shared by the drift benchmarks
 * (bench/detectors.ts, bench/detection.ts). Not a bench itself: running it prints a usage note.
 *
 * Error streams (0/1 per event: did a fixed model err?) for the sequential error-rate detectors:
 *   - SEA concepts (3 features uniform on [0, 10], label = f1 + f2 <= theta, 10% label noise),
 *     the model predicting with theta = 8; abrupt, or gradual with MOA's sigmoid;
 *   - rotating hyperplane (10 features, 5% noise), the true weights rotating from the change on;
 *   - label-prior shift (positive rate 0.2 -> 0.5 under a classifier with 5% FP / 30% FN);
 *   - stationary Bernoulli errors.
 * Value streams for windowed tests: Gaussian values with a mean shift at a change point, and
 * categorical draws whose category probabilities change.
 *
 * Every generator is a pure function of its seed (mulberry32), so figures are reproducible.
 */

import { pathToFileURL } from 'node:url';

export { mulberry32 } from '../src/simulator/random.ts';
import { mulberry32 } from '../src/simulator/random.ts';

/** Standard normal draws from a uniform PRNG (Box–Muller, both outputs used). */
export function gaussian(random: () => number): () => number {
  let spare = NaN;
  return () => {
    if (spare === spare) {
      const value = spare;
      spare = NaN;
      return value;
    }
    // 1 - u keeps the logarithm's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

// ---------------------------------------------------------------- error streams

/** Events before / after the change in the default error streams. */
export const ERROR_STREAM_BEFORE = 5000;
export const ERROR_STREAM_AFTER = 5000;
/** Width of the gradual SEA sigmoid (MOA's `w`). */
export const GRADUAL_WIDTH = 1000;

export interface ErrorStream {
  errors: Uint8Array;
  /** Index of the change (the sigmoid centre for gradual ones). */
  changeAt: number;
  /** First index where the new concept may appear: detections before it are false alarms. */
  changeStart: number;
}

/** MOA ConceptDriftStream's probability of drawing from the new concept at time t. */
export function newConceptProbability(t: number, centre: number, width: number): number {
  return 1 / (1 + Math.exp((-4 * (t - centre)) / width));
}

export function seaStream(
  seed: number,
  newTheta: number,
  gradual: boolean,
  before = ERROR_STREAM_BEFORE,
  after = ERROR_STREAM_AFTER,
): ErrorStream {
  const random = mulberry32(seed);
  const length = before + after;
  const errors = new Uint8Array(length);
  const modelTheta = 8;
  for (let t = 0; t < length; t++) {
    const f1 = random() * 10;
    const f2 = random() * 10;
    random(); // f3: irrelevant feature, drawn to stay faithful to SEA
    const useNew = gradual ? random() < newConceptProbability(t, before, GRADUAL_WIDTH) : t >= before;
    let label = f1 + f2 <= (useNew ? newTheta : modelTheta);
    if (random() < 0.1) label = !label;
    const prediction = f1 + f2 <= modelTheta;
    errors[t] = prediction === label ? 0 : 1;
  }
  // Gradual: the sigmoid gives the new concept a 2% chance half a width before its centre.
  const changeStart = gradual ? before - GRADUAL_WIDTH / 2 : before;
  return { errors, changeAt: before, changeStart };
}

/**
 * Rotating hyperplane: from the change on, the true weights rotate by 1e-4 per event while the
 * model keeps the initial ones (error 0.05 -> ~0.09 after 1000 events, ~0.14 after 2000).
 */
export function hyperplaneStream(seed: number, before = ERROR_STREAM_BEFORE, after = ERROR_STREAM_AFTER): ErrorStream {
  const random = mulberry32(seed);
  const dims = 10;
  const magnitude = 1e-4;
  const initial = Float64Array.from({ length: dims }, () => random());
  const direction = Float64Array.from({ length: dims }, () => (random() < 0.5 ? -1 : 1));
  const weights = Float64Array.from(initial);
  const x = new Float64Array(dims);
  let initialHalf = 0;
  for (let i = 0; i < dims; i++) initialHalf += 0.5 * initial[i];
  const length = before + after;
  const errors = new Uint8Array(length);
  for (let t = 0; t < length; t++) {
    if (t >= before) for (let i = 0; i < dims; i++) weights[i] = initial[i] + direction[i] * magnitude * (t - before);
    let half = 0;
    let score = 0;
    let modelScore = 0;
    for (let i = 0; i < dims; i++) {
      x[i] = random();
      half += 0.5 * weights[i];
      score += weights[i] * x[i];
      modelScore += initial[i] * x[i];
    }
    let label = score >= half;
    if (random() < 0.05) label = !label;
    errors[t] = (modelScore >= initialHalf) === label ? 0 : 1;
  }
  return { errors, changeAt: before, changeStart: before };
}

/** Label-prior shift: positive rate 0.2 -> 0.5 under 5% FP / 30% FN (error 0.10 -> 0.175). */
export function priorShiftStream(seed: number, before = ERROR_STREAM_BEFORE, after = ERROR_STREAM_AFTER): ErrorStream {
  const random = mulberry32(seed);
  const length = before + after;
  const errors = new Uint8Array(length);
  for (let t = 0; t < length; t++) {
    const positive = random() < (t < before ? 0.2 : 0.5);
    errors[t] = random() < (positive ? 0.3 : 0.05) ? 1 : 0;
  }
  return { errors, changeAt: before, changeStart: before };
}

export function bernoulliErrors(seed: number, length: number, rate: number): Uint8Array {
  const random = mulberry32(seed);
  const errors = new Uint8Array(length);
  for (let t = 0; t < length; t++) errors[t] = random() < rate ? 1 : 0;
  return errors;
}

// ---------------------------------------------------------------- value streams

/** N(0, 1) values, from `changeAt` on shifted by `shift` (in standard deviations). */
export function gaussianShiftStream(seed: number, length: number, changeAt: number, shift: number): Float64Array {
  const normal = gaussian(mulberry32(seed));
  const values = new Float64Array(length);
  for (let t = 0; t < length; t++) values[t] = normal() + (t >= changeAt ? shift : 0);
  return values;
}

/** Draws of category indexes: probabilities `before` up to `changeAt`, `after` from it on. */
export function categoricalShiftStream(
  seed: number,
  length: number,
  changeAt: number,
  before: readonly number[],
  after: readonly number[],
): Uint8Array {
  if (before.length !== after.length || before.length > 255) {
    throw new RangeError(`categoricalShiftStream: before and after need the same number (<= 255) of probabilities`);
  }
  const random = mulberry32(seed);
  const draws = new Uint8Array(length);
  for (let t = 0; t < length; t++) {
    const probabilities = t < changeAt ? before : after;
    let u = random();
    let category = 0;
    while (category < probabilities.length - 1 && u >= probabilities[category]) u -= probabilities[category++];
    draws[t] = category;
  }
  return draws;
}

// ---------------------------------------------------------------- summaries

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Nearest-rank percentile (q in (0, 1]); NaN for no values. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('bench/streams.ts holds stream generators shared by the drift benches; run `npm run bench -- detection` or `-- detectors`.');
  console.log(JSON.stringify({ name: 'streams', benches: ['detection', 'detectors'] }));
}
