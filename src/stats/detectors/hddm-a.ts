/**
 * HDDM_A (Frías-Blanco et al. 2014), drift detection from a concentration bound on moving averages,
 * following River's `drift.binary.HDDM_A` (itself a port of MOA's).
 *
 * Keeps the mean of everything since the last reset (Z) and a snapshot of Z taken where its upper
 * (lower) Hoeffding bound was lowest (highest); a significant rise of Z over the snapshot is a
 * drift, at the looser warning confidence a warning. Input: values in [0, 1] — usually 1 for an
 * error and 0 for a correct prediction. Starts over on the update after a drift.
 *
 * Deliberate differences from River at the defaults (River's behaviour: `bound: 'hoeffding'`,
 * `driftConfidence: 0.001`, `warningConfidence: 0.005`):
 * - The drift and warning tests use Bernstein's bound instead of Hoeffding's. Hoeffding's assumes
 *   the worst-case variance 1/4 of a [0, 1] value, so at an error rate of 0.1 (variance 0.09) it
 *   is ~1.7 times too wide and a rise from 0.10 to 0.16 took ~900 events to be seen, while at 0.3
 *   (variance 0.21) it is nearly tight and the every-step testing gave ~4 false alarms per million
 *   events. Bernstein's bound uses the variance; we take mu (1 - mu), the exact variance of 0/1
 *   errors and an upper bound on the variance of any [0, 1] value with mean mu (so the bound stays
 *   valid for non-binary inputs and needs no extra state), at the mu within the Hoeffding interval
 *   of the mean Z (drift confidence) that is closest to 1/2: the estimate Z itself understates the
 *   variance exactly when Z happens to sit low, and a fresh detector then false-alarmed ~1 time per
 *   million events in its first 5000 (0.75 / 0.95 at error rates 0.1 / 0.3, 4000 fresh detectors);
 *   with the interval, 0 / 0.6, for a mean SEA delay of ~530 instead of ~420. Its range
 *   term is the one-sided one: a value can exceed the mean by at most 1 - mu and fall below it by
 *   at most mu. The snapshot (cut point) rule keeps River's Hoeffding bound: it only picks the
 *   reference point, and measured, a Bernstein cut rule gave slower detection (mean delay 504 vs
 *   420) for a small gain in false alarms.
 * - Smaller default confidences (1e-4 / 5e-4, the warning 5 times looser as in River), because the
 *   tighter bound is tested at every update. With River's bound (`bound: 'hoeffding'`) the
 *   confidences are River's: each one not given takes River's default (0.001 / 0.005) and any
 *   pair is accepted, as River's constructor does.
 * With River's options the running means and every test are River's floating-point operations in
 * River's order (test/detectors/river-bit-exact.test.ts), so verdicts agree at a threshold too.
 * Measured (bench streams, 10 x 1M stationary events): SEA abrupt changes mean delay ~530 events
 * (River ~870), none missed; false alarms per million 0.3 at error rate 0.1, 0.2 at 0.3 (River 0.5
 * and 4.1). On River's documented example stream (0.5 -> 0.7 at index 1000) the first drift is at
 * 1259 instead of River's 1206: at p = 0.5 the variance is the worst case, so Bernstein gains
 * nothing there and the smaller confidence costs ~50 events.
 */

import { assertKnownOptions, booleanOption, choiceOption, parseConfidences, StateReader } from './validate.ts';
import { riverMeanStep } from './river-mean.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type DetectorDefinition, type DetectorStateBase } from './types.ts';

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

const NAME = 'HDDM_A';
const OPTION_NAMES = ['driftConfidence', 'warningConfidence', 'twoSidedTest', 'bound'] as const;
const BOUNDS = ['bernstein', 'hoeffding'] as const;

/** HDDM_A's defaults (see the class comment for why they differ from River's 0.001 / 0.005). */
const HDDM_DRIFT_CONFIDENCE = 1e-4;
const HDDM_WARNING_CONFIDENCE = 5e-4;

export class HddmA implements ChangeDetector {
  readonly kind = 'hddm_a' as const;
  readonly supportsWarning = true;

  readonly driftConfidence: number;
  readonly warningConfidence: number;
  readonly twoSidedTest: boolean;
  readonly bound: 'bernstein' | 'hoeffding';
  private readonly bernstein: boolean;
  private readonly logInverseDriftConfidence: number;
  private readonly logTwoOverDrift: number;
  private readonly logTwoOverWarning: number;

  private drift = false;
  private warning = false;
  // Running means as (count, mean) pairs; River's stats.Mean objects z, x_min and x_max.
  private zN = 0;
  private zMean = 0;
  private minN = 0;
  private minMean = 0;
  private maxN = 0;
  private maxMean = 0;

  constructor(options: HddmAOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.bound = choiceOption(NAME, 'bound', options.bound, BOUNDS, 'bernstein');
    // With River's bound, River's confidence defaults and accepted pairs (see parseConfidences).
    const defaults = { drift: HDDM_DRIFT_CONFIDENCE, warning: HDDM_WARNING_CONFIDENCE };
    const confidences = parseConfidences(NAME, options, defaults, this.bound === 'hoeffding');
    this.driftConfidence = confidences.driftConfidence;
    this.warningConfidence = confidences.warningConfidence;
    this.twoSidedTest = booleanOption(NAME, 'twoSidedTest', options.twoSidedTest, false);
    this.bernstein = this.bound === 'bernstein';
    this.logInverseDriftConfidence = Math.log(1 / this.driftConfidence);
    this.logTwoOverDrift = Math.log(2 / this.driftConfidence);
    this.logTwoOverWarning = Math.log(2 / this.warningConfidence);
  }

  get driftDetected(): boolean {
    return this.drift;
  }

  get warningDetected(): boolean {
    return this.warning;
  }

