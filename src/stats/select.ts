/**
 * The default drift-test rule and the function that turns a reference profile plus the current
 * window of one feature (or the model output) into a `DriftEntry`.
 *
 * Default rule (Evidently's, with three deliberate refinements):
 * - reference of at most 1000 values (`smallReferenceMax`):
 *     numeric     -> 'ks': two-sample Kolmogorov–Smirnov, drift when p <= alpha;
 *     categorical -> 'z' (two-proportion Z-test) when the reference and current together have
 *                    exactly 2 categories, else 'chi2', drift when p <= alpha;
 * - larger reference:
 *     numeric     -> 'wasserstein_normed' (W1 / reference population std) >= 0.1, confirmed by KS
 *                    p <= alpha;
 *     categorical -> 'jensen_shannon' (natural-log distance on category shares, as Evidently) >= 0.1, confirmed by
 *                    chi2 p <= alpha.
 * - a numeric feature whose reference holds at most `discreteMaxValues` (default 5, Evidently's)
 *   distinct values, counted exactly on both sides (NumericReference.exactCounts,
 *   NumericCurrent.exactCounts), is 'discrete': the categorical rule and tests on the counts per value;
 * - 'psi' (threshold 0.2, on the reference decile bins or on the categories) is always computed,
 *   and so is every other statistic that applies to the type, so dashboards and alert rules can
 *   use any of them; only `primary` (and `confirmedBy`, when set) decides `drift`.
 *
 * Refinements:
 * 1. alpha, the significance level of every p-value test, spends a false-alarm budget: with
 *    `falseAlarmsPerMillion` = 0.5 (the default) a window of n values gets
 *    alpha = min(0.05, 0.5 n / 1e6), so evaluating every window of a stationary stream raises
 *    about half a false alarm per million values on average, whatever the window length (under
 *    the target of one). Evidently's fixed 0.05 is right for one batch comparison, not for a test
 *    repeated on every window of a stream: on 1m windows of 1000 events it alarms on ~5 % of
 *    them, ~50 per million events (bench/detection.ts). A 0.5 sigma shift in a window of 1000
 *    still has a KS statistic of ~0.2 against a critical value of ~0.09 at alpha = 0.0005, so
 *    detection within the first whole window after a change is kept. A threshold set explicitly
 *    (`thresholds`, `override.threshold`) is used as given.
 *    When the same window is re-evaluated as it slides (`evaluationsPerWindow` times per window
 *    length; the gateway does so every windowMs / 60, at least 1 s and at most 10 s), alpha is
 *    divided by that count: the union bound then keeps the false verdicts per million values
 *    within the budget however much consecutive windows overlap. Without it, sliding 1m windows of
 *    1000 events re-evaluated 60 times each gave ~3.6 false-drift episodes per million events.
 * 2. The effect-size rule for large references also needs the change to be significant
 *    (`confirmedBy`): on a small window the effect size alone alarms on sampling noise (normed
 *    Wasserstein >= 0.1 on ~0.3 % of stationary 1000-event windows), while on a large window
 *    significance alone flags practically irrelevant shifts — the reason Evidently switches to an
 *    effect size. Requiring both keeps each test's strength.
 * 3. 'chi2' is the 2 x k contingency test (reference and current both treated as samples, which
 *    is right for a small reference, and well-defined when a category is new); Evidently's
 *    goodness-of-fit form is reported as 'chi2_gof'.
 * Thresholds are inclusive (p <= t, distance >= t).
 *
 * The tests themselves (statistic, p-value or effect size, default threshold, feature types) are
 * defined one per file in drift-tests/ and listed once in drift-tests/registry.ts; this module
 * prepares the samples, runs every registered test that applies and applies the rule above.
 *
 * Exactness: KS and Wasserstein are computed on raw values when the reference's raw sample holds
 * every reference value and a raw current sample is given (exact, SciPy-equal), else from the two
 * quantile summaries (every value of both sides, at the sketches' fidelity) with the bounds
 * documented in sketch-distance.ts; a subsample of a larger reference never decides them.
 */
