import type { DataQualitySummary, FeatureDataQuality } from '../contract/metrics.ts';
import type { CategoricalReference, CategoryCounts, FeatureReference, NumericReference } from '../stats/select.ts';
import { categoryNovelty, hasVanished, missingShare, shareOf } from '../stats/data-quality.ts';
import { LogHistogram } from '../sketch/log-histogram.ts';
import type { QuantileSummary } from '../sketch/types.ts';
import type { FeatureSummary, PaneInput } from './pane.ts';

/**
 * Data quality of a window's features against a reference profile, from what the window already
 * holds: its prediction count, and per feature the null count, the numeric sketch and the category
 * counts. A feature absent from an event leaves no trace in the pane, so "missing" is the window's
 * predictions less the feature's non-null values; a string sent for a numeric feature (or a number
 * for a categorical one) is already counted apart from the other type by the pane. The one count
 * kept for data quality alone is PaneInput.invalidFeatures: values of a type no feature can have
 * (a boolean, an array), which the worker takes out of their event instead of rejecting it.
 *
 * Out-of-range shares are read on the reference's sketch buckets (the window's sketch is rebinned
 * onto them): a window value counts as outside when its bucket lies wholly beyond the bucket of the
 * reference's extreme, so identical data gives exactly 0, and only values within one bucket of the
 * bound (about 2 x featureRelativeAccuracy x their distance to the center, 1 % at the default) can
 * be counted inside when they are just outside: the share is never overstated by the sketch.
 */

/**
 * What data quality reads of a reference profile (src/reference/profile.ts's ReferenceProfile has
 * it; the reference layer builds on this one, so it is named here, not imported).
 */
export interface QualityReference {
  id: string;
  /** Rows (predictions) the profile was built from. */
  count: number;
  features: Readonly<Record<string, FeatureReference>>;
}

/**
 * An empty string counts as missing, as in a training file (profileFromRows skips it): a window
 * and a reference built from the same rows then agree.
 */
const EMPTY_CATEGORY = '';

/** Non-null, non-empty values of a feature in a window. */
function valuesOf(summary: FeatureSummary | undefined): { numeric: number; categorical: number } {
  const categories = summary?.categories;
  const categorical = categories ? categories.total - categories.get(EMPTY_CATEGORY) : 0;
  return { numeric: summary?.numeric?.count ?? 0, categorical };
}

/** Values the reference holds for a feature (its rows with a value). */
function referenceValues(reference: FeatureReference): number {
  if (reference.type === 'numeric') return reference.count;
  let total = 0;
  for (const [category, count] of countEntries(reference.counts)) if (category !== EMPTY_CATEGORY) total += count;
  return total;
}

/** A reference's category counts (a Map, or a plain record from an older profile) as pairs. */
function countEntries(counts: CategoryCounts): Iterable<[string, number]> {
  return counts instanceof Map ? (counts as ReadonlyMap<string, number>).entries() : Object.entries(counts);
}

/**
 * Share of the window's numeric values outside the reference's q and 1 - q quantiles. On a
 * reference sketch of buckets, a window value is outside when it would land (rebinnedLike, as the
 * drift statistics compare them) in a bucket beyond the bucket of the bound: its bucket
 * representative lies outside that bucket's range. Both sketches are read from their ends inwards
 * only as far as the bounds, so the cost is the tails, not every bucket (data quality is computed
 * with every metrics build). Another summary: its quantiles are the bounds.
 */
function shareOutside(window: LogHistogram, reference: QuantileSummary, q: number): number | null {
  let low: number;
  let high: number;
  if (reference instanceof LogHistogram) {
    // a reference does not change: its bounds are found once (tailBucketBounds keeps them)
    const bounds = reference.tailBucketBounds(q);
    low = bounds[0];
    high = bounds[1];
  } else {
    low = reference.quantile(q);
    high = reference.quantile(1 - q);
  }
  if (Number.isNaN(low) || Number.isNaN(high)) return null;
  return shareOf(window.weightOutside(low, high), window.count);
}

/**
 * The shares below are written into the feature's entry rather than returned in objects of their
 * own: every metrics build (each rule evaluation of each changed model) makes one entry per
 * feature, and what it made besides was most of what the gateway moved to its old heap.
 */
function setNumericShares(quality: FeatureDataQuality, window: LogHistogram | null, reference: NumericReference): void {
  const summary = reference.summary;
  if (window === null || window.count <= 0 || !(summary.count > 0)) return;
  quality.outOfRangeShare = shareOutside(window, summary, 0);
  quality.outOfQuantileShare = shareOutside(window, summary, 0.001);
}