  /** Mean of the values since the last reset. */
  get estimation(): number {
    return this.zMean;
  }

  update(x: number): void {
    if (!(x >= 0 && x <= 1)) throw new RangeError(`${NAME}.update: value must be in [0, 1] (1 = error), got ${x}`);
    if (this.drift) this.reset();

    this.zN += 1;
    this.zMean = riverMeanStep(this.zMean, x, this.zN);
    if (this.minN === 0) {
      this.minN = this.zN;
      this.minMean = this.zMean;
    }
    if (this.maxN === 0) {
      this.maxN = this.zN;
      this.maxMean = this.zMean;
    }

    const epsZ = this.hoeffdingBound(this.zN);
    if (this.minMean + this.hoeffdingBound(this.minN) >= this.zMean + epsZ) {
      this.minN = this.zN;
      this.minMean = this.zMean;
    }
    if (this.maxMean - this.hoeffdingBound(this.maxN) <= this.zMean - epsZ) {
      this.maxN = this.zN;
      this.maxMean = this.zMean;
    }

    if (this.meanIncreased(this.logTwoOverDrift)) {
      this.warning = false;
      this.drift = true;
    } else {
      this.warning = this.meanIncreased(this.logTwoOverWarning);
      this.drift = false;
    }
    if (this.twoSidedTest) {
      if (this.meanDecreased(this.logTwoOverDrift)) this.drift = true;
      else if (this.meanDecreased(this.logTwoOverWarning)) this.warning = true;
    }
  }

  private hoeffdingBound(n: number): number {
    return Math.sqrt((1 / (2 * n)) * this.logInverseDriftConfidence);
  }

  private meanIncreased(logTwoOverConfidence: number): boolean {
    if (this.minN === this.zN) return false;
    return this.zMean - this.minMean >= this.differenceBound(this.minN, logTwoOverConfidence, true);
  }

  private meanDecreased(logTwoOverConfidence: number): boolean {
    if (this.maxN === this.zN) return false;
    return this.maxMean - this.zMean >= this.differenceBound(this.maxN, logTwoOverConfidence, false);
  }

  /**
   * Bound on Z - X (rise) or X - Z (fall) under no change, X the mean of the first k values.
   * Z - X = sum of a_i (x_i - mu) with a_i = -(n - k) / (n k) for the first k values and 1 / n for
   * the rest, so sum a_i^2 = m = (n - k) / (n k).
   */
  private differenceBound(k: number, logTwoOverConfidence: number, rise: boolean): number {
    const n = this.zN;
    const m = ((n - k) / k) * (1 / n);
    if (!this.bernstein) return Math.sqrt((m / 2) * logTwoOverConfidence);
    const mu = this.zMean;
    // Bernstein: P(sum > eps) <= exp(-eps^2 / (2 (v m + b eps / 3))), solved for eps; b bounds
    // each term a_i (x_i - mu) from above in the tested direction.
    const b = rise ? Math.max((1 - mu) / n, (mu * (n - k)) / (n * k)) : Math.max(mu / n, ((1 - mu) * (n - k)) / (n * k));
    const r = (b * logTwoOverConfidence) / 3;
    // The variance at the least favourable mean within Z's Hoeffding interval (capped at 1/4):
    // mu (1 - mu) itself is too small exactly when Z happens to sit low, which is when a later
    // rise looks significant.
    const shift = Math.min(Math.abs(0.5 - mu), Math.sqrt(this.logInverseDriftConfidence / (2 * n)));
    const u = mu < 0.5 ? mu + shift : mu - shift;
    return r + Math.sqrt(r * r + 2 * u * (1 - u) * m * logTwoOverConfidence);
  }

  reset(): void {
    this.drift = false;
    this.warning = false;
    this.zN = 0;
    this.zMean = 0;
    this.minN = 0;
    this.minMean = 0;
    this.maxN = 0;
    this.maxMean = 0;
  }

  toJSON(): HddmAState {
    return {
      kind: 'hddm_a',
      version: DETECTOR_STATE_VERSION,
      options: {
        driftConfidence: this.driftConfidence,
        warningConfidence: this.warningConfidence,
        twoSidedTest: this.twoSidedTest,
        bound: this.bound,
      },
      driftDetected: this.drift,
      warningDetected: this.warning,
      zN: this.zN,
      zMean: this.zMean,
      minN: this.minN,
      minMean: this.minMean,
      maxN: this.maxN,
      maxMean: this.maxMean,
    };
  }

  static fromJSON(state: unknown): HddmA {
    const reader = new StateReader('HddmA.fromJSON', state, 'hddm_a');
    const options = reader.options() as HddmAOptions;
    // A state written before `bound` existed ran River's Hoeffding test; keep it running that way.
    const detector = new HddmA(options.bound === undefined ? { ...options, bound: 'hoeffding' } : options);
    detector.drift = reader.boolean('driftDetected');
    detector.warning = reader.boolean('warningDetected');
    detector.zN = reader.nonNegativeInteger('zN');
    detector.zMean = reader.number('zMean');
    detector.minN = reader.nonNegativeInteger('minN');
    detector.minMean = reader.number('minMean');
    detector.maxN = reader.nonNegativeInteger('maxN');
    detector.maxMean = reader.number('maxMean');
    return detector;
  }
}

export const HDDM_A: DetectorDefinition<'hddm_a', HddmA, HddmAOptions> = {
  kind: 'hddm_a',
  description: 'HDDM_A: concentration bound on the mean since the last reset against its best snapshot (0/1 errors)',
  create: (options) => new HddmA(options),
  fromJSON: (state) => HddmA.fromJSON(state),
  riverOptions: { bound: 'hoeffding', driftConfidence: 0.001, warningConfidence: 0.005 },
};