import type { QuantileSummary } from '../sketch/types.ts';
import type { DriftEntry, DriftTestResult } from '../contract/metrics.ts';
import { binCounts as binCountsOf, quantileEdges as quantileEdgesOf } from './distribution.ts';
import { binCountsFromSummary, checkComparable, summaryBuckets, walkBuckets } from './sketch-distance.ts';
import type { BucketWalk } from './sketch-distance.ts';
import type { SummaryBucketsRoom } from './sketch-distance.ts';
import type { SummaryBuckets } from './sketch-distance.ts';
import { DRIFT_TESTS, driftTestsFor, type DriftTestName } from './drift-tests/registry.ts';
import type { CategoricalSamples, DriftMeasurement, NumericSamples } from './drift-tests/types.ts';

export { DRIFT_TEST_NAMES, DRIFT_TESTS, driftTestDefinition, isDriftTestName, type DriftTestName } from './drift-tests/registry.ts';

/** Tests that produce a p-value: drift when pValue <= threshold. The others: statistic >= threshold. */
export const P_VALUE_TESTS: ReadonlySet<DriftTestName> = new Set(
  DRIFT_TESTS.filter((test) => test.decision === 'p-value').map((test) => test.name),
);

export const NUMERIC_DRIFT_TESTS: readonly DriftTestName[] = driftTestsFor('numeric').map((test) => test.name);
export const CATEGORICAL_DRIFT_TESTS: readonly DriftTestName[] = driftTestsFor('categorical').map((test) => test.name);

export const DEFAULT_DRIFT_THRESHOLDS = Object.fromEntries(
  DRIFT_TESTS.map((test) => [test.name, test.defaultThreshold]),
) as Readonly<Record<DriftTestName, number>>;

/** Largest significance level the false-alarm budget grants (Evidently's fixed level). */
export const MAX_SIGNIFICANCE = 0.05;

/**
 * Default false-alarm budget of the p-value tests, per million evaluated values: half the target
 * of one, because a test whose p-value is exact (chi-squared) spends its alpha in full on average.
 */
export const DEFAULT_FALSE_ALARMS_PER_MILLION = 0.5;

/**
 * Significance level for a window of `count` values under a budget of `falseAlarmsPerMillion`:
 * a stream cut into such windows is tested 1e6 / count times per million values, so each test may
 * spend count / 1e6 of the budget (capped at MAX_SIGNIFICANCE).
 */
export function budgetSignificance(
  count: number,
  falseAlarmsPerMillion = DEFAULT_FALSE_ALARMS_PER_MILLION,
  evaluationsPerWindow = 1,
): number {
  return Math.min(MAX_SIGNIFICANCE, (falseAlarmsPerMillion * count) / (1e6 * evaluationsPerWindow));
}

/** Reference of at most this many values counts as "small" (p-value tests). */
export const SMALL_REFERENCE_MAX = 1000;

export type CategoryCounts = Readonly<Record<string, number>> | ReadonlyMap<string, number>;

export interface NumericReference {
  type: 'numeric';
  /** Reference profile id, copied into DriftEntry.reference. */
  id: string;
  /** Number of values the reference was built from. */
  count: number;
  /** Sketch of all reference values (same relative accuracy as the window sketches). */
  summary: QuantileSummary;
  /** Population std (ddof = 0) of the reference values; Wasserstein is normed by it. */
  std: number;
  /** Ascending inner edges of the PSI bins (9 decile edges from quantileEdges(values, 10)). */
  innerEdges: ArrayLike<number>;
  /** Reference counts in the innerEdges.length + 1 bins (binCounts(values, innerEdges)). */
  binCounts: ArrayLike<number>;
  /** Optional raw reference values (at most ~1000, e.g. a seeded subsample) for exact KS/W1. */
  sample?: ArrayLike<number>;
  /**
   * Exact count per distinct value, kept when the reference holds few distinct values: with at most
   * `discreteMaxValues` of them the feature is discrete and is tested on these counts.
   */
  exactCounts?: ReadonlyMap<number, number>;
  /**
   * Whether `binCounts` were counted from `summary` (a window capture, or edges that repeat) rather
   * than from the values: a window's bins are then counted on the same buckets, so identical data
   * gives identical bins; otherwise from the window's own, finer-placed sketch.
   */
  binsFromSummary?: boolean;
}

export interface NumericCurrent {
  type: 'numeric';
  /** Sketch of the current window's values. */
  summary: QuantileSummary;
  /** Exact counts on the reference's bins, when panes keep them (else derived from the sketch). */
  binCounts?: ArrayLike<number>;
  /** Optional raw current values (small windows), enabling exact KS/W1 with reference.sample. */
  sample?: ArrayLike<number>;
  /**
   * Exact count per distinct value of the window (`counts`) and how many values were not counted
   * one by one (`other`); a discrete feature is tested on them when present.
   */
  exactCounts?: { counts: ReadonlyMap<number, number>; other: number };
}

