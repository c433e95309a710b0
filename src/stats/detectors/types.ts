/**
 * Common shape of the sequential change detectors.
 *
 * Every detector follows River's protocol: call `update(x)` with the next value of the stream, then
 * read `driftDetected` (and `warningDetected`). A detector that signalled a drift resets itself on
 * the next `update`, exactly as River does, so the flag is true for one update per change.
 */

export type DetectorKind = 'adwin' | 'page_hinkley' | 'ddm' | 'eddm' | 'hddm_a' | 'hddm_w';

export const DETECTOR_KINDS: readonly DetectorKind[] = ['adwin', 'page_hinkley', 'ddm', 'eddm', 'hddm_a', 'hddm_w'];

/** Version of the serialized state layout; bumped whenever a field changes meaning. */
export const DETECTOR_STATE_VERSION = 1;

export interface ChangeDetector {
  readonly kind: DetectorKind;
  /**
   * Whether the algorithm has a warning zone at all (DDM, EDDM, HDDM_A, HDDM_W). ADWIN and
   * Page–Hinkley have none: their `warningDetected` is always false.
   */
  readonly supportsWarning: boolean;
  /** True when the last `update` signalled a change. */
  readonly driftDetected: boolean;
  /** True when the last `update` put the detector in its warning zone. */
  readonly warningDetected: boolean;
  /** Feeds one value: an error indicator (1 = wrong, 0 = right) or, for ADWIN/Page–Hinkley, any number. */
  update(x: number): void;
  /** Forgets everything seen, keeping the options. */
  reset(): void;
  /** Plain JSON-safe state (no Infinity/NaN); `fromJSON` restores a detector that behaves identically. */
  toJSON(): DetectorState;
}

/** Fields shared by every serialized detector state. */
export interface DetectorStateBase {
  kind: DetectorKind;
  version: number;
  driftDetected: boolean;
}

export interface AdwinOptions {
  /** Confidence of each cut test (River: delta). */
  delta?: number;
  /** Check for change every `clock` updates (River: clock). */
  clock?: number;
  /** Summaries kept per bucket row before two are merged (River: max_buckets). */
  maxBuckets?: number;
  /** Shortest sub-window a cut may compare (River: min_window_length). */
  minWindowLength?: number;
  /** No check until the window holds more than this many values (River: grace_period). */
  gracePeriod?: number;
}

export interface PageHinkleyOptions {
  /** Values seen before a change may be signalled (River: min_instances). */
  minInstances?: number;
  /** Tolerated magnitude of change (River: delta; default here 0.1 standard deviations, River 0.005). */
  delta?: number;
  /** Detection threshold lambda (River: threshold; default here 80 standard deviations, River 50). */
  threshold?: number;
  /** Forgetting factor of the cumulative sums (River: alpha; default here 1, no forgetting, River 0.9999). */
  alpha?: number;
  /** Watch increases, decreases or both (River: mode). */
  mode?: 'up' | 'down' | 'both';
  /**
   * Divide each deviation by the running standard deviation, so delta and threshold are in
   * standard deviations (default true; false is River's test on raw deviations).
   */
  standardize?: boolean;
}

export interface DdmOptions {
  /** Values seen before warnings/drifts may be signalled (River: warm_start; default here 200, River 30). */
  warmStart?: number;
  /** Standard deviations above the best p+s for a warning (River: warning_threshold). */
  warningThreshold?: number;
  /** Standard deviations above the best p+s for a drift (River: drift_threshold). */
  driftThreshold?: number;
}

export interface EddmOptions {
  /** Values and errors seen before warnings/drifts may be signalled (River: warm_start). */
  warmStart?: number;
  /** Warning when (p'+2s')/(p'max+2s'max) falls below alpha (River: alpha; default 0.6 here, River's 0.95). */
  alpha?: number;
  /** Drift when that ratio falls below beta (River: beta; default 0.5 here, River's 0.9). */
  beta?: number;
  /** Errors since the (re)start before the maximum of p'+2s' is taken (not in River: 0 there). */
  minErrors?: number;
  /**
   * z of the significance test on the distances after a cut point, which also moves the cut
   * (not in River: 0 turns the test off).
   */
  zThreshold?: number;
}

export interface HddmAOptions {
  /** Confidence of the drift test (River: drift_confidence; default here 1e-4, River 0.001). */
  driftConfidence?: number;
  /** Confidence of the warning test (River: warning_confidence; default here 5e-4, River 0.005). */
  warningConfidence?: number;
  /** Also watch for decreases of the mean (River: two_sided_test). */
  twoSidedTest?: boolean;
  /**
   * Bound of the drift/warning tests: 'bernstein' (default; variance-aware, tighter at low error
   * rates) or 'hoeffding' (River's).
   */
  bound?: 'bernstein' | 'hoeffding';
}

