/**
 * HDDM_A (Frías-Blanco et al. 2014), drift detection from Hoeffding's bound on moving averages,
 * following River's `drift.binary.HDDM_A` (itself a port of MOA's).
 *
 * Keeps the mean of everything since the last reset (Z) and a snapshot of Z taken where its upper
 * (lower) Hoeffding bound was lowest (highest); a significant rise of Z over the snapshot is a
 * drift, at the looser warning confidence a warning. Input: values in [0, 1] — usually 1 for an
 * error and 0 for a correct prediction (the bound holds for any variable in [0, 1]).
 * Starts over on the update after a drift.
 */

import { assertKnownOptions, booleanOption, numberOption, StateReader } from './validate.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type HddmAOptions, type HddmAState } from './types.ts';

const NAME = 'HDDM_A';
const OPTION_NAMES = ['driftConfidence', 'warningConfidence', 'twoSidedTest'] as const;

export class HddmA implements ChangeDetector {
  readonly kind = 'hddm_a' as const;
  readonly supportsWarning = true;

  readonly driftConfidence: number;
  readonly warningConfidence: number;
  readonly twoSidedTest: boolean;
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
    const confidences = parseConfidences(NAME, options);
    this.driftConfidence = confidences.driftConfidence;
    this.warningConfidence = confidences.warningConfidence;
    this.twoSidedTest = booleanOption(NAME, 'twoSidedTest', options.twoSidedTest, false);
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
    this.zMean += (x - this.zMean) / this.zN;
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
    const m = ((this.zN - this.minN) / this.minN) * (1 / this.zN);
    return this.zMean - this.minMean >= Math.sqrt((m / 2) * logTwoOverConfidence);
  }

  private meanDecreased(logTwoOverConfidence: number): boolean {
    if (this.maxN === this.zN) return false;
    const m = ((this.zN - this.maxN) / this.maxN) * (1 / this.zN);
    return this.maxMean - this.zMean >= Math.sqrt((m / 2) * logTwoOverConfidence);
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
      options: { driftConfidence: this.driftConfidence, warningConfidence: this.warningConfidence, twoSidedTest: this.twoSidedTest },
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
    const detector = new HddmA(reader.options() as HddmAOptions);
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

/** Shared by HDDM_A and HDDM_W: both confidences in (0, 1), the warning one the looser. */
export function parseConfidences(
  name: string,
  options: HddmAOptions,
): { driftConfidence: number; warningConfidence: number } {
  const bounds = { min: 0, minExclusive: true, max: 1, maxExclusive: true };
  const driftConfidence = numberOption(name, 'driftConfidence', options.driftConfidence, 0.001, bounds);
  const warningConfidence = numberOption(name, 'warningConfidence', options.warningConfidence, 0.005, bounds);
  if (warningConfidence < driftConfidence) {
    throw new RangeError(
      `${name}: option 'warningConfidence' (${warningConfidence}) must be >= 'driftConfidence' (${driftConfidence}); a warning must come no later than a drift`,
    );
  }
  return { driftConfidence, warningConfidence };
}
