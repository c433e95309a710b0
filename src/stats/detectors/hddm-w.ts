/**
 * HDDM_W (Frías-Blanco et al. 2014), drift detection from a concentration bound on exponentially
 * weighted moving averages, following River's `drift.binary.HDDM_W` (a port of MOA's).
 *
 * The EWMA of the whole stream is compared with the EWMA of the values since the point where its
 * upper (lower) bound was lowest (highest); a significant rise is a drift, at the looser warning
 * confidence a warning. Input: values in [0, 1], usually 1 for an error and 0 for a correct
 * prediction. Starts over on the update after a drift.
 *
 * Deliberate differences from River at the defaults. River's behaviour is
 * `{ bound: 'mcdiarmid', weighting: 'river', cutExpiry: 0, lambda: 0.05, driftConfidence: 0.001,
 * warningConfidence: 0.005 }`; at River's defaults HDDM_W missed 36 of 60 SEA changes (error rate
 * 0.10 -> ~0.17) and raised ~400 false alarms per million events at an error rate of 0.3.
 * - lambda 0.0005 instead of 0.05: an EWMA with lambda 0.05 averages ~40 values, whose noise
 *   (sd ~0.05 at p = 0.1) hides a 0.06 rise at any useful confidence.
 * - 'normalized' weighting: River takes the first value as is, so with a small lambda that one
 *   value keeps a weight (1 - lambda)^t for thousands of updates and the EWMA after a cut is
 *   mostly noise. Dividing the weights lambda (1 - lambda)^age by their sum makes a young EWMA the
 *   plain mean of its values and an old one River's EWMA.
 * - 'bernstein' bound instead of McDiarmid's: variance-aware, with the variance mu (1 - mu) of the
 *   whole-stream EWMA mu (exact for 0/1 errors, an upper bound for any [0, 1] value), and the
 *   one-sided range term (largest weight times 1 - mu, or mu). McDiarmid's assumes variance 1/4.
 * - cutExpiry 4: the reference snapshot is the EWMA at its lowest point, and an EWMA (unlike
 *   HDDM_A's running mean) keeps fluctuating, so over a long quiet stream the all-time lowest
 *   point drifts ever further below the true rate and eventually "rises" are seen from noise
 *   (measured at these defaults without expiry: 1.3 false alarms per million at p = 0.3). Renewing the snapshot from the current
 *   EWMA once it is 4 memories (4 / lambda events) old bounds that selection bias.
 * - Confidences 3e-5 / 1.5e-4 (the warning 5 times looser, as in River); 1e-4 gave 0.9 false
 *   alarms per million at p = 0.3, too close to the target of 1. With River's bound
 *   (`bound: 'mcdiarmid'`) the confidences are River's: each one not given takes River's default
 *   (0.001 / 0.005) and any pair is accepted, as River's constructor does.
 * Measured (bench streams, 10 x 1M stationary events): SEA abrupt mean delay ~620 events, none
 * missed; false alarms per million 0.2 at error rate 0.1 and 0.3 at 0.3. On River's documented
 * example stream (0.5 -> 0.7 at index 1000) the first drift is at 1256, not River's 1077: no
 * setting we measured met the false-alarm target and came within 64 events of 1077 (even a CUSUM
 * that knows both rates, with threshold ln(1e6), only reaches it at 1146 on that stream).
 */

import { assertKnownOptions, booleanOption, choiceOption, numberOption, parseConfidences, StateReader } from './validate.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type DetectorDefinition, type DetectorStateBase } from './types.ts';

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

const NAME = 'HDDM_W';
const OPTION_NAMES = ['driftConfidence', 'warningConfidence', 'lambda', 'twoSidedTest', 'bound', 'weighting', 'cutExpiry'] as const;
const BOUNDS = ['bernstein', 'mcdiarmid'] as const;
const WEIGHTINGS = ['normalized', 'river'] as const;

/** EWMA of a sample and its independent bound condition (River's SampleInfo); mutated in place. */
class WeightedSample {
  ewma = 0;
  initialized = false;
  /** Sum of squared (normalized) weights, the variance factor of the bound. */
  ibc = 1;
  /** Sum of the unnormalized weights lambda (1 - lambda)^age ('normalized' weighting only). */
  weightSum = 0;

