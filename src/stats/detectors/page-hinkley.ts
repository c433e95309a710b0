/**
 * Page–Hinkley test (Page 1954), following River's `drift.PageHinkley`: two fading cumulative sums
 * of the deviation of each value from the running mean, one tracking increases (minus `delta`) and
 * one decreases (plus `delta`). A change is signalled when a sum moves more than `threshold` away
 * from its extreme. As in River, the detector starts over on the update after a drift.
 */

import { assertKnownOptions, numberOption, StateReader } from './validate.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type PageHinkleyOptions, type PageHinkleyState } from './types.ts';

const NAME = 'PageHinkley';
const OPTION_NAMES = ['minInstances', 'delta', 'threshold', 'alpha', 'mode'] as const;
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
  private readonly watchUp: boolean;
  private readonly watchDown: boolean;

  private drift = false;
  private n = 0;
  private mean = 0;
  private sumIncrease = 0;
  private sumDecrease = 0;
  private minIncrease = Infinity;
  // River starts the running maximum at -1, not -infinity; kept for identical detections.
  private maxDecrease = -1;

  constructor(options: PageHinkleyOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.minInstances = numberOption(NAME, 'minInstances', options.minInstances, 30, { min: 1, integer: true });
    this.delta = numberOption(NAME, 'delta', options.delta, 0.005, { min: 0 });
    this.threshold = numberOption(NAME, 'threshold', options.threshold, 50, { min: 0, minExclusive: true });
    this.alpha = numberOption(NAME, 'alpha', options.alpha, 1 - 0.0001, { min: 0, minExclusive: true, max: 1 });
    const mode = options.mode ?? 'both';
    if (!MODES.includes(mode)) {
      throw new RangeError(`${NAME}: option 'mode' must be one of ${MODES.join(', ')}, got ${String(mode)}`);
    }
    this.mode = mode;
    this.watchUp = mode !== 'down';
    this.watchDown = mode !== 'up';
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
    this.mean += (x - this.mean) / this.n;
    const deviation = x - this.mean;
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
    this.sumIncrease = 0;
    this.sumDecrease = 0;
    this.minIncrease = Infinity;
    this.maxDecrease = -1;
  }

  toJSON(): PageHinkleyState {
    return {
      kind: 'page_hinkley',
      version: DETECTOR_STATE_VERSION,
      options: { minInstances: this.minInstances, delta: this.delta, threshold: this.threshold, alpha: this.alpha, mode: this.mode },
      driftDetected: this.drift,
      n: this.n,
      mean: this.mean,
      sumIncrease: this.sumIncrease,
      sumDecrease: this.sumDecrease,
      minIncrease: this.minIncrease === Infinity ? null : this.minIncrease,
      maxDecrease: this.maxDecrease,
    };
  }

  static fromJSON(state: unknown): PageHinkley {
    const reader = new StateReader('PageHinkley.fromJSON', state, 'page_hinkley');
    const detector = new PageHinkley(reader.options() as PageHinkleyOptions);
    detector.drift = reader.boolean('driftDetected');
    detector.n = reader.nonNegativeInteger('n');
    detector.mean = reader.number('mean');
    detector.sumIncrease = reader.number('sumIncrease');
    detector.sumDecrease = reader.number('sumDecrease');
    detector.minIncrease = reader.nullableNumber('minIncrease') ?? Infinity;
    detector.maxDecrease = reader.number('maxDecrease');
    return detector;
  }
}
