/**
 * What the gateway computes for one model (optionally one version) over one sliding window.
 * This is the body of `GET /v1/models/:model/metrics` and of WebSocket `metrics`/`snapshot` frames,
 * and the input that alert rules are evaluated on.
 */

export interface DriftTestResult {
  /** e.g. 'psi', 'ks', 'wasserstein_normed', 'jensen_shannon', 'chi2', 'hellinger' */
  test: string;
  statistic: number;
  pValue?: number;
  threshold: number;
  drift: boolean;
  /** When the statistic comes from sketches: how far it can be from the exact sample statistic. */
  errorBound?: number;
}

export interface DriftEntry {
  /**
   * 'discrete': a numeric feature whose reference holds few distinct values
   * (`drift.discreteMaxValues`), counted exactly per value and tested with the categorical tests.
   */
  type: 'numeric' | 'categorical' | 'discrete';
  /** Values in the current window. */
  count: number;
  /** Id of the reference profile the statistics were computed against. */
  reference: string;
  /** The test that decides `drift` (the default rule, or the per-feature override). */
  primary: string;
  /**
   * The p-value test that must also find the change significant, when the default rule decides
   * by an effect size (large references): `drift` is then primary.drift && confirmedBy's drift.
   */
  confirmedBy?: string;
  drift: boolean;
  /** Every applicable statistic by test name (`psi` is always present). */
  tests: Record<string, DriftTestResult>;
  /**
   * When the statistics were computed (epoch ms, gateway clock). Drift is reused for a few seconds
   * while the counts beside it are exact, so it may describe an older state of the window.
   */
  computedAt?: number;
  /**
   * Predictions in the window when the statistics were computed: equal to ModelMetrics.count when
   * the drift is fresh, smaller or larger when it was reused from an earlier state of the window.
   */
  computedOn?: number;
  /**
   * The distributions compared, as shares: for a numeric feature the reference's PSI bins (`edges`:
   * the inner edges, bins [e_i, e_i+1) with open ends) and for a categorical or discrete one its
   * categories (`labels`), with the reference's and the window's share in each.
   */
  bins?: DriftBins;
}

export interface DriftBins {
  kind: 'numeric' | 'categorical';
  /** numeric: ascending inner edges (bins = edges.length + 1); shared by the entries of a reference (read-only). */
  edges?: readonly number[];
  /** categorical: the category of each bin. */
  labels?: string[];
  /** numeric: shared by the entries of a reference (read-only). */
  reference: readonly number[];
  window: number[];
}

export interface MultivariateDrift {
  /** Id of the reference profile whose PCA model scored the events. */
  reference: string;
  /** Events of the window scored against it. */
  count: number;
  /** Mean reconstruction error of those events. */
  errorMean: number;
  /** Bounds of the mean error: the reference chunks' mean error +- the normal quantile of the drift budget's alpha times its spread, scaled to the window's count (src/stats/pca-reconstruction.ts multivariateVerdict). */
  lower: number;
  upper: number;
  /** errorMean outside [lower, upper] on at least MULTIVARIATE_MIN_EVENTS events. */
  drift: boolean;
  /** Events with at least one feature imputed (reference mean / most frequent), and features imputed in all. */
  imputedEvents: number;
  imputedValues: number;
  /** Principal components the model keeps. */
  components: number;
}

export interface LatencySummary {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
}

export interface QualitySummary {
  /** Labels joined to a prediction in this window. */
  labeled: number;
  accuracy: number | null;
  precision?: number | null;
  recall?: number | null;
  f1?: number | null;
  auc?: number | null;
  logLoss?: number | null;
  brier?: number | null;
  mae?: number | null;
  rmse?: number | null;
  mape?: number | null;
  /** Rows are labels (truth), columns are predictions, in the order of `classes`. */
  confusion?: { classes: string[]; matrix: number[][] };
  /** Binary scores, before labels (CBPE through the reference's calibration, see ModelMetrics.estimatedAccuracy). */
  estimatedPrecision?: number | null;
  estimatedRecall?: number | null;
  estimatedF1?: number | null;
  estimatedAuc?: number | null;
  /** Scored predictions the estimates (and ModelMetrics.estimatedAccuracy) average over. */
  estimatedOn?: number;
}

export interface LabelSummary {
  /** Labels matched to their prediction. */
  joined: number;
  /** Predictions still waiting for a label (within the label horizon). */
  pending: number;
  /** Predictions whose label never came within the horizon. */
  expired: number;
  /** Labels that arrived before their prediction (and were joined once it came). */
  early: number;
}

