/**
 * The simulated models: what their inputs look like, how the truth depends on the inputs, and
 * what the deployed model answers. Each model is a small softmax world: the true class is drawn
 * from softmax(trueLogits(x)), the deployed model outputs softmax(modelLogits(x) + noise), so the
 * accuracy is set by the noise and by how separable the truth is.
 */
import { cumulativeWeights } from './random.ts';

export type NumericDistribution =
  | { kind: 'normal'; mean: number; std: number }
  | { kind: 'lognormal'; mu: number; sigma: number }
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'poisson'; mean: number }
  | { kind: 'exponential'; mean: number };

export interface NumericFeatureSpec {
  readonly name: string;
  readonly distribution: NumericDistribution;
  /** Share of events where the feature is null (missing upstream). */
  readonly nullRate?: number;
}

export interface CategoricalFeatureSpec {
  readonly name: string;
  readonly values: readonly string[];
  readonly weights: readonly number[];
}

export type ModelKind = 'fraud' | 'churn';

export interface SimulatedModel {
  readonly kind: ModelKind;
  /** The model name published in events. */
  readonly name: string;
  readonly numeric: readonly NumericFeatureSpec[];
  readonly categorical: readonly CategoricalFeatureSpec[];
  /** Label values by class index. */
  readonly classes: readonly (number | string)[];
  /** The class whose rate `prior` drift shifts and whose score `fairness` drift lowers for group b. */
  readonly targetClass: number;
  /** 'score': output is the target class probability; 'class': output is the predicted class value. */
  readonly outputKind: 'score' | 'class';
  /** Std of the logit noise of the deployed model (sets its accuracy). */
  readonly modelNoise: number;
  /** Serving latency of the stable version: lognormal with this median (ms) and sigma. */
  readonly latencyMedianMs: number;
  readonly latencySigma: number;
  /**
   * Class logits of the true relation, written into `out` (length = classes.length). Numeric
   * features are in `numeric` (NaN = null), categoricals as indexes into their `values`.
   * `concept` in [0, 1] is how far the relation has been flipped by concept drift.
   */
  trueLogits(numeric: Float64Array, categorical: Int32Array, concept: number, out: Float64Array): void;
  /** Logits of the deployed model: it learned the relation before any concept drift. */
  modelLogits(numeric: Float64Array, categorical: Int32Array, out: Float64Array): void;
}

export function distributionMean(d: NumericDistribution): number {
  switch (d.kind) {
    case 'normal':
      return d.mean;
    case 'lognormal':
      return Math.exp(d.mu + (d.sigma * d.sigma) / 2);
    case 'uniform':
      return (d.lo + d.hi) / 2;
    case 'poisson':
    case 'exponential':
      return d.mean;
  }
}

export function distributionStd(d: NumericDistribution): number {
  switch (d.kind) {
    case 'normal':
      return d.std;
    case 'lognormal':
      return Math.sqrt(Math.exp(d.sigma * d.sigma) - 1) * distributionMean(d);
    case 'uniform':
      return (d.hi - d.lo) / Math.sqrt(12);
    case 'poisson':
      return Math.sqrt(d.mean);
    case 'exponential':
      return d.mean;
  }
}

/** Standardized value, with null (NaN) imputed as the mean. */
function standardized(value: number, mean: number, std: number): number {
  return Number.isNaN(value) ? 0 : (value - mean) / std;
}

// ---- fraud: binary classifier, output = fraud score in [0, 1] ----

const FRAUD_NUMERIC: readonly NumericFeatureSpec[] = [
  { name: 'f0', distribution: { kind: 'normal', mean: 0, std: 1 } },
  { name: 'f1', distribution: { kind: 'normal', mean: 50, std: 10 } },
  { name: 'f2', distribution: { kind: 'uniform', lo: 0, hi: 1 } },
  { name: 'f3', distribution: { kind: 'uniform', lo: -5, hi: 5 } },
  { name: 'f4', distribution: { kind: 'poisson', mean: 3 } },
  { name: 'f5', distribution: { kind: 'poisson', mean: 0.5 } },
  { name: 'f6', distribution: { kind: 'normal', mean: 0, std: 1 }, nullRate: 0.05 },
  { name: 'f7', distribution: { kind: 'normal', mean: 10, std: 3 } },
  { name: 'f8', distribution: { kind: 'exponential', mean: 1 } },
  { name: 'amount', distribution: { kind: 'lognormal', mu: 3.5, sigma: 1 } },
];

const FRAUD_COUNTRIES = ['US', 'GB', 'DE', 'FR', 'IN', 'BR', 'CN', 'NG'] as const;
const FRAUD_COUNTRY_WEIGHTS = [0.35, 0.15, 0.12, 0.1, 0.1, 0.08, 0.05, 0.05];
const FRAUD_COUNTRY_EFFECT = [0, -0.2, -0.3, -0.1, 0.3, 0.5, 0.4, 1.2];
const FRAUD_DEVICES = ['mobile', 'desktop', 'tablet'] as const;
const FRAUD_DEVICE_WEIGHTS = [0.55, 0.35, 0.1];
const FRAUD_DEVICE_EFFECT = [0.3, -0.2, 0];

const FRAUD_INTERCEPT = -2.4;
/** Overall strength of the features: sets how separable fraud is, hence the accuracy. */
const FRAUD_SCALE = 1.7;

