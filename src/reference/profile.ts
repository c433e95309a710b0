import { encode, decode } from '@msgpack/msgpack';
import { LogHistogram } from '../sketch/log-histogram.ts';
import type { QuantileSummary } from '../sketch/types.ts';
import type { FeatureReference, NumericReference, CategoricalReference } from '../stats/select.ts';
import { numericReferenceFromValues } from '../stats/select.ts';
import { binCountsFromSummary, quantileEdgesFromSummary, summaryMeanAndStd } from '../stats/sketch-distance.ts';
import type { PaneInput, PaneOutcome } from '../window/pane.ts';
import type { ExactValueCounts } from '../sketch/exact-values.ts';
import { movedOnto } from '../sketch/exact-values.ts';
import { accuracyOf } from '../window/quality.ts';
import { DEFAULT_FEATURE_RELATIVE_ACCURACY, EXACT_VALUES_CAP, FEATURE_MIN_INDEXABLE, SCORE_BINS } from '../window/pane.ts';
import { addBinaryOutcome, binaryOutcomeSummaryFrom, binaryScoreBins, copyOutcomeSummary, createBinaryOutcomeSummary } from '../stats/quality.ts';
import type { BinaryOutcomeSummary } from '../stats/quality.ts';
import type { IsotonicCalibration } from '../stats/calibration.ts';
import { calibrationFromHistogram, calibrationFromPairs, isIsotonicCalibration } from '../stats/calibration.ts';
import type { MultivariateReference } from '../stats/pca-reconstruction.ts';
import { DEFAULT_MULTIVARIATE_CHUNK_SIZE, fitMultivariateReference, multivariateReferenceFromJson } from '../stats/pca-reconstruction.ts';

/**
 * A reference profile: what "normal" looks like for a model (optionally one version). Drift
 * statistics compare a window against it. It is built from training data (a file), captured
 * from a live window, or captured automatically from a model's first minutes of traffic.
 */
export interface ReferenceProfile {
  id: string;
  model: string;
  /** null: applies to every version without a profile of its own. */
  version: string | null;
  source: 'file' | 'window' | 'auto';
  createdAt: number;
  /** Event-time range the profile covers (for window captures). */
  from: number | null;
  to: number | null;
  count: number;
  output: FeatureReference | null;
  features: Record<string, FeatureReference>;
  accuracy: number | null;
  /** Labelled outcomes behind `accuracy`; absent on profiles stored before it was kept. */
  labeled?: number;
  errorRate: number | null;
  latencyP99: number | null;
  /** Labelled binary outcomes of the reference (score histograms per class): calibrates the accuracy estimate before labels. */
  calibration: BinaryOutcomeSummary | null;
  /**
   * Isotonic map from a raw score to the probability that the label is 1, fitted on the labelled
   * reference (CBPE, src/stats/cbpe.ts). null: no labels, one class only, or (for a file) the
   * scores were already as well calibrated as a fit could make them.
   */
  scoreCalibration: IsotonicCalibration | null;
  /**
   * Multivariate drift (src/stats/pca-reconstruction.ts): the PCA model fitted on the reference's
   * feature rows and its reconstruction errors per chunk. Only a file reference has rows: absent
   * or null for window captures and for profiles stored before it existed.
   */
  multivariate?: MultivariateReference | null;
}

/**
 * Counts of a sketch on a reference's PSI bins. Reference and window must be binned the same way,
 * or identical data would show drift: both go through here. Strictly ascending edges are split
 * inside buckets (countsBetweenEdges); repeated edges (a discrete feature) fall back to bucket
 * representatives.
 */
export function binCountsOnEdges(sketch: LogHistogram, innerEdges: ArrayLike<number>): Float64Array {
  const edges = Array.from(innerEdges);
  const ascending = edges.length > 0 && edges.every((edge, i) => i === 0 || edge > edges[i - 1]);
  return ascending ? sketch.countsBetweenEdges(edges) : binCountsFromSummary(sketch, edges);
}

