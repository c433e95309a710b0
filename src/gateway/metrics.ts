import { dataQualityOf } from '../window/data-quality.ts';
import type { DataQualityDemand, DriftBins, DriftEntry, ModelMetrics, FairnessSummary, ReferenceSummary } from '../contract/metrics.ts';
import type { WindowAggregate } from '../window/windows.ts';
import type { ReferenceProfile } from '../reference/profile.ts';
import { binCountsOnEdges, onBucketsOf } from '../reference/profile.ts';
import { alignCategoryCounts, evaluateDrift, UNCOUNTED_VALUES_CATEGORY } from '../stats/select.ts';
import type { DriftOptions, DriftTestOverride, FeatureReference, NumericCurrent, NumericReference } from '../stats/select.ts';
import { FeatureSummary } from '../window/pane.ts';
import { qualityOf } from '../window/quality.ts';
import { binaryConfusion, binaryQuality, predictionScoreBins } from '../stats/quality.ts';
import { estimatePerformance } from '../stats/cbpe.ts';
import type { SummaryBucketsRoom } from '../stats/sketch-distance.ts';
import { fairnessOf } from '../window/fairness.ts';

export interface MetricsContext {
  model: string;
  version: string | null;
  window: string;
  windowMs: number;
  from: number;
  to: number;
  reference: ReferenceProfile | null;
  overrides: Readonly<Record<string, DriftTestOverride>>;
  /** Budget for the default significance level of the p-value tests (default 0.5 per million values). */
  falseAlarmsPerMillion?: number;
  /** Largest number of distinct reference values of a discrete numeric feature (default 5). */
  discreteMaxValues?: number;
  /** Times a window is evaluated per window length as it slides (divides the budget's alpha). */
  evaluationsPerWindow?: number;
  /** Drift computed recently for the same window and reference: reused instead of recomputed. */
  drift?: ModelMetrics['drift'];
  /** Wall-clock time of this computation (epoch ms), stamped on fresh drift entries; default Date.now(). */
  now?: number;
  /** Bucket arrays reused by the numeric tests from one computation to the next (see SummaryBucketsRoom). */
  bucketsRoom?: SummaryBucketsRoom;
  /** Numeric references' bins shared by their drift entries (see ReferenceBins); without it, each entry its own. */
  referenceBins?: ReferenceBins;
  /** What of the data quality is built (DataQualityDemand: 'none' leaves `dataQuality` out); default 'full'. */
  dataQuality?: DataQualityDemand;
}

function quantileOrNull(sketch: { count: number; quantile(q: number): number }, q: number): number | null {
  return sketch.count > 0 ? sketch.quantile(q) : null;
}

function shares(counts: ArrayLike<number>): number[] {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  return Array.from(counts, (c) => (total > 0 ? c / total : 0));
}

/** The bins PSI compared, as shares of each side (what the dashboard draws as a histogram). */
function categoricalBins(reference: Iterable<[string, number]>, window: Iterable<[string, number]>): DriftBins {
  const aligned = alignCategoryCounts(new Map(reference), new Map(window));
  return { kind: 'categorical', labels: aligned.categories, reference: shares(aligned.reference), window: shares(aligned.current) };
}

/** A numeric reference's bins as drift entries report them: its inner edges and its shares (ReferenceBins.of). */
interface NumericReferenceBins {
  readonly innerEdges: ArrayLike<number>;
  readonly binCounts: ArrayLike<number>;
  readonly edges: readonly number[];
  readonly shares: readonly number[];
}

/**
 * A numeric reference's inner edges and shares as its drift entries report them (DriftBins):
 * the same for every window and every recomputation against it, so made once per reference feature
 * and shared by its entries (an answer is serialized, never changed). Each entry's own
 * copies were ~0.4 KB per model x feature x window of a gateway holding every window's drift (300
 * models x 30 features x 3 windows, heap snapshot). A reference whose edges or counts are replaced
 * (arrays, not written in place: profile.ts) gets them made again.
 */
export class ReferenceBins {
  private readonly made = new WeakMap<NumericReference, NumericReferenceBins>();

  of(reference: NumericReference): NumericReferenceBins {
    const kept = this.made.get(reference);
    if (kept !== undefined && kept.innerEdges === reference.innerEdges && kept.binCounts === reference.binCounts) return kept;
    const made: NumericReferenceBins = {
      innerEdges: reference.innerEdges,
      binCounts: reference.binCounts,
      // not frozen: a frozen array of doubles holds each as a heap number of its own (V8's frozen
      // elements are tagged), 19 per reference feature for marking to visit; readonly by type
      edges: Array.from(reference.innerEdges),
      shares: shares(reference.binCounts),
    };
    this.made.set(reference, made);
    return made;
  }
}