export interface ReferenceSummary {
  id: string;
  accuracy: number | null;
  /** Labelled outcomes behind `accuracy` (quality rules weigh a drop by it); absent or null: unknown (a profile stored before it was kept). */
  labeled?: number | null;
  errorRate: number | null;
  latencyP99: number | null;
  /**
   * F1 and ROC AUC of the reference's labelled binary scores (at threshold 0.5, from its score
   * histogram as a window's are), and the confusion counts their sampling variances rest on; absent
   * or null when the reference has no labelled binary scores.
   */
  f1?: number | null;
  auc?: number | null;
  confusion?: { tp: number; fp: number; fn: number; tn: number } | null;
}

export interface ModelMetrics {
  model: string;
  /** null = all versions merged. */
  version: string | null;
  window: string;
  windowMs: number;
  /** Window bounds, epoch ms (event time). */
  from: number;
  to: number;
  count: number;
  errors: number;
  errorRate: number | null;
  /** Predictions that arrived after the allowed lateness: counted, not folded into panes. */
  late: number;
  latency: LatencySummary;
  accuracy: number | null;
  quality: QualitySummary;
  /**
   * Accuracy estimated from the scores alone (CBPE, before labels arrive): the expected share of
   * correct predictions when each score is the probability of label 1, after the reference's
   * isotonic calibration when it has labelled outcomes (else the scores as they are).
   */
  estimatedAccuracy: number | null;
  labelCoverage: number | null;
  labels: LabelSummary;
  labelDelayMs: { p50: number | null; p95: number | null };
  drift: {
    reference: string | null;
    output: DriftEntry | null;
    features: Record<string, DriftEntry>;
    /**
     * True when the entries describe an earlier state of the window: its panes changed since they
     * were computed (each entry's computedAt/computedOn say when and on what), because drift is
     * recomputed at most every windowMs / 60 or a busy gateway has not reached this window yet.
     * Absent or false when they describe the window as it is.
     */
    stale?: boolean;
    /**
     * Multivariate drift (PCA reconstruction error, as NannyML): null or absent when the reference
     * has no multivariate model (a window capture, a profile stored before it) or no event of
     * the window was scored against it.
     */
    multivariate?: MultivariateDrift | null;
  };
  reference: ReferenceSummary | null;
  /** Changes signalled in this window by the sequential detectors (ADWIN, DDM, ...) on the error stream. */
  detectors: Record<string, number>;
  /** Fairness across segments, by segment key (e.g. 'group'), once labels are joined. */
  fairness?: Record<string, FairnessSummary>;
  /** Data quality per feature against the reference: missing values, new categories, out-of-range values, wrong types, features that appear or vanish. */
  dataQuality?: DataQualitySummary;
}

/**
 * Data quality of one feature in a window against the reference (src/window/data-quality.ts).
 * Shares are null when their denominator is 0 or the reference says nothing about them.
 */
export interface FeatureDataQuality {
  /** Non-null values of the feature in the window (numeric and categorical). */
  values: number;
  /** Share of the window's predictions without a value of the feature (absent or null). */
  missingShare: number | null;
  /** The same share in the reference (its rows without a value). */
  referenceMissingShare: number | null;
  /** missingShare - referenceMissingShare: what the "jump in missing share" rule reads. */
  missingIncrease: number | null;
  /**
   * Share of the feature's values of the wrong type: of the other type than the reference's
   * (strings for a numeric feature, numbers for a categorical one) or of a type no feature can
   * have (a boolean, an array, a map: the worker keeps their event and counts them). Without a
   * reference, the latter only.
   */
  wrongTypeShare: number | null;
  /** Categorical: share of the window's categorical values in categories the reference never held. */
  newCategoryShare: number | null;
  /** Categorical: share the category caps leave undecided (folded `__other__` values). */
  unknownCategoryShare: number | null;
  /** Categorical: the heaviest new categories (at most 10). */
  newCategories: string[];
  /** Numeric: share of the window's numeric values outside the reference's [min, max], on the reference's sketch buckets. */
  outOfRangeShare: number | null;
  /** Numeric: share outside the reference's 0.1 %–99.9 % quantiles, on the same buckets. */
  outOfQuantileShare: number | null;
  /** Not in the reference, with values in the window. */
  appeared: boolean;
  /** In the reference, no value in a window where its absence is not chance (probability <= 1e-6). */
  vanished: boolean;
}

/**
 * How much of a window's data quality a reader looks at: all of it; all but the numeric features'
 * out-of-range and out-of-quantile shares (left null: two walks of each numeric sketch's tails, which
 * a rule on missing values, types or categories does not read); none (ModelMetrics.dataQuality left out).
 */
export type DataQualityDemand = 'full' | 'noRanges' | 'none';