/**
 * binCountsOnEdges for a reference, which keeps them as long as it lives: a plain array (ten numbers
 * in the heap), not a typed array of its own buffer, one of the buffers every full collection of a
 * gateway's heap sweeps (9k of ~170k at 300 models x 30 features).
 */
export function referenceBinCounts(sketch: LogHistogram, innerEdges: ArrayLike<number>): number[] {
  return Array.from(binCountsOnEdges(sketch, innerEdges));
}

function numericFromSketch(id: string, sketch: LogHistogram, exact: ExactValueCounts | null): NumericReference {
  const innerEdges = quantileEdgesFromSummary(sketch, 10);
  const reference: NumericReference = {
    type: 'numeric',
    id,
    count: sketch.count,
    summary: sketch,
    std: summaryMeanAndStd(sketch).std,
    innerEdges,
    binCounts: referenceBinCounts(sketch, innerEdges),
    binsFromSummary: true,
  };
  // a window whose panes all counted every value: the reference can judge the feature as discrete
  const counts = exact?.exact();
  if (counts && counts.size > 0 && counts.size <= EXACT_VALUES_CAP) reference.exactCounts = new Map(counts);
  return reference;
}

/**
 * The sketch of a feature column held whole, at the windows' fidelity: log buckets around the
 * column's median (lower middle value), so a bucket is a small share of the spread wherever the
 * data lie, as in the worker's feature sketches (window/pane.ts). Windows of another center are
 * compared with it on bucket representatives (stats/sketch-distance.ts).
 */
export function featureSketchOfValues(values: ArrayLike<number>, relativeAccuracy = DEFAULT_FEATURE_RELATIVE_ACCURACY): LogHistogram {
  const sorted = Float64Array.from(values).sort();
  const sketch = featureSketch(sorted.length > 0 ? sorted[(sorted.length - 1) >> 1] : 0, relativeAccuracy);
  for (let i = 0; i < values.length; i++) sketch.add(values[i]);
  return sketch;
}

/** An empty feature sketch around `center` (the settings of the worker's feature sketches). */
export function featureSketch(center: number, relativeAccuracy = DEFAULT_FEATURE_RELATIVE_ACCURACY): LogHistogram {
  return new LogHistogram(relativeAccuracy, { center: Number.isFinite(center) ? center : 0, minIndexable: FEATURE_MIN_INDEXABLE });
}

/**
 * A window's sketch on the buckets of a reference's (rebinned when their centers differ; value by
 * value for the values `exact` counts one by one, see movedOnto): KS and Wasserstein
 * between sketches of the same buckets are bounded one-sided (sketch KS <= exact KS,
 * stats/sketch-distance.ts), so bucketing can hide a little drift but never invent it.
 */
export function onBucketsOf(window: LogHistogram, reference: QuantileSummary, exact: ExactValueCounts | null = null): LogHistogram {
  if (!(reference instanceof LogHistogram)) return window;
  return movedOnto(window, exact, reference);
}

/** Exact counts per value when the values hold at most EXACT_VALUES_CAP distinct ones, else undefined. */
function exactCountsOf(values: readonly number[]): Map<number, number> | undefined {
  const counts = new Map<number, number>();
  for (const v of values) {
    counts.set(v, (counts.get(v) ?? 0) + 1);
    if (counts.size > EXACT_VALUES_CAP) return undefined;
  }
  return counts;
}

/**
 * The reference of a file column held whole (`sketch` holds the same values): exact statistics
 * and decile edges, exact counts when the values are few, and bins counted like the window's.
 * The streaming ProfileBuilder uses it too, so both give the same profile.
 */