/** `bins`: the reference bins shared by the entries of a view (ReferenceBins); without it, each entry its own. */
export function driftOf(reference: FeatureReference, summary: FeatureSummary, options: DriftOptions, bins?: ReferenceBins): DriftEntry | null {
  try {
    if (reference.type === 'numeric') {
      if (summary.numeric === null || summary.numeric.count === 0) return null;
      // The window on the reference's buckets (rebinned when its center differs): KS and Wasserstein
      // see the same bucket edges on both sides.
      const onReferenceBuckets = onBucketsOf(summary.numeric, reference.summary, summary.exact);
      // PSI on the reference's bins, counted from a sketch (a value within one bucket width of an edge
      // may fall on either side): on the reference's buckets when its bins came from its sketch, so
      // identical data gives identical bins even where an edge runs through an atom (a replica holding
      // the window on another center); else from the window's own sketch, centered in its own data.
      const binCounts = binCountsOnEdges(reference.binsFromSummary === true ? onReferenceBuckets : summary.numeric, reference.innerEdges);
      const current: NumericCurrent = { type: 'numeric', summary: onReferenceBuckets, binCounts };
      // exact per-value counts: a discrete feature (few reference values) is tested on them
      if (summary.exact !== null) current.exactCounts = { counts: summary.exact.counts, other: summary.exact.other };
      const entry = evaluateDrift(reference, current, options);
      if (entry === null) return null;
      if (entry.type === 'discrete' && reference.exactCounts !== undefined && current.exactCounts !== undefined) {
        const windowValues: Array<[string, number]> = [...current.exactCounts.counts].map(([v, n]) => [String(v), n]);
        if (current.exactCounts.other > 0) windowValues.push([UNCOUNTED_VALUES_CATEGORY, current.exactCounts.other]);
        entry.bins = categoricalBins([...reference.exactCounts].map(([v, n]) => [String(v), n]), windowValues);
      } else {
        const shared = bins?.of(reference);
        entry.bins = {
          kind: 'numeric',
          edges: shared?.edges ?? Array.from(reference.innerEdges),
          reference: shared?.shares ?? shares(reference.binCounts),
          window: shares(binCounts),
        };
      }
      return entry;
    }
    if (summary.categories === null || summary.categories.total === 0) return null;
    const windowCounts = new Map(summary.categories.entries());
    const entry = evaluateDrift(reference, { type: 'categorical', counts: windowCounts }, options);
    if (entry !== null) entry.bins = categoricalBins(reference.counts instanceof Map ? (reference.counts as ReadonlyMap<string, number>).entries() : Object.entries(reference.counts), windowCounts);
    return entry;
  } catch {
    // the feature changed type against its reference: report no statistic rather than a wrong one
    return null;
  }
}

type Drift = ModelMetrics['drift'];

/** Drift with no statistic: no reference, or no data. */
export function emptyDrift(reference: ReferenceProfile | null): Drift {
  return { reference: reference?.id ?? null, output: null, features: {} };
}

/** What a drift computation needs of MetricsContext. */
export type DriftContext = Pick<MetricsContext, 'overrides' | 'falseAlarmsPerMillion' | 'evaluationsPerWindow' | 'discreteMaxValues' | 'bucketsRoom' | 'referenceBins'>;

/**
 * A window's drift against `reference`, computed a feature at a time: each call computes the next
 * feature (the output first) and returns the drift once every feature has its entry, `undefined`
 * before. At 30 features a window's drift took up to 50 ms in one block (an exact KS p-value of a
 * few thousand values against a busy window is 1-3 ms per feature), which the gateway's REST
 * requests waited behind; a caller may yield between steps. Each step reads the window as it is
 * then: `input` is live, so a pane applied between steps shows in the features after it.
 */
export function driftSteps(input: WindowAggregate['input'], reference: ReferenceProfile, ctx: DriftContext, clock: () => number = Date.now): () => Drift | undefined {
  const drift = emptyDrift(reference);
  const optionsFor = (override: DriftTestOverride | undefined): DriftOptions => ({
    override,
    falseAlarmsPerMillion: ctx.falseAlarmsPerMillion,
    evaluationsPerWindow: ctx.evaluationsPerWindow,
    discreteMaxValues: ctx.discreteMaxValues,
    bucketsRoom: ctx.bucketsRoom,
  });
  const names = Object.keys(reference.features);
  let next = reference.output !== null ? -1 : 0;
  return () => {
    if (next === -1) {
      // a numeric output with few distinct values is discrete like a feature: exact counts decide
      const outputSummary = new FeatureSummary();
      outputSummary.numeric = input.outputNumeric;
      outputSummary.exact = input.outputExact;
      outputSummary.categories = input.outputCategories;
      drift.output = driftOf(reference.output!, outputSummary, optionsFor(ctx.overrides.output), ctx.referenceBins);
      next = 0;
    } else if (next < names.length) {
      const name = names[next++];
      const summary = input.features.get(name);
      if (summary !== undefined) {
        const entry = driftOf(reference.features[name], summary, optionsFor(ctx.overrides[name]), ctx.referenceBins);
        if (entry !== null) drift.features[name] = entry;
      }
    }
    if (next < names.length) return undefined;
    // freshness: reused drift keeps these, so a reader can tell it describes an earlier state
    const computedAt = clock();
    if (drift.output !== null) stamp(drift.output, computedAt, input.count);
    for (const name in drift.features) stamp(drift.features[name], computedAt, input.count);
    return drift;
  };
}

