/**
 * Multivariate drift by PCA reconstruction error, after NannyML's DataReconstructionDriftCalculator:
 * the reference's features are imputed (numeric: mean; categorical: most frequent), encoded,
 * standardized (StandardScaler: reference mean, population std), and PCA keeps the fewest
 * components whose cumulative explained variance ratio exceeds a share (0.65 by default,
 * scikit-learn's rule for a float n_components). An event's reconstruction error is the Euclidean
 * distance between its standardized row and that row projected onto the components and back. A
 * change in how features move together raises the mean error of a window even when no feature's
 * own distribution moves. A window's verdict compares its mean error with the reference's
 * window-sized chunks, whose errors are taken out of sample (crossFittedErrors: NannyML's
 * in-sample errors are biased low). NannyML's bounds are the chunk means' mean +- 3 std; driftwatch's default
 * spends the drift tests' false-alarm budget instead (see multivariateVerdict): +-3 std is a
 * two-sided 2.7e-3 per window, a few false alarms per million events on 1000-event windows, and
 * many more when a sliding window is re-evaluated every few seconds.
 *
 * One difference from NannyML: categoricals are one-hot encoded (the frequent categories of a
 * low-cardinality categorical, one 0/1 column each), where NannyML uses a frequency (count)
 * encoding, one column per categorical. High-cardinality categoricals are left out.
 *
 * Everything here is pure; the model is plain JSON so it can be stored with the reference.
 */

import { normalTwoSidedPValue } from './special.ts';

export type FeatureValue = number | string | null | undefined;
export type FeatureRow = Readonly<Record<string, FeatureValue>>;

export interface PcaFitOptions {
  /** Share of the variance the kept components explain (strictly more than it, as scikit-learn's PCA). Default 0.65. */
  varianceShare?: number;
  /** One-hot columns per categorical at most (its most frequent categories). Default 10. */
  maxCategories?: number;
  /** Categories rarer than this share of the reference get no column. Default 0.01. */
  minCategoryShare?: number;
  /** Categoricals with more distinct values than this are left out of the model. Default 50. */
  maxCardinality?: number;
}

export const DEFAULT_VARIANCE_SHARE = 0.65;
export const DEFAULT_MAX_CATEGORIES = 10;
export const DEFAULT_MIN_CATEGORY_SHARE = 0.01;
export const DEFAULT_MAX_CARDINALITY = 50;
/** NannyML's bounds: the reference chunks' mean error +- 3 standard deviations. */
export const BOUND_STDS = 3;

export interface NumericColumnModel {
  name: string;
  /** Reference mean: the imputed value and the standardization's center. */
  mean: number;
  /** Population standard deviation of the imputed reference column (1 when it is 0, as StandardScaler). */
  scale: number;
}

export interface CategoricalColumnModel {
  name: string;
  /** Imputed for a missing value (ties: the smallest, as scikit-learn's SimpleImputer). */
  mostFrequent: string;
  /** One 0/1 column each; any other category is all zeros. */
  categories: string[];
  /** Share of each category in the imputed reference (the column's mean). */
  means: number[];
  scales: number[];
}

export interface PcaReconstructionModel {
  v: 1;
  varianceShare: number;
  /** Reference rows the model was fitted on. */
  fittedOn: number;
  numeric: NumericColumnModel[];
  categorical: CategoricalColumnModel[];
  /** Categoricals left out for having more than maxCardinality distinct values. */
  excluded: string[];
  /** Mean of the standardized reference columns (0 up to rounding; PCA centers on it). */
  center: number[];
  /** Kept principal axes, one row each (orthonormal), in the order of the encoded columns. */
  components: number[][];
  /** Explained variance ratio of every component (not only the kept ones), descending. */
  explainedVarianceRatio: number[];
}

/** The encoded columns of a model: numeric features, then each categorical's categories. */
export function encodedWidth(model: PcaReconstructionModel): number {
  let width = model.numeric.length;
  for (const column of model.categorical) width += column.categories.length;
  return width;
}

function isMissingNumber(value: FeatureValue): boolean {
  return typeof value !== 'number' || !Number.isFinite(value);
}

function isMissingCategory(value: FeatureValue): boolean {
  return value === null || value === undefined || value === '' || (typeof value === 'number' && !Number.isFinite(value));
}

/**
 * Fits the model on reference rows. A feature is numeric when every present value is a finite
 * number, categorical otherwise (numbers among strings count as their text).
 */
