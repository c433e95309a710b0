/**
 * EDDM, the Early Drift Detection Method of Baena-García et al. 2006, following River's
 * `drift.binary.EDDM`, with two deliberate differences (both selectable back to River's behaviour).
 *
 * Watches the distance (in updates) between consecutive errors: its running mean p' and standard
 * deviation s'. While the model is stable or improving p' + 2s' grows; its maximum is remembered and
 * once both the updates and the errors exceed the warm start, a ratio (p' + 2s') / max below `alpha`
 * is a warning and below `beta` a drift. Input: 1 for an error, 0 for a correct prediction.
 * Starts over on the update after a drift.
 *
 * Differences from River (River's exact behaviour: `{ minErrors: 0, zThreshold: 0, alpha: 0.95, beta: 0.9 }`):
 *
 * 1. `minErrors` (default 25): the maximum of p' + 2s' is only taken once that many errors were
 *    seen since the (re)start. River takes it from the first error after 30 updates: at an error
 *    rate of 0.1 that is a mean and deviation over ~3 distances, whose noise-high maximum the
 *    later, steadier estimate then "falls" from. That start-up is where River's false alarms come
 *    from (~1900 per million events in the first 5000 of a fresh detector at its defaults). 25 is
 *    the largest value that leaves River's documented example (drift at 1278, first warning at
 *    1059 with alpha 0.8, beta 0.75) unchanged: there the maximum is taken between errors 25 and 30.
 *
 * 2. `zThreshold` (default 4): a second drift test that looks at the recent distances only. The
 *    ratio test compares cumulative estimates, so after 500 errors at a steady rate a rise of the
 *    error rate from 0.10 to 0.16 needs well over a thousand further events to move p' + 2s' by 10%;
 *    River's defaults still detect such changes quickly only because the test fires on noise and
 *    restarts every few thousand events (38 false alarms per million at an error rate of 0.1).
 *    The second test keeps a cut point, the error where the lower confidence bound
 *    p' - z s'/sqrt(errors) of the mean distance was highest (HDDM_A's choice of cut, with a
 *    variance-aware bound instead of Hoeffding's), and signals a drift when the mean distance of
 *    the errors after the cut is below the mean up to the cut by more than z standard errors
 *    (s'_cut * sqrt(1/k_after + 1/k_cut)). While the rate is steady the bound keeps rising and the
 *    cut follows the stream; after a rise of the error rate it stays at the change, so the test
 *    compares the new distances with the old ones instead of with a mixture of both.
 *
 * Measured (bench's 60 SEA abrupt runs, 20 seeds; 10 x 1M stationary events) at the defaults alpha
 * 0.6, beta 0.5, minErrors 25, zThreshold 4: every change detected, mean delay 552 events, no false
 * alarm before the changes; 0 false alarms per million at error rates 0.1 and 0.3 (0.1 / 0.3 / 0 at
 * 0.02 / 0.05 / 0.5); River's example (alpha 0.8, beta 0.75 passed) still drifts at 1278 and first
 * warns at 1059. For comparison: River's settings, mean delay 199 but 38 / 21 false alarms per
 * million; the ratio test alone with minErrors 25 at alpha/beta 0.95/0.9: 8.7 / 10.8 per million,
 * at 0.9/0.85: mean delay 1057 with one change missed; River at 0.8/0.75: 7 of 60 changes missed.
 * zThreshold 3.75 / 4.25: mean delay 495 / 638, 0.1-0.3 false alarms per million; 3.5 exceeds one.
 * alpha and beta default to 0.6 / 0.5 because the significance test does the detection and the
 * ratio test only backs it up for large changes: at 0.8 / 0.75 it still fires in the start-up of a
 * fresh detector (10 of the 60 SEA runs alarm before the change), and at 0.7 / 0.6 still 1-3 times
 * per million events in the first 5000 of a fresh detector; at 0.6 / 0.5 that is 0 at error rates
 * 0.05-0.3 and 0.8 at 0.5 (1000 fresh detectors each), with the same SEA delays.
 */

import { assertKnownOptions, numberOption, StateReader } from './validate.ts';
import { riverMeanStep } from './river-mean.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type DetectorDefinition, type DetectorStateBase } from './types.ts';

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