export interface CategoricalReference {
  type: 'categorical';
  id: string;
  /** Count per category (a capped top-k plus e.g. '__other__' is fine: keys just have to match). */
  counts: CategoryCounts;
}

export interface CategoricalCurrent {
  type: 'categorical';
  counts: CategoryCounts;
}

export type FeatureReference = NumericReference | CategoricalReference;
export type FeatureWindow = NumericCurrent | CategoricalCurrent;

export interface DriftTestOverride {
  /** The test that decides drift for this feature instead of the default rule. */
  test: DriftTestName;
  /** Its threshold (default DEFAULT_DRIFT_THRESHOLDS[test]). */
  threshold?: number;
}

export interface DriftOptions {
  /** Per-feature choice of the deciding test. */
  override?: DriftTestOverride;
  /** Thresholds replacing the defaults for this evaluation (override.threshold wins for its test). */
  thresholds?: Partial<Record<DriftTestName, number>>;
  /** Largest reference size treated as small (default 1000). */
  smallReferenceMax?: number;
  /**
   * False alarms per million evaluated values that the default significance level of the p-value
   * tests may spend (default 0.5; see budgetSignificance). Ignored for a test whose threshold is set
   * explicitly.
   */
  falseAlarmsPerMillion?: number;
  /**
   * How many times a window is evaluated per window length as it slides (default 1: windows that
   * do not overlap); the budget's alpha is divided by it.
   */
  evaluationsPerWindow?: number;
  /**
   * A numeric feature whose reference holds at most this many distinct values (default 5, as
   * Evidently) is discrete: counted per value and tested with the categorical tests.
   */
  discreteMaxValues?: number;
  /**
   * Where the numeric tests collect both summaries' buckets (see SummaryBucketsRoom): reused from
   * one evaluation to the next by a caller that runs them one at a time; allocated anew without it.
   */
  bucketsRoom?: SummaryBucketsRoom;
}

/** Default largest number of distinct reference values of a discrete numeric feature (Evidently's). */
export const DEFAULT_DISCRETE_MAX_VALUES = 5;

/** Category under which a discrete window's values that were not counted one by one are tested. */
export const UNCOUNTED_VALUES_CATEGORY = '__other__';

/** The p-value test that must agree with an effect-size primary chosen by the default rule. */
export function confirmingTest(type: 'numeric' | 'categorical'): DriftTestName {
  return type === 'numeric' ? 'ks' : 'chi2';
}

/** The test the default rule picks for a feature type and reference size. */
export function defaultDriftTest(
  type: 'numeric' | 'categorical',
  referenceCount: number,
  categoryCount = 0,
  smallReferenceMax = SMALL_REFERENCE_MAX,
): DriftTestName {
  const small = referenceCount <= smallReferenceMax;
  if (type === 'numeric') return small ? 'ks' : 'wasserstein_normed';
  if (!small) return 'jensen_shannon';
  return categoryCount === 2 ? 'z' : 'chi2';
}

/** Throws when an override names a test that does not apply to the feature type. */
export function validateDriftOverride(type: 'numeric' | 'categorical', override: DriftTestOverride): void {
  const allowed = type === 'numeric' ? NUMERIC_DRIFT_TESTS : CATEGORICAL_DRIFT_TESTS;
  if (!allowed.includes(override.test)) {
    throw new RangeError(
      `drift override: test '${override.test}' does not apply to a ${type} feature (use one of ${allowed.join(', ')})`,
    );
  }
  if (override.threshold !== undefined && !(Number.isFinite(override.threshold) && override.threshold >= 0)) {
    throw new RangeError(`drift override: threshold for '${override.test}' must be a finite number >= 0`);
  }
}

