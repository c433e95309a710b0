import { LogHistogram } from '../sketch/log-histogram.ts';
import type { BucketSettings, ListedValues, SketchDelta } from '../sketch/log-histogram.ts';
import { newWeights } from '../sketch/bucket-store.ts';
import type { BucketScratch } from '../sketch/bucket-store.ts';
import type { CountsArena } from '../sketch/counts-arena.ts';
import { CubicLogMapping } from '../sketch/cubic-log-mapping.ts';
import { CategoryCounter } from '../sketch/category-counter.ts';
import type { CategoryCounterJSON } from '../sketch/category-counter.ts';
import { ExactValueCounts } from '../sketch/exact-values.ts';
import type { ExactChange } from '../sketch/exact-values.ts';
import { FEATURE_NUMBER, FEATURE_STRING } from '../events/feature-schema.ts';
import type { FeatureBuffer } from '../events/feature-schema.ts';
import type { ExactValuesWire, FeatureWire, PaneInputWire, PaneOutcomeWire, SummaryWire } from '../contract/pane-wire.ts';
import { LISTED_SKETCH_DEFAULTS } from '../contract/pane-wire.ts';
import { PaneMessageError } from '../contract/pane-codec.ts';
import {
  addBinaryOutcome,
  addPredictionScore,
  addRegressionOutcome,
  createBinaryOutcomeSummary,
  mergeBinaryOutcome,
  subtractBinaryOutcome,
  createRegressionOutcomeSummary,
  mergeRegressionOutcome,
  subtractRegressionOutcome,
  createPredictionScoreSummary,
  mergePredictionScores,
  predictionScoresLike,
  binaryOutcomeLike,
  subtractPredictionScores,
  copyOutcomeSummary,
} from '../stats/quality.ts';
import type { BinaryOutcomeSummary, RegressionOutcomeSummary, PredictionScoreSummary, OutcomeSummary } from '../stats/quality.ts';

/**
 * The state of one (model, version, pane) in two additive parts:
 *  - PaneInput: what predictions tell (counts, latency, output and features). It can change only
 *    while the pane is within the allowed lateness, then it is flushed a last time and dropped.
 *  - PaneOutcome: what joined labels tell about the pane's predictions. It changes until the
 *    label horizon has passed.
 * Every field is a sum, so `addInto(target, source, -1)` removes exactly what `+1` added: sliding
 * windows are kept by adding the panes that enter and subtracting the panes that leave.
 */

export interface PaneLimits {
  /** Relative accuracy of the latency, label-delay and output sketches. */
  relativeAccuracy: number;
  /**
   * Relative accuracy of the feature sketches, relative to the distance from the feature's center
   * (default DEFAULT_FEATURE_RELATIVE_ACCURACY).
   */
  featureRelativeAccuracy?: number;
  maxFeatures: number;
  maxCategories: number;
  maxSegmentKeys: number;
  maxSegmentValues: number;
  maxClasses: number;
  /**
   * Segment values per key whose predictions' features a pane also summarizes on their own (for
   * the feature drift inside the worst segment): the first this many values of each key a pane
   * sees, each with at most SEGMENT_SKETCH_FEATURES features. 0 or absent: none (the default).
   */
  segmentSketchValues?: number;
  /** Binary classification: score >= threshold predicts the positive class. */
  threshold: number;
}

/**
 * Default accuracy of the feature sketches: 0.5 % of the distance to the center. Chosen by
 * `npm run bench -- fidelity`: at 1 % the panes of 16 partitions (16 centers, rebinned where they
 * meet) put the worst KS error at 0.009 and a borderline stationary window over the default
 * verdict's threshold; at 0.5 % the worst is 0.0033, for twice the buckets of a spread-out feature.
 */
export const DEFAULT_FEATURE_RELATIVE_ACCURACY = 0.005;

/** The feature sketches' relative accuracy under `limits`. */
export function featureAccuracyOf(limits: PaneLimits): number {
  return limits.featureRelativeAccuracy ?? DEFAULT_FEATURE_RELATIVE_ACCURACY;
}

export const DEFAULT_PANE_LIMITS: PaneLimits = {
  relativeAccuracy: 0.01,
  featureRelativeAccuracy: DEFAULT_FEATURE_RELATIVE_ACCURACY,
  maxFeatures: 64,
  maxCategories: 50,
  maxSegmentKeys: 4,
  maxSegmentValues: 20,
  maxClasses: 20,
  threshold: 0.5,
};

/** Score histogram resolution for AUC and calibration (bins over [0, 1]). */
export const SCORE_BINS = 100;

/**
 * Distinct numeric values a pane counts exactly per feature before it gives up (ExactValueCounts):
 * more than any sensible `drift.discreteMaxValues`, so a window can tell a discrete feature that
 * gained a few new values (drift) from one that has many.
 */
export const EXACT_VALUES_CAP = 16;

/**
 * Zero threshold of the feature sketches: values within this of a feature's center count as the
 * center. Centered buckets follow the spread down to whatever a double can tell apart from the
 * center (a feature of scale 1e-12 included), instead of LogHistogram's 1e-9 default.
 */
export const FEATURE_MIN_INDEXABLE = 1e-300;

/**
 * First values of a feature a producer holds before it decides the feature's center (their median):
 * a center inside the bulk of the data, however far out the very first value lies.
 */
export const CENTER_SAMPLE = 16;

/** Median (lower middle) of finite values; 0 when there is none. */
function medianOf(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return finite.length === 0 ? 0 : finite[(finite.length - 1) >> 1];
}

/**
 * Most feature centers a FeatureCenters map keeps: beyond it (feature names that keep changing) a
 * pane centers each new feature on its own first value without recording it.
 */
export const MAX_FEATURE_CENTERS = 1024;

/**
 * The center each numeric feature's sketch is laid around, shared by the panes of one producer
 * (a partition's model version): the center of the feature in the model's reference once the
 * producer knows one (WorkerReferences.centersFor, so that every partition agrees with the others
 * and with the gateway's windows), else the median of the first values (up to CENTER_SAMPLE) the
 * producer saw of that feature. Panes on one center merge bucket by bucket; panes on different
 * centers are rebinned onto the window's center where they meet (LogHistogram.rebinnedLike), and
 * every sketch records its center in its bytes, so none is ever merged onto the wrong buckets.
 */
export type FeatureCenters = Map<string, number>;

/** Features summarized per segment value (segmentSketchValues): the first this many a segment sees. */
export const SEGMENT_SKETCH_FEATURES = 16;

/** A feature's sketch sent as its values (FeatureWire.r), checked, not yet built: FeatureSummary.numeric builds it when read. */
export interface UnbuiltListedSketch extends ListedValues {
  /** Where the built sketch's arrays come from (the decoded state's: see inputFromWire). */
  readonly scratch: BucketScratch | undefined;
}

export class FeatureSummary {
  private sketch: LogHistogram | null = null;
  /**
   * A decoded state's sketch sent as its values, until read: a state that replaces another in the
   * windows changes them by the values whose counts changed (featureChanges), and neither state's
   * sketch is built (two builds per feature and replaced state, a twentieth of the gateway's thread
   * at 300 models x 30 features over 16 partitions).
   */
  private unbuilt: UnbuiltListedSketch | null = null;

  /** The feature's sketch of its numeric values (built now if it was sent as its values); null: none. */
  get numeric(): LogHistogram | null {
    const unbuilt = this.unbuilt;
    if (unbuilt !== null) {
      this.sketch = LogHistogram.fromListedValues(unbuilt.values, unbuilt.counts, unbuilt.sum, unbuilt, unbuilt.scratch);
      this.unbuilt = null;
    }
    return this.sketch;
  }

  set numeric(sketch: LogHistogram | null) {
    this.unbuilt = null;
    this.sketch = sketch;
  }

  /** The sketch sent as these values, checked (LogHistogram.checkListedValues), built when first read. */
  setListedSketch(listed: UnbuiltListedSketch): void {
    this.sketch = null;
    this.unbuilt = listed;
  }

  /** The listed values the sketch is sent as while it is not built; null once it is (or it never was sent so). */
  get unbuiltListedSketch(): ListedValues | null {
    return this.unbuilt;
  }

  /** The buckets of the sketch, without building one sent as its values; null: no sketch. */
  get numericBuckets(): BucketSettings | null {
    return this.unbuilt ?? this.sketch;
  }