export interface EddmState extends DetectorStateBase {
  kind: 'eddm';
  options: Required<EddmOptions>;
  warningDetected: boolean;
  n: number;
  nErrors: number;
  lastError: number;
  distanceCount: number;
  distanceMean: number;
  /** Sample variance (ddof 1) of the distances; derived from distanceSumSquares, kept for readers. */
  distanceVariance: number;
  /**
   * Sum of squared deviations of the distances (River's `stats.Var._S`); absent in states written
   * before it, which are restored from the variance as River's `Var._from_state` does.
   */
  distanceSumSquares?: number;
  p2sMax: number;
  /** Significance test's cut point: update index and errors there (0 errors: no cut yet), s' there. */
  cutN: number;
  cutErrors: number;
  cutStd: number;
}

const NAME = 'EDDM';
const OPTION_NAMES = ['warmStart', 'alpha', 'beta', 'minErrors', 'zThreshold'] as const;

export class Eddm implements ChangeDetector {
  readonly kind = 'eddm' as const;
  readonly supportsWarning = true;

  readonly warmStart: number;
  readonly alpha: number;
  readonly beta: number;
  readonly minErrors: number;
  readonly zThreshold: number;

  private drift = false;
  private warning = false;
  private n = 0;
  private nErrors = 0;
  private lastError = 0;
  // Running mean and sum of squared deviations of the distances between errors, with River's
  // stats.Var arithmetic (river/stats/var.py: `_S += w * (x - mean_old) * (x - mean_new)`,
  // variance `_S / (n - ddof)`, ddof 1), so the ratio test sees River's bits.
  private distanceCount = 0;
  private distanceMean = 0;
  private distanceSumSquares = 0;
  private p2sMax = -1;
  // Cut point of the significance test: update index and error count at the cut (0 errors = no cut
  // yet) and s' there. The distances sum to the index of the last error, so the means before and
  // after the cut are exact ratios of integers: cutN / cutErrors and (n - cutN) / (nErrors - cutErrors).
  private cutN = 0;
  private cutErrors = 0;
  private cutStd = 0;

  constructor(options: EddmOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.warmStart = numberOption(NAME, 'warmStart', options.warmStart, 30, { min: 0, integer: true });
    this.alpha = numberOption(NAME, 'alpha', options.alpha, 0.6, { min: 0, minExclusive: true, max: 1 });
    this.beta = numberOption(NAME, 'beta', options.beta, 0.5, { min: 0, minExclusive: true, max: 1 });
    this.minErrors = numberOption(NAME, 'minErrors', options.minErrors, 25, { min: 0, integer: true });
    this.zThreshold = numberOption(NAME, 'zThreshold', options.zThreshold, 4, { min: 0 });
    if (this.alpha < this.beta) {
      throw new RangeError(`${NAME}: option 'alpha' (${this.alpha}) must be greater than or equal to 'beta' (${this.beta})`);
    }
  }

  get driftDetected(): boolean {
    return this.drift;
  }

  get warningDetected(): boolean {
    return this.warning;
  }

  update(x: number): void {
    if (x !== 0 && x !== 1) throw new RangeError(`${NAME}.update: value must be 0 (correct) or 1 (error), got ${x}`);
    if (this.drift) this.reset();

    this.n += 1;
    if (x !== 1) return;

    this.nErrors += 1;
    const distance = this.n - this.lastError;
    const previousMean = this.distanceMean;
    this.distanceCount += 1;
    this.distanceMean = riverMeanStep(this.distanceMean, distance, this.distanceCount);
    this.distanceSumSquares += (distance - previousMean) * (distance - this.distanceMean);
    this.lastError = this.n;

    if (this.n <= this.warmStart || this.nErrors < this.minErrors) return;

    // River: `self._error_distances.get() ** 0.5`; Python's ** 0.5 is C pow(v, 0.5), which glibc
    // rounds correctly, as Math.sqrt does.
    const std = Math.sqrt(this.distanceVariance());
    const p2s = this.distanceMean + 2 * std;
    if (p2s > this.p2sMax) {
      this.p2sMax = p2s;
    } else if (this.nErrors > this.warmStart) {
      const level = p2s / this.p2sMax;
      if (level < this.beta) this.drift = true;
      else this.warning = level < this.alpha;
    }

    // A deviation from a single distance is 0: the test needs two errors before and after the cut.
    if (this.zThreshold > 0 && !this.drift && this.nErrors >= 2) this.significanceTest(std);
  }