export function numericReferenceOfFileValues(id: string, values: readonly number[], sketch: LogHistogram): NumericReference {
  const reference = numericReferenceFromValues(id, values, sketch);
  const exactCounts = exactCountsOf(values);
  if (exactCounts !== undefined) reference.exactCounts = exactCounts;
  // The window's bins come from its sketch (binCountsOnEdges), which splits a bucket an edge runs
  // through as if its values were spread evenly; the reference's bins are counted the same way from
  // its own sketch, so identical data gets identical bins on both sides. Counted from the values,
  // an edge on an atom (a sentinel such as -1 or 999 holding a decile: the exact deciles sit on it)
  // put the whole atom on one side in the reference and part of it on each side in every window:
  // PSI 0.2-1.1 on stationary data, the psi rule firing on every window (bench fidelity).
  reference.binCounts = referenceBinCounts(sketch, reference.innerEdges);
  reference.binsFromSummary = true;
  return reference;
}

/** Captures a profile from a window's merged panes. */
export function profileFromWindow(
  id: string,
  model: string,
  version: string | null,
  source: 'window' | 'auto',
  input: PaneInput,
  outcome: PaneOutcome,
  from: number,
  to: number,
): ReferenceProfile {
  input.settleCenters();
  const features: Record<string, FeatureReference> = {};
  for (const [name, summary] of input.features) {
    if (summary.numeric !== null && summary.numeric.count > 0) features[name] = numericFromSketch(id, summary.numeric.clone(), summary.exact);
    else if (summary.categories !== null && summary.categories.total > 0) features[name] = { type: 'categorical', id, counts: new Map(summary.categories.entries()) };
  }
  let output: FeatureReference | null = null;
  if (input.outputNumeric !== null && input.outputNumeric.count > 0) output = numericFromSketch(id, input.outputNumeric.clone(), input.outputExact);
  else if (input.outputCategories !== null && input.outputCategories.total > 0) output = { type: 'categorical', id, counts: new Map(input.outputCategories.entries()) };
  return {
    id,
    model,
    version,
    source,
    createdAt: Date.now(),
    from,
    to,
    count: input.count,
    output,
    features,
    accuracy: accuracyOf(outcome),
    labeled: outcome.joined,
    errorRate: input.count > 0 ? input.errors / input.count : null,
    latencyP99: input.latency.count > 0 ? input.latency.quantile(0.99) : null,
    calibration: outcome.binary ? copyOutcomeSummary(outcome.binary) : null,
    scoreCalibration: outcome.binary ? calibrationFromHistogram(binaryScoreBins(outcome.binary)) : null,
  };
}

export interface TrainingRow {
  output?: number | string | null;
  label?: number | string | null;
  features: Record<string, number | string | null>;
}