  /** Exact counts of the numeric values while they are few (discrete features); see ExactValueCounts. */
  exact: ExactValueCounts | null = null;
  categories: CategoryCounter | null = null;
  nulls = 0;
  /**
   * A decoded state's summary that a FeatureChange holds (featureChanges): replaceInput changes a
   * window by it feature by feature, and its whole-state passes leave it alone.
   */
  inChange = false;
}

// Brands (types only) so the two kinds of per-segment counters cannot be swapped.
declare const segmentInputBrand: unique symbol;
declare const segmentOutcomeBrand: unique symbol;
/** Per segment value: [predictions, predicted positive]. */
export type SegmentInputCounts = Float64Array & { readonly [segmentInputBrand]: true };
/** Per segment value: [labeled, actual positive, true positive, predicted positive among labeled, correct]. */
export type SegmentOutcomeCounts = Float64Array & { readonly [segmentOutcomeBrand]: true };

export class PaneInput {
  count = 0;
  errors = 0;
  /** Predictions of this group that arrived after the allowed lateness (counted where they arrived). */
  late = 0;
  /** Features beyond limits.maxFeatures, or segment keys/values beyond their caps. */
  dropped = 0;
  /** Scores in [0, 1] (binary outputs, top class probability): accuracy estimated before labels (CBPE). */
  scores: PredictionScoreSummary | null = null;
  /**
   * Latency in ms. Replaced only by inputWithFeatures, by the sketch a state decoded onto a scratch
   * holds (the decoded pane lives as long as the scratch's arrays, as its feature sketches do).
   */
  latency: LogHistogram;
  outputNumeric: LogHistogram | null = null;
  /** Exact counts of the numeric outputs while they are few (a discrete output: 0/1, class ids as numbers). */
  outputExact: ExactValueCounts | null = null;
  outputCategories: CategoryCounter | null = null;
  readonly features = new Map<string, FeatureSummary>();
  readonly segments = new Map<string, Map<string, SegmentInputCounts>>();
  /**
   * Values per feature of a type no feature can have (a boolean, an array, a map), taken out of
   * their events by the validator (INVALID_FEATURES): data quality's wrong-type count. At most
   * limits.maxFeatures names; null until the first one.
   */
  invalidFeatures: Map<string, number> | null = null;
  /**
   * Values a sum of panes lists one by one per feature and for the output (ExactValueCounts'
   * sumCap; not per segment): windows and the sums of panes a window store holds set
   * SUM_VALUES_CAP; a pane keeps the default, unbounded (it lists at most EXACT_VALUES_CAP).
   */
  exactSumCap = Number.POSITIVE_INFINITY;
  /**
   * Where a sum of panes held for long (a window's) cuts its feature and output sketches' bucket
   * arrays from (CountsArena); undefined: a buffer per array, as a pane's.
   */
  countsArena: CountsArena | undefined = undefined;

  /**
   * `features` by the producer's feature index (src/events/feature-schema.ts): the same summary
   * objects, found by an array load instead of a name lookup; null where the pane was full
   * (maxFeatures) when the feature first came, as a full pane never takes a new feature. Filled
   * on first use by name, so a pane restored from a checkpoint (names only) fills it again.
   */
  private readonly slots: (FeatureSummary | null | undefined)[] = [];
  /** One bucket mapping for all of this pane's feature sketches (they share the accuracy). */
  private featureMapping: CubicLogMapping | null = null;

  private featureSketch(name: string, center: number): LogHistogram {
    const accuracy = featureAccuracyOf(this.limits);
    const spare = this.spareFeatures?.get(name);
    const sketch = spare?.numeric;
    if (spare !== undefined && sketch != null && sketch.center === center && sketch.relativeAccuracy === accuracy && sketch.minIndexable === FEATURE_MIN_INDEXABLE) {
      spare.numeric = null; // taken once
      this.reusedSketches++;
      return sketch.clear();
    }
    const mapping = (this.featureMapping ??= new CubicLogMapping(accuracy));
    const fresh = new LogHistogram(accuracy, { center, minIndexable: FEATURE_MIN_INDEXABLE, mapping });
    const like = this.sizeHint?.features.get(name)?.numeric;
    return like == null ? fresh : fresh.reserveLike(like);
  }
  /**
   * A pane of the same producer opened before this one, whose feature sketches' sizes this pane's
   * new ones start at (see sizeSketchesLike); let go at the first read (settleCenters).
   */
  private sizeHint: PaneInput | null = null;
  /**
   * The features of a pane its producer dropped, whose sketches this pane's features take over as
   * they come (see reuseSketchesOf); let go at the first read (settleCenters).
   */
  private spareFeatures: Map<string, FeatureSummary> | null = null;
  /** Per feature, the values the producer's previous pane kept counting one by one (keepValuesLike). */
  private keptValues: Map<string, readonly number[]> | null = null;
  /** Feature sketches taken over from a dropped pane rather than made (for tests and benchmarks). */
  reusedSketches = 0;
  /** Segment key -> value -> feature -> summary, for the values limits.segmentSketchValues admits. */
  readonly segmentFeatures = new Map<string, Map<string, Map<string, FeatureSummary>>>();
  /**
   * Multivariate drift: each event's PCA reconstruction error (src/stats/pca-reconstruction.ts),
   * summed per reference profile id (a reference replaced mid-pane does not mix its errors with
   * the old one's): cells MV_EVENTS, MV_ERROR_SUM, MV_ERROR_SQUARES, MV_IMPUTED_EVENTS, MV_IMPUTED_VALUES.
   */
  multivariate: Map<string, Float64Array> | null = null;

  /**
   * Values of numeric features whose center is not decided yet (at most CENTER_SAMPLE each, see
   * settleCenters). Only ever non-empty on a producer's pane, for a feature's first few values.
   */
  private readonly undecided = new Map<string, number[]>();

  /**
   * `featureCenters`: the producer's centers (FeatureCenters), read and extended by this pane; without
   * it each feature is centered on the median of the pane's own first values of it.
   */
  /** `latencyMapping`: a mapping of limits.relativeAccuracy to share (a scratch's, for a pane decoded from the wire). */
  constructor(
    readonly limits: PaneLimits,
    private featureCenters: FeatureCenters | null = null,
    latencyMapping?: CubicLogMapping,
  ) {
    this.latency = new LogHistogram(limits.relativeAccuracy, latencyMapping === undefined ? undefined : { mapping: latencyMapping });
  }

  /**
   * Lets this new pane's feature sketches be those of `dropped`, a pane of the same producer that
   * nothing holds any more, cleared (same buckets, so the same figures as new ones): a feature's
   * bucket arrays are then allocated once, not for every pane, each grown by doubling as its values
   * come (at 200 features, most of the cost of a pane's first events, and garbage for the collector).
   */
  reuseSketchesOf(dropped: PaneInput): void {
    this.spareFeatures = dropped.features;
  }

  /**
   * Lets this new pane's feature sketches start at the size of `previous`'s, a pane of the same
   * producer (when none was dropped to reuse): a feature that filled a table of 200 slots, or an
   * array, last time gets one at its first value instead of growing to it (LogHistogram.reserveLike).
   */
  sizeSketchesLike(previous: PaneInput): void {
    this.sizeHint = previous;
  }

  /**
   * Lets this new pane go on counting one by one, once it gives up, the values `previous` (a pane
   * of the same producer) did after giving up (ExactValueCounts.keptBefore): a sentinel the previous
   * pane kept is kept even when this one saw it only once before its cap. Only their values are
   * taken, not the pane.
   */
  keepValuesLike(previous: PaneInput): void {
    let kept: Map<string, readonly number[]> | null = null;
    for (const [name, summary] of previous.features) {
      const exact = summary.exact;
      if (exact === null || exact.other === 0 || exact.size === 0) continue;
      (kept ??= new Map()).set(name, [...exact.counts.keys()]);
    }
    this.keptValues = kept;
  }

  /** A new feature's counts per value, with the values the producer's previous pane kept (keepValuesLike). */
  private exactCountsOf(name: string): ExactValueCounts {
    const exact = new ExactValueCounts(EXACT_VALUES_CAP);
    exact.keptBefore = this.keptValues?.get(name) ?? null;
    return exact;
  }

  /**
   * Joins a producer's centers (a pane restored from a checkpoint): the centers of this pane's
   * sketches go into `centers` where it has none yet, and features new to the pane take theirs from it.
   */
  shareFeatureCenters(centers: FeatureCenters): void {
    for (const [name, summary] of this.features) {
      if (summary.numeric !== null && !centers.has(name) && centers.size < MAX_FEATURE_CENTERS) centers.set(name, summary.numeric.center);
    }
    this.featureCenters = centers;
  }

