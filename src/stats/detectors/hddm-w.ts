/**
 * HDDM_W (Frías-Blanco et al. 2014), drift detection from McDiarmid's bound on exponentially
 * weighted moving averages, following River's `drift.binary.HDDM_W` (a port of MOA's).
 *
 * The EWMA of the whole stream is compared with the EWMA of the values since the point where its
 * upper (lower) bound was lowest (highest); a significant rise is a drift, at the looser warning
 * confidence a warning. Input: values in [0, 1], usually 1 for an error and 0 for a correct
 * prediction. Starts over on the update after a drift.
 */

import { assertKnownOptions, booleanOption, numberOption, StateReader } from './validate.ts';
import { parseConfidences } from './hddm-a.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type HddmWOptions, type HddmWSampleState, type HddmWState } from './types.ts';

const NAME = 'HDDM_W';
const OPTION_NAMES = ['driftConfidence', 'warningConfidence', 'lambda', 'twoSidedTest'] as const;

/** EWMA of a sample and its independent bound condition (River's SampleInfo); mutated in place. */
class WeightedSample {
  ewma = 0;
  initialized = false;
  /** Sum of squared weights, the variance factor of McDiarmid's bound. */
  ibc = 1;

  update(x: number, lambda: number, oneMinusLambda: number, lambdaSquared: number, oneMinusLambdaSquared: number): void {
    // River's EWMean: the first value is taken as is, then lambda * x + (1 - lambda) * ewma.
    this.ewma = this.initialized ? lambda * x + oneMinusLambda * this.ewma : x;
    this.initialized = true;
    this.ibc = lambdaSquared + oneMinusLambdaSquared * this.ibc;
  }

  clear(): void {
    this.ewma = 0;
    this.initialized = false;
    this.ibc = 1;
  }

  copyFrom(other: WeightedSample): void {
    this.ewma = other.ewma;
    this.initialized = other.initialized;
    this.ibc = other.ibc;
  }

  toJSON(): HddmWSampleState {
    return { ewma: this.ewma, initialized: this.initialized, ibc: this.ibc };
  }

  restore(reader: StateReader, field: string): void {
    const record = reader.object(field);
    this.ewma = reader.number('ewma', record, `state.${field}.ewma`);
    this.initialized = reader.boolean('initialized', record, `state.${field}.initialized`);
    this.ibc = reader.number('ibc', record, `state.${field}.ibc`);
  }
}

export class HddmW implements ChangeDetector {
  readonly kind = 'hddm_w' as const;
  readonly supportsWarning = true;

  readonly driftConfidence: number;
  readonly warningConfidence: number;
  readonly lambda: number;
  readonly twoSidedTest: boolean;
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

  constructor(options: HddmWOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    const confidences = parseConfidences(NAME, options);
    this.driftConfidence = confidences.driftConfidence;
    this.warningConfidence = confidences.warningConfidence;
    this.lambda = numberOption(NAME, 'lambda', options.lambda, 0.05, { min: 0, minExclusive: true, max: 1 });
    this.twoSidedTest = booleanOption(NAME, 'twoSidedTest', options.twoSidedTest, false);
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
    const eps = mcdiarmidBound(this.total.ibc, this.logInverseDrift);
    if (this.total.ewma + eps < this.incrCutpoint) {
      this.incrCutpoint = this.total.ewma + eps;
      this.s1Incr.copyFrom(this.total);
      this.s2Incr.clear();
    } else {
      this.updateSample(this.s2Incr, x);
    }
    if (meanRose(this.s1Incr, this.s2Incr, this.logInverseDrift)) {
      this.warning = false;
      this.drift = true;
    } else {
      this.warning = meanRose(this.s1Incr, this.s2Incr, this.logInverseWarning);
      this.drift = false;
    }

    if (this.total.ewma - eps > this.decrCutpoint) {
      this.decrCutpoint = this.total.ewma - eps;
      this.s1Decr.copyFrom(this.total);
      this.s2Decr.clear();
    } else {
      this.updateSample(this.s2Decr, x);
    }
    if (this.twoSidedTest) {
      if (meanRose(this.s2Decr, this.s1Decr, this.logInverseDrift)) this.drift = true;
      else if (meanRose(this.s2Decr, this.s1Decr, this.logInverseWarning)) this.warning = true;
    }
  }

  private updateSample(sample: WeightedSample, x: number): void {
    sample.update(x, this.lambda, this.oneMinusLambda, this.lambdaSquared, this.oneMinusLambdaSquared);
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
    };
  }

  static fromJSON(state: unknown): HddmW {
    const reader = new StateReader('HddmW.fromJSON', state, 'hddm_w');
    const detector = new HddmW(reader.options() as HddmWOptions);
    detector.drift = reader.boolean('driftDetected');
    detector.warning = reader.boolean('warningDetected');
    detector.total.restore(reader, 'total');
    detector.s1Incr.restore(reader, 's1Incr');
    detector.s2Incr.restore(reader, 's2Incr');
    detector.s1Decr.restore(reader, 's1Decr');
    detector.s2Decr.restore(reader, 's2Decr');
    detector.incrCutpoint = reader.nullableNumber('incrCutpoint') ?? Infinity;
    detector.decrCutpoint = reader.nullableNumber('decrCutpoint') ?? -Infinity;
    return detector;
  }
}

function mcdiarmidBound(ibc: number, logInverseConfidence: number): number {
  return Math.sqrt((ibc * logInverseConfidence) / 2);
}

/** Whether `later`'s EWMA exceeds `earlier`'s by more than McDiarmid's bound. */
function meanRose(earlier: WeightedSample, later: WeightedSample, logInverseConfidence: number): boolean {
  if (!(earlier.initialized && later.initialized)) return false;
  return later.ewma - earlier.ewma > mcdiarmidBound(earlier.ibc + later.ibc, logInverseConfidence);
}
