/**
 * Shape of one drift test's definition (see registry.ts) and of the prepared samples it measures.
 * The samples are prepared once per evaluation by select.ts (bins, aligned category counts), so a
 * definition is a pure function of them.
 */
import type { QuantileSummary } from '../../sketch/types.ts';
import type { BucketWalk, SummaryBuckets } from '../sketch-distance.ts';

/** What a test measured on one sample; `pValue` for p-value tests, `errorBound` when from sketches. */
export interface DriftMeasurement {
  statistic: number;
  pValue?: number;
  /** How far a sketch-based statistic can be from the exact sample statistic. */
  errorBound?: number;
}

/** A numeric feature's reference and current window, as every numeric test reads them. */
export interface NumericSamples {
  /** Reference counts in the reference's PSI bins. */
  referenceBins: ArrayLike<number>;
  /** Current counts in the same bins. */
  currentBins: ArrayLike<number>;
  /** Population std of the reference (the norm of the normed Wasserstein distance). */
  referenceStd: number;
  referenceSummary: QuantileSummary;
  currentSummary: QuantileSummary;
  /** Both summaries' weighted buckets, collected on the first call and shared by every test that walks them. */
  summaryBuckets(): { reference: SummaryBuckets; current: SummaryBuckets };
  /** walkBuckets of those buckets and both summaries' centers, on the first call: KS and Wasserstein from one walk. */
  bucketWalk(): BucketWalk;
  /** The threshold the evaluation compares the named test's measurement with (its p-value's, for a p-value test). */
  threshold(test: string): number;
  /** Raw values of both sides, when both are kept: KS and Wasserstein are then exact. */
  raw?: { reference: ArrayLike<number>; current: ArrayLike<number> };
}

/** A categorical feature's counts, aligned on the sorted union of the categories. */
export interface CategoricalSamples {
  categories: readonly string[];
  reference: Float64Array;
  current: Float64Array;
  referenceCount: number;
  count: number;
}

export interface DriftTestDefinition<N extends string = string> {
  /** Name in DriftEntry.tests, config (`drift.features.<f>.test`) and alert metrics (`drift.*.<name>`). */
  readonly name: N;
  /** One line for docs and error messages. */
  readonly description: string;
  /** 'p-value': drift when pValue <= threshold; 'effect-size': drift when statistic >= threshold. */
  readonly decision: 'p-value' | 'effect-size';
  /**
   * Threshold when none is configured. For p-value tests it is the cap of the significance level
   * the false-alarm budget grants (select.ts budgetSignificance).
   */
  readonly defaultThreshold: number;
  /** Measures a numeric feature; absent when the test does not apply to numeric features. */
  readonly numeric?: (samples: NumericSamples) => DriftMeasurement;
  /** Measures a categorical feature; absent when the test does not apply to categorical features. */
  readonly categorical?: (samples: CategoricalSamples) => DriftMeasurement;
  /**
   * Computed only when the current and reference hold exactly two categories together, or when an
   * override asks for the test (the two-proportion Z-test compares the share of one category).
   */
  readonly onlyForTwoCategories?: boolean;
}