export function fitPcaReconstruction(rows: readonly FeatureRow[], options: PcaFitOptions = {}): PcaReconstructionModel {
  const varianceShare = options.varianceShare ?? DEFAULT_VARIANCE_SHARE;
  if (!(varianceShare > 0 && varianceShare < 1)) throw new Error(`PCA reconstruction: varianceShare must be in (0, 1), got ${varianceShare}`);
  const maxCategories = options.maxCategories ?? DEFAULT_MAX_CATEGORIES;
  const minCategoryShare = options.minCategoryShare ?? DEFAULT_MIN_CATEGORY_SHARE;
  const maxCardinality = options.maxCardinality ?? DEFAULT_MAX_CARDINALITY;
  const n = rows.length;
  if (n < 2) throw new Error(`PCA reconstruction: at least 2 reference rows are needed, got ${n}`);

  // pass 1: which features are numeric, their present values' mean and squared deviations
  const isNumeric = new Map<string, boolean>();
  const sums = new Map<string, { count: number; mean: number; m2: number }>();
  const counts = new Map<string, Map<string, number>>();
  for (const row of rows) {
    for (const name in row) {
      const value = row[name];
      if (isMissingCategory(value)) {
        if (!isNumeric.has(name)) isNumeric.set(name, true);
        continue;
      }
      if (typeof value !== 'number') isNumeric.set(name, false);
      else if (!isNumeric.has(name)) isNumeric.set(name, true);
      let sum = sums.get(name);
      if (sum === undefined) sums.set(name, (sum = { count: 0, mean: 0, m2: 0 }));
      if (typeof value === 'number') {
        sum.count++;
        const delta = value - sum.mean;
        sum.mean += delta / sum.count;
        sum.m2 += delta * (value - sum.mean);
      }
    }
  }
  // categories are counted for categoricals only: counting every numeric value as text made a fit
  // of 100,000 rows x 50 numeric features take seconds
  for (const [name, numericFeature] of isNumeric) if (!numericFeature) counts.set(name, new Map());
  if (counts.size > 0) {
    for (const row of rows) {
      for (const name in row) {
        const byCategory = counts.get(name);
        const value = row[name];
        if (byCategory === undefined || isMissingCategory(value)) continue;
        const text = String(value);
        byCategory.set(text, (byCategory.get(text) ?? 0) + 1);
      }
    }
  }
  const names = [...isNumeric.keys()].sort();
  const numeric: NumericColumnModel[] = [];
  const categorical: CategoricalColumnModel[] = [];
  const excluded: string[] = [];
  for (const name of names) {
    const sum = sums.get(name);
    if (sum === undefined) continue; // never present: nothing to learn
    if (isNumeric.get(name) === true) {
      // imputing the mean adds no deviation: the imputed column's variance is m2 / n
      const std = Math.sqrt(sum.m2 / n);
      numeric.push({ name, mean: sum.mean, scale: std > 0 ? std : 1 });
      continue;
    }
    const byCategory = counts.get(name) as Map<string, number>;
    if (byCategory.size > maxCardinality) {
      excluded.push(name);
      continue;
    }
    const { mostFrequent, kept } = chooseCategories(byCategory, n, maxCategories, minCategoryShare);
    const means = kept.map(([, count]) => count / n);
    const scales = means.map((p) => (p > 0 && p < 1 ? Math.sqrt(p * (1 - p)) : 1));
    categorical.push({ name, mostFrequent, categories: kept.map(([category]) => category), means, scales });
  }

  const partial: PcaReconstructionModel = { v: 1, varianceShare, fittedOn: n, numeric, categorical, excluded, center: [], components: [], explainedVarianceRatio: [] };
  const width = encodedWidth(partial);
  // pass 2: the standardized rows' mean and covariance
  const encoded = new Float64Array(width);
  const imputed = imputedRowFor(partial);
  const center = new Float64Array(width);
  for (const row of rows) {
    encodeRow(partial, row, imputed, encoded);
    for (let i = 0; i < width; i++) center[i] += encoded[i];
  }
  for (let i = 0; i < width; i++) center[i] /= n;
  const covariance = new Float64Array(width * width);
  for (const row of rows) {
    encodeRow(partial, row, imputed, encoded);
    for (let i = 0; i < width; i++) encoded[i] -= center[i];
    for (let i = 0; i < width; i++) {
      const zi = encoded[i];
      if (zi === 0) continue;
      for (let j = i; j < width; j++) covariance[i * width + j] += zi * encoded[j];
    }
  }
  for (let i = 0; i < width; i++) {
    for (let j = i; j < width; j++) {
      const value = covariance[i * width + j] / (n - 1);
      covariance[i * width + j] = value;
      covariance[j * width + i] = value;
    }
  }
  const { values, vectors } = symmetricEigen(covariance, width);
  let total = 0;
  for (const value of values) total += Math.max(0, value);
  const explainedVarianceRatio = values.map((value) => (total > 0 ? Math.max(0, value) / total : 0));
  const keep = componentsForShare(explainedVarianceRatio, varianceShare);
  const components: number[][] = [];
  for (let k = 0; k < keep; k++) components.push(Array.from(vectors[k]));
  return { ...partial, center: Array.from(center), components, explainedVarianceRatio };
}

const byCountThenName = (a: [string, number], b: [string, number]): number => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * A categorical's imputed value and one-hot categories from its present values' counts over `n`
 * rows (the missing ones count for the most frequent category), with their imputed counts.
 * Shared by the fit and each cross-fit fold, so a fold picks its categories by the same rule.
 */
function chooseCategories(byCategory: ReadonlyMap<string, number>, n: number, maxCategories: number, minCategoryShare: number): { mostFrequent: string; kept: [string, number][] } {
  let present = 0;
  for (const count of byCategory.values()) present += count;
  const mostFrequent = [...byCategory.entries()].sort(byCountThenName)[0][0];
  const imputedCounts = new Map(byCategory);
  imputedCounts.set(mostFrequent, (imputedCounts.get(mostFrequent) ?? 0) + (n - present));
  const kept = [...imputedCounts.entries()]
    .sort(byCountThenName)
    .filter(([, count]) => count / n >= minCategoryShare)
    .slice(0, maxCategories);
  return { mostFrequent, kept };
}

/**
 * The fewest components whose cumulative explained variance ratio is strictly above `share`
 * (scikit-learn: searchsorted(cumsum, share, side='right') + 1), at most all of them.
 */
