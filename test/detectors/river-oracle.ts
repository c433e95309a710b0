/**
 * River's detectors written out operation for operation, as the oracle of the bit-exactness tests
 * (river-bit-exact.test.ts). pip cannot reach PyPI here, so River itself cannot produce the goldens;
 * each class below transcribes River's Python with its evaluation order, citing the file. Python
 * floats are IEEE doubles and `a op= b` is `a = a op b`, so the same order gives the same bits.
 *
 * Sources (online-ml/river, main):
 * - river/stats/mean.py `Mean.update`: `self.n += w; self._mean += (w / self.n) * (x - self._mean)`
 * - river/stats/var.py `Var.update`: `mean_old = self.mean.get(); self.mean.update(x, w);
 *   mean_new = self.mean.get(); self._S += w * (x - mean_old) * (x - mean_new)`;
 *   `Var.get`: `self._S / (self.n - self.ddof)` if `self.n > self.ddof` else 0.0 (ddof 1)
 * - river/drift/page_hinkley.py `PageHinkley.update` / `_reset` / `_test_both`
 * - river/drift/binary/hddm_a.py `HDDM_A.update` / `_hoeffding_bound` / `_mean_incr` / `_mean_decr`
 * - river/drift/binary/ddm.py `DDM.update`
 * - river/drift/binary/eddm.py `EDDM.update`
 * - river/drift/binary/hddm_w.py `HDDM_W.update` / `SampleInfo`, whose EWMA is River's Rust
 *   EWMean (rust_src/ewmean.rs: the first value as is, then `alpha * x + (1 - alpha) * mean`,
 *   `1 - alpha` computed once)
 * Every detector resets at the top of the update after a drift (`if self.drift_detected: self._reset()`).
 */

/** river/stats/mean.py, with w = 1.0. */
export class RiverMean {
  n = 0;
  mean = 0;
  update(x: number): void {
    const w = 1.0;
    this.n += w;
    this.mean += (w / this.n) * (x - this.mean);
  }
  /** `clone(include_attributes=True)`: same class, same n and mean. */
  clone(): RiverMean {
    return Object.assign(Object.create(Object.getPrototypeOf(this) as object) as RiverMean, this);
  }
}

/** What driftwatch did before: `mean += (x - mean) / n` — the same formula, other roundings. */
export class NaiveMean extends RiverMean {
  override update(x: number): void {
    this.n += 1;
    this.mean += (x - this.mean) / this.n;
  }
}

/** Builds the running mean an oracle uses (River's, unless a test swaps in another arithmetic). */
export type MeanFactory = () => RiverMean;
const riverMean: MeanFactory = () => new RiverMean();

/** river/stats/var.py, ddof 1, with w = 1.0. */
export class RiverVar {
  readonly meanOf: RiverMean = new RiverMean();
  private s = 0;
  update(x: number): void {
    const w = 1.0;
    const meanOld = this.meanOf.mean;
    this.meanOf.update(x);
    const meanNew = this.meanOf.mean;
    this.s += w * (x - meanOld) * (x - meanNew);
  }
  get(): number {
    return this.meanOf.n > 1 ? this.s / (this.meanOf.n - 1) : 0.0;
  }
}

export interface RiverFlags {
  drift: boolean;
  warning: boolean;
}

/**
 * What driftwatch's EDDM did before: the mean as `(x - mean) / n` and the variance by
 * `var += ((x - mean_old) (x - mean_new) - var) / (n - 1)` — the same statistics, other roundings.
 */
export class NaiveVar extends RiverVar {
  override readonly meanOf: RiverMean = new NaiveMean();
  private variance = 0;
  override update(x: number): void {
    const meanOld = this.meanOf.mean;
    this.meanOf.update(x);
    if (this.meanOf.n > 1) this.variance += ((x - meanOld) * (x - this.meanOf.mean) - this.variance) / (this.meanOf.n - 1);
  }
  override get(): number {
    return this.variance;
  }
}

