/**
 * ADWIN (ADaptive WINdowing), Bifet & Gavaldà 2007, following River's `drift.ADWIN` and its
 * helper `river/drift/adwin_c.pyx` line by line so the same stream gives the same detections.
 *
 * The window is kept as an exponential histogram: row r holds up to `maxBuckets` summaries
 * (sum and variance) of 2^r consecutive values, row 0 the newest values one by one. When a row
 * reaches `maxBuckets + 1` entries its two oldest are merged into one entry of the next row.
 * Every `clock` updates every cut of the window into an older part W0 and a newer part W1 (at
 * bucket boundaries) is tested; when the means differ by more than the Hoeffding/Bernstein bound
 * the oldest bucket is dropped and the test repeats. As in River, a detector that signalled a drift
 * starts over from an empty window on the next update.
 *
 * Follows River's current adwin_c.pyx (every entry of every row is a candidate cut; older versions
 * skipped the newest entry of each row). The per-cut sub-window variances River's scan also
 * accumulates (v0, v1) are never read by its test, so they are not computed here, as in River's
 * Rust port. Golden test: River's documented example detects at index 1023, and so does this.
 *
 * Storage: one Float64Array of sums and one of variances with `maxBuckets + 1` slots per row, and
 * an Int32Array of row lengths, so updates allocate nothing (the arrays grow by doubling when the
 * window needs another row, i.e. about log2(width) times in total).
 */

import { assertKnownOptions, numberOption, StateReader } from './validate.ts';
import { DETECTOR_STATE_VERSION, type ChangeDetector, type DetectorDefinition, type DetectorStateBase } from './types.ts';

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

const NAME = 'ADWIN';
const OPTION_NAMES = ['delta', 'clock', 'maxBuckets', 'minWindowLength', 'gracePeriod'] as const;
const INITIAL_ROW_CAPACITY = 16;

export class Adwin implements ChangeDetector {
  readonly kind = 'adwin' as const;
  readonly supportsWarning = false;
  readonly warningDetected = false;

  readonly delta: number;
  readonly clock: number;
  readonly maxBuckets: number;
  readonly minWindowLength: number;
  readonly gracePeriod: number;

  private drift = false;
  private tick = 0;
  private windowWidth = 0;
  private windowTotal = 0;
  /** Sum of squared deviations from the mean over the window (River's `variance`). */
  private windowVariance = 0;
  private detections = 0;

  private readonly slotsPerRow: number;
  private rowCapacity = INITIAL_ROW_CAPACITY;
  private rowCount = 1;
  private rowLengths = new Int32Array(INITIAL_ROW_CAPACITY);
  private totals: Float64Array;
  private variances: Float64Array;

  constructor(options: AdwinOptions = {}) {
    assertKnownOptions(NAME, options, OPTION_NAMES);
    this.delta = numberOption(NAME, 'delta', options.delta, 0.002, { min: 0, minExclusive: true, max: 1, maxExclusive: true });
    this.clock = numberOption(NAME, 'clock', options.clock, 32, { min: 1, integer: true });
    this.maxBuckets = numberOption(NAME, 'maxBuckets', options.maxBuckets, 5, { min: 1, max: 1000, integer: true });
    this.minWindowLength = numberOption(NAME, 'minWindowLength', options.minWindowLength, 5, { min: 1, integer: true });
    this.gracePeriod = numberOption(NAME, 'gracePeriod', options.gracePeriod, 10, { min: 0, integer: true });
    this.slotsPerRow = this.maxBuckets + 1;
    this.totals = new Float64Array(INITIAL_ROW_CAPACITY * this.slotsPerRow);
    this.variances = new Float64Array(INITIAL_ROW_CAPACITY * this.slotsPerRow);
  }

  get driftDetected(): boolean {
    return this.drift;
  }

  /** Number of values in the current window. */
  get width(): number {
    return this.windowWidth;
  }

  /** Sum of the values in the current window. */
  get total(): number {
    return this.windowTotal;
  }

  /** Sum of squared deviations from the window mean (River's `variance` property). */
  get variance(): number {
    return this.windowVariance;
  }

  /** Mean of the current window, 0 when empty. */
  get estimation(): number {
    return this.windowWidth === 0 ? 0 : this.windowTotal / this.windowWidth;
  }

  /** Window cuts made since the last reset (River's `n_detections`, which a reset also clears). */
  get nDetections(): number {
    return this.detections;
  }