export function componentsForShare(ratios: readonly number[], share: number): number {
  let cumulative = 0;
  for (let k = 0; k < ratios.length; k++) {
    cumulative += ratios[k];
    if (cumulative > share) return k + 1;
  }
  return ratios.length;
}

/** A row's model features with the missing ones imputed: numeric columns, then one category per categorical. */
interface ImputedRow {
  values: Float64Array;
  categories: string[];
}

function imputedRowFor(model: PcaReconstructionModel): ImputedRow {
  return { values: new Float64Array(model.numeric.length), categories: new Array<string>(model.categorical.length).fill('') };
}

/**
 * Reads a row's model features into `into`, missing ones imputed as NannyML does (a numeric's
 * reference mean, a categorical's most frequent category; a number's text is its category), and
 * returns how many were missing. The fit's encoding and the by-name scorer both start from it.
 */
function imputeRow(model: PcaReconstructionModel, row: FeatureRow, into: ImputedRow): number {
  let imputed = 0;
  for (let c = 0; c < model.numeric.length; c++) {
    const feature = model.numeric[c];
    const value = row[feature.name];
    if (isMissingNumber(value)) {
      imputed++;
      into.values[c] = feature.mean;
    } else into.values[c] = value as number;
  }
  for (let c = 0; c < model.categorical.length; c++) {
    const feature = model.categorical[c];
    const value = row[feature.name];
    if (isMissingCategory(value)) {
      imputed++;
      into.categories[c] = feature.mostFrequent;
    } else into.categories[c] = String(value);
  }
  return imputed;
}

/** Writes a row's standardized encoding into `out` (length encodedWidth), through `scratch`. */
function encodeRow(model: PcaReconstructionModel, row: FeatureRow, scratch: ImputedRow, out: Float64Array): void {
  imputeRow(model, row, scratch);
  let column = 0;
  for (let c = 0; c < model.numeric.length; c++) {
    const feature = model.numeric[c];
    out[column++] = (scratch.values[c] - feature.mean) / feature.scale;
  }
  for (let c = 0; c < model.categorical.length; c++) {
    const { categories, means, scales } = model.categorical[c];
    const category = scratch.categories[c];
    for (let i = 0; i < categories.length; i++) out[column++] = ((categories[i] === category ? 1 : 0) - means[i]) / scales[i];
  }
}

/** A row's reconstruction error and how many of its features were imputed. */
export interface ReconstructionResult {
  error: number;
  imputed: number;
}

/**
 * A model laid out for scoring one row at a time without allocating: the numeric columns'
 * standardization and centering in flat arrays, the kept axes' numeric coefficients in one
 * axis-major matrix, and each categorical's block precomputed per category. A row gives a block
 * one of (categories + 1) encodings (a kept category's one-hot, or all zeros for any other), so
 * the block's share of the squared norm and of each axis's dot product is looked up, not summed:
 * at 10 numeric and 2 ten-category features a row costs 10 x axes products instead of 30 x axes.
 * Every scorer (by name, by schema index, the reference's own errors) goes through `error`, so a
 * row gives the same bits whichever way it was decoded.
 */
export class CompiledReconstruction {
  /** Model numeric columns, in model order (the `values` argument of error). */
  readonly numericCount: number;
  /** Kept components. */
  readonly axes: number;
  private readonly mean: Float64Array;
  private readonly scale: Float64Array;
  private readonly center: Float64Array;
  /** axes x numericCount: component k's coefficient of numeric column i at k * numericCount + i. */
  private readonly numericAxes: Float64Array;
  /**
   * Per categorical, (categories + 1) rows of (1 + axes): the block's centered encoding's squared
   * norm, then its dot product with each axis; row `categories.length` is "no kept category".
   */
  private readonly blocks: Float64Array[];
  private readonly categories: (readonly string[])[];
  private readonly centered: Float64Array;

  constructor(readonly model: PcaReconstructionModel) {
    const n = model.numeric.length;
    const axes = model.components.length;
    this.numericCount = n;
    this.axes = axes;
    this.mean = Float64Array.from(model.numeric, (c) => c.mean);
    this.scale = Float64Array.from(model.numeric, (c) => c.scale);
    this.center = Float64Array.from(model.center.slice(0, n));
    this.numericAxes = new Float64Array(axes * n);
    for (let k = 0; k < axes; k++) for (let i = 0; i < n; i++) this.numericAxes[k * n + i] = model.components[k][i];
    this.categories = model.categorical.map((c) => c.categories);
    this.blocks = [];
    let column = n;
    for (const feature of model.categorical) {
      const width = feature.categories.length;
      const block = new Float64Array((width + 1) * (1 + axes));
      for (let chosen = 0; chosen <= width; chosen++) {
        const row = chosen * (1 + axes);
        for (let i = 0; i < width; i++) {
          const v = ((i === chosen ? 1 : 0) - feature.means[i]) / feature.scales[i] - model.center[column + i];
          block[row] += v * v;
          for (let k = 0; k < axes; k++) block[row + 1 + k] += model.components[k][column + i] * v;
        }
      }
      this.blocks.push(block);
      column += width;
    }
    this.centered = new Float64Array(n);
  }

  /** The row of categorical `c` for `category`: its one-hot index, or categories.length when it has no column. */
  categoryIndex(c: number, category: string): number {
    const categories = this.categories[c];
    for (let i = 0; i < categories.length; i++) if (categories[i] === category) return i;
    return categories.length;
  }

