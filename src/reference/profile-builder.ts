import { LogHistogram } from '../sketch/log-histogram.ts';
import { mulberry32 } from '../sketch/random.ts';
import type { FeatureReference, NumericReference } from '../stats/select.ts';
import { SMALL_REFERENCE_MAX } from '../stats/select.ts';
import { quantileEdgesFromSummary } from '../stats/sketch-distance.ts';
import { addBinaryOutcome, binaryScoreBins, createBinaryOutcomeSummary } from '../stats/quality.ts';
import type { BinaryOutcomeSummary } from '../stats/quality.ts';
import { calibrationFromHistogram, calibrationFromPairs } from '../stats/calibration.ts';
import { CENTER_SAMPLE, DEFAULT_FEATURE_RELATIVE_ACCURACY, EXACT_VALUES_CAP, SCORE_BINS } from '../window/pane.ts';
import { DEFAULT_MULTIVARIATE_CHUNK_SIZE, fitMultivariateReference } from '../stats/pca-reconstruction.ts';
import type { FeatureRow } from '../stats/pca-reconstruction.ts';
import { featureSketchOfValues, numericReferenceOfFileValues, referenceBinCounts } from './profile.ts';
import type { ReferenceProfile, TrainingRow } from './profile.ts';

/**
 * Builds a reference profile one training row at a time, so a file of any size is summarised in
 * bounded memory. While the file is small (at most `exactValuesMax` numbers held in all), it keeps
 * the exact values and produces exactly what profileFromRows produces for the same rows. Past
 * that, it drops them and continues at the fidelity of a window capture: deciles and PSI bins from
 * the sketch, the standard deviation from a running (Welford) sum, a seeded reservoir sample, and
 * the score calibration fitted on the labelled score histogram.
 */

export interface ProfileBuilderOptions {
  /** Relative accuracy of the output sketch (profileFromRows' default). */
  relativeAccuracy?: number;
  /** Relative accuracy of the feature sketches, relative to the distance from their center (profileFromRows' default). */
  featureRelativeAccuracy?: number;
  /** Numbers (feature values, outputs, labelled scores) held exactly before switching to sketches. */
  exactValuesMax?: number;
  /** Rows per chunk of the multivariate reference's error statistics. Default DEFAULT_MULTIVARIATE_CHUNK_SIZE. */
  multivariateChunkSize?: number;
  /**
   * Feature rows the multivariate (PCA) model is fitted on: every row, in order, up to this many
   * (what NannyML fits on); past it, a seeded uniform reservoir sample of this many rows.
   */
  multivariateRowsMax?: number;
}

/** Rows held for the multivariate model: 100k rows of a few dozen features is some tens of MB. */
export const DEFAULT_MULTIVARIATE_ROWS_MAX = 100_000;

/** About 16 MB of doubles: exact up to ~1M rows of a few numeric columns, bounded beyond. */
export const DEFAULT_EXACT_VALUES_MAX = 2_000_000;

/** The key the output is counted under next to the features (profileFromRows' convention). */
const OUTPUT = '\u0000output';

/** One numeric column: its sketch always, its exact values while the builder is exact. */
interface NumericColumn {
  /** null while a feature's first CENTER_SAMPLE values decide its center (they wait in the reservoir). */
  sketch: LogHistogram | null;
  values: number[] | null;
  count: number;
  mean: number;
  m2: number;
  reservoir: Float64Array;
  random: () => number;
  /** Exact counts per value while there are at most EXACT_VALUES_CAP distinct ones; null after. */
  exactCounts: Map<number, number> | null;
}

export class ProfileBuilder {
  private readonly numeric = new Map<string, NumericColumn>();
  private readonly categorical = new Map<string, Map<string, number>>();
  private readonly relativeAccuracy: number;
  private readonly featureRelativeAccuracy: number;
  private readonly exactValuesMax: number;
  private exact = true;
  private heldValues = 0;
  private rowCount = 0;
  private correct = 0;
  private labeled = 0;
  private scores: number[] | null = [];
  private labels: (0 | 1)[] | null = [];
  private readonly outcomes: BinaryOutcomeSummary = createBinaryOutcomeSummary(SCORE_BINS, 0.5);
  private labelledScores = 0;
  private readonly multivariateRows: FeatureRow[] = [];
  private readonly multivariateRandom = mulberry32(2);
  private readonly multivariateRowsMax: number;
  private readonly multivariateChunkSize: number;