/** river/drift/page_hinkley.py, mode "both". */
export class RiverPageHinkley {
  drift = false;
  private xMean: RiverMean;
  private sumIncrease = 0.0;
  private sumDecrease = 0.0;
  private minIncrease = Infinity;
  private maxDecrease = -1;
  constructor(
    private readonly minInstances = 30,
    private readonly delta = 0.005,
    private readonly threshold = 50.0,
    private readonly alpha = 1 - 0.0001,
    private readonly newMean: MeanFactory = riverMean,
  ) {
    this.xMean = newMean();
  }
  /** `test_increase` of the last update (the statistic the threshold is compared with). */
  lastTestIncrease = 0;
  update(x: number): void {
    if (this.drift) {
      this.drift = false;
      this.xMean = this.newMean();
      this.sumIncrease = 0.0;
      this.sumDecrease = 0.0;
      this.minIncrease = Infinity;
      this.maxDecrease = -1;
    }
    this.xMean.update(x);
    const dev = x - this.xMean.mean;
    this.sumIncrease = this.alpha * this.sumIncrease + dev - this.delta;
    this.sumDecrease = this.alpha * this.sumDecrease + dev + this.delta;
    if (this.sumIncrease < this.minIncrease) this.minIncrease = this.sumIncrease;
    if (this.sumDecrease > this.maxDecrease) this.maxDecrease = this.sumDecrease;
    if (this.xMean.n >= this.minInstances) {
      const testIncrease = this.sumIncrease - this.minIncrease;
      const testDecrease = this.maxDecrease - this.sumDecrease;
      this.lastTestIncrease = testIncrease;
      this.drift = testIncrease > this.threshold || testDecrease > this.threshold;
    }
  }
}

/** river/drift/binary/hddm_a.py. */
export class RiverHddmA implements RiverFlags {
  drift = false;
  warning = false;
  private xMin: RiverMean;
  private xMax: RiverMean;
  private z: RiverMean;
  constructor(
    private readonly driftConfidence = 0.001,
    private readonly warningConfidence = 0.005,
    private readonly twoSidedTest = false,
    private readonly newMean: MeanFactory = riverMean,
  ) {
    this.xMin = newMean();
    this.xMax = newMean();
    this.z = newMean();
  }
  private hoeffdingBound(n: number): number {
    return Math.sqrt((1.0 / (2 * n)) * Math.log(1.0 / this.driftConfidence));
  }
  private meanIncr(confidence: number): boolean {
    if (this.xMin.n === this.z.n) return false;
    const m = ((this.z.n - this.xMin.n) / this.xMin.n) * (1.0 / this.z.n);
    const eps = Math.sqrt((m / 2) * Math.log(2.0 / confidence));
    return this.z.mean - this.xMin.mean >= eps;
  }
  private meanDecr(confidence: number): boolean {
    if (this.xMax.n === this.z.n) return false;
    const m = ((this.z.n - this.xMax.n) / this.xMax.n) * (1.0 / this.z.n);
    const eps = Math.sqrt((m / 2) * Math.log(2.0 / confidence));
    return this.xMax.mean - this.z.mean >= eps;
  }
  update(x: number): void {
    if (this.drift) {
      this.drift = false;
      this.warning = false;
      this.xMin = this.newMean();
      this.xMax = this.newMean();
      this.z = this.newMean();
    }
    this.z.update(x);
    if (this.xMin.n === 0) this.xMin = this.z.clone();
    if (this.xMax.n === 0) this.xMax = this.z.clone();
    const epsZ = this.hoeffdingBound(this.z.n);
    let epsX = this.hoeffdingBound(this.xMin.n);
    if (this.xMin.mean + epsX >= this.z.mean + epsZ) this.xMin = this.z.clone();
    epsX = this.hoeffdingBound(this.xMax.n);
    if (this.xMax.mean - epsX <= this.z.mean - epsZ) this.xMax = this.z.clone();
    if (this.meanIncr(this.driftConfidence)) {
      this.warning = false;
      this.drift = true;
    } else if (this.meanIncr(this.warningConfidence)) {
      this.warning = true;
      this.drift = false;
    } else {
      this.warning = false;
      this.drift = false;
    }
    if (this.twoSidedTest) {
      if (this.meanDecr(this.driftConfidence)) this.drift = true;
      else if (this.meanDecr(this.warningConfidence)) this.warning = true;
    }
  }
}