  /**
   * The Euclidean distance between a row's standardized encoding and its PCA reconstruction: the
   * norm of the centered row minus its projection on the kept (orthonormal) axes. `values`: the
   * numeric columns, missing ones already imputed (their mean); `categoryRows`: categoryIndex of
   * each categorical (its most frequent category's when missing).
   */
  error(values: Float64Array, categoryRows: Int32Array): number {
    const { numericCount: n, axes, mean, scale, center, centered, numericAxes, blocks } = this;
    const stride = 1 + axes;
    let squared = 0;
    for (let i = 0; i < n; i++) {
      const z = (values[i] - mean[i]) / scale[i] - center[i];
      centered[i] = z;
      squared += z * z;
    }
    for (let b = 0; b < blocks.length; b++) squared += blocks[b][categoryRows[b] * stride];
    let projected = 0;
    for (let k = 0; k < axes; k++) {
      const base = k * n;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += numericAxes[base + i] * centered[i];
      for (let b = 0; b < blocks.length; b++) dot += blocks[b][categoryRows[b] * stride + 1 + k];
      projected += dot * dot;
    }
    return Math.sqrt(Math.max(0, squared - projected));
  }
}

/**
 * Scores rows by feature name against one model, reusing its buffers (one per worker and model:
 * the hot path allocates nothing per event). Not shared across threads.
 */
export class ReconstructionScorer {
  readonly compiled: CompiledReconstruction;
  private readonly row: ImputedRow;
  private readonly categoryRows: Int32Array;

  constructor(readonly model: PcaReconstructionModel) {
    this.compiled = new CompiledReconstruction(model);
    this.row = imputedRowFor(model);
    this.categoryRows = new Int32Array(model.categorical.length);
  }

  /** The row's reconstruction error, and how many of the model's features were missing and imputed. */
  score(row: FeatureRow): ReconstructionResult {
    const { model, compiled, categoryRows } = this;
    const imputed = imputeRow(model, row, this.row);
    for (let c = 0; c < model.categorical.length; c++) categoryRows[c] = compiled.categoryIndex(c, this.row.categories[c]);
    return { error: compiled.error(this.row.values, categoryRows), imputed };
  }
}

/** Reconstruction errors of rows, in order (the reference's, for its chunk statistics). */
export function reconstructionErrors(model: PcaReconstructionModel, rows: readonly FeatureRow[]): Float64Array {
  const scorer = new ReconstructionScorer(model);
  const errors = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) errors[i] = scorer.score(rows[i]).error;
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Chunks, bounds, verdict

/** The reference's reconstruction errors summarized for the verdict: per row and per chunk. */
export interface ReconstructionErrorReference {
  /** Rows per chunk (a window's expected event count). */
  chunkSize: number;
  /** Full chunks the chunk statistics come from (a last partial chunk is left out). */
  chunks: number;
  /** Mean and sample standard deviation of the chunks' mean errors. */
  chunkMean: number;
  chunkStd: number;
  /** Mean and sample standard deviation of the rows' errors. */
  rowMean: number;
  rowStd: number;
}

function meanAndSampleStd(values: ArrayLike<number>): { mean: number; std: number } {
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const delta = values[i] - mean;
    mean += delta / (i + 1);
    m2 += delta * (values[i] - mean);
  }
  return { mean, std: values.length > 1 ? Math.sqrt(m2 / (values.length - 1)) : 0 };
}

/**
 * Chunk statistics of the reference's errors (in row order), as NannyML's thresholds: the chunks'
 * mean errors, their mean and sample std. With fewer than 10 full chunks the chunk std is the
 * sampling error of a chunk's mean, rowStd / sqrt(chunkSize) (NannyML's sampling error), since
 * the std of a handful of chunk means would make the bounds a matter of luck.
 */
export function referenceChunkStatistics(errors: ArrayLike<number>, chunkSize: number): ReconstructionErrorReference {
  // fewer chunks than this: their std is too noisy a bound, the sampling error of a chunk mean is used
  const minChunks = 10;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`PCA reconstruction: chunkSize must be a positive integer, got ${chunkSize}`);
  if (errors.length === 0) throw new Error('PCA reconstruction: no reference errors to summarize');
  const rows = meanAndSampleStd(errors);
  const chunks = Math.floor(errors.length / chunkSize);
  const chunkMeans = new Float64Array(chunks);
  for (let c = 0; c < chunks; c++) {
    let sum = 0;
    for (let i = c * chunkSize; i < (c + 1) * chunkSize; i++) sum += errors[i];
    chunkMeans[c] = sum / chunkSize;
  }
  if (chunks >= minChunks) {
    const { mean, std } = meanAndSampleStd(chunkMeans);
    return { chunkSize, chunks, chunkMean: mean, chunkStd: std, rowMean: rows.mean, rowStd: rows.std };
  }
  return { chunkSize, chunks, chunkMean: rows.mean, chunkStd: rows.std / Math.sqrt(chunkSize), rowMean: rows.mean, rowStd: rows.std };
}

export interface MultivariateVerdict {
  /** Mean reconstruction error of the window's events. */
  errorMean: number;
  lower: number;
  upper: number;
  drift: boolean;
}