function thresholdFor(test: DriftTestName, count: number, options: DriftOptions | undefined): number {
  if (options?.override?.test === test && options.override.threshold !== undefined) {
    return options.override.threshold;
  }
  const explicit = options?.thresholds?.[test];
  if (explicit !== undefined) return explicit;
  if (!P_VALUE_TESTS.has(test)) return DEFAULT_DRIFT_THRESHOLDS[test];
  const budget = options?.falseAlarmsPerMillion ?? DEFAULT_FALSE_ALARMS_PER_MILLION;
  if (!(budget > 0 && Number.isFinite(budget))) {
    throw new RangeError(`drift options: falseAlarmsPerMillion must be a finite number > 0, got ${budget}`);
  }
  const evaluations = options?.evaluationsPerWindow ?? 1;
  if (!(evaluations >= 1 && Number.isFinite(evaluations))) {
    throw new RangeError(`drift options: evaluationsPerWindow must be a finite number >= 1, got ${evaluations}`);
  }
  return Math.min(DEFAULT_DRIFT_THRESHOLDS[test], budgetSignificance(count, budget, evaluations));
}

function result(test: DriftTestName, measured: DriftMeasurement, count: number, options: DriftOptions | undefined): DriftTestResult {
  const threshold = thresholdFor(test, count, options);
  const isPValueTest = P_VALUE_TESTS.has(test);
  const drift = (isPValueTest ? (measured.pValue as number) <= threshold : measured.statistic >= threshold) === true;
  const { statistic, pValue, errorBound } = measured;
  // each shape as one literal, the keys in the order they are written out: a key added after the
  // literal goes to an array of its own (a V8 PropertyArray), one more object per result for as
  // long as its drift entry is cached (11,340 of a 60-model gateway's 25,506: heap snapshot)
  if (isPValueTest) {
    return errorBound === undefined ? { test, statistic, threshold, drift, pValue } : { test, statistic, threshold, drift, pValue, errorBound };
  }
  return errorBound === undefined ? { test, statistic, threshold, drift } : { test, statistic, threshold, drift, errorBound };
}

function totalOf(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  return total;
}

function entries(counts: CategoryCounts): Iterable<[string, number]> {
  return counts instanceof Map ? counts.entries() : Object.entries(counts);
}

/** Aligns two category-count maps on the sorted union of their categories. */
export function alignCategoryCounts(
  reference: CategoryCounts,
  current: CategoryCounts,
): { categories: string[]; reference: Float64Array; current: Float64Array } {
  const index = new Map<string, number>();
  for (const [key] of entries(reference)) index.set(key, 0);
  for (const [key] of entries(current)) index.set(key, 0);
  const categories = [...index.keys()].sort();
  categories.forEach((key, i) => index.set(key, i));
  const ref = new Float64Array(categories.length);
  const cur = new Float64Array(categories.length);
  for (const [key, value] of entries(reference)) {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`reference count of category '${key}' is ${value}, expected a finite count >= 0`);
    }
    ref[index.get(key) as number] += value;
  }
  for (const [key, value] of entries(current)) {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`current count of category '${key}' is ${value}, expected a finite count >= 0`);
    }
    cur[index.get(key) as number] += value;
  }
  return { categories, reference: ref, current: cur };
}

/*
 * A drift entry and its `tests` are made by constructors, not as literals: V8 sizes a
 * constructor's objects to the most properties its instances were given (slack tracking), so the
 * fields added later (a fifth test; confirmedBy, and the bins and stamps the gateway adds) stay in
 * the object. A literal keeps the slots it was written with and puts the rest in a PropertyArray:
 * two more objects per feature and window of the drift a gateway holds (11,000 at 60 models x 30
 * features, heap snapshot), each visited by every full collection's marking. Keys and their order
 * are a literal's.
 */

/** A drift entry's `tests`, by test name. */
class TestResults {
  [test: string]: DriftTestResult;
}

// fields declared only (`declare`): a declared field is defined on every instance, as undefined
// until set, which would put confirmedBy, bins and the stamps in every entry's keys
class Entry implements DriftEntry {
  declare type: DriftEntry['type'];
  declare count: number;
  declare reference: string;
  declare primary: string;
  declare confirmedBy?: string;
  declare drift: boolean;
  declare tests: Record<string, DriftTestResult>;

  constructor(type: DriftEntry['type'], count: number, reference: string, primary: string, drift: boolean, tests: Record<string, DriftTestResult>) {
    this.type = type;
    this.count = count;
    this.reference = reference;
    this.primary = primary;
    this.drift = drift;
    this.tests = tests;
  }
}