  /**
   * Decides the center of every feature still holding its first values (the producer's center when
   * another pane decided it meanwhile, else the median of the values held) and puts the values into
   * the feature's sketch. Everything that reads a pane's sketches (inputToWire, addInput) calls it
   * first, so a reader never sees a value missing.
   */
  settleCenters(): void {
    this.spareFeatures = null;
    this.sizeHint = null;
    if (this.undecided.size === 0) return;
    for (const name of [...this.undecided.keys()]) this.decideCenter(name);
  }

  private decideCenter(name: string): void {
    const held = this.undecided.get(name);
    const summary = this.features.get(name);
    this.undecided.delete(name);
    if (held === undefined || summary === undefined) return;
    const centers = this.featureCenters;
    let center = centers?.get(name);
    if (center === undefined) {
      center = medianOf(held);
      if (centers !== null && centers.size < MAX_FEATURE_CENTERS) centers.set(name, center);
    }
    const sketch = this.featureSketch(name, center);
    for (const value of held) sketch.add(value);
    summary.numeric = sketch;
  }

  /** A numeric value of a feature without a sketch yet: into its producer's center's sketch, or held until one is decided. */
  private addUndecided(name: string, summary: FeatureSummary, value: number): void {
    const center = this.featureCenters?.get(name);
    if (center !== undefined) {
      (summary.numeric = this.featureSketch(name, center)).add(value);
      return;
    }
    let held = this.undecided.get(name);
    if (held === undefined) this.undecided.set(name, (held = []));
    held.push(value);
    if (held.length >= CENTER_SAMPLE) this.decideCenter(name);
  }

  scoreSummary(): PredictionScoreSummary {
    return (this.scores ??= createPredictionScoreSummary(SCORE_BINS, this.limits.threshold));
  }

  numericOutput(): LogHistogram {
    return (this.outputNumeric ??= new LogHistogram(this.limits.relativeAccuracy));
  }

  categoricalOutput(): CategoryCounter {
    return (this.outputCategories ??= new CategoryCounter(this.limits.maxCategories));
  }

  /** The summary of a feature, or null once the pane already tracks maxFeatures features. */
  feature(name: string): FeatureSummary | null {
    let summary = this.features.get(name);
    if (summary === undefined) {
      if (this.features.size >= this.limits.maxFeatures) return null;
      summary = new FeatureSummary();
      this.features.set(name, summary);
    }
    return summary;
  }

  /**
   * The summary of the feature at `index` of the producer's feature schema, named `name` (one
   * schema per pane: an index always names the same feature), or null when the pane is full.
   */
  featureAt(index: number, name: string): FeatureSummary | null {
    const slot = this.slots[index];
    if (slot !== undefined) return slot;
    return (this.slots[index] = this.feature(name));
  }

  /**
   * The features of `buffer` (names by schema index in `names`), in its order: addNumberAt,
   * addCategoryAt or addNullAt of each. The worker's hot path: a number for a feature that has its
   * sketch goes straight in, without a call per feature.
   */
  addBuffered(names: readonly string[], buffer: FeatureBuffer): void {
    const { indexes, kinds, numbers, strings } = buffer;
    const slots = this.slots;
    for (let k = 0, n = buffer.count; k < n; k++) {
      const index = indexes[k];
      const kind = kinds[k];
      if (kind === FEATURE_NUMBER) {
        const summary = slots[index];
        if (summary != null && summary.numeric !== null && summary.exact !== null) {
          const value = numbers[k];
          summary.numeric.add(value);
          summary.exact.add(value);
        } else this.addNumberAt(index, names[index], numbers[k]);
      } else if (kind === FEATURE_STRING) this.addCategoryAt(index, names[index], strings[k]);
      else this.addNullAt(index, names[index]);
    }
  }

  /** addFeature of a finite number, by schema index. */
  addNumberAt(index: number, name: string, value: number): void {
    let summary = this.slots[index];
    if (summary === undefined) summary = this.featureAt(index, name);
    if (summary === null) {
      this.dropped++;
      return;
    }
    if (summary.numeric !== null) summary.numeric.add(value);
    else this.addUndecided(name, summary, value);
    (summary.exact ??= this.exactCountsOf(name)).add(value);
  }

  /** addFeature of a category, by schema index. */
  addCategoryAt(index: number, name: string, value: string): void {
    let summary = this.slots[index];
    if (summary === undefined) summary = this.featureAt(index, name);
    if (summary === null) {
      this.dropped++;
      return;
    }
    (summary.categories ??= new CategoryCounter(this.limits.maxCategories)).add(value);
  }

  /** addFeature of a null, by schema index. */
  addNullAt(index: number, name: string): void {
    let summary = this.slots[index];
    if (summary === undefined) summary = this.featureAt(index, name);
    if (summary === null) this.dropped++;
    else summary.nulls++;
  }

  addFeature(name: string, value: number | string | null): void {
    const summary = this.feature(name);
    if (summary === null) {
      this.dropped++;
      return;
    }
    if (value === null) summary.nulls++;
    else if (typeof value === 'number') {
      if (summary.numeric !== null) summary.numeric.add(value);
      else this.addUndecided(name, summary, value);
      (summary.exact ??= this.exactCountsOf(name)).add(value);
    }
    else (summary.categories ??= new CategoryCounter(this.limits.maxCategories)).add(value);
  }

  segmentInput(key: string, value: string): SegmentInputCounts | null {
    return segmentSlot(this.segments, key, value, this.limits, SEGMENT_INPUT_WIDTH) as SegmentInputCounts | null;
  }

  /**
   * Folds one prediction in (its features go through addFeature). `output` is a number (score or
   * regression value), a class, or NaN for a failed inference that returned none; `score` the probability in [0, 1] it carries (a binary score,
   * the top class probability), NaN when none. A numeric output in [0, 1] is a binary score:
   * `score >= threshold` counts as predicted positive in its segments. Segments beyond
   * limits.maxSegmentKeys are dropped and counted. Allocates nothing once the pane has its slots.
   */
  addPrediction(
    output: number | string,
    score: number,
    threshold: number,
    latencyMs: number | undefined,
    error: boolean,
    segment: Readonly<Record<string, string>> | undefined,
  ): void {
    this.count++;
    if (error) this.errors++;
    if (latencyMs !== undefined) this.latency.add(latencyMs);
    // NaN: a failed inference without output. It counts in volume, errors and latency only; it made
    // no decision, so it stays out of output statistics, scores and fairness.
    if (typeof output === 'number') {
      if (output !== output) return;
      this.numericOutput().add(output);
      (this.outputExact ??= new ExactValueCounts(EXACT_VALUES_CAP)).add(output);
    } else this.categoricalOutput().add(output);
    if (score >= 0 && score <= 1) addPredictionScore(this.scoreSummary(), score);
    if (segment === undefined) return;
    const predictedPositive = typeof output === 'number' && score === score && score >= threshold;
    let keys = 0;
    for (const key in segment) {
      if (keys++ >= this.limits.maxSegmentKeys) {
        this.dropped++;
        break;
      }
      const slot = this.segmentInput(key, segment[key]);
      if (slot === null) continue;
      slot[SI_PREDICTIONS]++;
      if (predictedPositive) slot[SI_PREDICTED_POSITIVE]++;
    }
  }

  /** Counts one value of each named feature that had a type no feature can have; names beyond limits.maxFeatures are dropped and counted. */
  countInvalidFeatures(names: readonly string[]): void {
    const counts = (this.invalidFeatures ??= new Map());
    for (const name of names) {
      const before = counts.get(name);
      if (before !== undefined) counts.set(name, before + 1);
      else if (counts.size < this.limits.maxFeatures) counts.set(name, 1);
      else this.dropped++;
    }
  }

  /**
   * Folds one prediction's features into the summaries of its segments, for the first
   * limits.segmentSketchValues values of each key (first come: usually the most frequent) and the
   * first SEGMENT_SKETCH_FEATURES features of each. A numeric sketch is laid around the feature's
   * center in this pane or its producer; a numeric value that comes before that center is decided
   * (the producer's first CENTER_SAMPLE of the feature) is left out.
   * Call it after addPrediction of the same prediction.
   */
  /** Whether addSegmentFeatures keeps anything (limits.segmentSketchValues > 0). */
  get keepsSegmentFeatures(): boolean {
    return (this.limits.segmentSketchValues ?? 0) > 0;
  }

