/**
 * EDDM, the Early Drift Detection Method of Baena-García et al. 2006, following River's
 * `drift.binary.EDDM`.
 *
 * Watches the distance (in updates) between consecutive errors: its running mean p' and standard
 * deviation s'. While the model is stable or improving p' + 2s' grows; its maximum is remembered and
 * once both the updates and the errors exceed the warm start, a ratio (p' + 2s') / max below `alpha`
 * is a warning and below `beta` a drift. Input: 1 for an error, 0 for a correct prediction.
 * Starts over on the update after a drift.
 */

import { assertKnownOptions, numberOption, StateReader } from './validate.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type EddmOptions, type EddmState } from './types.ts';

const NAME = 'EDDM';
const OPTION_NAMES = ['warmStart', 'alpha', 'beta'] as const;

export class Eddm implements ChangeDetector {
  readonly kind = 'eddm' as const;
  readonly supportsWarning = true;

  readonly warmStart: number;
  readonly alpha: number;
  readonly beta: number;

  private drift = false;
  private warning = false;
  private n = 0;
  private nErrors = 0;
  private lastError = 0;
  // Welford running mean/variance (ddof 1) of the distances between errors, as River's stats.Var.
  private distanceCount = 0;
  private distanceMean = 0;
  private distanceVariance = 0;
  private p2sMax = -1;

  constructor(options: EddmOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.warmStart = numberOption(NAME, 'warmStart', options.warmStart, 30, { min: 0, integer: true });
    this.alpha = numberOption(NAME, 'alpha', options.alpha, 0.95, { min: 0, minExclusive: true, max: 1 });
    this.beta = numberOption(NAME, 'beta', options.beta, 0.9, { min: 0, minExclusive: true, max: 1 });
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
    this.distanceMean += (distance - this.distanceMean) / this.distanceCount;
    if (this.distanceCount > 1) {
      this.distanceVariance +=
        ((distance - previousMean) * (distance - this.distanceMean) - this.distanceVariance) / (this.distanceCount - 1);
    }

    if (this.n > this.warmStart) {
      const p2s = this.distanceMean + 2 * Math.sqrt(this.distanceVariance);
      if (p2s > this.p2sMax) {
        this.p2sMax = p2s;
      } else if (this.nErrors > this.warmStart) {
        const level = p2s / this.p2sMax;
        if (level < this.beta) this.drift = true;
        else this.warning = level < this.alpha;
      }
    }
    this.lastError = this.n;
  }

  reset(): void {
    this.drift = false;
    this.warning = false;
    this.n = 0;
    this.nErrors = 0;
    this.lastError = 0;
    this.distanceCount = 0;
    this.distanceMean = 0;
    this.distanceVariance = 0;
    this.p2sMax = -1;
  }

  toJSON(): EddmState {
    return {
      kind: 'eddm',
      version: DETECTOR_STATE_VERSION,
      options: { warmStart: this.warmStart, alpha: this.alpha, beta: this.beta },
      driftDetected: this.drift,
      warningDetected: this.warning,
      n: this.n,
      nErrors: this.nErrors,
      lastError: this.lastError,
      distanceCount: this.distanceCount,
      distanceMean: this.distanceMean,
      distanceVariance: this.distanceVariance,
      p2sMax: this.p2sMax,
    };
  }

  static fromJSON(state: unknown): Eddm {
    const reader = new StateReader('Eddm.fromJSON', state, 'eddm');
    const detector = new Eddm(reader.options() as EddmOptions);
    detector.drift = reader.boolean('driftDetected');
    detector.warning = reader.boolean('warningDetected');
    detector.n = reader.nonNegativeInteger('n');
    detector.nErrors = reader.nonNegativeInteger('nErrors');
    detector.lastError = reader.nonNegativeInteger('lastError');
    detector.distanceCount = reader.nonNegativeInteger('distanceCount');
    detector.distanceMean = reader.number('distanceMean');
    detector.distanceVariance = reader.number('distanceVariance');
    detector.p2sMax = reader.number('p2sMax');
    return detector;
  }
}
