/**
 * The traffic generator: a pure, seeded source of timed prediction and label events with
 * scheduled drift. No clocks, no I/O, no Math.random: the caller says what time it is and how
 * many predictions to make, so a seed and a sequence of `tick` calls reproduce a run exactly.
 */
import type { LabelEvent, PredictionEvent } from '../events/types.ts';
import { normalTwoSidedPValue } from '../stats/special.ts';
import {
  correlationFeatures,
  DEFAULT_COVARIATE_FEATURE,
  describeDrift,
  driftMagnitude,
  isDriftActive,
  validateDriftSchedule,
  type DriftSchedule,
  type DriftSpec,
} from './drift.ts';
import { LabelQueue } from './label-queue.ts';
import {
  categoricalCumulatives,
  distributionStd,
  featureNames,
  isModelKind,
  simulatedModel,
  type ModelKind,
  type SimulatedModel,
} from './models.ts';
import { cumulativeWeights, SeededRandom } from './random.ts';

export interface LabelOptions {
  /** Median delay from prediction to label (lognormal). */
  delayMedianMs: number;
  /** Sigma of the lognormal label delay; 0 makes every delay exactly the median. */
  delaySigma: number;
  /** Share of labels published just BEFORE their prediction. */
  earlyFraction: number;
  /** Share of predictions that never get a label. */
  neverFraction: number;
  /** Share of predictions published twice with the same id (a client retry). */
  duplicateFraction: number;
}

export const DEFAULT_LABEL_OPTIONS: Readonly<LabelOptions> = {
  delayMedianMs: 5000,
  delaySigma: 1,
  earlyFraction: 0.02,
  neverFraction: 0.1,
  duplicateFraction: 0.001,
};

export interface ModelSelection {
  kind: ModelKind;
  /** Published model name; defaults to the kind. */
  name?: string;
  /** Relative share of the traffic (default 1). */
  weight?: number;
}

export interface ScenarioOptions {
  seed: number;
  /** Wall-clock (or simulated) time of the start of the run: drift offsets count from here. */
  startMs: number;
  drift?: DriftSchedule;
  /** Default: one fraud model. */
  models?: readonly (ModelKind | ModelSelection)[];
  labels?: Partial<LabelOptions>;
  /** Share of traffic served by the canary version v2 (default 0.1); the rest is v1. */
  canaryFraction?: number;
  /** Share of traffic in fairness segment group b (default 0.4). */
  groupBShare?: number;
  /** Error probability without error_rate drift (default 0.005). */
  baseErrorRate?: number;
  /** Cap on labels waiting for their send time; beyond it new labels are dropped and counted. */
  maxPendingLabels?: number;
  /** Prefix of prediction ids, so two runs with one seed do not reuse ids (default `s<seed>-`). */
  idPrefix?: string;
}

export type SimEvent =
  | { at: number; kind: 'pred'; event: PredictionEvent }
  | { at: number; kind: 'label'; event: LabelEvent };

export interface ScenarioStats {
  predictions: number;
  /** Extra copies of predictions sent with an already used id. */
  duplicates: number;
  /** Predictions carrying an `error`. */
  errors: number;
  labelsEmitted: number;
  labelsEarly: number;
  labelsNever: number;
  /** Labels lost because the pending queue was full. */
  labelsDropped: number;
  pendingLabels: number;
}

export const VERSION_STABLE = 'v1';
export const VERSION_CANARY = 'v2';
const ERROR_MESSAGES = ['timeout', 'upstream_unavailable', 'feature_store_miss'] as const;
/** Extra logit noise on v2 per unit of canary magnitude. */
const CANARY_NOISE_PER_UNIT = 2.5;
/** The canary is a little slower than stable even when healthy, as new versions often are. */
const CANARY_LATENCY_FACTOR = 1.1;
const PRIOR_RATE_MIN = 0.005;
const PRIOR_RATE_MAX = 0.995;
/** Bound on rejection-sampling attempts for prior drift (the acceptance rate is >= 1/200). */
const PRIOR_MAX_ATTEMPTS = 1000;
const BASE_RATE_PILOT_DRAWS = 20_000;