function fraudLogit(x: Float64Array, c: Int32Array, concept: number): number {
  const sf0 = x[0];
  const sf1 = (x[1] - 50) / 10;
  const sf2 = (x[2] - 0.5) / 0.2887;
  const sf4 = (x[4] - 3) / 1.732;
  const sf5 = (x[5] - 0.5) / 0.707;
  const sf6 = standardized(x[6], 0, 1);
  const sf7 = (x[7] - 10) / 3;
  const sf8 = x[8] - 1;
  const sAmount = (Math.log(Math.max(x[9], 1e-9)) - 3.5) / 1;
  // Concept drift flips most of f0's effect (the deployed model keeps believing high f0 means
  // fraud); the size of that part is what makes a full flip cost about 15 points of accuracy.
  const flipped = 1.0 * sf0;
  const stable =
    0.2 * sf0 + 1.1 * sAmount + 0.5 * sf1 + 0.8 * sf2 + 0.6 * sf4 + 0.6 * sf5 + 0.9 * sf6 - 0.5 * sf7 + 0.3 * sf8;
  return (
    FRAUD_INTERCEPT +
    FRAUD_SCALE * ((1 - 2 * concept) * flipped + stable) +
    FRAUD_COUNTRY_EFFECT[c[0]] +
    FRAUD_DEVICE_EFFECT[c[1]]
  );
}

export function fraudModel(name = 'fraud'): SimulatedModel {
  return {
    kind: 'fraud',
    name,
    numeric: FRAUD_NUMERIC,
    categorical: [
      { name: 'country', values: FRAUD_COUNTRIES, weights: FRAUD_COUNTRY_WEIGHTS },
      { name: 'device', values: FRAUD_DEVICES, weights: FRAUD_DEVICE_WEIGHTS },
    ],
    classes: [0, 1],
    targetClass: 1,
    outputKind: 'score',
    modelNoise: 0.9,
    latencyMedianMs: 25,
    latencySigma: 0.35,
    trueLogits(x, c, concept, out) {
      out[0] = 0;
      out[1] = fraudLogit(x, c, concept);
    },
    modelLogits(x, c, out) {
      out[0] = 0;
      out[1] = fraudLogit(x, c, 0);
    },
  };
}

// ---- churn: 3-class classifier with string outputs ----

const CHURN_NUMERIC: readonly NumericFeatureSpec[] = [
  { name: 'tenure_months', distribution: { kind: 'poisson', mean: 24 } },
  { name: 'monthly_spend', distribution: { kind: 'lognormal', mu: 3.9, sigma: 0.5 } },
  { name: 'support_tickets', distribution: { kind: 'poisson', mean: 1.2 } },
  { name: 'usage_hours', distribution: { kind: 'normal', mean: 40, std: 12 }, nullRate: 0.03 },
];
const CHURN_PLANS = ['basic', 'pro', 'enterprise'] as const;
const CHURN_PLAN_WEIGHTS = [0.6, 0.3, 0.1];
const CHURN_PLAN_EFFECT = [0.4, 0, -0.8];
const CHURN_REGIONS = ['na', 'eu', 'apac', 'latam'] as const;
const CHURN_REGION_WEIGHTS = [0.4, 0.3, 0.2, 0.1];

function churnLogits(x: Float64Array, c: Int32Array, concept: number, out: Float64Array): void {
  const sTenure = (x[0] - 24) / 4.9;
  const sSpend = (Math.log(Math.max(x[1], 1e-9)) - 3.9) / 0.5;
  const sTickets = (x[2] - 1.2) / 1.095;
  const sUsage = standardized(x[3], 40, 12);
  out[0] = 0; // stay
  // Concept drift flips part of the tenure effect: long-tenured customers start leaving.
  const tenureEffect = -1.2 * (1 - 2 * concept) * sTenure - 1.0 * sTenure;
  out[1] = -1.2 + tenureEffect + 1.4 * sTickets - 1.0 * sUsage + CHURN_PLAN_EFFECT[c[0]];
  out[2] = -1.8 + 1.8 * sSpend - 0.8 * sUsage;
}

export function churnModel(name = 'churn'): SimulatedModel {
  return {
    kind: 'churn',
    name,
    numeric: CHURN_NUMERIC,
    categorical: [
      { name: 'plan', values: CHURN_PLANS, weights: CHURN_PLAN_WEIGHTS },
      { name: 'region', values: CHURN_REGIONS, weights: CHURN_REGION_WEIGHTS },
    ],
    classes: ['stay', 'churn', 'downgrade'],
    targetClass: 1,
    outputKind: 'class',
    modelNoise: 0.6,
    latencyMedianMs: 35,
    latencySigma: 0.3,
    trueLogits(x, c, concept, out) {
      churnLogits(x, c, concept, out);
    },
    modelLogits(x, c, out) {
      churnLogits(x, c, 0, out);
    },
  };
}

/** `fraud`, `churn`, or `fraud:<published name>`. */
export function simulatedModel(kind: ModelKind, name?: string): SimulatedModel {
  return kind === 'fraud' ? fraudModel(name) : churnModel(name);
}

export function isModelKind(value: string): value is ModelKind {
  return value === 'fraud' || value === 'churn';
}

export function featureNames(model: SimulatedModel): string[] {
  return [...model.numeric.map((f) => f.name), ...model.categorical.map((f) => f.name)];
}

/** Cumulative category weights of each categorical feature, in order; checked once. */
export function categoricalCumulatives(model: SimulatedModel): Float64Array[] {
  return model.categorical.map((f) => {
    if (f.values.length !== f.weights.length) {
      throw new RangeError(`model ${model.name}: feature ${f.name} has ${f.values.length} values but ${f.weights.length} weights`);
    }
    return cumulativeWeights(f.weights);
  });
}