/** river/drift/binary/ddm.py. */
export class RiverDdm implements RiverFlags {
  drift = false;
  warning = false;
  private p: RiverMean;
  private pMin = NaN;
  /** (p_i + s_i - p_min) / s_min after the warm start: the drift threshold that update sits at. */
  readonly ratios: number[] = [];
  private sMin = NaN;
  private psMin = Infinity;
  constructor(
    private readonly warmStart = 30,
    private readonly warningThreshold = 2.0,
    private readonly driftThreshold = 3.0,
    private readonly newMean: MeanFactory = riverMean,
  ) {
    this.p = newMean();
  }
  update(x: number): void {
    if (this.drift) {
      this.drift = false;
      this.warning = false;
      this.p = this.newMean();
      this.pMin = NaN;
      this.sMin = NaN;
      this.psMin = Infinity;
    }
    this.p.update(x);
    const pI = this.p.mean;
    const n = this.p.n;
    const sI = Math.sqrt((pI * (1 - pI)) / n);
    if (n > this.warmStart) {
      if (pI + sI <= this.psMin) {
        this.pMin = pI;
        this.sMin = sI;
        this.psMin = this.pMin + this.sMin;
      }
      if (this.sMin > 0) this.ratios.push((pI + sI - this.pMin) / this.sMin);
      this.warning = pI + sI > this.pMin + this.warningThreshold * this.sMin;
      if (pI + sI > this.pMin + this.driftThreshold * this.sMin) {
        this.drift = true;
        this.warning = false;
      }
    }
  }
}

/** river/drift/binary/eddm.py. */
export class RiverEddm implements RiverFlags {
  drift = false;
  warning = false;
  private distances: RiverVar;
  /** Every `level` the ratio test computed, with the update index (0-based) it was computed at. */
  readonly levels: { index: number; level: number }[] = [];
  private n = 0;
  private lastError = 0;
  private nErrors = 0;
  private p2sMax = -1;
  constructor(
    private readonly warmStart = 30,
    private readonly alpha = 0.95,
    private readonly beta = 0.9,
    private readonly newVar: () => RiverVar = () => new RiverVar(),
  ) {
    this.distances = newVar();
  }
  private updates = 0;
  update(x: number): void {
    this.updates += 1;
    if (this.drift) {
      this.drift = false;
      this.warning = false;
      this.distances = this.newVar();
      this.n = 0;
      this.lastError = 0;
      this.nErrors = 0;
      this.p2sMax = -1;
    }
    this.n += 1;
    if (x !== 1) return;
    this.nErrors += 1;
    this.distances.update(this.n - this.lastError);
    if (this.n > this.warmStart) {
      const piPrime = this.distances.meanOf.mean;
      // `** 0.5`: C pow(v, 0.5), correctly rounded by glibc as sqrt is.
      const siPrime = Math.sqrt(this.distances.get());
      const p2sPrime = piPrime + 2 * siPrime;
      if (p2sPrime > this.p2sMax) {
        this.p2sMax = p2sPrime;
      } else if (this.nErrors > this.warmStart) {
        const level = p2sPrime / this.p2sMax;
        this.levels.push({ index: this.updates - 1, level });
        if (level < this.beta) this.drift = true;
        else if (level < this.alpha) this.warning = true;
        else this.warning = false;
      }
    }
    this.lastError = this.n;
  }
}