  update(x: number, lambda: number, oneMinusLambda: number, lambdaSquared: number, oneMinusLambdaSquared: number): void {
    // River's EWMean: the first value is taken as is, then lambda * x + (1 - lambda) * ewma.
    this.ewma = this.initialized ? lambda * x + oneMinusLambda * this.ewma : x;
    this.initialized = true;
    this.ibc = lambdaSquared + oneMinusLambdaSquared * this.ibc;
  }

  /**
   * Normalized weights: w_j = lambda (1 - lambda)^(t - j) / W with W their sum, so the EWMA is a
   * weighted mean of all its values (the plain mean while t << 1 / lambda). ibc = sum w_j^2 is
   * kept unnormalized as S2 and divided here: S2 / W^2.
   */
  updateNormalized(x: number, lambda: number, oneMinusLambda: number, lambdaSquared: number, oneMinusLambdaSquared: number): void {
    const previousSum = this.weightSum;
    this.weightSum = lambda + oneMinusLambda * previousSum;
    this.ewma = this.initialized ? this.ewma + (lambda / this.weightSum) * (x - this.ewma) : x;
    this.initialized = true;
    const previousSquares = previousSum === 0 ? 0 : this.ibc * previousSum * previousSum;
    const squares = lambdaSquared + oneMinusLambdaSquared * previousSquares;
    this.ibc = squares / (this.weightSum * this.weightSum);
  }

  clear(): void {
    this.ewma = 0;
    this.initialized = false;
    this.ibc = 1;
    this.weightSum = 0;
  }

  copyFrom(other: WeightedSample): void {
    this.ewma = other.ewma;
    this.initialized = other.initialized;
    this.ibc = other.ibc;
    this.weightSum = other.weightSum;
  }

  toJSON(): HddmWSampleState {
    return { ewma: this.ewma, initialized: this.initialized, ibc: this.ibc, weightSum: this.weightSum };
  }

  /** `legacy`: a state written before 'normalized' weighting existed, which has no weightSum. */
  restore(reader: StateReader, field: string, legacy: boolean): void {
    const record = reader.object(field);
    this.ewma = reader.number('ewma', record, `state.${field}.ewma`);
    this.initialized = reader.boolean('initialized', record, `state.${field}.initialized`);
    this.ibc = reader.number('ibc', record, `state.${field}.ibc`);
    this.weightSum = legacy ? 0 : reader.number('weightSum', record, `state.${field}.weightSum`);
  }
}

export class HddmW implements ChangeDetector {
  readonly kind = 'hddm_w' as const;
  readonly supportsWarning = true;

  readonly driftConfidence: number;
  readonly warningConfidence: number;
  readonly lambda: number;
  readonly twoSidedTest: boolean;
  readonly bound: 'bernstein' | 'mcdiarmid';
  readonly weighting: 'normalized' | 'river';
  readonly cutExpiry: number;
  private readonly bernstein: boolean;
  private readonly normalized: boolean;
  /** Updates after which a snapshot is renewed; Infinity when cutExpiry is 0. */
  private readonly maxCutAge: number;
  private readonly oneMinusLambda: number;
  private readonly lambdaSquared: number;
  private readonly oneMinusLambdaSquared: number;
  private readonly logInverseDrift: number;
  private readonly logInverseWarning: number;

  private drift = false;
  private warning = false;
  private readonly total = new WeightedSample();
  private readonly s1Incr = new WeightedSample();
  private readonly s2Incr = new WeightedSample();
  private readonly s1Decr = new WeightedSample();
  private readonly s2Decr = new WeightedSample();
  private incrCutpoint = Infinity;
  private decrCutpoint = -Infinity;
  private incrAge = 0;
  private decrAge = 0;

