/**
 * DDM, the Drift Detection Method of Gama et al. 2004, following River's `drift.binary.DDM`.
 *
 * Tracks the error rate p and its binomial standard deviation s = sqrt(p(1-p)/n); after the warm
 * start it remembers the (p, s) where p + s was lowest and signals a warning when
 * p + s > p_min + warningThreshold * s_min and a drift when p + s > p_min + driftThreshold * s_min.
 * Input: 1 for an error, 0 for a correct prediction. Starts over on the update after a drift.
 *
 * One deliberate difference: the warm start defaults to 200 updates instead of River's 30. The
 * minimum of p + s is remembered forever, so one taken in the first tens of updates, where s is
 * still large (p = 1/30 gives s = 0.033), sets the drift level p_min + 3 s_min far above the real
 * error rate: on SEA (error rate 0.10 -> 0.16-0.21 after 5000 events) River's default misses 5
 * of 60 changes and averages 1202 events to detect the rest; with 200, none is missed, the mean
 * delay is 857 and false alarms fall from 3.5 to 0.5 per million (bench/detection.ts). River's
 * documented example drifts at the same index (1334) with either warm start.
 *
 * What no setting fixes: a fresh DDM false-alarms in its first thousands of updates (~40 per
 * million events in the first 5000 at an error rate of 0.1, against 0.1 per million over long
 * runs). p_min is the lowest point the cumulative rate has touched, which noise sets early. While
 * n is close to that point s is close to s_min, so p + s > p_min + 3 s_min is about a 2-sigma test
 * of p against a low outlier. Measured: a warm start of 2000 still gives ~4 per million, and
 * dropping s from the left side with a threshold of 3.5 gives ~4 per million and a mean SEA delay
 * of 1435, so the drift level cannot be raised without missing the delay target. HDDM_A is the
 * statistically sound successor, and it is the one the worker runs.
 */

import { assertKnownOptions, numberOption, StateReader } from './validate.ts';
import { riverMeanStep } from './river-mean.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type DetectorDefinition, type DetectorStateBase } from './types.ts';

export interface DdmOptions {
  /** Values seen before warnings/drifts may be signalled (River: warm_start; default here 200, River 30). */
  warmStart?: number;
  /** Standard deviations above the best p+s for a warning (River: warning_threshold). */
  warningThreshold?: number;
  /** Standard deviations above the best p+s for a drift (River: drift_threshold). */
  driftThreshold?: number;
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

const NAME = 'DDM';
const OPTION_NAMES = ['warmStart', 'warningThreshold', 'driftThreshold'] as const;

export class Ddm implements ChangeDetector {
  readonly kind = 'ddm' as const;
  readonly supportsWarning = true;

  readonly warmStart: number;
  readonly warningThreshold: number;
  readonly driftThreshold: number;

  private drift = false;
  private warning = false;
  private n = 0;
  private p = 0;
  // NaN/Infinity stand for River's None / +inf before the warm start ends.
  private pMin = NaN;
  private sMin = NaN;
  private psMin = Infinity;

  constructor(options: DdmOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.warmStart = numberOption(NAME, 'warmStart', options.warmStart, 200, { min: 0, integer: true });
    this.warningThreshold = numberOption(NAME, 'warningThreshold', options.warningThreshold, 2, { min: 0, minExclusive: true });
    this.driftThreshold = numberOption(NAME, 'driftThreshold', options.driftThreshold, 3, { min: 0, minExclusive: true });
    // A warning threshold above the drift one is accepted, as River accepts it: the drift test
    // then fires first and clears the warning, so the warning is never signalled, which is
    // harmless and is what River does with the same pair.
  }

  get driftDetected(): boolean {
    return this.drift;
  }

  get warningDetected(): boolean {
    return this.warning;
  }

  /** Error rate since the last reset. */
  get estimation(): number {
    return this.p;
  }

  update(x: number): void {
    if (x !== 0 && x !== 1) throw new RangeError(`${NAME}.update: value must be 0 (correct) or 1 (error), got ${x}`);
    if (this.drift) this.reset();

    this.n += 1;
    this.p = riverMeanStep(this.p, x, this.n);
    const p = this.p;
    const s = Math.sqrt((p * (1 - p)) / this.n);

    if (this.n > this.warmStart) {
      if (p + s <= this.psMin) {
        this.pMin = p;
        this.sMin = s;
        this.psMin = p + s;
      }
      this.warning = p + s > this.pMin + this.warningThreshold * this.sMin;
      if (p + s > this.pMin + this.driftThreshold * this.sMin) {
        this.drift = true;
        this.warning = false;
      }
    }
  }

  reset(): void {
    this.drift = false;
    this.warning = false;
    this.n = 0;
    this.p = 0;
    this.pMin = NaN;
    this.sMin = NaN;
    this.psMin = Infinity;
  }

  toJSON(): DdmState {
    const started = this.psMin !== Infinity;
    return {
      kind: 'ddm',
      version: DETECTOR_STATE_VERSION,
      options: { warmStart: this.warmStart, warningThreshold: this.warningThreshold, driftThreshold: this.driftThreshold },
      driftDetected: this.drift,
      warningDetected: this.warning,
      n: this.n,
      p: this.p,
      pMin: started ? this.pMin : null,
      sMin: started ? this.sMin : null,
      psMin: started ? this.psMin : null,
    };
  }

  static fromJSON(state: unknown): Ddm {
    const reader = new StateReader('Ddm.fromJSON', state, 'ddm');
    const detector = new Ddm(reader.options() as DdmOptions);
    detector.drift = reader.boolean('driftDetected');
    detector.warning = reader.boolean('warningDetected');
    detector.n = reader.nonNegativeInteger('n');
    detector.p = reader.number('p');
    const psMin = reader.nullableNumber('psMin');
    if (psMin !== null) {
      detector.pMin = reader.number('pMin');
      detector.sMin = reader.number('sMin');
      detector.psMin = psMin;
    }
    return detector;
  }
}

export const DDM: DetectorDefinition<'ddm', Ddm, DdmOptions> = {
  kind: 'ddm',
  description: 'DDM: error rate p + s against its lowest value, warning at 2 and drift at 3 standard deviations (0/1 errors)',
  create: (options) => new Ddm(options),
  fromJSON: (state) => Ddm.fromJSON(state),
  riverOptions: { warmStart: 30 },
};