/**
 * How wide a window's bounds are:
 * - 'nannyml': NannyML's, the chunks' mean +- 3 chunk std (BOUND_STDS), whatever the window's
 *   count or how often it is evaluated: ~2.7e-3 false verdicts per evaluation on stationary data.
 * - 'budget' (driftwatch's default): the two-sided normal quantile of `alpha`, the significance
 *   the drift tests' false-alarm budget grants a window of this count (stats/select.ts
 *   budgetSignificance), times the larger of the chunk std and a chunk mean's sampling error
 *   (rowStd / sqrt(chunkSize)), widened by the uncertainty of the reference's own mean error
 *   (`referenceRows` rows). The chunk std of ~20 chunks is itself off by ~16 % either way, and at
 *   the budget's alpha (~1e-5) an underestimate by that much multiplies the false alarms ~40-fold;
 *   the sampling error of a mean of i.i.d. rows is estimated from every reference row and cannot
 *   be smaller than the truth for long, while a reference whose chunks vary more than that (a
 *   reference with drift of its own inside) keeps its wider chunk std.
 */
export type MultivariateBound = { kind: 'nannyml' } | { kind: 'budget'; alpha: number; referenceRows?: number };

export const NANNYML_BOUND: MultivariateBound = { kind: 'nannyml' };

/**
 * Upper-tail standard normal quantile: z with P(Z > z) = p, for p in (0, 1). Acklam's rational
 * approximation (relative error 1.2e-9), refined by one Halley step on the incomplete-gamma tail
 * (normalTwoSidedPValue), which keeps relative accuracy in the far tail the budget reaches.
 */