function stamp(entry: DriftEntry, computedAt: number, computedOn: number): void {
  entry.computedAt = computedAt;
  entry.computedOn = computedOn;
}

function runSteps(step: () => Drift | undefined): Drift {
  for (;;) {
    const drift = step();
    if (drift !== undefined) return drift;
  }
}

/** Everything the REST API, the WebSocket feed and the alert rules see for one window. */
export function buildModelMetrics(aggregate: WindowAggregate | undefined, ctx: MetricsContext): ModelMetrics {
  const input = aggregate?.input;
  const outcome = aggregate?.outcome;
  const count = input?.count ?? 0;
  const errors = input?.errors ?? 0;
  const joined = outcome?.joined ?? 0;
  const expired = outcome?.expired ?? 0;
  const reference = ctx.reference;

  let drift = ctx.drift;
  if (drift === undefined) {
    const steps = input !== undefined && reference !== null ? driftSteps(input, reference, ctx, () => ctx.now ?? Date.now()) : null;
    drift = steps === null ? emptyDrift(reference) : runSteps(steps);
  }

  let fairness: Record<string, FairnessSummary> | undefined;
  if (input !== undefined && input.segments.size > 0) fairness = fairnessOf(input, outcome);

  const latency = input?.latency;
  const quality = outcome ? qualityOf(outcome) : { labeled: 0, accuracy: null };
  // CBPE: performance expected from the scores alone, through the reference's calibration map
  const estimated = input?.scores ? estimatePerformance(predictionScoreBins(input.scores), reference?.scoreCalibration ?? null) : null;
  if (estimated !== null && estimated.count > 0) {
    quality.estimatedPrecision = estimated.precision;
    quality.estimatedRecall = estimated.recall;
    quality.estimatedF1 = estimated.f1;
    quality.estimatedAuc = estimated.auc;
    quality.estimatedOn = estimated.count;
  }
  const metrics: ModelMetrics = {
    model: ctx.model,
    version: ctx.version,
    window: ctx.window,
    windowMs: ctx.windowMs,
    from: ctx.from,
    to: ctx.to,
    count,
    errors,
    errorRate: count > 0 ? errors / count : null,
    late: input?.late ?? 0,
    latency: {
      p50: latency ? quantileOrNull(latency, 0.5) : null,
      p95: latency ? quantileOrNull(latency, 0.95) : null,
      p99: latency ? quantileOrNull(latency, 0.99) : null,
      mean: latency && latency.count > 0 ? latency.sum / latency.count : null,
    },
    accuracy: quality.accuracy,
    quality,
    estimatedAccuracy: estimated?.accuracy ?? null,
    labelCoverage: count > 0 ? joined / count : null,
    labels: { joined, pending: Math.max(0, count - joined - expired), expired, early: outcome?.early ?? 0 },
    labelDelayMs: {
      p50: outcome ? quantileOrNull(outcome.labelDelay, 0.5) : null,
      p95: outcome ? quantileOrNull(outcome.labelDelay, 0.95) : null,
    },
    drift,
    reference: reference ? referenceSummaryOf(reference) : null,
    detectors: outcome ? Object.fromEntries([...outcome.detections].filter(([, n]) => n > 0)) : {},
    fairness,
  };
  const dataQuality = ctx.dataQuality ?? 'full';
  if (dataQuality !== 'none') metrics.dataQuality = dataQualityOf(input, reference, dataQuality === 'full');
  return metrics;
}

/**
 * What quality rules compare with: the reference's accuracy, error rate and latency, and for
 * labelled binary scores its F1, AUC and confusion counts, computed from its score histogram as a
 * window's are (binaryQuality), so both sides of a comparison are the same statistic.
 */
export function referenceSummaryOf(reference: ReferenceProfile): ReferenceSummary {
  const summary: ReferenceSummary = { id: reference.id, accuracy: reference.accuracy, labeled: reference.labeled ?? null, errorRate: reference.errorRate, latencyP99: reference.latencyP99 };
  const calibration = reference.calibration;
  if (calibration !== null && calibration !== undefined) {
    const binary = binaryQuality(calibration);
    const { tp, fp, fn, tn } = binaryConfusion(calibration);
    summary.f1 = binary.f1 ?? null;
    summary.auc = binary.auc ?? null;
    summary.confusion = { tp, fp, fn, tn };
  }
  return summary;
}