  constructor(
    private readonly id: string,
    private readonly model: string,
    private readonly version: string | null,
    options: ProfileBuilderOptions = {},
  ) {
    this.relativeAccuracy = options.relativeAccuracy ?? 0.01;
    this.featureRelativeAccuracy = options.featureRelativeAccuracy ?? DEFAULT_FEATURE_RELATIVE_ACCURACY;
    this.exactValuesMax = options.exactValuesMax ?? DEFAULT_EXACT_VALUES_MAX;
    this.multivariateRowsMax = options.multivariateRowsMax ?? DEFAULT_MULTIVARIATE_ROWS_MAX;
    this.multivariateChunkSize = options.multivariateChunkSize ?? DEFAULT_MULTIVARIATE_CHUNK_SIZE;
  }

  /** Rows added so far. */
  get rows(): number {
    return this.rowCount;
  }

  /** Whether the profile will still be exactly profileFromRows' (no sketch-only summaries yet). */
  get isExact(): boolean {
    return this.exact;
  }

  add(row: TrainingRow): void {
    this.rowCount++;
    this.holdMultivariateRow(row.features);
    for (const name in row.features) this.addValue(name, row.features[name]);
    this.addValue(OUTPUT, row.output);
    const { output, label } = row;
    if (label === undefined || label === null || output === undefined || output === null) return;
    this.addOutcome(output, label);
  }

  /**
   * One labelled outcome of a row added earlier without its label (a label event of a log joined
   * to its prediction): it counts in accuracy and the score calibration, not in the row count or
   * the output distribution.
   */
  addOutcome(output: number | string, label: number | string): void {
    this.labeled++;
    if (typeof output === 'number' && output >= 0 && output <= 1 && (label === 0 || label === 1)) {
      // Binary outcomes, as the worker counts them: they calibrate CBPE.
      addBinaryOutcome(this.outcomes, output, label);
      this.labelledScores++;
      if (this.scores !== null && this.labels !== null) {
        this.scores.push(output);
        this.labels.push(label);
        this.hold(2);
      }
    }
    const predicted = typeof output === 'number' && typeof label === 'number' && (label === 0 || label === 1) ? (output >= 0.5 ? 1 : 0) : output;
    if (String(predicted) === String(label)) this.correct++;
  }

  build(): ReferenceProfile {
    const features: Record<string, FeatureReference> = {};
    for (const name of new Set([...this.numeric.keys(), ...this.categorical.keys()])) {
      if (name === OUTPUT) continue;
      const reference = this.reference(name);
      if (reference) features[name] = reference;
    }
    const hasScores = this.labelledScores > 0;
    return {
      id: this.id,
      model: this.model,
      version: this.version,
      source: 'file',
      createdAt: Date.now(),
      from: null,
      to: null,
      count: this.rowCount,
      output: this.reference(OUTPUT),
      features,
      accuracy: this.labeled > 0 ? this.correct / this.labeled : null,
      labeled: this.labeled,
      errorRate: null,
      latencyP99: null,
      calibration: hasScores ? this.outcomes.slice() as BinaryOutcomeSummary : null,
      scoreCalibration: !hasScores
        ? null
        : this.scores !== null && this.labels !== null
          ? calibrationFromPairs(this.scores, this.labels)
          : calibrationFromHistogram(binaryScoreBins(this.outcomes)),
      multivariate: fitMultivariateReference(this.multivariateRows, this.multivariateChunkSize),
    };
  }

  /** Whether the multivariate model is fitted on every row (else on a sample of multivariateRowsMax). */
  get multivariateIsExact(): boolean {
    return this.rowCount <= this.multivariateRowsMax;
  }

  /** Every row while they fit in multivariateRowsMax, then a uniform reservoir sample (algorithm R). */
  private holdMultivariateRow(features: TrainingRow['features']): void {
    if (this.rowCount <= this.multivariateRowsMax) {
      this.multivariateRows.push({ ...features });
      return;
    }
    const slot = Math.floor(this.multivariateRandom() * this.rowCount);
    if (slot < this.multivariateRowsMax) this.multivariateRows[slot] = { ...features };
  }