function finish(
  type: 'numeric' | 'categorical' | 'discrete',
  count: number,
  referenceId: string,
  primary: DriftTestName,
  tests: Record<string, DriftTestResult>,
  byDefaultRule: boolean,
): DriftEntry {
  const entry: DriftEntry = new Entry(type, count, referenceId, primary, tests[primary].drift, tests);
  if (byDefaultRule && !P_VALUE_TESTS.has(primary)) {
    const confirmedBy = confirmingTest(type === 'discrete' ? 'categorical' : type);
    entry.confirmedBy = confirmedBy;
    entry.drift = entry.drift && tests[confirmedBy].drift;
  }
  return entry;
}

function evaluateNumeric(
  reference: NumericReference,
  current: NumericCurrent,
  options: DriftOptions | undefined,
): DriftEntry | null {
  const count = current.sample !== undefined ? current.sample.length : current.summary.count;
  if (!(count > 0)) return null;
  if (reference.binCounts.length !== reference.innerEdges.length + 1) {
    throw new RangeError(
      `numeric reference '${reference.id}': binCounts has ${reference.binCounts.length} bins but innerEdges ` +
        `define ${reference.innerEdges.length + 1}`,
    );
  }
  let buckets: { reference: SummaryBuckets; current: SummaryBuckets } | undefined;
  let walk: BucketWalk | undefined;
  const samples: NumericSamples = {
    referenceBins: reference.binCounts,
    currentBins: current.binCounts ?? binCountsFromSummary(current.summary, reference.innerEdges),
    referenceStd: reference.std,
    referenceSummary: reference.summary,
    currentSummary: current.summary,
    summaryBuckets: () => {
      if (buckets === undefined) {
        checkComparable('numeric drift', reference.summary, current.summary);
        const room = options?.bucketsRoom;
        buckets = { reference: summaryBuckets(reference.summary, 'reference summary', room?.reference), current: summaryBuckets(current.summary, 'current summary', room?.current) };
      }
      return buckets;
    },
    bucketWalk: () => {
      if (walk === undefined) {
        const both = samples.summaryBuckets();
        walk = walkBuckets(both.reference, both.current, reference.summary.center ?? 0, current.summary.center ?? 0);
      }
      return walk;
    },
    threshold: (test) => thresholdFor(test as DriftTestName, count, options),
  };
  // Raw values decide only when the reference's sample is all of it: a subsample of a larger
  // reference (the 1000 values kept for small-sample tests) would let its sampling noise decide
  // KS and Wasserstein; the reference sketch holds every value at the windows' fidelity.
  if (reference.sample !== undefined && reference.sample.length > 0 && reference.sample.length >= reference.count && current.sample !== undefined) {
    samples.raw = { reference: reference.sample, current: current.sample };
  }
  const tests = new TestResults();
  for (const test of DRIFT_TESTS) {
    if (test.numeric !== undefined) tests[test.name] = result(test.name, test.numeric(samples), count, options);
  }

  if (options?.override) validateDriftOverride('numeric', options.override);
  const primary = options?.override?.test ?? defaultDriftTest('numeric', reference.count, 0, options?.smallReferenceMax);
  return finish('numeric', count, reference.id, primary, tests, options?.override === undefined);
}

/** Whether a numeric reference is discrete under `options` (few distinct values, counted exactly). */
export function isDiscreteReference(reference: NumericReference, options?: DriftOptions): boolean {
  const limit = options?.discreteMaxValues ?? DEFAULT_DISCRETE_MAX_VALUES;
  return reference.exactCounts !== undefined && reference.exactCounts.size > 0 && reference.exactCounts.size <= limit;
}

/** Exact per-value counts as category counts (values as their shortest decimal strings). */
function valueCategories(counts: ReadonlyMap<number, number>, other = 0): Map<string, number> {
  const out = new Map<string, number>();
  for (const [value, n] of counts) if (n !== 0) out.set(String(value), (out.get(String(value)) ?? 0) + n);
  if (other > 0) out.set(UNCOUNTED_VALUES_CATEGORY, other);
  return out;
}

/**
 * A discrete feature: the categorical tests on exact counts per value. Values of the window that
 * were not counted one by one (a pane saw more than EXACT_VALUES_CAP distinct values) are tested
 * as one category the reference does not have: they are new values, which is drift.
 */