  constructor(options: HddmWOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.bound = choiceOption(NAME, 'bound', options.bound, BOUNDS, 'bernstein');
    // Defaults 3e-5 / 1.5e-4: see the class comment; with River's bound, River's defaults and
    // accepted pairs (see parseConfidences).
    const confidences = parseConfidences(NAME, options, { drift: 3e-5, warning: 1.5e-4 }, this.bound === 'mcdiarmid');
    this.driftConfidence = confidences.driftConfidence;
    this.warningConfidence = confidences.warningConfidence;
    this.lambda = numberOption(NAME, 'lambda', options.lambda, 0.0005, { min: 0, minExclusive: true, max: 1 });
    this.twoSidedTest = booleanOption(NAME, 'twoSidedTest', options.twoSidedTest, false);
    this.weighting = choiceOption(NAME, 'weighting', options.weighting, WEIGHTINGS, 'normalized');
    this.cutExpiry = numberOption(NAME, 'cutExpiry', options.cutExpiry, 4, { min: 0 });
    this.bernstein = this.bound === 'bernstein';
    this.normalized = this.weighting === 'normalized';
    this.maxCutAge = this.cutExpiry === 0 ? Infinity : this.cutExpiry / this.lambda;
    this.oneMinusLambda = 1 - this.lambda;
    this.lambdaSquared = this.lambda * this.lambda;
    this.oneMinusLambdaSquared = (1 - this.lambda) ** 2;
    this.logInverseDrift = Math.log(1 / this.driftConfidence);
    this.logInverseWarning = Math.log(1 / this.warningConfidence);
  }

  get driftDetected(): boolean {
    return this.drift;
  }

  get warningDetected(): boolean {
    return this.warning;
  }

  /** EWMA of the values since the last reset. */
  get estimation(): number {
    return this.total.ewma;
  }

  update(x: number): void {
    if (!(x >= 0 && x <= 1)) throw new RangeError(`${NAME}.update: value must be in [0, 1] (1 = error), got ${x}`);
    if (this.drift) this.reset();

    this.updateSample(this.total, x);

    // Both cut points use the drift confidence, as River/MOA do.
    const eps = this.totalBound();
    this.incrAge += 1;
    if (this.total.ewma + eps < this.incrCutpoint || this.incrAge > this.maxCutAge) {
      this.incrCutpoint = this.total.ewma + eps;
      this.incrAge = 0;
      this.s1Incr.copyFrom(this.total);
      this.s2Incr.clear();
    } else {
      this.updateSample(this.s2Incr, x);
    }
    if (this.meanRose(this.s1Incr, this.s2Incr, this.logInverseDrift)) {
      this.warning = false;
      this.drift = true;
    } else {
      this.warning = this.meanRose(this.s1Incr, this.s2Incr, this.logInverseWarning);
      this.drift = false;
    }

    this.decrAge += 1;
    if (this.total.ewma - eps > this.decrCutpoint || this.decrAge > this.maxCutAge) {
      this.decrCutpoint = this.total.ewma - eps;
      this.decrAge = 0;
      this.s1Decr.copyFrom(this.total);
      this.s2Decr.clear();
    } else {
      this.updateSample(this.s2Decr, x);
    }
    if (this.twoSidedTest) {
      if (this.meanRose(this.s2Decr, this.s1Decr, this.logInverseDrift)) this.drift = true;
      else if (this.meanRose(this.s2Decr, this.s1Decr, this.logInverseWarning)) this.warning = true;
    }
  }

  private updateSample(sample: WeightedSample, x: number): void {
    if (this.normalized) sample.updateNormalized(x, this.lambda, this.oneMinusLambda, this.lambdaSquared, this.oneMinusLambdaSquared);
    else sample.update(x, this.lambda, this.oneMinusLambda, this.lambdaSquared, this.oneMinusLambdaSquared);
  }

  /** Largest single weight of a sample: the newest (normalized), else at most sqrt(sum of squares). */
  private maxWeight(sample: WeightedSample): number {
    return this.normalized ? this.lambda / sample.weightSum : Math.sqrt(sample.ibc);
  }

  /**
   * Width of the whole-stream EWMA's bound, which places the cut points: McDiarmid's in both
   * modes, as in River (it only picks the reference point; the tests decide).
   */
  private totalBound(): number {
    return mcdiarmidBound(this.total.ibc, this.logInverseDrift);
  }

  /** Whether `later`'s EWMA exceeds `earlier`'s by more than the bound. */
  private meanRose(earlier: WeightedSample, later: WeightedSample, logInverseConfidence: number): boolean {
    if (!(earlier.initialized && later.initialized)) return false;
    const ibc = earlier.ibc + later.ibc;
    if (!this.bernstein) return later.ewma - earlier.ewma > mcdiarmidBound(ibc, logInverseConfidence);
    // later - earlier = sum w_j (x_j - mu) - sum v_j (x_j - mu): a term rises by at most
    // w (1 - mu) in `later` and v mu in `earlier`.
    const mu = this.clampedMean();
    const range = Math.max(this.maxWeight(later) * (1 - mu), this.maxWeight(earlier) * mu);
    return later.ewma - earlier.ewma > bernsteinBound(ibc, mu * (1 - mu), range, logInverseConfidence);
  }