  update(x: number): void {
    if (!Number.isFinite(x)) throw new RangeError(`${NAME}.update: value must be a finite number, got ${x}`);
    if (this.drift) this.reset();
    this.insert(x);
    this.drift = this.detectChange();
  }

  reset(): void {
    this.drift = false;
    this.tick = 0;
    this.windowWidth = 0;
    this.windowTotal = 0;
    this.windowVariance = 0;
    this.detections = 0;
    this.rowCount = 1;
    this.rowLengths[0] = 0;
  }

  private insert(value: number): void {
    const slot = this.rowLengths[0];
    this.totals[slot] = value;
    this.variances[slot] = 0;
    this.rowLengths[0] = slot + 1;

    this.windowWidth += 1;
    if (this.windowWidth > 1) {
      // River's expression, kept in its order so rounding matches.
      const d = value - this.windowTotal / (this.windowWidth - 1);
      this.windowVariance += ((this.windowWidth - 1) * d * d) / this.windowWidth;
    }
    this.windowTotal += value;
    this.compressRows();
  }

  private compressRows(): void {
    const slots = this.slotsPerRow;
    const full = this.maxBuckets + 1;
    let bucketSize = 1;
    for (let row = 0; this.rowLengths[row] === full; row++) {
      if (row + 1 === this.rowCount) {
        if (this.rowCount === this.rowCapacity) this.growRows();
        this.rowLengths[this.rowCount] = 0;
        this.rowCount += 1;
      }
      const base = row * slots;
      const t0 = this.totals[base];
      const t1 = this.totals[base + 1];
      const mu1 = t0 / bucketSize;
      const mu2 = t1 / bucketSize;
      // n1 * n2 / (n1 + n2) = n1 / 2 as both buckets hold 2^row values (River's current form).
      const merged = this.variances[base] + this.variances[base + 1] + bucketSize * 0.5 * (mu1 - mu2) * (mu1 - mu2);
      const next = (row + 1) * slots + this.rowLengths[row + 1];
      this.totals[next] = t0 + t1;
      this.variances[next] = merged;
      this.rowLengths[row + 1] += 1;
      // A row holds at most maxBuckets + 1 entries: shifting by hand beats copyWithin's call cost.
      for (let k = base + 2; k < base + full; k++) {
        this.totals[k - 2] = this.totals[k];
        this.variances[k - 2] = this.variances[k];
      }
      this.rowLengths[row] -= 2;
      if (this.rowLengths[row + 1] <= this.maxBuckets) break;
      bucketSize *= 2;
    }
  }

  private growRows(): void {
    this.rowCapacity *= 2;
    const totals = new Float64Array(this.rowCapacity * this.slotsPerRow);
    const variances = new Float64Array(this.rowCapacity * this.slotsPerRow);
    const lengths = new Int32Array(this.rowCapacity);
    totals.set(this.totals);
    variances.set(this.variances);
    lengths.set(this.rowLengths);
    this.totals = totals;
    this.variances = variances;
    this.rowLengths = lengths;
  }

  /** Drops the oldest bucket (first entry of the last row) and returns how many values it held. */
  private deleteOldest(): number {
    const row = this.rowCount - 1;
    const base = row * this.slotsPerRow;
    const n = 2 ** row;
    const u = this.totals[base];
    const mu = u / n;
    const v = this.variances[base];
    this.windowWidth -= n;
    this.windowTotal -= u;
    const muWindow = this.windowTotal / this.windowWidth;
    this.windowVariance -= v + (n * this.windowWidth * (mu - muWindow) * (mu - muWindow)) / (n + this.windowWidth);
    const length = this.rowLengths[row];
    for (let k = base + 1; k < base + length; k++) {
      this.totals[k - 1] = this.totals[k];
      this.variances[k - 1] = this.variances[k];
    }
    this.rowLengths[row] = length - 1;
    if (length === 1 && row > 0) this.rowCount -= 1;
    return n;
  }