  addSegmentFeatures(segment: Readonly<Record<string, string>>, features: Readonly<Record<string, number | string | null>>): void {
    const perKey = this.limits.segmentSketchValues ?? 0;
    if (perKey <= 0) return;
    let keys = 0;
    for (const key in segment) {
      if (keys++ >= this.limits.maxSegmentKeys) break;
      // only keys the pane counts (addPrediction admitted them, within maxSegmentKeys): a stream of
      // ever-new key names cannot grow this map
      if (!this.segments.has(key)) continue;
      let byValue = this.segmentFeatures.get(key);
      if (byValue === undefined) this.segmentFeatures.set(key, (byValue = new Map()));
      const value = segment[key];
      let summaries = byValue.get(value);
      if (summaries === undefined) {
        if (byValue.size >= perKey) continue;
        byValue.set(value, (summaries = new Map()));
      }
      for (const name in features) {
        let summary = summaries.get(name);
        if (summary === undefined) {
          if (summaries.size >= SEGMENT_SKETCH_FEATURES) continue;
          summaries.set(name, (summary = new FeatureSummary()));
        }
        const v = features[name];
        if (v === null) summary.nulls++;
        else if (typeof v === 'number') {
          if (summary.numeric === null) {
            // the feature's own center, so a segment's sketches share buckets with each other
            // across panes (sketches on other centers are rebinned where they meet, which moves an
            // atom across a PSI edge: a discrete feature then "drifts"); values that come before
            // the producer decided the center (its first CENTER_SAMPLE) are left out
            const center = this.features.get(name)?.numeric?.center ?? this.featureCenters?.get(name);
            if (center === undefined) continue;
            summary.numeric = new LogHistogram(featureAccuracyOf(this.limits), { center, minIndexable: FEATURE_MIN_INDEXABLE });
          }
          summary.numeric.add(v);
          (summary.exact ??= new ExactValueCounts(EXACT_VALUES_CAP)).add(v);
        } else (summary.categories ??= new CategoryCounter(this.limits.maxCategories)).add(v);
      }
    }
  }

  /** A prediction that came after the allowed lateness of its own pane, counted in this one. */
  countLate(): void {
    this.late++;
  }

  /** One event's reconstruction error against reference `reference`, and its imputed features. */
  addReconstructionError(reference: string, error: number, imputed: number): void {
    const byReference = (this.multivariate ??= new Map());
    let cells = byReference.get(reference);
    if (cells === undefined) {
      // references change rarely: a pane over the cap (a flapping reference) keeps its first ones
      if (byReference.size >= MAX_MULTIVARIATE_REFERENCES) return;
      byReference.set(reference, (cells = new Float64Array(MULTIVARIATE_WIDTH)));
    }
    cells[MV_EVENTS]++;
    cells[MV_ERROR_SUM] += error;
    cells[MV_ERROR_SQUARES] += error * error;
    if (imputed > 0) {
      cells[MV_IMPUTED_EVENTS]++;
      cells[MV_IMPUTED_VALUES] += imputed;
    }
  }
}

/** Cells of a pane's multivariate summary per reference (PaneInput.multivariate). */
export const MV_EVENTS = 0;
export const MV_ERROR_SUM = 1;
export const MV_ERROR_SQUARES = 2;
export const MV_IMPUTED_EVENTS = 3;
export const MV_IMPUTED_VALUES = 4;
export const MULTIVARIATE_WIDTH = 5;
/** Reference ids a pane sums errors for at most. */
export const MAX_MULTIVARIATE_REFERENCES = 4;

/** Segment input slots: [predictions, predicted positive]. */
const SEGMENT_INPUT_WIDTH = 2;
export const SI_PREDICTIONS = 0;
const SI_PREDICTED_POSITIVE = 1;

/** Segment outcome slots: [labeled, actual positive, true positive, predicted positive among labeled, correct]. */
const SEGMENT_OUTCOME_WIDTH = 5;
export const SO_LABELED = 0;
const SO_ACTUAL_POSITIVE = 1;
const SO_TRUE_POSITIVE = 2;
const SO_PREDICTED_POSITIVE = 3;
export const SO_CORRECT = 4;

/** Correctness of one joined label: 1 correct, 0 wrong, -1 not a classification (regression). */
export type JoinedCorrectness = -1 | 0 | 1;

export class PaneOutcome {
  /** Labels joined to a prediction of this pane. */
  joined = 0;
  /** Of those, labels that had arrived before their prediction. */
  early = 0;
  /** Predictions of this pane whose label did not come within the horizon. */
  expired = 0;
  /** Joined labels equal to the prediction (class or thresholded score). */
  correct = 0;
  /** Binary classification outcomes (src/stats/quality.ts layout: confusion, log-loss, score histograms). */
  binary: BinaryOutcomeSummary | null = null;
  /** Regression outcomes: n, sum |e|, sum e^2, sum |e/y| (y != 0), n(y != 0). */
  regression: RegressionOutcomeSummary | null = null;
  /** Multiclass confusion counts keyed `${truth}\u0001${predicted}`. */
  confusion: CategoryCounter | null = null;
  readonly labelDelay: LogHistogram;
  readonly segments = new Map<string, Map<string, SegmentOutcomeCounts>>();
  /** Changes signalled by the sequential detectors on the error stream, by detector kind. */
  readonly detections = new Map<string, number>();

  constructor(readonly limits: PaneLimits) {
    this.labelDelay = new LogHistogram(limits.relativeAccuracy);
  }

  binaryOutcomes(): BinaryOutcomeSummary {
    return (this.binary ??= createBinaryOutcomeSummary(SCORE_BINS, this.limits.threshold));
  }

  regressionOutcomes(): RegressionOutcomeSummary {
    return (this.regression ??= createRegressionOutcomeSummary());
  }

  confusionCounts(): CategoryCounter {
    return (this.confusion ??= new CategoryCounter(this.limits.maxClasses * this.limits.maxClasses));
  }

  segmentOutcome(key: string, value: string): SegmentOutcomeCounts | null {
    return segmentSlot(this.segments, key, value, this.limits, SEGMENT_OUTCOME_WIDTH) as SegmentOutcomeCounts | null;
  }

  /**
   * Folds one label joined to its prediction in. A numeric output in [0, 1] with a 0/1 label is a
   * binary outcome (predicted positive when output >= threshold), other numeric pairs are
   * regression, anything else is a class pair. `segmentPairs` is [key1, value1, key2, value2, ...]
   * of the prediction's segments, or null. Returns the correctness, for the error-stream detectors.
   */
  addJoined(
    output: number | string,
    label: number | string,
    threshold: number,
    delayMs: number,
    early: boolean,
    segmentPairs: readonly string[] | null,
  ): JoinedCorrectness {
    this.joined++;
    if (early) this.early++;
    this.labelDelay.add(delayMs);
    // the prediction failed without an output: the label is matched (coverage), there is nothing to grade
    if (typeof output === 'number' && output !== output) return -1;

    let correct: JoinedCorrectness = -1;
    let predictedPositive = false;
    let actualPositive = false;
    if (typeof output === 'number' && typeof label === 'number') {
      if ((label === 0 || label === 1) && output >= 0 && output <= 1) {
        predictedPositive = output >= threshold;
        actualPositive = label === 1;
        correct = predictedPositive === actualPositive ? 1 : 0;
        addBinaryOutcome(this.binaryOutcomes(), output, label);
      } else {
        addRegressionOutcome(this.regressionOutcomes(), label, output);
      }
    } else {
      const predicted = String(output);
      const truth = String(label);
      correct = predicted === truth ? 1 : 0;
      this.confusionCounts().add(`${truth}\u0001${predicted}`);
    }
    if (correct === 1) this.correct++;

    if (segmentPairs !== null) {
      for (let i = 0; i + 1 < segmentPairs.length; i += 2) {
        const slot = this.segmentOutcome(segmentPairs[i], segmentPairs[i + 1]);
        if (slot === null) continue;
        slot[SO_LABELED]++;
        if (actualPositive) slot[SO_ACTUAL_POSITIVE]++;
        if (actualPositive && predictedPositive) slot[SO_TRUE_POSITIVE]++;
        if (predictedPositive) slot[SO_PREDICTED_POSITIVE]++;
        if (correct === 1) slot[SO_CORRECT]++;
      }
    }
    return correct;
  }

  /** A change signalled by an error-stream detector of this kind. */
  addDetection(kind: string): void {
    this.detections.set(kind, (this.detections.get(kind) ?? 0) + 1);
  }

  /** A prediction of this pane whose label did not come within the horizon. */
  countExpired(): void {
    this.expired++;
  }
}