  private addValue(name: string, value: number | string | null | undefined): void {
    if (value === null || value === undefined || value === '') return;
    if (typeof value === 'number') {
      let column = this.numeric.get(name);
      if (!column) {
        // a feature's sketch is centered on the median of its first values (as a worker's), the output's on 0 (as a window's)
        const sketch = name === OUTPUT ? new LogHistogram(this.relativeAccuracy) : null;
        column = { sketch, values: this.exact ? [] : null, count: 0, mean: 0, m2: 0, reservoir: new Float64Array(SMALL_REFERENCE_MAX), random: mulberry32(1), exactCounts: new Map() };
        this.numeric.set(name, column);
      }
      column.count++;
      if (column.exactCounts !== null) {
        column.exactCounts.set(value, (column.exactCounts.get(value) ?? 0) + 1);
        if (column.exactCounts.size > EXACT_VALUES_CAP) column.exactCounts = null;
      }
      const delta = value - column.mean;
      column.mean += delta / column.count;
      column.m2 += delta * (value - column.mean);
      // Reservoir sampling (algorithm R): every value has the same chance to be in the sample.
      if (column.count <= SMALL_REFERENCE_MAX) column.reservoir[column.count - 1] = value;
      else {
        const slot = Math.floor(column.random() * column.count);
        if (slot < SMALL_REFERENCE_MAX) column.reservoir[slot] = value;
      }
      // the first CENTER_SAMPLE values wait in the reservoir (still in arrival order) for the center
      if (column.sketch !== null) column.sketch.add(value);
      else if (column.count >= CENTER_SAMPLE) this.startSketch(column);
      if (column.values !== null) {
        column.values.push(value);
        this.hold(1);
      }
    } else {
      let counts = this.categorical.get(name);
      if (!counts) this.categorical.set(name, (counts = new Map()));
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
  }

  /** Counts numbers held exactly; past the budget, lets go of all of them for good. */
  private hold(count: number): void {
    this.heldValues += count;
    if (this.heldValues <= this.exactValuesMax) return;
    this.exact = false;
    for (const column of this.numeric.values()) column.values = null;
    this.scores = null;
    this.labels = null;
  }

  /** The feature's sketch, centered on the median of its first values (still all in the reservoir). */
  private startSketch(column: NumericColumn): LogHistogram {
    const first = column.reservoir.slice(0, Math.min(column.count, SMALL_REFERENCE_MAX));
    const sketch = featureSketchOfValues(first, this.featureRelativeAccuracy);
    column.sketch = sketch;
    return sketch;
  }

  private reference(name: string): FeatureReference | null {
    const column = this.numeric.get(name);
    if (column && column.count > 0) {
      if (column.sketch === null) this.startSketch(column);
      if (column.values !== null) {
        // every value is still held: the sketch profileFromRows builds (centered on the median)
        const sketch = name === OUTPUT ? (column.sketch as LogHistogram) : featureSketchOfValues(column.values, this.featureRelativeAccuracy);
        return numericReferenceOfFileValues(this.id, column.values, sketch);
      }
      return this.sketchReference(column);
    }
    const counts = this.categorical.get(name);
    if (counts && counts.size > 0) return { type: 'categorical', id: this.id, counts };
    return null;
  }

  private sketchReference(column: NumericColumn): NumericReference {
    const sketch = column.sketch ?? this.startSketch(column);
    const innerEdges = quantileEdgesFromSummary(sketch, 10);
    const reference: NumericReference = {
      type: 'numeric',
      id: this.id,
      count: column.count,
      summary: sketch,
      std: Math.sqrt(column.m2 / column.count),
      innerEdges,
      binCounts: referenceBinCounts(sketch, innerEdges),
      binsFromSummary: true,
      sample: column.reservoir.slice(0, Math.min(column.count, SMALL_REFERENCE_MAX)),
    };
    // few distinct values: kept exactly, as profileFromRows keeps them (discrete features)
    if (column.exactCounts !== null && column.exactCounts.size > 0) reference.exactCounts = new Map(column.exactCounts);
    return reference;
  }
}