/** Per-model generator state: specs, scratch buffers and the drift effects in force now. */
interface ModelRuntime {
  model: SimulatedModel;
  names: readonly string[];
  categoryCumulative: Float64Array[];
  reversedCumulative: Float64Array[];
  numericStd: Float64Array;
  baseClassRates: Float64Array;
  numeric: Float64Array;
  categorical: Int32Array;
  logits: Float64Array;
  // effects of the active drift, recomputed when time moves
  numericShift: Float64Array;
  categoricalTilt: Float64Array;
  classAccept: Float64Array;
  priorActive: boolean;
  concept: number;
  latencyAddMs: number;
  errorRate: number;
  fairnessShift: number;
  canary: number;
  /** Share of group b's answers made wrong (segment drift). */
  segmentWrong: number;
  /**
   * Correlation drift (Gaussian copula): a numeric feature drawn from a standard normal z through
   * its inverse CDF, so its distribution is exactly its own (1 = coupled, drawn that way).
   */
  coupled: Uint8Array;
  /** The earlier feature whose z a coupled feature follows, -1 for none. */
  partner: Int32Array;
  /** Correlation with the partner in force now (+rho, or -rho while the drift is active). */
  rho: Float64Array;
  /** The coupled features' z of the event being drawn. */
  z: Float64Array;
}

/** Standard normal CDF from the incomplete-gamma tail: accurate far out on the lower side (the tail itself). */
function normalCdf(z: number): number {
  const tails = normalTwoSidedPValue(z) / 2;
  return z < 0 ? tails : 1 - tails;
}

function resolveLabelOptions(partial: Partial<LabelOptions> | undefined): LabelOptions {
  const o = { ...DEFAULT_LABEL_OPTIONS, ...partial };
  const fraction = (name: keyof LabelOptions) => {
    const v = o[name];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`labels.${name} must be a fraction in [0, 1], got ${v}`);
  };
  fraction('earlyFraction');
  fraction('neverFraction');
  fraction('duplicateFraction');
  if (o.earlyFraction + o.neverFraction > 1) {
    throw new RangeError(
      `labels.earlyFraction + labels.neverFraction must be <= 1, got ${o.earlyFraction} + ${o.neverFraction}`,
    );
  }
  if (!(o.delayMedianMs >= 0) || !Number.isFinite(o.delayMedianMs)) {
    throw new RangeError(`labels.delayMedianMs must be a finite number >= 0, got ${o.delayMedianMs}`);
  }
  if (!(o.delaySigma >= 0) || !Number.isFinite(o.delaySigma)) {
    throw new RangeError(`labels.delaySigma must be a finite number >= 0, got ${o.delaySigma}`);
  }
  return o;
}