function segmentSlot(
  segments: Map<string, Map<string, Float64Array>>,
  key: string,
  value: string,
  limits: PaneLimits,
  width: number,
): Float64Array | null {
  let byValue = segments.get(key);
  if (byValue === undefined) {
    if (segments.size >= limits.maxSegmentKeys) return null;
    byValue = new Map();
    segments.set(key, byValue);
  }
  let slot = byValue.get(value);
  if (slot === undefined) {
    if (byValue.size >= limits.maxSegmentValues) {
      // values beyond the cap share one bucket, like categories beyond maxCategories
      value = '__other__';
      slot = byValue.get(value);
    }
    if (slot === undefined) {
      slot = new Float64Array(width);
      byValue.set(value, slot);
    }
  }
  return slot;
}

// ---------------------------------------------------------------------------------------------
// Additive combination

/**
 * An empty sketch a sum of panes starts its output or a feature from (addHistogram's `make`):
 * functions of the module, not closures made at each addInput (a gateway adds and takes away
 * states three times per pane message and window). Their bucket arrays start as one-byte counts
 * (LogHistogramOptions.byteCounts): a sum's buckets seldom reach 256 in a 1m or 5m window.
 */
type SketchMaker = (like: LogHistogram, limits: PaneLimits, arena: CountsArena | undefined) => LogHistogram;
const outputSketch: SketchMaker = (like, limits, arena) =>
  new LogHistogram(limits.relativeAccuracy, { mapping: mappingOfAccuracy(like, limits.relativeAccuracy), byteCounts: true, arena });
const featureSketch: SketchMaker = (like, limits, arena) => {
  const accuracy = featureAccuracyOf(limits);
  return new LogHistogram(accuracy, { center: like.center, minIndexable: FEATURE_MIN_INDEXABLE, mapping: mappingOfAccuracy(like, accuracy), byteCounts: true, arena });
};
/** `like`'s bucket mapping where it is of `accuracy` (a sketch of an older worker's may not be: then one of its own). */
function mappingOfAccuracy(like: LogHistogram, accuracy: number): CubicLogMapping | undefined {
  return like.relativeAccuracy === accuracy ? like.bucketMapping : undefined;
}

/**
 * Adds (or removes) a pane's sketch to a window's. An empty window sketch is made by `make` from the
 * pane's (a feature's takes the pane's center); a pane of other buckets (another center, or an older
 * worker's) is rebinned onto the window's, deterministically, so removing it later takes back
 * exactly what adding it put in.
 */
function addHistogram(
  target: LogHistogram | null,
  source: LogHistogram | null,
  sign: 1 | -1,
  make: SketchMaker,
  limits: PaneLimits,
  arena: CountsArena | undefined,
): LogHistogram | null {
  if (source === null || source.count === 0) return target;
  let into = target;
  if (into === null || into.isEmpty) {
    const made = make(source, limits, arena);
    if (into === null || !into.sameBuckets(made)) into = made;
  }
  const moved = LogHistogram.rebinnedLike(source, into);
  if (sign > 0) into.merge(moved);
  else into.subtract(moved);
  return into;
}

function addCounter(target: CategoryCounter | null, source: CategoryCounter | null, sign: 1 | -1, cap: number): CategoryCounter | null {
  if (source === null || source.total === 0) return target;
  const into = target ?? new CategoryCounter(cap);
  if (sign > 0) into.merge(source);
  else into.subtract(source);
  return into;
}

function addArray(target: Float64Array | null, source: Float64Array | null, sign: 1 | -1): Float64Array | null {
  if (source === null) return target;
  const into = target ?? new Float64Array(source.length);
  for (let i = 0; i < source.length; i++) into[i] += sign * source[i];
  return into;
}

/** Adds or subtracts a stats/quality summary (header cells are configuration, checked by merge). */
function addSummary<S extends OutcomeSummary>(
  target: S | null,
  source: S | null,
  sign: 1 | -1,
  merge: (t: S, s: S) => void,
  subtract: (t: S, s: S) => void,
): S | null {
  if (source === null) return target;
  if (target === null) {
    if (sign > 0) return copyOutcomeSummary(source);
    target = copyOutcomeSummary(source);
    subtract(target, source);
  }
  if (sign > 0) merge(target, source);
  else subtract(target, source);
  return target;
}

function addSegments(target: Map<string, Map<string, Float64Array>>, source: Map<string, Map<string, Float64Array>>, sign: 1 | -1): void {
  for (const [key, byValue] of source) {
    let into = target.get(key);
    if (into === undefined) {
      into = new Map();
      target.set(key, into);
    }
    for (const [value, counts] of byValue) into.set(value, addArray(into.get(value) ?? null, counts, sign) as Float64Array);
  }
}

/** How a feature of a pane's later state differs from the earlier state's (featureChanges). */
export interface FeatureChange {
  /** The sketch's delta (LogHistogram.delta); null: the two sketches are not on the same buckets. */
  numeric: SketchDelta | null;
  /** The counts per value that changed (ExactValueCounts.change); null: taken away and added whole. */
  exact: ExactChange | null;
  /** The feature's summaries in the two states (marked inChange). */
  earlier: FeatureSummary;
  later: FeatureSummary;
}

/**
 * How the features of `later`, a state of a pane that replaces `earlier`, differ from earlier's,
 * for the features both have: the sketch's delta where both are on the same buckets, the counts
 * per value that changed. `scratch`: where the deltas' arrays come from (they live as long as the
 * two states).
 */
export function featureChanges(earlier: PaneInput, later: PaneInput, scratch?: BucketScratch): Map<string, FeatureChange> {
  const changes = new Map<string, FeatureChange>();
  // forEach, not for-of over entries: no [name, summary] array per feature (see addFeatureSummaries)
  later.features.forEach((summary, name) => {
    const before = earlier.features.get(name);
    if (before === undefined) return;
    const exact = summary.exact !== null && before.exact !== null ? ExactValueCounts.change(before.exact, summary.exact) : null;
    const numeric = sketchChange(before, summary, exact, scratch);
    if (numeric === null && exact === null) return;
    before.inChange = summary.inChange = true;
    changes.set(name, { numeric, exact, earlier: before, later: summary });
  });
  return changes;
}

/**
 * The delta of a feature's sketch from its earlier state to its later one (null: not on the same
 * buckets). Both sent as their values and not built: read off the values whose counts changed
 * (`exact`, which lists every change: neither state has values it does not list).
 */
function sketchChange(earlier: FeatureSummary, later: FeatureSummary, exact: ExactChange | null, scratch: BucketScratch | undefined): SketchDelta | null {
  const listedBefore = earlier.unbuiltListedSketch;
  const listedAfter = later.unbuiltListedSketch;
  if (listedBefore !== null && listedAfter !== null && exact !== null && exact.other === 0) return LogHistogram.listedDelta(listedBefore, listedAfter, exact, scratch);
  const next = later.numeric;
  const previous = earlier.numeric;
  return next !== null && previous !== null && next.sameBuckets(previous) ? LogHistogram.delta(previous, next, scratch) : null;
}

/**
 * addInput(target, earlier, -1) then addInput(target, later, 1), for a state `later` of a pane that
 * replaces `earlier` in a window: each feature sketch the window holds and whose delta it takes
 * (`changes`, from featureChanges; LogHistogram.acceptsDelta) changes by that delta alone, the
 * buckets a second of values changed, instead of losing the earlier state's buckets and gaining the
 * later's; and its counts per value by the values that changed, not by taking away and adding the
 * dozen each state lists (a search of the window's list per value, in every window). `changes`
 * must be featureChanges(earlier, later) whole: the features it marked in the two states are
 * changed from it alone (a feature marked and missing from it would be left out).
 */
export function replaceInput(target: PaneInput, earlier: PaneInput, later: PaneInput, changes: ReadonlyMap<string, FeatureChange>): void {
  // everything but the changed features, in two passes over the states; then those feature by
  // feature, each window summary looked up once: a lookup in each pass, with marks or a set of
  // names to say which feature a pass leaves alone, was most of replacing a state in a window
  addInput(target, earlier, -1, true);
  addInput(target, later, 1, true);
  const limits = target.limits;
  // forEach, not for-of over entries: no [name, change] array per feature (see addFeatureSummaries)
  changes.forEach((change, name) => {
    let into = target.features.get(name);
    if (into === undefined) target.features.set(name, (into = new FeatureSummary()));
    const { earlier: before, later: after } = change;
    // in the order addInput's two passes took them: earlier's away, then later's in
    into.nulls -= before.nulls;
    into.nulls += after.nulls;
    if (change.numeric === null || into.numeric?.takeDelta(change.numeric) !== true) {
      into.numeric = addHistogram(into.numeric, before.numeric, -1, featureSketch, limits, target.countsArena);
      into.numeric = addHistogram(into.numeric, after.numeric, 1, featureSketch, limits, target.countsArena);
    }
    if (change.exact !== null) (into.exact ??= new ExactValueCounts(EXACT_VALUES_CAP, target.exactSumCap)).applyChange(change.exact);
    else {
      if (before.exact !== null) (into.exact ??= new ExactValueCounts(EXACT_VALUES_CAP, target.exactSumCap)).subtract(before.exact);
      if (after.exact !== null) (into.exact ??= new ExactValueCounts(EXACT_VALUES_CAP, target.exactSumCap)).merge(after.exact);
    }
    into.categories = addCounter(into.categories, before.categories, -1, limits.maxCategories);
    into.categories = addCounter(into.categories, after.categories, 1, limits.maxCategories);
  });
}