export function normalUpperQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalUpperQuantile: p must be in (0, 1), got ${p}`);
  if (p > 0.5) return -normalUpperQuantile(1 - p);
  // Acklam's lower-tail form for q = p (z = -x(q)), tail region when q < 0.02425
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  let x: number;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // x approximates the lower-tail quantile (negative); z = -x is the upper-tail one
  const z = -x;
  const error = normalTwoSidedPValue(z) / 2 - p;
  const u = error * Math.sqrt(2 * Math.PI) * Math.exp((z * z) / 2);
  return z + u / (1 + (z * u) / 2);
}

/**
 * Bounds for a window of `count` events. The spread of a window's mean error is the chunk-level
 * std scaled from the chunk size to the window's count (sqrt(chunkSize / count), the sampling
 * error of a mean), so a window of exactly chunkSize events gets NannyML's bounds under
 * NANNYML_BOUND (the default here, as NannyML computes them); the gateway passes the budget's
 * bound (MultivariateBound). The lower bound stops at 0.
 */
export function multivariateVerdict(reference: ReconstructionErrorReference, errorMean: number, count: number, bound: MultivariateBound = NANNYML_BOUND): MultivariateVerdict {
  if (!(count > 0)) throw new Error(`PCA reconstruction: a verdict needs events, got count ${count}`);
  let half: number;
  if (bound.kind === 'nannyml') {
    half = BOUND_STDS * reference.chunkStd * Math.sqrt(reference.chunkSize / count);
  } else {
    if (!(bound.alpha > 0 && bound.alpha < 1)) throw new RangeError(`PCA reconstruction: alpha must be in (0, 1), got ${bound.alpha}`);
    const chunkStd = Math.max(reference.chunkStd, reference.rowStd / Math.sqrt(reference.chunkSize));
    const windowVariance = (chunkStd * chunkStd * reference.chunkSize) / count;
    const rows = bound.referenceRows;
    const referenceVariance = rows !== undefined && rows > 0 ? (reference.rowStd * reference.rowStd) / rows : 0;
    half = normalUpperQuantile(bound.alpha / 2) * Math.sqrt(windowVariance + referenceVariance);
  }
  const lower = Math.max(0, reference.chunkMean - half);
  const upper = reference.chunkMean + half;
  return { errorMean, lower, upper, drift: errorMean < lower || errorMean > upper };
}

/** What a reference profile keeps for multivariate drift: the model and its errors' chunk statistics. */
export interface MultivariateReference {
  model: PcaReconstructionModel;
  errors: ReconstructionErrorReference;
}

/** Rows per reference chunk by default: a window of a busy model; windows of other sizes scale the bounds. */
export const DEFAULT_MULTIVARIATE_CHUNK_SIZE = 1000;

/** Folds of the reference's out-of-sample errors (crossFittedErrors). */
export const CROSS_FIT_FOLDS = 10;

/**
 * A fold's pop variance at most this share of its column's mean square is taken as zero (the
 * column is constant on the other folds): the difference of scatter sums leaves rounding of
 * ~1e-16 of the mean square, and dividing by its root instead of 1 blew errors up to ~1e9.
 */
const CONSTANT_COLUMN_SHARE = 1e-12;

/** One encoded column of a fold's model, as a combination of the cross-fit's raw columns. */
interface FoldColumn {
  /** Raw column indices and their coefficients: the column's own (coefficient 1), then its missing flag's if it has one. */
  terms: [number, number][];
  /** Numeric: the full model's scale (a column constant on the fold stays in raw units); categorical: 0. */
  fullScale: number;
}

/**
 * The reference rows' reconstruction errors out of sample: the rows cut into `folds` contiguous
 * folds, each scored by the model fitted on the other folds. In-sample errors (NannyML's) are
 * biased low: PCA picks the axes that fit its own rows best, so new rows from the same
 * distribution reconstruct worse. On the simulator's fraud traffic (20,000 rows, 11 of 21 encoded
 * columns kept) a new 1000-event window's mean error sat 0.5 of its own standard error above the
 * in-sample chunk mean, which multiplied the false alarms about 8-fold (bench detection).
 *
 * A fold's model is what fitPcaReconstruction would fit on the other folds (`options` must be the
 * fit's): their imputation (numeric mean, most frequent category), their one-hot categories
 * (a category only the held-out fold has gets no column: it encodes as unseen, as the live scorer
 * encodes it), their standardization, component count and axes. The feature types and the
 * categoricals left out for cardinality are the full model's. Refitting per fold cost 10 full fits
 * (minutes at 100,000 rows x 50 features), so the rows are encoded once into raw columns (numeric
 * values on the full model's scale, 0 when missing; a 0/1 column per category any fold keeps; a
 * missing flag per feature that has missing values), their per-fold sums and scatter matrices
 * collected in one pass, and each fold's encoding is a linear map of those columns (a missing value
 * is the flag times the other folds' mean, or counts for their most frequent category), so its
 * covariance is the map applied to the other folds' scatter. Fewer than 4 rows: in sample.
 */
export function crossFittedErrors(model: PcaReconstructionModel, rows: readonly FeatureRow[], folds = CROSS_FIT_FOLDS, options: PcaFitOptions = {}): Float64Array {
  const n = rows.length;
  const k = Math.min(folds, Math.floor(n / 2));
  if (k < 2) return reconstructionErrors(model, rows);
  const maxCategories = options.maxCategories ?? DEFAULT_MAX_CATEGORIES;
  const minCategoryShare = options.minCategoryShare ?? DEFAULT_MIN_CATEGORY_SHARE;
  const maxCardinality = options.maxCardinality ?? DEFAULT_MAX_CARDINALITY;
  const starts = Array.from({ length: k + 1 }, (_, fold) => Math.floor((fold * n) / k));

  // pass 1: per fold, missing values of each feature and the categoricals' category counts
  const numeric = model.numeric;
  const categoricalNames = [...model.categorical.map((column) => column.name), ...model.excluded];
  const numericMissing = numeric.map(() => new Float64Array(k));
  const categoryMissing = categoricalNames.map(() => new Float64Array(k));
  const categoryCounts = categoricalNames.map(() => new Map<string, Float64Array>());
  for (let fold = 0; fold < k; fold++) {
    for (let r = starts[fold]; r < starts[fold + 1]; r++) {
      const row = rows[r];
      for (let i = 0; i < numeric.length; i++) if (isMissingNumber(row[numeric[i].name])) numericMissing[i][fold]++;
      for (let c = 0; c < categoricalNames.length; c++) {
        const value = row[categoricalNames[c]];
        if (isMissingCategory(value)) {
          categoryMissing[c][fold]++;
          continue;
        }
        const text = String(value);
        let counts = categoryCounts[c].get(text);
        if (counts === undefined) categoryCounts[c].set(text, (counts = new Float64Array(k)));
        counts[fold]++;
      }
    }
  }
  const total = (perFold: Float64Array): number => perFold.reduce((sum, x) => sum + x, 0);
  // each fold's categories, chosen from the other folds' counts by the fit's rule (null: no column)
  const foldCategories = Array.from({ length: k }, (_, fold) =>
    categoricalNames.map((_, c) => {
      const m = n - (starts[fold + 1] - starts[fold]);
      const byCategory = new Map<string, number>();
      for (const [category, counts] of categoryCounts[c]) {
        const count = total(counts) - counts[fold];
        if (count > 0) byCategory.set(category, count);
      }
      if (byCategory.size === 0 || byCategory.size > maxCardinality) return null;
      const { mostFrequent, kept } = chooseCategories(byCategory, m, maxCategories, minCategoryShare);
      return { mostFrequent, categories: kept.map(([category]) => category) };
    }),
  );

  // the raw columns: numeric values, numeric missing flags, then per categorical its categories and missing flag
  let width = numeric.length;
  const numericFlag = numericMissing.map((perFold) => (total(perFold) > 0 ? width++ : -1));
  const categoryColumn = categoricalNames.map(() => new Map<string, number>());
  const categoryFlag = categoricalNames.map((_, c) => {
    for (const chosen of foldCategories) for (const category of chosen[c]?.categories ?? []) if (!categoryColumn[c].has(category)) categoryColumn[c].set(category, width++);
    return categoryColumn[c].size > 0 && total(categoryMissing[c]) > 0 ? width++ : -1;
  });
  const encodeRaw = (row: FeatureRow, out: Float64Array): void => {
    out.fill(0);
    for (let i = 0; i < numeric.length; i++) {
      const value = row[numeric[i].name];
      if (isMissingNumber(value)) {
        if (numericFlag[i] >= 0) out[numericFlag[i]] = 1;
      } else out[i] = ((value as number) - numeric[i].mean) / numeric[i].scale;
    }
    for (let c = 0; c < categoricalNames.length; c++) {
      const columns = categoryColumn[c];
      if (columns.size === 0) continue;
      const value = row[categoricalNames[c]];
      if (isMissingCategory(value)) {
        if (categoryFlag[c] >= 0) out[categoryFlag[c]] = 1;
        continue;
      }
      const column = columns.get(String(value));
      if (column !== undefined) out[column] = 1;
    }
  };

  // pass 2: per-fold sums and upper triangles of the sums of outer products of the raw columns
  const sums = Array.from({ length: k }, () => new Float64Array(width));
  const scatters = Array.from({ length: k }, () => new Float64Array(width * width));
  const raw = new Float64Array(width);
  // a row's non-zero raw columns, ascending: the flags and most one-hot columns are 0, and the
  // products of the rest alone are summed
  const nonZero = new Int32Array(width);
  for (let fold = 0; fold < k; fold++) {
    const sum = sums[fold];
    const scatter = scatters[fold];
    for (let r = starts[fold]; r < starts[fold + 1]; r++) {
      encodeRaw(rows[r], raw);
      let count = 0;
      for (let i = 0; i < width; i++) if (raw[i] !== 0) nonZero[count++] = i;
      for (let a = 0; a < count; a++) {
        const i = nonZero[a];
        const yi = raw[i];
        sum[i] += yi;
        const rowStart = i * width;
        // dense rows (numeric features, none missing) are faster without the indirection
        if (2 * count >= width) for (let j = i; j < width; j++) scatter[rowStart + j] += yi * raw[j];
        else for (let b = a; b < count; b++) scatter[rowStart + nonZero[b]] += yi * raw[nonZero[b]];
      }
    }
  }
  const totalSum = new Float64Array(width);
  const totalScatter = new Float64Array(width * width);
  for (let fold = 0; fold < k; fold++) {
    for (let i = 0; i < width; i++) totalSum[i] += sums[fold][i];
    for (let i = 0; i < width * width; i++) totalScatter[i] += scatters[fold][i];
  }

  const errors = new Float64Array(n);
  for (let fold = 0; fold < k; fold++) {
    const m = n - (starts[fold + 1] - starts[fold]);
    const rawSum = (i: number): number => totalSum[i] - sums[fold][i];
    const rawScatter = (i: number, j: number): number => {
      const at = i <= j ? i * width + j : j * width + i;
      return totalScatter[at] - scatters[fold][at];
    };
    // the fold model's encoded columns as combinations of the raw ones
    const columns: FoldColumn[] = [];
    for (let i = 0; i < numeric.length; i++) {
      const flag = numericFlag[i];
      const present = m - (flag >= 0 ? total(numericMissing[i]) - numericMissing[i][fold] : 0);
      if (present === 0) continue; // never present on the other folds: the fit has no such column
      columns.push({ terms: flag >= 0 ? [[i, 1], [flag, rawSum(i) / present]] : [[i, 1]], fullScale: numeric[i].scale });
    }
    for (let c = 0; c < categoricalNames.length; c++) {
      const chosen = foldCategories[fold][c];
      if (chosen === null) continue;
      for (const category of chosen.categories) {
        const column = categoryColumn[c].get(category) as number;
        const imputed = category === chosen.mostFrequent && categoryFlag[c] >= 0;
        columns.push({ terms: imputed ? [[column, 1], [categoryFlag[c], 1]] : [[column, 1]], fullScale: 0 });
      }
    }
    const w = columns.length;
    if (w === 0) continue;
    const center = new Float64Array(w);
    for (let a = 0; a < w; a++) for (const [i, coefficient] of columns[a].terms) center[a] += (coefficient * rawSum(i)) / m;
    const covariance = new Float64Array(w * w);
    for (let a = 0; a < w; a++) {
      for (let b = a; b < w; b++) {
        let scatter = 0;
        for (const [i, ci] of columns[a].terms) for (const [j, cj] of columns[b].terms) scatter += ci * cj * rawScatter(i, j);
        const value = (scatter - m * center[a] * center[b]) / (m - 1);
        covariance[a * w + b] = value;
        covariance[b * w + a] = value;
      }
    }
    // standardized on the other folds alone, as their model is: StandardScaler's population std,
    // 1 in the column's own units (raw value, 0/1) when it is constant there
    const scale = new Float64Array(w);
    for (let a = 0; a < w; a++) {
      const variance = (covariance[a * w + a] * (m - 1)) / m;
      const meanSquare = variance + center[a] * center[a];
      if (variance > CONSTANT_COLUMN_SHARE * meanSquare) scale[a] = Math.sqrt(variance);
      else scale[a] = columns[a].fullScale > 0 ? 1 / columns[a].fullScale : 1;
    }
    for (let a = 0; a < w; a++) for (let b = 0; b < w; b++) covariance[a * w + b] /= scale[a] * scale[b];
    const { values, vectors } = symmetricEigen(covariance, w);
    let varianceTotal = 0;
    for (const value of values) varianceTotal += Math.max(0, value);
    const keep = componentsForShare(values.map((value) => (varianceTotal > 0 ? Math.max(0, value) / varianceTotal : 0)), model.varianceShare);
    const axes = vectors.slice(0, keep);
    const encoded = new Float64Array(w);
    // every column is one raw column plus at most one missing flag times a coefficient
    const primary = Int32Array.from(columns, (column) => column.terms[0][0]);
    const flag = Int32Array.from(columns, (column) => (column.terms.length > 1 ? column.terms[1][0] : -1));
    const flagCoefficient = Float64Array.from(columns, (column) => (column.terms.length > 1 ? column.terms[1][1] : 0));
    for (let r = starts[fold]; r < starts[fold + 1]; r++) {
      encodeRaw(rows[r], raw);
      let squared = 0;
      for (let a = 0; a < w; a++) {
        const x = flag[a] >= 0 ? raw[primary[a]] + flagCoefficient[a] * raw[flag[a]] : raw[primary[a]];
        encoded[a] = (x - center[a]) / scale[a];
        squared += encoded[a] * encoded[a];
      }
      let projected = 0;
      for (const axis of axes) {
        let dot = 0;
        for (let a = 0; a < w; a++) dot += axis[a] * encoded[a];
        projected += dot * dot;
      }
      errors[r] = Math.sqrt(Math.max(0, squared - projected));
    }
  }
  return errors;
}

/**
 * Fits the model on the reference rows (in their order) and summarizes their out-of-sample errors
 * per chunk (crossFittedErrors; NannyML summarizes the in-sample ones); null when there is
 * nothing to fit (fewer than 2 rows, or no usable feature).
 */
export function fitMultivariateReference(rows: readonly FeatureRow[], chunkSize = DEFAULT_MULTIVARIATE_CHUNK_SIZE, options: PcaFitOptions = {}): MultivariateReference | null {
  if (rows.length < 2) return null;
  const model = fitPcaReconstruction(rows, options);
  if (encodedWidth(model) === 0) return null;
  return { model, errors: referenceChunkStatistics(crossFittedErrors(model, rows, CROSS_FIT_FOLDS, options), chunkSize) };
}

/** Checks a stored multivariate reference; a clear error names what is wrong. */
export function multivariateReferenceFromJson(raw: unknown, where: string): MultivariateReference {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: multivariate is not an object`);
  const { model, errors } = raw as { model?: unknown; errors?: Record<string, unknown> };
  const fitted = pcaModelFromJson(model, `${where}: multivariate model`);
  const fields = ['chunkSize', 'chunks', 'chunkMean', 'chunkStd', 'rowMean', 'rowStd'] as const;
  if (typeof errors !== 'object' || errors === null || !fields.every((field) => typeof errors[field] === 'number' && Number.isFinite(errors[field]))) {
    throw new Error(`${where}: multivariate errors need finite ${fields.join(', ')}`);
  }
  const statistics = errors as unknown as ReconstructionErrorReference;
  if (!(statistics.chunkSize >= 1)) throw new Error(`${where}: multivariate chunkSize must be at least 1, got ${statistics.chunkSize}`);
  const { chunkSize, chunks, chunkMean, chunkStd, rowMean, rowStd } = statistics;
  return { model: fitted, errors: { chunkSize, chunks, chunkMean, chunkStd, rowMean, rowStd } };
}