function checkFraction(name: string, v: number): number {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be a fraction in [0, 1], got ${v}`);
  return v;
}

function softmaxInPlace(logits: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    logits[i] = Math.exp(logits[i] - max);
    sum += logits[i];
  }
  for (let i = 0; i < logits.length; i++) logits[i] /= sum;
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

export class Scenario {
  private readonly rng: SeededRandom;
  private readonly runtimes: ModelRuntime[];
  private readonly modelCumulative: Float64Array;
  private readonly labelOptions: LabelOptions;
  private readonly schedule: DriftSchedule;
  private readonly queue: LabelQueue<LabelEvent>;
  private readonly canaryFraction: number;
  private readonly groupBShare: number;
  private readonly baseErrorRate: number;
  private readonly idPrefix: string;
  private effectsAt = NaN;
  private nextId = 0;
  private counts = { predictions: 0, duplicates: 0, errors: 0, labelsEmitted: 0, labelsEarly: 0, labelsNever: 0 };

  readonly startMs: number;

  constructor(options: ScenarioOptions) {
    if (!Number.isFinite(options.seed)) throw new RangeError(`seed must be a finite number, got ${options.seed}`);
    if (!Number.isFinite(options.startMs)) throw new RangeError(`startMs must be a finite number, got ${options.startMs}`);
    this.rng = new SeededRandom(options.seed);
    this.startMs = options.startMs;
    this.labelOptions = resolveLabelOptions(options.labels);
    this.canaryFraction = checkFraction('canaryFraction', options.canaryFraction ?? 0.1);
    this.groupBShare = checkFraction('groupBShare', options.groupBShare ?? 0.4);
    this.baseErrorRate = checkFraction('baseErrorRate', options.baseErrorRate ?? 0.005);
    this.idPrefix = options.idPrefix ?? `s${options.seed}-`;
    this.queue = new LabelQueue<LabelEvent>(options.maxPendingLabels ?? 100_000);

    const selections = (options.models ?? ['fraud']).map((m, i): ModelSelection => {
      const sel = typeof m === 'string' ? { kind: m } : m;
      if (!isModelKind(sel.kind)) throw new RangeError(`models[${i}]: kind must be fraud or churn, got "${String(sel.kind)}"`);
      return sel;
    });
    if (selections.length === 0) throw new RangeError('models must list at least one model');
    const names = new Set<string>();
    for (const sel of selections) {
      const name = sel.name ?? sel.kind;
      if (names.has(name)) throw new RangeError(`models: model name "${name}" is listed twice`);
      names.add(name);
    }
    this.modelCumulative = cumulativeWeights(selections.map((s) => s.weight ?? 1));
    this.runtimes = selections.map((s) => this.createRuntime(simulatedModel(s.kind, s.name)));
    this.schedule = [...(options.drift ?? [])];
    validateDriftSchedule(
      this.schedule,
      this.runtimes.map((r) => ({ name: r.model.name, features: r.names, numeric: r.model.numeric })),
    );
    for (const r of this.runtimes) this.coupleFeatures(r);
  }

  /**
   * Marks the pairs of correlation drift on a model: the later feature of a pair follows the
   * earlier one's z. Only coupled features are drawn through a normal, so a run without
   * correlation drift keeps its random sequence.
   */
  private coupleFeatures(r: ModelRuntime): void {
    for (const d of this.schedule) {
      if (d.kind !== 'correlation' || (d.model !== undefined && d.model !== r.model.name)) continue;
      const [a, b] = correlationFeatures(d).map((name) => r.model.numeric.findIndex((f) => f.name === name));
      if (a < 0 || b < 0) continue;
      r.coupled[a] = 1;
      r.coupled[b] = 1;
      r.partner[Math.max(a, b)] = Math.min(a, b);
    }
  }

  get models(): readonly SimulatedModel[] {
    return this.runtimes.map((r) => r.model);
  }

  get stats(): ScenarioStats {
    return { ...this.counts, labelsDropped: this.queue.dropped, pendingLabels: this.queue.size };
  }

  /** Drift entries in force at `nowMs`. */
  activeDrifts(nowMs: number): DriftSpec[] {
    const offset = nowMs - this.startMs;
    return this.schedule.filter((d) => isDriftActive(d, offset));
  }

  /** `activeDrifts` as short labels for logs. */
  describeActiveDrifts(nowMs: number): string[] {
    return this.activeDrifts(nowMs).map(describeDrift);
  }

  /**
   * Advances to `nowMs`: appends to `out` every label due by then (in send-time order), then
   * `predictions` new predictions stamped `nowMs` (an early label right before its prediction,
   * a duplicate right after it). Time must not go backwards.
   */
  tick(nowMs: number, predictions: number, out: SimEvent[] = []): SimEvent[] {
    if (!Number.isFinite(nowMs)) throw new RangeError(`tick: nowMs must be finite, got ${nowMs}`);
    if (!(predictions >= 0) || !Number.isInteger(predictions)) {
      throw new RangeError(`tick: predictions must be an integer >= 0, got ${predictions}`);
    }
    this.releaseLabels(nowMs, out);
    if (predictions > 0 && nowMs !== this.effectsAt) this.updateEffects(nowMs);
    for (let i = 0; i < predictions; i++) this.emitPrediction(nowMs, out);
    return out;
  }

  /** Appends labels due by `nowMs` to `out` (all pending ones when `nowMs` is +Infinity). */
  releaseLabels(nowMs: number, out: SimEvent[] = []): SimEvent[] {
    while (this.queue.peekTime() <= nowMs) {
      const label = this.queue.pop() as LabelEvent;
      out.push({ at: label.ts, kind: 'label', event: label });
      this.counts.labelsEmitted++;
    }
    return out;
  }

  private createRuntime(model: SimulatedModel): ModelRuntime {
    const categoryCumulative = categoricalCumulatives(model);
    const runtime: ModelRuntime = {
      model,
      names: featureNames(model),
      categoryCumulative,
      reversedCumulative: model.categorical.map((f) => cumulativeWeights([...f.weights].reverse())),
      numericStd: Float64Array.from(model.numeric, (f) => distributionStd(f.distribution)),
      baseClassRates: new Float64Array(model.classes.length),
      numeric: new Float64Array(model.numeric.length),
      categorical: new Int32Array(model.categorical.length),
      logits: new Float64Array(model.classes.length),
      numericShift: new Float64Array(model.numeric.length),
      categoricalTilt: new Float64Array(model.categorical.length),
      classAccept: new Float64Array(model.classes.length).fill(1),
      priorActive: false,
      concept: 0,
      latencyAddMs: 0,
      errorRate: this.baseErrorRate,
      fairnessShift: 0,
      canary: 0,
      segmentWrong: 0,
      coupled: new Uint8Array(model.numeric.length),
      partner: new Int32Array(model.numeric.length).fill(-1),
      rho: new Float64Array(model.numeric.length),
      z: new Float64Array(model.numeric.length),
    };
    // Class rates without drift, for prior drift's acceptance weights. A fixed pilot seed keeps
    // them identical across runs and leaves the main random sequence untouched.
    const pilot = new SeededRandom(0x5eed);
    for (let i = 0; i < BASE_RATE_PILOT_DRAWS; i++) {
      this.drawFeatures(runtime, pilot);
      model.trueLogits(runtime.numeric, runtime.categorical, 0, runtime.logits);
      softmaxInPlace(runtime.logits);
      for (let k = 0; k < runtime.logits.length; k++) runtime.baseClassRates[k] += runtime.logits[k];
    }
    for (let k = 0; k < runtime.baseClassRates.length; k++) runtime.baseClassRates[k] /= BASE_RATE_PILOT_DRAWS;
    return runtime;
  }

  private updateEffects(nowMs: number): void {
    this.effectsAt = nowMs;
    const offset = nowMs - this.startMs;
    for (const r of this.runtimes) {
      r.numericShift.fill(0);
      r.categoricalTilt.fill(0);
      r.concept = 0;
      r.latencyAddMs = 0;
      r.errorRate = this.baseErrorRate;
      r.fairnessShift = 0;
      r.canary = 0;
      r.segmentWrong = 0;
      let prior = 0;
      let errorOverride = -1;
      for (const d of this.schedule) {
        if (d.model !== undefined && d.model !== r.model.name) continue;
        const m = driftMagnitude(d);
        // correlation drift holds +rho outside its span, so it applies active or not
        if (d.kind === 'correlation') {
          const [a, b] = correlationFeatures(d).map((name) => r.model.numeric.findIndex((f) => f.name === name));
          if (a >= 0 && b >= 0) r.rho[Math.max(a, b)] = isDriftActive(d, offset) ? -m : m;
          continue;
        }
        if (!isDriftActive(d, offset)) continue;
        switch (d.kind) {
          case 'covariate': {
            const feature = d.feature ?? DEFAULT_COVARIATE_FEATURE;
            const n = r.model.numeric.findIndex((f) => f.name === feature);
            if (n >= 0) r.numericShift[n] += m * r.numericStd[n];
            const c = r.model.categorical.findIndex((f) => f.name === feature);
            if (c >= 0) r.categoricalTilt[c] = Math.min(1, r.categoricalTilt[c] + Math.abs(m) / 2);
            break;
          }
          case 'prior':
            prior += m;
            break;
          case 'concept':
            r.concept = Math.max(r.concept, m);
            break;
          case 'latency':
            r.latencyAddMs += m;
            break;
          case 'error_rate':
            errorOverride = Math.max(errorOverride, m);
            break;
          case 'fairness':
            r.fairnessShift += m;
            break;
          case 'canary':
            r.canary += m;
            break;
          case 'segment':
            r.segmentWrong = Math.min(1, r.segmentWrong + m);
            break;
        }
      }
      if (errorOverride >= 0) r.errorRate = errorOverride;
      this.updatePriorAcceptance(r, prior);
    }
  }

  /**
   * Prior (label) shift by rejection sampling: P(x | y) stays, P(y) moves. The target class rate
   * becomes base + shift, the other classes share the rest in their old proportions.
   */
  private updatePriorAcceptance(r: ModelRuntime, shift: number): void {
    r.priorActive = shift !== 0;
    r.classAccept.fill(1);
    if (!r.priorActive) return;
    const t = r.model.targetClass;
    const base = r.baseClassRates;
    const target = Math.min(PRIOR_RATE_MAX, Math.max(PRIOR_RATE_MIN, base[t] + shift));
    let max = 0;
    for (let k = 0; k < base.length; k++) {
      const wanted = k === t ? target : (base[k] * (1 - target)) / (1 - base[t]);
      r.classAccept[k] = wanted / base[k];
      if (r.classAccept[k] > max) max = r.classAccept[k];
    }
    for (let k = 0; k < base.length; k++) r.classAccept[k] /= max;
  }

  private drawFeatures(r: ModelRuntime, rng: SeededRandom): void {
    const specs = r.model.numeric;
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i];
      const d = spec.distribution;
      let v: number;
      const shift = r.numericShift[i];
      // poisson features are never coupled (validateDriftSchedule)
      const coupled = r.coupled[i] === 1;
      switch (d.kind) {
        case 'normal':
          v = (coupled ? this.coupledValue(r, i, rng) : rng.gaussian(d.mean, d.std)) + shift;
          break;
        case 'uniform':
          v = (coupled ? this.coupledValue(r, i, rng) : rng.uniform(d.lo, d.hi)) + shift;
          break;
        case 'lognormal':
          v = Math.max(0, (coupled ? this.coupledValue(r, i, rng) : rng.lognormal(d.mu, d.sigma)) + shift);
          break;
        case 'exponential':
          v = Math.max(0, (coupled ? this.coupledValue(r, i, rng) : rng.exponential(d.mean)) + shift);
          break;
        case 'poisson':
          v = Math.max(0, Math.round(rng.poisson(d.mean) + shift));
          break;
      }
      // Draw the null coin for every feature that has one so the sequence does not depend on v.
      if (spec.nullRate !== undefined && rng.chance(spec.nullRate)) v = NaN;
      r.numeric[i] = v;
    }
    for (let i = 0; i < r.categorical.length; i++) {
      const tilt = r.categoricalTilt[i];
      const reversed = tilt > 0 && rng.chance(tilt);
      r.categorical[i] = rng.pickCumulative(reversed ? r.reversedCumulative[i] : r.categoryCumulative[i]);
    }
  }

  /**
   * A coupled feature's value: z = rho z_partner + sqrt(1 - rho^2) e is standard normal whatever
   * rho, so the value through the feature's inverse CDF has exactly its distribution, and
   * corr(z, z_partner) = rho (normalCdf takes each side from its own tail, so exponential's
   * log(1 - CDF) loses no digits). The caller adds the covariate shift and clamps as for any draw.
   */
  private coupledValue(r: ModelRuntime, i: number, rng: SeededRandom): number {
    let z = rng.normal();
    const partner = r.partner[i];
    if (partner >= 0) {
      const rho = r.rho[i];
      z = rho * r.z[partner] + Math.sqrt(1 - rho * rho) * z;
    }
    r.z[i] = z;
    const d = r.model.numeric[i].distribution;
    switch (d.kind) {
      case 'normal':
        return d.mean + d.std * z;
      case 'uniform':
        return d.lo + (d.hi - d.lo) * normalCdf(z);
      case 'lognormal':
        return Math.exp(d.mu + d.sigma * z);
      case 'exponential':
        return -d.mean * Math.log(normalCdf(-z));
      case 'poisson':
        throw new RangeError(`feature ${r.model.numeric[i].name}: correlation drift cannot couple a poisson feature`);
    }
  }

  /** Draws features and the true class (honouring prior drift); returns the class index. */
  private drawExample(r: ModelRuntime): number {
    const rng = this.rng;
    for (let attempt = 0; ; attempt++) {
      this.drawFeatures(r, rng);
      r.model.trueLogits(r.numeric, r.categorical, r.concept, r.logits);
      softmaxInPlace(r.logits);
      const y = rng.pickProbability(r.logits);
      if (!r.priorActive || attempt >= PRIOR_MAX_ATTEMPTS || rng.chance(r.classAccept[y])) return y;
    }
  }

  private emitPrediction(nowMs: number, out: SimEvent[]): void {
    const rng = this.rng;
    const r = this.runtimes[this.runtimes.length === 1 ? 0 : rng.pickCumulative(this.modelCumulative)];
    const model = r.model;
    const canary = rng.chance(this.canaryFraction);
    const groupB = rng.chance(this.groupBShare);
    const y = this.drawExample(r);

    // The deployed model's answer.
    const logits = r.logits;
    model.modelLogits(r.numeric, r.categorical, logits);
    const noiseStd = model.modelNoise + (canary ? r.canary * CANARY_NOISE_PER_UNIT : 0);
    for (let k = 1; k < logits.length; k++) logits[k] += noiseStd * rng.normal();
    if (groupB) logits[model.targetClass] -= r.fairnessShift;
    // segment drift: a share of group b's answers made wrong (the coin is drawn only while it is
    // active, so every other scenario keeps its random sequence)
    const madeWrong = groupB && r.segmentWrong > 0 && rng.chance(r.segmentWrong);
    let output: number | string;
    if (model.outputKind === 'score') {
      softmaxInPlace(logits);
      let score = logits[model.targetClass];
      // the score on the wrong side of 0.5 for label y
      if (madeWrong) score = y === model.targetClass ? Math.min(score, 1 - score) : Math.max(score, 1 - score);
      output = round(score, 6);
    } else {
      let best = 0;
      for (let k = 1; k < logits.length; k++) if (logits[k] > logits[best]) best = k;
      // the most likely class other than the label
      if (madeWrong && best === y) {
        best = y === 0 ? 1 : 0;
        for (let k = 0; k < logits.length; k++) if (k !== y && logits[k] > logits[best]) best = k;
      }
      output = model.classes[best];
    }

    const latencyMedian = model.latencyMedianMs * (canary ? CANARY_LATENCY_FACTOR : 1);
    const latencyMs = round(latencyMedian * Math.exp(model.latencySigma * rng.normal()) + r.latencyAddMs, 2);
    const failed = rng.chance(r.errorRate);

    const features: Record<string, number | string | null> = {};
    for (let i = 0; i < model.numeric.length; i++) {
      const v = r.numeric[i];
      features[model.numeric[i].name] = Number.isNaN(v) ? null : round(v, 4);
    }
    for (let i = 0; i < model.categorical.length; i++) {
      const spec = model.categorical[i];
      features[spec.name] = spec.values[r.categorical[i]];
    }

    const id = this.idPrefix + (this.nextId++).toString(36);
    const prediction: PredictionEvent = {
      id,
      model: model.name,
      version: canary ? VERSION_CANARY : VERSION_STABLE,
      ts: nowMs,
      output,
      features,
      latencyMs,
      segment: { group: groupB ? 'b' : 'a' },
    };
    if (failed) {
      prediction.error = ERROR_MESSAGES[rng.int(0, ERROR_MESSAGES.length - 1)];
      this.counts.errors++;
    }

    const label = model.classes[y];
    const u = rng.next();
    const o = this.labelOptions;
    if (u < o.neverFraction) {
      this.counts.labelsNever++;
    } else if (u < o.neverFraction + o.earlyFraction) {
      out.push({ at: nowMs, kind: 'label', event: { id, model: model.name, ts: nowMs, label } });
      this.counts.labelsEarly++;
      this.counts.labelsEmitted++;
    } else {
      const delay = o.delaySigma === 0 ? o.delayMedianMs : o.delayMedianMs * Math.exp(o.delaySigma * rng.normal());
      const sendAt = nowMs + Math.round(delay);
      this.queue.push(sendAt, { id, model: model.name, ts: sendAt, label });
    }
    out.push({ at: nowMs, kind: 'pred', event: prediction });
    this.counts.predictions++;
    if (rng.chance(o.duplicateFraction)) {
      out.push({ at: nowMs, kind: 'pred', event: prediction });
      this.counts.duplicates++;
    }
  }
}

/**
 * Drives a scenario through simulated time at a fixed prediction rate, in steps of `stepMs`,
 * yielding every event; for tests, benchmarks and offline data sets.
 */
export function* simulateTimeline(
  scenario: Scenario,
  options: { fromMs: number; toMs: number; rate: number; stepMs?: number },
): Generator<SimEvent> {
  const { fromMs, toMs, rate } = options;
  const stepMs = options.stepMs ?? 100;
  if (!(rate > 0)) throw new RangeError(`rate must be > 0 predictions/s, got ${rate}`);
  if (!(stepMs > 0)) throw new RangeError(`stepMs must be > 0, got ${stepMs}`);
  let generated = 0;
  const batch: SimEvent[] = [];
  for (let t = fromMs; t <= toMs; t = Math.min(toMs, t + stepMs)) {
    const due = Math.floor(((t - fromMs) * rate) / 1000) - generated;
    batch.length = 0;
    scenario.tick(t, due, batch);
    generated += due;
    yield* batch;
    if (t === toMs) break;
  }
}