  private detectChange(): boolean {
    let changed = false;
    this.tick += 1;
    if (this.tick % this.clock !== 0 || this.windowWidth <= this.gracePeriod) return false;

    const minLength = this.minWindowLength;
    const slots = this.slotsPerRow;
    let reduceWidth = true;
    while (reduceWidth) {
      reduceWidth = false;
      let n0 = 0;
      let n1 = this.windowWidth;
      let u0 = 0;
      let u1 = this.windowTotal;
      // Constant within one pass (the width only changes when a bucket is dropped, which ends it).
      const deltaPrime = Math.log((2 * Math.log(this.windowWidth)) / this.delta);
      const varianceInWindow = this.windowVariance / this.windowWidth;
      let bucketSize = 2 ** (this.rowCount - 1);
      scan: for (let row = this.rowCount - 1; row >= 0; row--, bucketSize /= 2) {
        const length = this.rowLengths[row];
        const base = row * slots;
        for (let k = 0; k < length; k++) {
          const t = this.totals[base + k];
          n0 += bucketSize;
          n1 -= bucketSize;
          u0 += t;
          u1 -= t;
          if (row === 0 && k === length - 1) break scan;
          if (n1 >= minLength && n0 >= minLength) {
            const deltaMean = u0 / n0 - u1 / n1;
            const mRecip = 1 / (n0 - minLength + 1) + 1 / (n1 - minLength + 1);
            const epsilon = Math.sqrt(2 * mRecip * varianceInWindow * deltaPrime) + (2 / 3) * deltaPrime * mRecip;
            if (Math.abs(deltaMean) > epsilon) {
              reduceWidth = true;
              changed = true;
              this.deleteOldest();
              break scan;
            }
          }
        }
      }
    }
    if (changed) this.detections += 1;
    return changed;
  }

  toJSON(): AdwinState {
    const rows: AdwinState['rows'] = [];
    for (let row = 0; row < this.rowCount; row++) {
      const base = row * this.slotsPerRow;
      const length = this.rowLengths[row];
      rows.push({
        totals: Array.from(this.totals.subarray(base, base + length)),
        variances: Array.from(this.variances.subarray(base, base + length)),
      });
    }
    return {
      kind: 'adwin',
      version: DETECTOR_STATE_VERSION,
      options: {
        delta: this.delta,
        clock: this.clock,
        maxBuckets: this.maxBuckets,
        minWindowLength: this.minWindowLength,
        gracePeriod: this.gracePeriod,
      },
      driftDetected: this.drift,
      tick: this.tick,
      width: this.windowWidth,
      total: this.windowTotal,
      variance: this.windowVariance,
      nDetections: this.detections,
      rows,
    };
  }

  static fromJSON(state: unknown): Adwin {
    const reader = new StateReader('Adwin.fromJSON', state, 'adwin');
    const detector = new Adwin(reader.options() as AdwinOptions);
    const rows = reader.array('rows');
    if (rows.length === 0) reader.fail('state.rows must hold at least one row');
    while (detector.rowCapacity < rows.length) detector.growRows();
    let countedWidth = 0;
    rows.forEach((rowValue, row) => {
      const path = `state.rows[${row}]`;
      if (typeof rowValue !== 'object' || rowValue === null) reader.fail(`${path} must be an object`);
      const rowRecord = rowValue as Record<string, unknown>;
      const totals = reader.array('totals', rowRecord, `${path}.totals`);
      const variances = reader.array('variances', rowRecord, `${path}.variances`);
      if (totals.length !== variances.length || totals.length > detector.maxBuckets) {
        reader.fail(`${path} must hold equally long totals and variances of at most maxBuckets (${detector.maxBuckets}) entries`);
      }
      const base = row * detector.slotsPerRow;
      for (let k = 0; k < totals.length; k++) {
        detector.totals[base + k] = reader.number(String(k), totals as unknown as Record<string, unknown>, `${path}.totals[${k}]`);
        detector.variances[base + k] = reader.number(String(k), variances as unknown as Record<string, unknown>, `${path}.variances[${k}]`);
      }
      detector.rowLengths[row] = totals.length;
      countedWidth += totals.length * 2 ** row;
    });
    detector.rowCount = rows.length;
    detector.drift = reader.boolean('driftDetected');
    detector.tick = reader.nonNegativeInteger('tick');
    detector.windowWidth = reader.nonNegativeInteger('width');
    detector.windowTotal = reader.number('total');
    detector.windowVariance = reader.number('variance');
    detector.detections = reader.nonNegativeInteger('nDetections');
    if (countedWidth !== detector.windowWidth) {
      reader.fail(`state.rows hold ${countedWidth} values but state.width is ${detector.windowWidth}`);
    }
    return detector;
  }
}

export const ADWIN: DetectorDefinition<'adwin', Adwin, AdwinOptions> = {
  kind: 'adwin',
  description: 'ADWIN: adaptive window, drift when two sub-windows have significantly different means (any numeric stream)',
  create: (options) => new Adwin(options),
  fromJSON: (state) => Adwin.fromJSON(state),
  // Its defaults are River's, so no riverOptions.
};
