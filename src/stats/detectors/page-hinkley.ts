/**
 * Page–Hinkley test (Page 1954), after River's `drift.PageHinkley`: two cumulative sums of the
 * deviation of each value from the running mean, one tracking increases (minus `delta`) and one
 * decreases (plus `delta`). A change is signalled when a sum moves more than `threshold` away from
 * its extreme. As in River, the detector starts over on the update after a drift.
 *
 * Two deliberate differences in the defaults, measured by `npm run bench -- detection`:
 * - `standardize: true`: each deviation is divided by the running standard deviation, so `delta`
 *   (0.1) and `threshold` (80) are in standard deviations. On raw deviations the same thresholds
 *   mean different things for every scale of input: on error streams, a 0.3 error rate (variance
 *   0.21) false-alarms 2.3 times as often (in the exponent) as a 0.1 rate (variance 0.09), so no
 *   raw setting meets both <= 1 false alarm per million events at 0.3 and a mean delay under 1000
 *   events on SEA at 0.1. Standardized, the defaults give a mean SEA delay of 595 events and no
 *   false alarm in 10 x 1M stationary events at error rates 0.1 and 0.3 (0 and 0.1 per million at
 *   0.02 and 0.05, where an error is a 7 or 4 standard-deviation jump).
 * - `alpha: 1` (no forgetting): River's default 0.9999 fades the sums but not their running
 *   extreme, so a stationary sum reverts to -delta / (1 - alpha) and wanders around it with a
 *   standard deviation of sigma / sqrt(2 (1 - alpha)) (~21 for a 0.1 error rate): excursions of the
 *   threshold above the running minimum then come every few tens of thousands of events (34 and 91
 *   false alarms per million at error rates 0.1 and 0.3 with River's defaults).
 * `{ standardize: false, alpha: 0.9999, delta: 0.005, threshold: 50 }` is River's test, and
 * reproduces River's documented example exactly; at the defaults here the example's change
 * (mean 0.5 -> 5.5 at index 1000) is found at index 1008 instead of 1006.
 */

import { assertKnownOptions, booleanOption, choiceOption, numberOption, StateReader } from './validate.ts';
import { riverMeanStep } from './river-mean.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type DetectorDefinition, type DetectorStateBase } from './types.ts';

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

const NAME = 'PageHinkley';
const OPTION_NAMES = ['minInstances', 'delta', 'threshold', 'alpha', 'mode', 'standardize'] as const;
const MODES = ['up', 'down', 'both'] as const;
type Mode = (typeof MODES)[number];

export class PageHinkley implements ChangeDetector {
  readonly kind = 'page_hinkley' as const;
  readonly supportsWarning = false;
  readonly warningDetected = false;

  readonly minInstances: number;
  readonly delta: number;
  readonly threshold: number;
  readonly alpha: number;
  readonly mode: Mode;
  readonly standardize: boolean;
  private readonly watchUp: boolean;
  private readonly watchDown: boolean;

  private drift = false;
  private n = 0;
  private mean = 0;
  private sumSquares = 0;
  private sumIncrease = 0;
  private sumDecrease = 0;
  private minIncrease = Infinity;
  // River starts the running maximum at -1, not -infinity; kept for identical detections.
  private maxDecrease = -1;

  constructor(options: PageHinkleyOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.minInstances = numberOption(NAME, 'minInstances', options.minInstances, 30, { min: 1, integer: true });
    this.delta = numberOption(NAME, 'delta', options.delta, 0.1, { min: 0 });
    this.threshold = numberOption(NAME, 'threshold', options.threshold, 80, { min: 0, minExclusive: true });
    this.alpha = numberOption(NAME, 'alpha', options.alpha, 1, { min: 0, minExclusive: true, max: 1 });
    this.standardize = booleanOption(NAME, 'standardize', options.standardize, true);
    this.mode = choiceOption(NAME, 'mode', options.mode, MODES, 'both');
    this.watchUp = this.mode !== 'down';
    this.watchDown = this.mode !== 'up';
  }