/**
 * Adds (sign 1) or removes (-1) `source`'s figures to `target`'s; `replacing`: a pass of
 * replaceInput, which changes the features a FeatureChange holds itself (FeatureSummary.inChange),
 * left alone here.
 */
export function addInput(
  target: PaneInput,
  source: PaneInput,
  sign: 1 | -1,
  replacing = false,
): void {
  source.settleCenters();
  target.settleCenters();
  const limits = target.limits;
  target.count += sign * source.count;
  target.errors += sign * source.errors;
  target.late += sign * source.late;
  target.dropped += sign * source.dropped;
  target.scores = addSummary(target.scores, source.scores, sign, mergePredictionScores, subtractPredictionScores);
  if (sign > 0) target.latency.merge(source.latency);
  else target.latency.subtract(source.latency);
  target.outputNumeric = addHistogram(target.outputNumeric, source.outputNumeric, sign, outputSketch, limits, target.countsArena);
  if (source.outputExact !== null) {
    target.outputExact ??= new ExactValueCounts(EXACT_VALUES_CAP, target.exactSumCap);
    if (sign > 0) target.outputExact.merge(source.outputExact);
    else target.outputExact.subtract(source.outputExact);
  }
  target.outputCategories = addCounter(target.outputCategories, source.outputCategories, sign, limits.maxCategories);
  // windows are not capped by maxFeatures: every pane already was
  addFeatureSummaries(target.features, source.features, sign, limits, target.exactSumCap, target.countsArena, replacing);
  if (source.invalidFeatures !== null) {
    // windows are not capped by maxFeatures: every pane already was
    const into = (target.invalidFeatures ??= new Map());
    for (const [name, n] of source.invalidFeatures) into.set(name, (into.get(name) ?? 0) + sign * n);
  }
  addSegments(target.segments, source.segments, sign);
  if (source.multivariate !== null) {
    // windows are not capped: every pane already was
    const into = (target.multivariate ??= new Map());
    for (const [reference, cells] of source.multivariate) into.set(reference, addArray(into.get(reference) ?? null, cells, sign) as Float64Array);
  }
  for (const [key, byValue] of source.segmentFeatures) {
    let intoValues = target.segmentFeatures.get(key);
    if (intoValues === undefined) target.segmentFeatures.set(key, (intoValues = new Map()));
    for (const [value, summaries] of byValue) {
      let into = intoValues.get(value);
      if (into === undefined) intoValues.set(value, (into = new Map()));
      // segments' values are not bounded by SUM_VALUES_CAP: their sums are held and taken away as they are
      addFeatureSummaries(into, summaries, sign, limits, Number.POSITIVE_INFINITY, undefined);
    }
  }
}

/**
 * Sizes the feature sketches of `target`, an empty pane, for adding `sources` to it (addInput, in
 * that order): each feature's sketch made as addInput makes it, its arrays over the buckets the
 * sources hold between them (LogHistogram.reserveForMerging). A window store merging a pane's
 * states (ModelWindows.merged: 16 partitions' final states, or a coarse pane's) made each
 * feature's arrays for the first state's range with as much again of room, then again for each
 * state that reached past it: about one typed array per pane message applied, nine in ten of the
 * bucket arrays a window store made again (a scratch count, 50 models x 16 partitions of bench
 * pane-apply's traffic).
 */
export function reserveFeatureSketches(target: PaneInput, sources: readonly PaneInput[]): void {
  const sketches = new Map<string, LogHistogram[]>();
  for (const source of sources) {
    // forEach, not for-of over entries (see addFeatureSummaries)
    source.features.forEach((summary, name) => {
      const sketch = summary.numeric;
      if (sketch === null || sketch.count === 0) return;
      const of = sketches.get(name);
      if (of === undefined) sketches.set(name, [sketch]);
      else of.push(sketch);
    });
  }
  sketches.forEach((of, name) => {
    let into = target.features.get(name);
    if (into === undefined) target.features.set(name, (into = new FeatureSummary()));
    if (into.numeric === null) into.numeric = featureSketch(of[0], target.limits, target.countsArena).reserveForMerging(of);
  });
}

/** Adds (or removes) one set of feature summaries to another: a pane's, or a segment's (see addSegmentFeatures). */
function addFeatureSummaries(
  target: Map<string, FeatureSummary>,
  source: ReadonlyMap<string, FeatureSummary>,
  sign: 1 | -1,
  limits: PaneLimits,
  exactSumCap: number,
  arena: CountsArena | undefined,
  replacing = false,
): void {
  // forEach, not for-of over entries: a [name, summary] array per feature, six times per replaced
  // state, was the largest part of what this allocated (V8's sampling heap profiler, bench pane-apply)
  source.forEach((summary, name) => {
    if (replacing && summary.inChange) return;
    let into = target.get(name);
    if (into === undefined) target.set(name, (into = new FeatureSummary()));
    into.nulls += sign * summary.nulls;
    into.numeric = addHistogram(into.numeric, summary.numeric, sign, featureSketch, limits, arena);
    if (summary.exact !== null) {
      into.exact ??= new ExactValueCounts(EXACT_VALUES_CAP, exactSumCap);
      if (sign > 0) into.exact.merge(summary.exact);
      else into.exact.subtract(summary.exact);
    }
    into.categories = addCounter(into.categories, summary.categories, sign, limits.maxCategories);
  });
}

export function addOutcome(target: PaneOutcome, source: PaneOutcome, sign: 1 | -1): void {
  target.joined += sign * source.joined;
  target.early += sign * source.early;
  target.expired += sign * source.expired;
  target.correct += sign * source.correct;
  target.binary = addSummary(target.binary, source.binary, sign, mergeBinaryOutcome, subtractBinaryOutcome);
  target.regression = addSummary(target.regression, source.regression, sign, mergeRegressionOutcome, subtractRegressionOutcome);
  target.confusion = addCounter(target.confusion, source.confusion, sign, target.limits.maxClasses * target.limits.maxClasses);
  if (sign > 0) target.labelDelay.merge(source.labelDelay);
  else target.labelDelay.subtract(source.labelDelay);
  addSegments(target.segments, source.segments, sign);
  for (const [kind, n] of source.detections) target.detections.set(kind, (target.detections.get(kind) ?? 0) + sign * n);
}

// ---------------------------------------------------------------------------------------------
// Wire form: plain objects of numbers, strings and byte arrays, for MessagePack.


export function summaryToWire(summary: Float64Array): SummaryWire {
  // a cell is left out only when it is +0 exactly, so -0 (a sum that went through subtraction) survives
  let nonZero = 0;
  for (let k = 0; k < summary.length; k++) if (!Object.is(summary[k], 0)) nonZero++;
  if (nonZero * 3 > summary.length) return Array.from(summary);
  const i: number[] = [];
  const v: number[] = [];
  for (let k = 0; k < summary.length; k++) {
    if (!Object.is(summary[k], 0)) {
      i.push(k);
      v.push(summary[k]);
    }
  }
  return { n: summary.length, i, v };
}

/**
 * `scratch`: where the cells come from, for a summary used only until the scratch is reset (a
 * state the gateway decodes to add to its windows: adding one copies it, addSummary); an array of
 * its own was ~3 % of the gateway's pane apply.
 */
export function summaryFromWire(wire: SummaryWire, scratch?: BucketScratch): Float64Array {
  const n = Array.isArray(wire) ? wire.length : wire.n;
  const out = newWeights(n, scratch);
  if (Array.isArray(wire)) out.set(wire);
  else for (let k = 0; k < wire.i.length; k++) out[wire.i[k]] = wire.v[k];
  return out;
}