function evaluateDiscrete(
  reference: NumericReference,
  current: NonNullable<NumericCurrent['exactCounts']>,
  options: DriftOptions | undefined,
): DriftEntry | null {
  const entry = evaluateCategorical(
    { type: 'categorical', id: reference.id, counts: valueCategories(reference.exactCounts as ReadonlyMap<number, number>) },
    { type: 'categorical', counts: valueCategories(current.counts, current.other) },
    options,
  );
  if (entry !== null) entry.type = 'discrete';
  return entry;
}

function evaluateCategorical(
  reference: CategoricalReference,
  current: CategoricalCurrent,
  options: DriftOptions | undefined,
): DriftEntry | null {
  const aligned = alignCategoryCounts(reference.counts, current.counts);
  const count = totalOf(aligned.current);
  const referenceCount = totalOf(aligned.reference);
  if (!(count > 0) || !(referenceCount > 0)) return null;
  const categoryCount = aligned.categories.length;
  const samples: CategoricalSamples = { ...aligned, referenceCount, count };
  const tests = new TestResults();
  for (const test of DRIFT_TESTS) {
    if (test.categorical === undefined) continue;
    if (test.onlyForTwoCategories && categoryCount !== 2 && options?.override?.test !== test.name) continue;
    tests[test.name] = result(test.name, test.categorical(samples), count, options);
  }

  if (options?.override) validateDriftOverride('categorical', options.override);
  const primary =
    options?.override?.test ??
    defaultDriftTest('categorical', referenceCount, categoryCount, options?.smallReferenceMax);
  return finish('categorical', count, reference.id, primary, tests, options?.override === undefined);
}

/**
 * Drift of one feature's current window against its reference: every applicable statistic in
 * `tests`, the deciding test in `primary` (override or default rule) and its verdict in `drift`.
 * Returns null when the current window (or a categorical reference) holds no values.
 * Throws when the reference and window types differ or an override does not apply.
 */
export function evaluateDrift(
  reference: FeatureReference,
  current: FeatureWindow,
  options?: DriftOptions,
): DriftEntry | null {
  if (reference.type === 'numeric' && current.type === 'numeric') {
    // an override naming a numeric-only test (ks, wasserstein) keeps the numeric evaluation
    const overrideFits = options?.override === undefined || CATEGORICAL_DRIFT_TESTS.includes(options.override.test);
    if (current.exactCounts !== undefined && overrideFits && isDiscreteReference(reference, options)) {
      return evaluateDiscrete(reference, current.exactCounts, options);
    }
    return evaluateNumeric(reference, current, options);
  }
  if (reference.type === 'categorical' && current.type === 'categorical') {
    return evaluateCategorical(reference, current, options);
  }
  throw new RangeError(`evaluateDrift: reference is ${reference.type} but the current window is ${current.type}`);
}

/**
 * Builds a numeric reference from raw training/baseline values: population std, decile edges
 * and counts, and a seeded subsample of at most `sampleSize` values (all of them when fewer)
 * for exact small-sample KS. `summary` is a sketch of the same values (caller-built, so this
 * module does not depend on a sketch implementation).
 */
export function numericReferenceFromValues(
  id: string,
  values: ArrayLike<number>,
  summary: QuantileSummary,
  options: { bins?: number; sampleSize?: number; seed?: number } = {},
): NumericReference {
  const { bins = 10, sampleSize = SMALL_REFERENCE_MAX, seed = 1 } = options;
  if (values.length === 0) throw new RangeError(`numeric reference '${id}': no values`);
  let mean = 0;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`numeric reference '${id}': value ${i} is ${values[i]}, expected a finite number`);
    }
    mean += values[i];
  }
  mean /= values.length;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) sumSquares += (values[i] - mean) ** 2;
  const std = Math.sqrt(sumSquares / values.length);
  const innerEdges = quantileEdgesOf(values, bins);
  return {
    type: 'numeric',
    id,
    count: values.length,
    summary,
    std,
    innerEdges,
    binCounts: binCountsOf(values, innerEdges),
    sample: seededSubsample(values, sampleSize, seed),
  };
}

/** Up to k values drawn without replacement (partial Fisher–Yates with a mulberry32 stream). */
export function seededSubsample(values: ArrayLike<number>, k: number, seed: number): Float64Array {
  const copy = Float64Array.from(values);
  if (copy.length <= k) return copy;
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    const tmp = copy[i];
    copy[i] = copy[j];
    copy[j] = tmp;
  }
  return copy.slice(0, k);
}