  get driftDetected(): boolean {
    return this.drift;
  }

  /** Running mean of the values since the last reset. */
  get estimation(): number {
    return this.mean;
  }

  update(x: number): void {
    if (!Number.isFinite(x)) throw new RangeError(`${NAME}.update: value must be a finite number, got ${x}`);
    if (this.drift) this.reset();
    this.n += 1;
    const previousMean = this.mean;
    this.mean = riverMeanStep(this.mean, x, this.n);
    let deviation = x - this.mean;
    if (this.standardize) {
      this.sumSquares += (x - previousMean) * deviation;
      // A stream constant so far has no scale yet; its first different value is a jump of
      // sqrt(n) standard deviations of the stream including it, which is what makes it a change.
      const std = Math.sqrt(this.sumSquares / this.n);
      deviation = std > 0 ? deviation / std : 0;
    }
    this.sumIncrease = this.alpha * this.sumIncrease + deviation - this.delta;
    this.sumDecrease = this.alpha * this.sumDecrease + deviation + this.delta;
    if (this.sumIncrease < this.minIncrease) this.minIncrease = this.sumIncrease;
    if (this.sumDecrease > this.maxDecrease) this.maxDecrease = this.sumDecrease;
    if (this.n >= this.minInstances) {
      this.drift =
        (this.watchUp && this.sumIncrease - this.minIncrease > this.threshold) ||
        (this.watchDown && this.maxDecrease - this.sumDecrease > this.threshold);
    }
  }

  reset(): void {
    this.drift = false;
    this.n = 0;
    this.mean = 0;
    this.sumSquares = 0;
    this.sumIncrease = 0;
    this.sumDecrease = 0;
    this.minIncrease = Infinity;
    this.maxDecrease = -1;
  }

  toJSON(): PageHinkleyState {
    return {
      kind: 'page_hinkley',
      version: DETECTOR_STATE_VERSION,
      options: {
        minInstances: this.minInstances,
        delta: this.delta,
        threshold: this.threshold,
        alpha: this.alpha,
        mode: this.mode,
        standardize: this.standardize,
      },
      driftDetected: this.drift,
      n: this.n,
      mean: this.mean,
      sumSquares: this.sumSquares,
      sumIncrease: this.sumIncrease,
      sumDecrease: this.sumDecrease,
      minIncrease: this.minIncrease === Infinity ? null : this.minIncrease,
      maxDecrease: this.maxDecrease,
    };
  }

  static fromJSON(state: unknown): PageHinkley {
    const reader = new StateReader('PageHinkley.fromJSON', state, 'page_hinkley');
    const options = reader.options() as PageHinkleyOptions;
    // A state written before `standardize` existed ran River's raw test; keep it running that way.
    const detector = new PageHinkley(options.standardize === undefined ? { ...options, standardize: false } : options);
    detector.drift = reader.boolean('driftDetected');
    detector.n = reader.nonNegativeInteger('n');
    detector.mean = reader.number('mean');
    if (detector.standardize) detector.sumSquares = reader.number('sumSquares');
    detector.sumIncrease = reader.number('sumIncrease');
    detector.sumDecrease = reader.number('sumDecrease');
    detector.minIncrease = reader.nullableNumber('minIncrease') ?? Infinity;
    detector.maxDecrease = reader.number('maxDecrease');
    return detector;
  }
}

export const PAGE_HINKLEY: DetectorDefinition<'page_hinkley', PageHinkley, PageHinkleyOptions> = {
  kind: 'page_hinkley',
  description: 'Page–Hinkley: cumulative deviations from the running mean, drift when they pass a threshold (any numeric stream)',
  create: (options) => new PageHinkley(options),
  fromJSON: (state) => PageHinkley.fromJSON(state),
  riverOptions: { standardize: false, alpha: 0.9999, delta: 0.005, threshold: 50 },
};