  /** River's `Var.get()`: `_S / (n - ddof)` once n > ddof (1), else 0. */
  private distanceVariance(): number {
    return this.distanceCount > 1 ? this.distanceSumSquares / (this.distanceCount - 1) : 0;
  }

  /** The second drift test (see the class comment): moves the cut point or tests the distances after it. */
  private significanceTest(std: number): void {
    const z = this.zThreshold;
    const lowerBound = this.n / this.nErrors - (z * std) / Math.sqrt(this.nErrors);
    if (this.cutErrors === 0 || lowerBound > this.cutN / this.cutErrors - (z * this.cutStd) / Math.sqrt(this.cutErrors)) {
      this.cutN = this.n;
      this.cutErrors = this.nErrors;
      this.cutStd = std;
      return;
    }
    const errorsAfter = this.nErrors - this.cutErrors;
    const drop = this.cutN / this.cutErrors - (this.n - this.cutN) / errorsAfter;
    if (drop > z * this.cutStd * Math.sqrt(1 / errorsAfter + 1 / this.cutErrors)) this.drift = true;
  }

  reset(): void {
    this.drift = false;
    this.warning = false;
    this.n = 0;
    this.nErrors = 0;
    this.lastError = 0;
    this.distanceCount = 0;
    this.distanceMean = 0;
    this.distanceSumSquares = 0;
    this.p2sMax = -1;
    this.cutN = 0;
    this.cutErrors = 0;
    this.cutStd = 0;
  }

  toJSON(): EddmState {
    return {
      kind: 'eddm',
      version: DETECTOR_STATE_VERSION,
      options: {
        warmStart: this.warmStart,
        alpha: this.alpha,
        beta: this.beta,
        minErrors: this.minErrors,
        zThreshold: this.zThreshold,
      },
      driftDetected: this.drift,
      warningDetected: this.warning,
      n: this.n,
      nErrors: this.nErrors,
      lastError: this.lastError,
      distanceCount: this.distanceCount,
      distanceMean: this.distanceMean,
      distanceVariance: this.distanceVariance(),
      distanceSumSquares: this.distanceSumSquares,
      p2sMax: this.p2sMax,
      cutN: this.cutN,
      cutErrors: this.cutErrors,
      cutStd: this.cutStd,
    };
  }

  static fromJSON(state: unknown): Eddm {
    const reader = new StateReader('Eddm.fromJSON', state, 'eddm');
    const options = reader.options() as EddmOptions;
    // A state written before minErrors/zThreshold existed ran River's test; keep it running that way.
    const before = options.minErrors === undefined;
    const detector = new Eddm(before ? { ...options, minErrors: 0, zThreshold: 0 } : options);
    detector.drift = reader.boolean('driftDetected');
    detector.warning = reader.boolean('warningDetected');
    detector.n = reader.nonNegativeInteger('n');
    detector.nErrors = reader.nonNegativeInteger('nErrors');
    detector.lastError = reader.nonNegativeInteger('lastError');
    detector.distanceCount = reader.nonNegativeInteger('distanceCount');
    detector.distanceMean = reader.number('distanceMean');
    const variance = reader.number('distanceVariance');
    const sumSquares = reader.optionalNumber('distanceSumSquares');
    detector.distanceSumSquares = sumSquares ?? variance * Math.max(detector.distanceCount - 1, 0);
    detector.p2sMax = reader.number('p2sMax');
    if (before) return detector;
    detector.cutN = reader.nonNegativeInteger('cutN');
    detector.cutErrors = reader.nonNegativeInteger('cutErrors');
    detector.cutStd = reader.number('cutStd');
    if (detector.cutErrors > detector.nErrors || detector.cutN > detector.n) {
      reader.fail('state.cutErrors / state.cutN must not exceed state.nErrors / state.n');
    }
    return detector;
  }
}

export const EDDM: DetectorDefinition<'eddm', Eddm, EddmOptions> = {
  kind: 'eddm',
  description: 'EDDM: distance between consecutive errors against its largest mean + 2 std (0/1 errors)',
  create: (options) => new Eddm(options),
  fromJSON: (state) => Eddm.fromJSON(state),
  riverOptions: { alpha: 0.95, beta: 0.9, minErrors: 0, zThreshold: 0 },
};