function segmentsToWire(segments: Map<string, Map<string, Float64Array>>): Record<string, Record<string, number[]>> {
  const out: Record<string, Record<string, number[]>> = {};
  for (const [key, byValue] of segments) {
    const values: Record<string, number[]> = {};
    for (const [value, counts] of byValue) values[value] = Array.from(counts);
    out[key] = values;
  }
  return out;
}

/** Rebuilds segment counts, each `width` finite counts wide (the pane's layout for that part). */
function segmentsFromWire(wire: Record<string, Record<string, number[]>>, into: Map<string, Map<string, Float64Array>>, width: number, path: string): void {
  for (const [key, values] of Object.entries(wire)) {
    const byValue = new Map<string, Float64Array>();
    for (const [value, counts] of Object.entries(values)) {
      if (counts.length !== width) {
        throw new PaneMessageError(`${path}[${JSON.stringify(key)}][${JSON.stringify(value)}]`, `expected ${width} counts, got ${counts.length}`);
      }
      byValue.set(value, Float64Array.from(counts));
    }
    into.set(key, byValue);
  }
}

/**
 * A sketch from its bytes, refused (naming `path`) when the bytes are bad or the sketch cannot
 * combine with `like` (the pane's latency, output and outcome sketches; a feature's: featureFromWire).
 */
function histogramFromWire(bytes: Uint8Array, like: LogHistogram, path: string, scratch?: BucketScratch): LogHistogram {
  let histogram: LogHistogram;
  try {
    histogram = LogHistogram.fromBytes(bytes, scratch);
  } catch (error) {
    throw new PaneMessageError(path, (error as Error).message);
  }
  if (!histogram.sameBuckets(like)) {
    throw new PaneMessageError(
      path,
      `sketch settings (relativeAccuracy ${histogram.relativeAccuracy}, minIndexable ${histogram.minIndexable}, center ${histogram.center}) ` +
        `differ from this reader's (${like.relativeAccuracy}, ${like.minIndexable}, ${like.center}): it would not combine with the windows`,
    );
  }
  return histogram;
}

function counterFromWire(json: CategoryCounterJSON, path: string): CategoryCounter {
  try {
    return CategoryCounter.fromJSON(json);
  } catch (error) {
    throw new PaneMessageError(path, (error as Error).message);
  }
}

/**
 * A summary from its wire form, refused (naming `path`) unless it has the layout of `empty` (the
 * summary this pane would create): one that merges into it merges into every window.
 */
/** A summary of `empty`'s kind from the wire: it must merge into an empty one of this pane's layout. */
/** A prediction score summary from the wire, of the pane's layout. */
/** A binned summary from the wire, checked as merging it into an empty one of these limits would (`like`). */
function binnedSummaryFromWire<S extends Float64Array>(
  wire: SummaryWire,
  like: (cells: Float64Array, bins: number, threshold: number) => S,
  limits: PaneLimits,
  path: string,
  scratch?: BucketScratch,
): S {
  try {
    return like(summaryFromWire(wire, scratch), SCORE_BINS, limits.threshold);
  } catch (error) {
    throw new PaneMessageError(path, (error as Error).message);
  }
}

function layoutSummaryFromWire<S extends Float64Array>(wire: SummaryWire, empty: S, merge: (t: S, s: S) => void, path: string): S {
  const summary = summaryFromWire(wire) as S;
  try {
    merge(empty, summary);
  } catch (error) {
    throw new PaneMessageError(path, (error as Error).message);
  }
  return summary;
}

/**
 * A feature's wire form. Its sketch goes as its listed values where they give it (`r`), else as its
 * bytes: written here, or, given `unwritten`, left for the caller to write (n null until then) with
 * the other features' in one buffer (LogHistogram.toBytesMany).
 */
function featureToWire(summary: FeatureSummary, unwritten: Array<[FeatureWire, LogHistogram]> | null = null): FeatureWire {
  const x = summary.exact ? exactToWire(summary.exact) : null;
  const c = summary.categories ? summary.categories.toJSON() : null;
  const sketch = summary.numeric;
  const listed = sketch !== null && x !== null ? listedSketchWire(sketch, x) : null;
  // without `n` at all, not `n: undefined` (an encoder writes that as nil: "no sketch" to an older reader)
  if (listed !== null) return { r: listed, c, z: summary.nulls, x };
  const wire: FeatureWire = { n: sketch === null || unwritten !== null ? null : sketch.toBytes(), c, z: summary.nulls, x };
  if (sketch !== null && unwritten !== null) unwritten.push([wire, sketch]);
  return wire;
}

/**
 * FeatureWire.r for a sketch its exact counts list every value of (`o` 0), where the sketch is what
 * those values give (LogHistogram.holdsListedValues: so a reader rebuilding it gets the sketch
 * sent); null otherwise (the sketch is sent as its bytes).
 */
function listedSketchWire(sketch: LogHistogram, x: ExactValuesWire): number[] | null {
  if (x.o !== 0 || x.v.length === 0 || !sketch.holdsListedValues(x.v, x.c)) return null;
  const defaults = LISTED_SKETCH_DEFAULTS;
  return sketch.relativeAccuracy === defaults.relativeAccuracy && sketch.minIndexable === defaults.minIndexable && sketch.maxBuckets === defaults.maxBuckets
    ? [sketch.center, sketch.sum]
    : [sketch.center, sketch.sum, sketch.relativeAccuracy, sketch.minIndexable, sketch.maxBuckets];
}

export function inputToWire(pane: PaneInput): PaneInputWire {
  pane.settleCenters();
  const features: Record<string, FeatureWire> = {};
  // the sketches not sent as their values written together, into one buffer (LogHistogram.toBytesMany):
  // those sent as their values are not written at all (most of a sparse pane's)
  const unwritten: Array<[FeatureWire, LogHistogram]> = [];
  for (const [name, summary] of pane.features) features[name] = featureToWire(summary, unwritten);
  const bytes = LogHistogram.toBytesMany(unwritten.map(([, sketch]) => sketch));
  unwritten.forEach(([wire], k) => (wire.n = bytes[k]));
  // per-segment features only when a pane keeps them: messages stay as they were otherwise
  let segmentFeatures: PaneInputWire['segmentFeatures'];
  if (pane.segmentFeatures.size > 0) {
    segmentFeatures = {};
    for (const [key, byValue] of pane.segmentFeatures) {
      const values: Record<string, Record<string, FeatureWire>> = {};
      for (const [value, summaries] of byValue) {
        const wire: Record<string, FeatureWire> = {};
        for (const [name, summary] of summaries) wire[name] = featureToWire(summary);
        values[value] = wire;
      }
      segmentFeatures[key] = values;
    }
  }
  return {
    count: pane.count,
    errors: pane.errors,
    late: pane.late,
    dropped: pane.dropped,
    scores: pane.scores ? summaryToWire(pane.scores) : null,
    latency: pane.latency.toBytes(),
    outputNumeric: pane.outputNumeric ? pane.outputNumeric.toBytes() : null,
    outputCategories: pane.outputCategories ? pane.outputCategories.toJSON() : null,
    outputExact: pane.outputExact ? exactToWire(pane.outputExact) : null,
    features,
    segments: segmentsToWire(pane.segments),
    ...(pane.invalidFeatures === null ? {} : { invalidFeatures: Object.fromEntries(pane.invalidFeatures) }),
    ...(segmentFeatures === undefined ? {} : { segmentFeatures }),
    ...(pane.multivariate !== null ? { multivariate: Object.fromEntries([...pane.multivariate].map(([reference, cells]) => [reference, Array.from(cells)])) } : {}),
  };
}

/**
 * The pane a wire state describes. Checks what needs the pane's layout and limits (summary
 * layouts, segment widths, sketch bytes and settings) and throws a PaneMessageError naming the
 * field under `path`; the wire's own shape is checked by decodePaneMessage (src/contract/pane-codec.ts).
 * Builds a new pane and changes nothing else, so a caller that converts first cannot be left half-updated.
 */
/**
 * A pane's input state from its wire form. `scratch`: where its feature sketches' bucket arrays
 * come from, for a state used only until the scratch is reset (BucketScratch). `readBefore`: a
 * state this process read before and holds (a window store's partition states), or wrote itself
 * (its merged ones): its feature sketches sent as their values are not checked again.
 */
export function inputFromWire(wire: PaneInputWire, limits: PaneLimits, path = 'state', scratch?: BucketScratch, readBefore = false): PaneInput {
  return inputWithFeatures(wire, limits, path, scratch, readBefore, (pane) => {
    // own keys only (the codec's checked object has no others): no [name, feature] pair per feature
    const features = wire.features;
    const featuresPath = `${path}.features`;
    for (const name in features) pane.features.set(name, featureFromWire(features[name], featuresPath, name, scratch, readBefore));
  });
}