export interface HddmWOptions {
  /** Confidence of the drift test (River: drift_confidence; default here 3e-5, River 0.001). */
  driftConfidence?: number;
  /** Confidence of the warning test (River: warning_confidence; default here 1.5e-4, River 0.005). */
  warningConfidence?: number;
  /** Also watch for decreases of the mean (River: two_sided_test). */
  twoSidedTest?: boolean;
  /** Weight of the newest value in the EWMA (River: lambda_val; default here 0.0005, River 0.05). */
  lambda?: number;
  /** Bound of the tests: 'bernstein' (default; variance-aware) or 'mcdiarmid' (River's). */
  bound?: 'bernstein' | 'mcdiarmid';
  /**
   * EWMA weights: 'normalized' (default; weights lambda (1 - lambda)^age divided by their sum, so a
   * young EWMA is the plain mean of its values) or 'river' (the first value taken as is).
   */
  weighting?: 'normalized' | 'river';
  /**
   * Age, in EWMA memories (1 / lambda events), after which the reference snapshot is renewed from
   * the current EWMA; 0 never renews (River). Default 4.
   */
  cutExpiry?: number;
}

export interface DetectorOptionsByKind {
  adwin: AdwinOptions;
  page_hinkley: PageHinkleyOptions;
  ddm: DdmOptions;
  eddm: EddmOptions;
  hddm_a: HddmAOptions;
  hddm_w: HddmWOptions;
}

export interface AdwinState extends DetectorStateBase {
  kind: 'adwin';
  options: Required<AdwinOptions>;
  tick: number;
  width: number;
  total: number;
  variance: number;
  nDetections: number;
  /** Bucket rows from newest (row 0, single values) to oldest; each entry holds 2^row values. */
  rows: { totals: number[]; variances: number[] }[];
}

export interface PageHinkleyState extends DetectorStateBase {
  kind: 'page_hinkley';
  options: Required<PageHinkleyOptions>;
  n: number;
  mean: number;
  /** Sum of squared deviations from the running mean (Welford); absent in states written before standardization. */
  sumSquares?: number;
  sumIncrease: number;
  sumDecrease: number;
  /** null while no value was seen (River starts it at +infinity). */
  minIncrease: number | null;
  maxDecrease: number;
}

export interface DdmState extends DetectorStateBase {
  kind: 'ddm';
  options: Required<DdmOptions>;
  warningDetected: boolean;
  n: number;
  p: number;
  /** null until the warm start is over (River: p_min/s_min None and ps_min +infinity). */
  pMin: number | null;
  sMin: number | null;
  psMin: number | null;
}

export interface EddmState extends DetectorStateBase {
  kind: 'eddm';
  options: Required<EddmOptions>;
  warningDetected: boolean;
  n: number;
  nErrors: number;
  lastError: number;
  distanceCount: number;
  distanceMean: number;
  distanceVariance: number;
  p2sMax: number;
  /** Significance test's cut point: update index and errors there (0 errors: no cut yet), s' there. */
  cutN: number;
  cutErrors: number;
  cutStd: number;
}

export interface HddmAState extends DetectorStateBase {
  kind: 'hddm_a';
  options: Required<HddmAOptions>;
  warningDetected: boolean;
  zN: number;
  zMean: number;
  minN: number;
  minMean: number;
  maxN: number;
  maxMean: number;
}

export interface HddmWSampleState {
  ewma: number;
  initialized: boolean;
  ibc: number;
  /** Sum of the unnormalized weights (normalized weighting; 0 with River's). */
  weightSum: number;
}

export interface HddmWState extends DetectorStateBase {
  kind: 'hddm_w';
  options: Required<HddmWOptions>;
  warningDetected: boolean;
  total: HddmWSampleState;
  s1Incr: HddmWSampleState;
  s2Incr: HddmWSampleState;
  s1Decr: HddmWSampleState;
  s2Decr: HddmWSampleState;
  /** null while unset (River: +infinity / -infinity). */
  incrCutpoint: number | null;
  decrCutpoint: number | null;
  /** Updates since the increase / decrease snapshot was taken (for cutExpiry). */
  incrAge: number;
  decrAge: number;
}

export type DetectorState = AdwinState | PageHinkleyState | DdmState | EddmState | HddmAState | HddmWState;