// ---------------------------------------------------------------------------------------------
// Eigen-decomposition

/**
 * Eigenvalues (descending) and unit eigenvectors of a symmetric n x n matrix (row-major), by
 * cyclic Jacobi rotations: robust and accurate for the modest sizes of a feature covariance.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: number[]; vectors: Float64Array[] } {
  if (matrix.length !== n * n) throw new Error(`symmetricEigen: expected ${n * n} entries, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diagonal = 0;
    for (let i = 0; i < n; i++) {
      diagonal += a[i * n + i] * a[i * n + i];
      for (let j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
    }
    if (off <= 1e-30 * Math.max(diagonal, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y] - a[x * n + x]);
  return {
    values: order.map((i) => a[i * n + i]),
    vectors: order.map((i) => {
      const vector = new Float64Array(n);
      for (let k = 0; k < n; k++) vector[k] = v[k * n + i];
      return vector;
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Stored form

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Checks a stored model (JSON) and returns it; a clear error names what is wrong. */
export function pcaModelFromJson(raw: unknown, where = 'PCA reconstruction model'): PcaReconstructionModel {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('not an object');
  const model = raw as Record<string, unknown>;
  if (model.v !== 1) fail(`unsupported version ${String(model.v)}`);
  if (typeof model.varianceShare !== 'number') fail('varianceShare is not a number');
  if (!Array.isArray(model.numeric)) fail('numeric is not a list');
  if (!Array.isArray(model.categorical)) fail('categorical is not a list');
  for (const [i, column] of (model.numeric as Record<string, unknown>[]).entries()) {
    if (typeof column?.name !== 'string' || typeof column.mean !== 'number' || typeof column.scale !== 'number' || !(column.scale > 0)) fail(`numeric[${i}] needs a name, a mean and a positive scale`);
  }
  for (const [i, column] of (model.categorical as Record<string, unknown>[]).entries()) {
    const categories = column?.categories;
    if (typeof column?.name !== 'string' || typeof column.mostFrequent !== 'string' || !Array.isArray(categories) || !categories.every((c) => typeof c === 'string')) {
      fail(`categorical[${i}] needs a name, mostFrequent and string categories`);
    }
    if (!isNumberArray(column.means) || !isNumberArray(column.scales) || column.means.length !== (categories as string[]).length || column.scales.length !== (categories as string[]).length) {
      fail(`categorical[${i}]: means and scales must be numbers, one per category`);
    }
  }
  const typed = model as unknown as PcaReconstructionModel;
  const width = encodedWidth(typed);
  if (!isNumberArray(model.center) || model.center.length !== width) fail(`center must hold ${width} numbers`);
  if (!Array.isArray(model.components) || !model.components.every((row) => isNumberArray(row) && row.length === width)) fail(`components must be rows of ${width} numbers`);
  if (!isNumberArray(model.explainedVarianceRatio)) fail('explainedVarianceRatio is not a list of numbers');
  return {
    v: 1,
    varianceShare: typed.varianceShare,
    fittedOn: typeof model.fittedOn === 'number' ? model.fittedOn : 0,
    numeric: typed.numeric.map((c) => ({ name: c.name, mean: c.mean, scale: c.scale })),
    categorical: typed.categorical.map((c) => ({ name: c.name, mostFrequent: c.mostFrequent, categories: [...c.categories], means: [...c.means], scales: [...c.scales] })),
    excluded: Array.isArray(model.excluded) ? (model.excluded as unknown[]).map(String) : [],
    center: [...typed.center],
    components: typed.components.map((row) => [...row]),
    explainedVarianceRatio: [...typed.explainedVarianceRatio],
  };
}