/**
 * inputFromWire with the features, which `wire` need not hold, added by `addFeatures` where
 * inputFromWire reads them (so that a state with two faults names the same one): a reader that
 * reads the features itself (HeldStateReader) adds those.
 */
export function inputWithFeatures(
  wire: Omit<PaneInputWire, 'features'>,
  limits: PaneLimits,
  path: string,
  scratch: BucketScratch | undefined,
  readBefore: boolean,
  addFeatures: (pane: PaneInput) => void,
): PaneInput {
  const pane = new PaneInput(limits, null, scratch?.mappingFor(limits.relativeAccuracy));
  pane.count = wire.count;
  pane.errors = wire.errors;
  pane.late = wire.late;
  pane.dropped = wire.dropped;
  pane.scores = wire.scores ? binnedSummaryFromWire(wire.scores, predictionScoresLike, limits, `${path}.scores`, scratch) : null;
  // read onto the scratch (its arrays and the accuracy's mapping) and taken as it is, as the
  // features' sketches are: merged into arrays of the pane's own, grown from none (two decoded
  // states per message), it was 5-6 % of applying (CPU profile of bench pane-apply, 20 models x
  // 16 partitions: countsLike and ensureCapacity under this merge). Without a scratch (a worker's
  // checkpoint), merged into the pane's counts, which the pane goes on adding to.
  const latency = histogramFromWire(wire.latency, pane.latency, `${path}.latency`, scratch);
  if (scratch !== undefined) pane.latency = latency;
  else pane.latency.merge(latency);
  pane.outputNumeric = wire.outputNumeric ? histogramFromWire(wire.outputNumeric, pane.latency, `${path}.outputNumeric`, scratch) : null;
  pane.outputCategories = wire.outputCategories ? counterFromWire(wire.outputCategories, `${path}.outputCategories`) : null;
  pane.outputExact = exactFromWire(wire.outputExact, pane.outputNumeric);
  addFeatures(pane);
  segmentsFromWire(wire.segments, pane.segments, SEGMENT_INPUT_WIDTH, `${path}.segments`);
  if (wire.invalidFeatures !== undefined) pane.invalidFeatures = new Map(Object.entries(wire.invalidFeatures));
  for (const [key, byValue] of Object.entries(wire.segmentFeatures ?? {})) {
    const values = new Map<string, Map<string, FeatureSummary>>();
    for (const [value, features] of Object.entries(byValue)) {
      const summaries = new Map<string, FeatureSummary>();
      const at = `${path}.segmentFeatures[${JSON.stringify(key)}][${JSON.stringify(value)}]`;
      for (const [name, feature] of Object.entries(features)) summaries.set(name, featureFromWire(feature, at, name, scratch, readBefore));
      values.set(value, summaries);
    }
    pane.segmentFeatures.set(key, values);
  }
  if (wire.multivariate !== undefined) {
    pane.multivariate = new Map();
    for (const [reference, cells] of Object.entries(wire.multivariate)) {
      if (cells.length !== MULTIVARIATE_WIDTH) throw new PaneMessageError(`${path}.multivariate[${JSON.stringify(reference)}]`, `${cells.length} cells, expected ${MULTIVARIATE_WIDTH}`);
      pane.multivariate.set(reference, Float64Array.from(cells));
    }
  }
  return pane;
}

/**
 * A feature of `parent` (the features' path) named `name`, from the wire. Its sketch may have any
 * center, accuracy and zero threshold (an older worker's has center 0, 1e-9 and the latency's
 * accuracy): windows rebin it.
 */
export function featureFromWire(feature: FeatureWire, parent: string, name: string, scratch: BucketScratch | undefined, readBefore: boolean): FeatureSummary {
  const summary = new FeatureSummary();
  // the part's path made only for an error: formatted for every read (the name through
  // JSON.stringify), or kept as an object of its pieces, it cost more than reading the part
  let part = 'n';
  try {
    if (feature.n === undefined && feature.r !== undefined) {
      part = 'r';
      // checked now (once), built when first read (most states replaced in the windows never are)
      const listed = listedValuesFromWire(feature.r, feature.x as ExactValuesWire, scratch);
      if (!readBefore) LogHistogram.checkListedValues(listed.values, listed.counts, listed.sum, listed, scratch);
      summary.setListedSketch(listed);
    } else summary.numeric = feature.n ? LogHistogram.fromBytes(feature.n, scratch) : null;
    part = 'c';
    summary.categories = feature.c ? CategoryCounter.fromJSON(feature.c) : null;
  } catch (error) {
    throw new PaneMessageError(`${parent}[${JSON.stringify(name)}].${part}`, (error as Error).message);
  }
  summary.nulls = feature.z;
  // the sketch is read (built) only for an older worker's feature without exact counts, never one sent as its values
  summary.exact = exactFromWire(feature.x, feature.x == null ? summary.numeric : null);
  return summary;
}

/** The sketch FeatureWire.r stands for: the exact counts `x` (checked by the codec: they list every value), r's sum and settings, and where to build it. */
function listedValuesFromWire(r: readonly number[], x: ExactValuesWire, scratch: BucketScratch | undefined): UnbuiltListedSketch {
  const defaults = LISTED_SKETCH_DEFAULTS;
  return r.length === 2
    ? { relativeAccuracy: defaults.relativeAccuracy, minIndexable: defaults.minIndexable, maxBuckets: defaults.maxBuckets, center: r[0], values: x.v, counts: x.c, sum: r[1], scratch }
    : { relativeAccuracy: r[2], minIndexable: r[3], maxBuckets: r[4], center: r[0], values: x.v, counts: x.c, sum: r[1], scratch };
}

function exactToWire(exact: ExactValueCounts): ExactValuesWire {
  const { values, counts } = exact.listed();
  return { v: values, c: counts, o: exact.other, f: exact.fractionalOther };
}

/**
 * Exact value counts from the wire. A message of an older worker has none: all its numeric values
 * count as not counted one by one, so a window holding that pane knows its counts are not exact.
 */
function exactFromWire(wire: ExactValuesWire | null | undefined, numeric: LogHistogram | null): ExactValueCounts | null {
  if (wire === null || wire === undefined) {
    if (numeric === null || numeric.count === 0) return null;
    const unknown = new ExactValueCounts(EXACT_VALUES_CAP);
    unknown.other = numeric.count;
    unknown.fractionalOther = numeric.count;
    return unknown;
  }
  const exact = ExactValueCounts.ofDistinct(EXACT_VALUES_CAP, wire.v, wire.c);
  exact.other = wire.o;
  // an older worker's: whether its values were integers is not known
  exact.fractionalOther = wire.f ?? wire.o;
  return exact;
}

export function outcomeToWire(pane: PaneOutcome): PaneOutcomeWire {
  return {
    joined: pane.joined,
    early: pane.early,
    expired: pane.expired,
    correct: pane.correct,
    binary: pane.binary ? summaryToWire(pane.binary) : null,
    regression: pane.regression ? summaryToWire(pane.regression) : null,
    confusion: pane.confusion ? pane.confusion.toJSON() : null,
    labelDelay: pane.labelDelay.toBytes(),
    segments: segmentsToWire(pane.segments),
    detections: Object.fromEntries(pane.detections),
  };
}

/** The pane a wire outcome state describes; checked like inputFromWire. */
export function outcomeFromWire(wire: PaneOutcomeWire, limits: PaneLimits, path = 'state'): PaneOutcome {
  const pane = new PaneOutcome(limits);
  pane.joined = wire.joined;
  pane.early = wire.early;
  pane.expired = wire.expired;
  pane.correct = wire.correct;
  pane.binary = wire.binary
    ? binnedSummaryFromWire(wire.binary, binaryOutcomeLike, limits, `${path}.binary`)
    : null;
  pane.regression = wire.regression ? layoutSummaryFromWire(wire.regression, createRegressionOutcomeSummary(), mergeRegressionOutcome, `${path}.regression`) : null;
  pane.confusion = wire.confusion ? counterFromWire(wire.confusion, `${path}.confusion`) : null;
  pane.labelDelay.merge(histogramFromWire(wire.labelDelay, pane.labelDelay, `${path}.labelDelay`));
  segmentsFromWire(wire.segments, pane.segments, SEGMENT_OUTCOME_WIDTH, `${path}.segments`);
  for (const [kind, n] of Object.entries(wire.detections ?? {})) pane.detections.set(kind, n);
  return pane;
}