  /** Whole-stream EWMA, the variance estimate's mean (clamped against rounding). */
  private clampedMean(): number {
    return Math.min(1, Math.max(0, this.total.ewma));
  }

  reset(): void {
    this.drift = false;
    this.warning = false;
    this.total.clear();
    this.s1Incr.clear();
    this.s2Incr.clear();
    this.s1Decr.clear();
    this.s2Decr.clear();
    this.incrCutpoint = Infinity;
    this.decrCutpoint = -Infinity;
    this.incrAge = 0;
    this.decrAge = 0;
  }

  toJSON(): HddmWState {
    return {
      kind: 'hddm_w',
      version: DETECTOR_STATE_VERSION,
      options: {
        driftConfidence: this.driftConfidence,
        warningConfidence: this.warningConfidence,
        lambda: this.lambda,
        twoSidedTest: this.twoSidedTest,
        bound: this.bound,
        weighting: this.weighting,
        cutExpiry: this.cutExpiry,
      },
      driftDetected: this.drift,
      warningDetected: this.warning,
      total: this.total.toJSON(),
      s1Incr: this.s1Incr.toJSON(),
      s2Incr: this.s2Incr.toJSON(),
      s1Decr: this.s1Decr.toJSON(),
      s2Decr: this.s2Decr.toJSON(),
      incrCutpoint: this.incrCutpoint === Infinity ? null : this.incrCutpoint,
      decrCutpoint: this.decrCutpoint === -Infinity ? null : this.decrCutpoint,
      incrAge: this.incrAge,
      decrAge: this.decrAge,
    };
  }

  static fromJSON(state: unknown): HddmW {
    const reader = new StateReader('HddmW.fromJSON', state, 'hddm_w');
    const options = reader.options() as HddmWOptions;
    // A state written before `bound` existed ran River's test; keep it running that way.
    const legacy = options.bound === undefined;
    const detector = new HddmW(legacy ? { ...options, bound: 'mcdiarmid', weighting: 'river', cutExpiry: 0 } : options);
    detector.drift = reader.boolean('driftDetected');
    detector.warning = reader.boolean('warningDetected');
    detector.total.restore(reader, 'total', legacy);
    detector.s1Incr.restore(reader, 's1Incr', legacy);
    detector.s2Incr.restore(reader, 's2Incr', legacy);
    detector.s1Decr.restore(reader, 's1Decr', legacy);
    detector.s2Decr.restore(reader, 's2Decr', legacy);
    detector.incrCutpoint = reader.nullableNumber('incrCutpoint') ?? Infinity;
    detector.decrCutpoint = reader.nullableNumber('decrCutpoint') ?? -Infinity;
    if (!legacy) {
      detector.incrAge = reader.nonNegativeInteger('incrAge');
      detector.decrAge = reader.nonNegativeInteger('decrAge');
    }
    return detector;
  }
}

function mcdiarmidBound(ibc: number, logInverseConfidence: number): number {
  return Math.sqrt((ibc * logInverseConfidence) / 2);
}

/**
 * Bernstein's bound on a weighted sum of independent centred terms with sum of squared weights
 * `ibc`, variance `variance` and each term at most `range`: exp(-eps^2 / (2 (v ibc + range eps / 3)))
 * = confidence, solved for eps.
 */
function bernsteinBound(ibc: number, variance: number, range: number, logInverseConfidence: number): number {
  const r = (range * logInverseConfidence) / 3;
  return r + Math.sqrt(r * r + 2 * variance * ibc * logInverseConfidence);
}

export const HDDM_W: DetectorDefinition<'hddm_w', HddmW, HddmWOptions> = {
  kind: 'hddm_w',
  description: 'HDDM_W: concentration bound on exponentially weighted moving averages (0/1 errors)',
  create: (options) => new HddmW(options),
  fromJSON: (state) => HddmW.fromJSON(state),
  riverOptions: { bound: 'mcdiarmid', weighting: 'river', cutExpiry: 0, lambda: 0.05, driftConfidence: 0.001, warningConfidence: 0.005 },
};