/** Builds a profile from training rows (the `baseline create --file` path): exact samples, deciles from values. */
export function profileFromRows(
  id: string,
  model: string,
  version: string | null,
  rows: readonly TrainingRow[],
  relativeAccuracy = 0.01,
  featureRelativeAccuracy = DEFAULT_FEATURE_RELATIVE_ACCURACY,
  multivariateChunkSize = DEFAULT_MULTIVARIATE_CHUNK_SIZE,
): ReferenceProfile {
  const numeric = new Map<string, number[]>();
  const categorical = new Map<string, Map<string, number>>();
  const add = (name: string, value: number | string | null | undefined) => {
    if (value === null || value === undefined || value === '') return;
    if (typeof value === 'number') {
      let values = numeric.get(name);
      if (!values) numeric.set(name, (values = []));
      values.push(value);
    } else {
      let counts = categorical.get(name);
      if (!counts) categorical.set(name, (counts = new Map()));
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
  };
  const OUTPUT = '\u0000output';
  let correct = 0;
  let labeled = 0;
  // Binary outcomes (a score in [0, 1] and a 0/1 label), as the worker counts them: they calibrate CBPE.
  const scores: number[] = [];
  const labels: (0 | 1)[] = [];
  for (const row of rows) {
    for (const [name, value] of Object.entries(row.features)) add(name, value);
    add(OUTPUT, row.output);
    if (row.label !== undefined && row.label !== null && row.output !== undefined && row.output !== null) {
      labeled++;
      if (typeof row.output === 'number' && row.output >= 0 && row.output <= 1 && (row.label === 0 || row.label === 1)) {
        scores.push(row.output);
        labels.push(row.label);
      }
      const predicted = typeof row.output === 'number' && typeof row.label === 'number' && (row.label === 0 || row.label === 1) ? (row.output >= 0.5 ? 1 : 0) : row.output;
      if (String(predicted) === String(row.label)) correct++;
    }
  }
  const toReference = (name: string): FeatureReference | null => {
    const values = numeric.get(name);
    if (values && values.length > 0) {
      // features: centered like the worker's feature sketches; the output like the window's output sketch (center 0)
      let sketch: LogHistogram;
      if (name === OUTPUT) {
        sketch = new LogHistogram(relativeAccuracy);
        for (const v of values) sketch.add(v);
      } else sketch = featureSketchOfValues(values, featureRelativeAccuracy);
      return numericReferenceOfFileValues(id, values, sketch);
    }
    const counts = categorical.get(name);
    if (counts && counts.size > 0) return { type: 'categorical', id, counts } satisfies CategoricalReference;
    return null;
  };
  const features: Record<string, FeatureReference> = {};
  for (const name of new Set([...numeric.keys(), ...categorical.keys()])) {
    if (name === OUTPUT) continue;
    const reference = toReference(name);
    if (reference) features[name] = reference;
  }
  return {
    id,
    model,
    version,
    source: 'file',
    createdAt: Date.now(),
    from: null,
    to: null,
    count: rows.length,
    output: toReference(OUTPUT),
    features,
    accuracy: labeled > 0 ? correct / labeled : null,
    labeled,
    errorRate: null,
    latencyP99: null,
    calibration: scores.length > 0 ? binaryOutcomeHistogram(scores, labels) : null,
    scoreCalibration: scores.length > 0 ? calibrationFromPairs(scores, labels) : null,
    // NannyML fits on the whole reference: every row, in order
    multivariate: fitMultivariateReference(rows.map((row) => row.features), multivariateChunkSize),
  };
}

/** The labelled score histogram a window capture would have held for these outcomes (threshold 0.5). */
function binaryOutcomeHistogram(scores: readonly number[], labels: readonly (0 | 1)[]): BinaryOutcomeSummary {
  const summary = createBinaryOutcomeSummary(SCORE_BINS, 0.5);
  for (let i = 0; i < scores.length; i++) addBinaryOutcome(summary, scores[i], labels[i]);
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Serialization (object store)

interface FeatureReferenceWire {
  type: 'numeric' | 'categorical';
  count?: number;
  sketch?: Uint8Array;
  std?: number;
  innerEdges?: number[];
  binCounts?: number[];
  sample?: number[];
  counts?: Record<string, number>;
  /** Exact counts per value of a numeric feature with few distinct values: [values, counts]. */
  exact?: [number[], number[]];
  /** NumericReference.binsFromSummary (absent in profiles stored before it: bins from values). */
  binsFromSummary?: boolean;
}

function featureToWire(reference: FeatureReference): FeatureReferenceWire {
  if (reference.type === 'categorical') {
    const counts = reference.counts instanceof Map ? Object.fromEntries(reference.counts) : { ...(reference.counts as Record<string, number>) };
    return { type: 'categorical', counts };
  }
  const sketch = reference.summary;
  if (!(sketch instanceof LogHistogram)) throw new Error('reference sketches must be LogHistogram to be stored');
  return {
    type: 'numeric',
    count: reference.count,
    sketch: sketch.toBytes(),
    std: reference.std,
    innerEdges: Array.from(reference.innerEdges),
    binCounts: Array.from(reference.binCounts),
    sample: reference.sample ? Array.from(reference.sample) : undefined,
    exact: reference.exactCounts ? [[...reference.exactCounts.keys()], [...reference.exactCounts.values()]] : undefined,
    binsFromSummary: reference.binsFromSummary ? true : undefined,
  };
}

function featureFromWire(id: string, wire: FeatureReferenceWire): FeatureReference {
  if (wire.type === 'categorical') return { type: 'categorical', id, counts: new Map(Object.entries(wire.counts ?? {})) };
  return {
    type: 'numeric',
    id,
    count: wire.count ?? 0,
    summary: LogHistogram.fromBytes(wire.sketch as Uint8Array),
    std: wire.std ?? 0,
    innerEdges: wire.innerEdges ?? [],
    binCounts: wire.binCounts ?? [],
    sample: wire.sample,
    ...(wire.exact ? { exactCounts: exactCountsFromWire(wire.exact) } : {}),
    ...(wire.binsFromSummary === true ? { binsFromSummary: true } : {}),
  };
}

function exactCountsFromWire([values, counts]: [number[], number[]]): Map<number, number> {
  if (values.length !== counts.length) throw new Error(`reference profile: ${values.length} exact values but ${counts.length} counts`);
  return new Map(values.map((value, i) => [value, counts[i]]));
}

export function profileToBytes(profile: ReferenceProfile): Uint8Array {
  const features: Record<string, FeatureReferenceWire> = {};
  for (const [name, reference] of Object.entries(profile.features)) features[name] = featureToWire(reference);
  return encode(
    { ...profile, calibration: profile.calibration ? Array.from(profile.calibration) : null, output: profile.output ? featureToWire(profile.output) : null, features, v: 1 },
    { ignoreUndefined: true },
  );
}

export function profileFromBytes(bytes: Uint8Array): ReferenceProfile {
  const raw = decode(bytes) as Omit<ReferenceProfile, 'output' | 'features' | 'calibration' | 'scoreCalibration' | 'multivariate'> & {
    multivariate?: unknown;
    calibration?: number[] | null;
    scoreCalibration?: unknown;
    v: number;
    output: FeatureReferenceWire | null;
    features: Record<string, FeatureReferenceWire>;
  };
  // v stays 1: `multivariate` is an optional addition (absent on older profiles, ignored by older readers)
  if (raw.v !== 1) throw new Error(`reference profile ${raw.id}: unsupported format version ${raw.v}`);
  const features: Record<string, FeatureReference> = {};
  for (const [name, wire] of Object.entries(raw.features)) features[name] = featureFromWire(raw.id, wire);
  const { v: _v, ...rest } = raw;
  const calibration = raw.calibration ? binaryOutcomeSummaryFrom(Float64Array.from(raw.calibration)) : null;
  return {
    ...rest,
    calibration,
    scoreCalibration: scoreCalibrationFromWire(raw.scoreCalibration, calibration),
    multivariate: raw.multivariate === undefined || raw.multivariate === null ? null : multivariateReferenceFromJson(raw.multivariate, `reference profile ${raw.id}`),
    output: raw.output ? featureFromWire(raw.id, raw.output) : null,
    features,
  };
}

/**
 * The stored calibration map; profiles stored before maps existed carry only the labelled
 * histogram, so their map is fitted from it (what a window capture fits today).
 */
function scoreCalibrationFromWire(wire: unknown, histogram: BinaryOutcomeSummary | null): IsotonicCalibration | null {
  if (wire === undefined) return histogram !== null ? calibrationFromHistogram(binaryScoreBins(histogram)) : null;
  if (wire === null) return null;
  if (!isIsotonicCalibration(wire)) throw new Error('reference profile: scoreCalibration is not an ascending map of scores to probabilities');
  return { x: [...wire.x], y: [...wire.y] };
}

/** Public description of a profile (REST listing): no sketches. */
export function describeProfile(profile: ReferenceProfile) {
  return {
    id: profile.id,
    model: profile.model,
    version: profile.version,
    source: profile.source,
    createdAt: profile.createdAt,
    from: profile.from,
    to: profile.to,
    count: profile.count,
    features: Object.fromEntries(Object.entries(profile.features).map(([name, f]) => [name, f.type])),
    output: profile.output?.type ?? null,
    accuracy: profile.accuracy,
    errorRate: profile.errorRate,
    latencyP99: profile.latencyP99,
  };
}