function setCategoricalShares(quality: FeatureDataQuality, window: FeatureSummary | undefined, reference: CategoricalReference): void {
  const categories = window?.categories;
  if (categories === null || categories === undefined || categories.total - categories.get(EMPTY_CATEGORY) <= 0) return;
  // categoryNovelty orders the new categories it lists: the window's are read as they are held
  const entries = categories.unorderedEntries();
  const empty = entries.findIndex(([category]) => category === EMPTY_CATEGORY);
  if (empty >= 0) entries.splice(empty, 1);
  // a profile's counts are a Map (profile.ts), read as they are; a plain record (an older profile) copied
  const referenceCounts = reference.counts instanceof Map ? (reference.counts as ReadonlyMap<string, number>) : new Map(countEntries(reference.counts));
  const novelty = categoryNovelty(entries, referenceCounts);
  quality.newCategoryShare = novelty.newShare;
  quality.unknownCategoryShare = novelty.unknownShare;
  quality.newCategories = novelty.newCategories;
}

function featureQuality(
  events: number,
  window: FeatureSummary | undefined,
  invalid: number,
  reference: FeatureReference | undefined,
  referenceRows: number,
  ranges: boolean,
): FeatureDataQuality {
  const { numeric, categorical } = valuesOf(window);
  const values = numeric + categorical;
  // a value of a type no feature can have was sent: wrong, not missing
  const missing = missingShare(events, values + invalid);
  const referencePresent = reference === undefined ? 0 : referenceValues(reference);
  const referenceMissing = reference === undefined ? null : missingShare(referenceRows, Math.min(referencePresent, referenceRows));
  const quality: FeatureDataQuality = {
    values,
    missingShare: missing,
    referenceMissingShare: referenceMissing,
    missingIncrease: missing !== null && referenceMissing !== null ? missing - referenceMissing : null,
    wrongTypeShare: shareOf(invalid, values + invalid),
    newCategoryShare: null,
    unknownCategoryShare: null,
    newCategories: [],
    outOfRangeShare: null,
    outOfQuantileShare: null,
    appeared: reference === undefined && values > 0,
    vanished: reference !== undefined && hasVanished(shareOf(referencePresent, referenceRows) ?? 0, referenceRows, events, values + invalid),
  };
  if (reference === undefined) return quality;
  if (reference.type === 'numeric') {
    quality.wrongTypeShare = shareOf(categorical + invalid, values + invalid);
    if (ranges) setNumericShares(quality, window?.numeric ?? null, reference);
  } else {
    quality.wrongTypeShare = shareOf(numeric + invalid, values + invalid);
    setCategoricalShares(quality, window, reference);
  }
  return quality;
}

/**
 * The window's data quality against `reference` (null: only missing shares, nothing appears or
 * vanishes). `ranges` false: the numeric out-of-range and out-of-quantile shares are left null (a
 * reader that does not look at them: the alert rules on missing values and categories evaluated
 * for every changed model, where they were two thirds of the data quality's work).
 */
export function dataQualityOf(input: PaneInput | undefined, reference: QualityReference | null, ranges = true): DataQualitySummary {
  const summary: DataQualitySummary = { reference: reference?.id ?? null, appeared: [], vanished: [], features: {} };
  const events = input?.count ?? 0;
  if (input === undefined || events <= 0) return summary;
  input.settleCenters();
  const invalidFeatures = input.invalidFeatures;
  const names = new Set<string>(input.features.keys());
  if (invalidFeatures !== null) for (const name of invalidFeatures.keys()) names.add(name);
  if (reference !== null) for (const name of Object.keys(reference.features)) names.add(name);
  for (const name of [...names].sort()) {
    const featureReference = reference === null ? undefined : Object.hasOwn(reference.features, name) ? reference.features[name] : undefined;
    const window = input.features.get(name);
    const invalid = invalidFeatures?.get(name) ?? 0;
    const quality = featureQuality(events, window, invalid > 0 ? invalid : 0, featureReference, reference?.count ?? 0, ranges);
    // without a reference a feature neither appears nor vanishes: there is nothing to compare with
    if (reference === null) quality.appeared = false;
    if (window === undefined && invalid <= 0 && input.dropped > 0) {
      // the panes dropped features beyond limits.maxFeatures (or segments beyond their caps): one
      // they never tracked may have been sent all along, so its absence says nothing
      quality.missingShare = null;
      quality.missingIncrease = null;
      quality.vanished = false;
    }
    summary.features[name] = quality;
    if (quality.appeared) summary.appeared.push(name);
    if (quality.vanished) summary.vanished.push(name);
  }
  return summary;
}