export interface DataQualitySummary {
  /** Reference profile the figures are relative to (null: none; only missingShare is then known). */
  reference: string | null;
  /** Features with values in the window and none in the reference. */
  appeared: string[];
  /** Features of the reference that vanished from the window. */
  vanished: string[];
  /** Every feature of the reference or the window. */
  features: Record<string, FeatureDataQuality>;
}

export interface FairnessSummary {
  groups: Record<string, { count: number; selectionRate: number | null; tpr: number | null }>;
  demographicParityDifference: number | null;
  disparateImpactRatio: number | null;
  equalOpportunityDifference: number | null;
}

export interface ModelSummary {
  model: string;
  versions: string[];
  /** Last event time seen, epoch ms. */
  lastEventAt: number | null;
  count5m: number;
}

/**
 * An alert rule that cannot judge its baseline for one model and scope: a quality rule whose
 * reference (or stable version) holds too few labels for a drop near the margin to be
 * significant (GET /v1/alerts `rules`).
 */
export interface AlertRuleStatus {
  rule: string;
  model: string;
  scope: string;
  state: 'insufficient_reference';
  /** Labels the baseline has (null: unknown), and what a drop of twice the margin would need to be significant (null: unknown). */
  baselineLabels: number | null;
  neededLabels: number | null;
  /** When the condition was first seen (event time, epoch ms). */
  since: number;
  message: string;
}

export interface AlertEvent {
  /** Stable per transition: `${model}:${rule}:${scope}:${startsAt}:${state}` — also the Nats-Msg-Id. */
  id: string;
  model: string;
  rule: string;
  /** What the rule looked at, e.g. 'model', 'version:v2', 'feature:age', 'segment:group=a'. */
  scope: string;
  state: 'firing' | 'resolved';
  severity: 'info' | 'warning' | 'critical';
  value: number | null;
  threshold: number;
  window: string;
  /** When the condition first held (epoch ms). */
  startsAt: number;
  /** When this transition happened (epoch ms). */
  at: number;
  message: string;
  /**
   * Set when an active silence covered the transition when it happened: it is recorded, published
   * on NATS and shown, but not sent to webhook receivers. `silencedBy` names the silences.
   */
  silenced?: boolean;
  silencedBy?: string[];
}

/** One value of a segment key, ranked by its accuracy drop (GET /v1/models/:model/segments). */
export interface SegmentRank {
  value: string;
  /** Predictions in the segment in this window. */
  predictions: number;
  /** Labelled classifications joined to them, and of those correct. */
  labeled: number;
  correct: number;
  accuracy: number | null;
  /** The window's overall accuracy minus the segment's (0.15 = 15 points lower); null without labels. */
  drop: number | null;
  /** Pooled two-proportion z of the segment against the rest of the window (positive: worse): an effect size in standard errors. */
  z: number | null;
  /** One-sided Fisher's exact test of the segment against the rest (H1: less accurate). */
  pValue: number | null;
  /** Holm-adjusted over the key's segments. */
  adjustedPValue: number | null;
  /** adjustedPValue <= alpha with a positive drop: listed first. */
  significant: boolean;
}

/** Drift of one feature inside one segment: the segment in this window against the same segment in the window before. */
export interface SegmentFeatureDrift {
  feature: string;
  type: 'numeric' | 'categorical' | 'discrete';
  /** Values of the feature in the segment, this window and the window before. */
  count: number;
  referenceCount: number;
  /** PSI (always computed, comparable across features): what the list is ranked by. */
  psi: number;
  /** The default test's name, statistic and verdict, as in ModelMetrics.drift. */
  primary: string;
  statistic: number;
  drift: boolean;
}

export interface ModelSegments {
  model: string;
  /** null = all versions merged. */
  version: string | null;
  window: string;
  windowMs: number;
  from: number;
  to: number;
  /** Labelled classifications of the whole window and their accuracy: what each drop is measured from. */
  overall: { labeled: number; correct: number; accuracy: number | null };
  /** Family-wise significance level per segment key (the drift tests' false-alarm budget). */
  alpha: number;
  correction: 'holm';
  /** Segment key -> its values, worst first. */
  keys: Record<string, SegmentRank[]>;
  /**
   * The significant segment with the largest drop over every key, and the features that drifted
   * most inside it; null when no segment's drop is significant.
   */
  worst: {
    key: string;
    value: string;
    drop: number;
    /** Largest PSI first; empty when the panes hold no per-segment feature sketches for it. */
    features: SegmentFeatureDrift[];
    /** Why `features` is empty, when it is. */
    featuresNote?: string;
  } | null;
}