/** river/drift/binary/hddm_w.py `SampleInfo` over rust_src/ewmean.rs. */
class RiverSampleInfo {
  ewma = 0;
  isInit = false;
  ibc = 1.0;
  private readonly lambdSq: number;
  private readonly cLambdSq: number;
  private readonly oneMinusAlpha: number;
  constructor(private readonly lambd: number) {
    this.lambdSq = lambd * lambd;
    this.cLambdSq = (1 - lambd) ** 2;
    this.oneMinusAlpha = 1.0 - lambd;
  }
  update(x: number): void {
    this.ewma = this.isInit ? this.lambd * x + this.oneMinusAlpha * this.ewma : x;
    this.isInit = true;
    this.ibc = this.lambdSq + this.cLambdSq * this.ibc;
  }
  copy(): RiverSampleInfo {
    return Object.assign(new RiverSampleInfo(this.lambd), this);
  }
}

/** river/drift/binary/hddm_w.py. */
export class RiverHddmW implements RiverFlags {
  drift = false;
  warning = false;
  private total!: RiverSampleInfo;
  private s1Decr!: RiverSampleInfo;
  private s1Incr!: RiverSampleInfo;
  private s2Decr!: RiverSampleInfo;
  private s2Incr!: RiverSampleInfo;
  private incrCutpoint = Infinity;
  private decrCutpoint = -Infinity;
  constructor(
    private readonly driftConfidence = 0.001,
    private readonly warningConfidence = 0.005,
    private readonly lambdaVal = 0.05,
    private readonly twoSidedTest = false,
  ) {
    this.reset();
  }
  private reset(): void {
    this.drift = false;
    this.warning = false;
    this.total = new RiverSampleInfo(this.lambdaVal);
    this.s1Decr = new RiverSampleInfo(this.lambdaVal);
    this.s1Incr = new RiverSampleInfo(this.lambdaVal);
    this.s2Decr = new RiverSampleInfo(this.lambdaVal);
    this.s2Incr = new RiverSampleInfo(this.lambdaVal);
    this.incrCutpoint = Infinity;
    this.decrCutpoint = -Infinity;
  }
  private mcdiarmidBound(ibc: number, confidence: number): number {
    return Math.sqrt((ibc * Math.log(1 / confidence)) / 2);
  }
  private hasMeanChanged(sample1: RiverSampleInfo, sample2: RiverSampleInfo, confidence: number): boolean {
    if (!(sample1.isInit && sample2.isInit)) return false;
    const ibcSum = sample1.ibc + sample2.ibc;
    return sample2.ewma - sample1.ewma > this.mcdiarmidBound(ibcSum, confidence);
  }
  update(x: number): void {
    if (this.drift) this.reset();
    this.total.update(x);
    let eps = this.mcdiarmidBound(this.total.ibc, this.driftConfidence);
    if (this.total.ewma + eps < this.incrCutpoint) {
      this.incrCutpoint = this.total.ewma + eps;
      this.s1Incr = this.total.copy();
      this.s2Incr = new RiverSampleInfo(this.lambdaVal);
    } else {
      this.s2Incr.update(x);
    }
    if (this.hasMeanChanged(this.s1Incr, this.s2Incr, this.driftConfidence)) {
      this.warning = false;
      this.drift = true;
    } else if (this.hasMeanChanged(this.s1Incr, this.s2Incr, this.warningConfidence)) {
      this.warning = true;
      this.drift = false;
    } else {
      this.warning = false;
      this.drift = false;
    }
    eps = this.mcdiarmidBound(this.total.ibc, this.driftConfidence);
    if (this.total.ewma - eps > this.decrCutpoint) {
      this.decrCutpoint = this.total.ewma - eps;
      this.s1Decr = this.total.copy();
      this.s2Decr = new RiverSampleInfo(this.lambdaVal);
    } else {
      this.s2Decr.update(x);
    }
    if (this.twoSidedTest) {
      if (this.hasMeanChanged(this.s2Decr, this.s1Decr, this.driftConfidence)) this.drift = true;
      else if (this.hasMeanChanged(this.s2Decr, this.s1Decr, this.warningConfidence)) this.warning = true;
    }
  }
}
