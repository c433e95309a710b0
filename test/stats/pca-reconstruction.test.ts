/**
 * PCA reconstruction error (multivariate drift) against scikit-learn: test/golden/pca-reconstruction.json
 * (see test/golden/make_pca_golden.py), with the imputation, standardization, component count,
 * per-row errors and the reference chunks' bounds; and the pure pieces on their own.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  componentsForShare,
  crossFittedErrors,
  fitMultivariateReference,
  fitPcaReconstruction,
  multivariateVerdict,
  normalUpperQuantile,
  pcaModelFromJson,
  ReconstructionScorer,
  reconstructionErrors,
  referenceChunkStatistics,
  symmetricEigen,
} from '../../src/stats/pca-reconstruction.ts';
import type { FeatureRow } from '../../src/stats/pca-reconstruction.ts';
import { mulberry32 } from '../../src/sketch/random.ts';

interface Golden {
  varianceShare: number;
  chunkSize: number;
  reference: FeatureRow[];
  current: FeatureRow[];
  keptCategories: string[];
  mostFrequent: string;
  numericMeans: number[];
  scales: number[];
  components: number;
  explainedVarianceRatio: number[];
  referenceErrors: number[];
  currentErrors: number[];
  chunkMean: number;
  chunkStd: number;
  lower: number;
  upper: number;
  currentChunkMeans: number[];
}

const golden = JSON.parse(readFileSync(new URL('../golden/pca-reconstruction.json', import.meta.url), 'utf8')) as Golden;

describe('PCA reconstruction error against scikit-learn', () => {
  const model = fitPcaReconstruction(golden.reference, { varianceShare: golden.varianceShare });

  it('imputes and standardizes as SimpleImputer and StandardScaler', () => {
    expect(model.numeric.map((c) => c.name)).toEqual(['x1', 'x2', 'x3', 'x4', 'x5']);
    model.numeric.forEach((column, i) => {
      expect(column.mean).toBeCloseTo(golden.numericMeans[i], 9);
      expect(column.scale).toBeCloseTo(golden.scales[i], 9);
    });
    expect(model.categorical).toHaveLength(1);
    const segment = model.categorical[0];
    expect(segment.mostFrequent).toBe(golden.mostFrequent);
    // the rare category (0.5 %) gets no column
    expect(segment.categories).toEqual(golden.keptCategories);
    segment.scales.forEach((scale, i) => expect(scale).toBeCloseTo(golden.scales[5 + i], 9));
  });

  it('keeps the component count of PCA(n_components=0.65) and its explained variance ratios', () => {
    expect(model.components).toHaveLength(golden.components);
    golden.explainedVarianceRatio.forEach((ratio, i) => expect(model.explainedVarianceRatio[i]).toBeCloseTo(ratio, 9));
  });

  it('gives each row the error of inverse_transform, reference and current (missing, unseen category)', () => {
    const reference = reconstructionErrors(model, golden.reference);
    golden.referenceErrors.forEach((error, i) => expect(reference[i]).toBeCloseTo(error, 8));
    const current = reconstructionErrors(model, golden.current);
    golden.currentErrors.forEach((error, i) => expect(current[i]).toBeCloseTo(error, 8));
  });

  it("bounds the reference chunks' mean error at +-3 std and flags only the flipped-correlation chunks", () => {
    const chunks = referenceChunkStatistics(reconstructionErrors(model, golden.reference), golden.chunkSize);
    expect(chunks.chunks).toBe(golden.reference.length / golden.chunkSize);
    expect(chunks.chunkMean).toBeCloseTo(golden.chunkMean, 8);
    expect(chunks.chunkStd).toBeCloseTo(golden.chunkStd, 8);
    const verdicts = golden.currentChunkMeans.map((mean) => multivariateVerdict(chunks, mean, golden.chunkSize));
    expect(verdicts[0].lower).toBeCloseTo(golden.lower, 8);
    expect(verdicts[0].upper).toBeCloseTo(golden.upper, 8);
    // the first two chunks are drawn like the reference, the last two with the x1-x2 correlation flipped
    expect(verdicts.map((v) => v.drift)).toEqual([false, false, true, true]);
  });

  it('counts imputed features per row', () => {
    const scorer = new ReconstructionScorer(model);
    expect(scorer.score({ x1: 10, x2: null, x3: -3, x4: 0, x5: 0, segment: 'mid' }).imputed).toBe(1);
    expect(scorer.score({ x1: 10, x3: -3, x4: 0 }).imputed).toBe(3);
    expect(scorer.score({ x1: 10, x2: 0, x3: -3, x4: 0, x5: 0, segment: 'mid' }).imputed).toBe(0);
  });

  it('survives a JSON round trip and refuses a malformed model with where and what', () => {
    const stored = pcaModelFromJson(JSON.parse(JSON.stringify(model)));
    expect(reconstructionErrors(stored, golden.current.slice(0, 5))).toEqual(reconstructionErrors(model, golden.current.slice(0, 5)));
    expect(() => pcaModelFromJson({ ...model, components: [[1, 2]] }, 'profile p1')).toThrow(/profile p1: components must be rows of 9 numbers/);
    expect(() => pcaModelFromJson({ ...model, v: 2 })).toThrow(/unsupported version 2/);
  });
});

describe('PCA reconstruction pieces', () => {
  it('symmetricEigen recovers a known decomposition', () => {
    // eigenvalues 3 and 1 of [[2, 1], [1, 2]], axes (1, 1) and (1, -1)
    const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0][0])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0][0] * vectors[0][1]).toBeGreaterThan(0);
  });

  it('componentsForShare needs strictly more than the share, as scikit-learn', () => {
    expect(componentsForShare([0.5, 0.15, 0.35], 0.65)).toBe(3);
    expect(componentsForShare([0.5, 0.2, 0.3], 0.65)).toBe(2);
    expect(componentsForShare([0.7, 0.3], 0.65)).toBe(1);
  });

  it('widens the bounds for a window smaller than a chunk', () => {
    const reference = { chunkSize: 100, chunks: 10, chunkMean: 1, chunkStd: 0.1, rowMean: 1, rowStd: 1 };
    const full = multivariateVerdict(reference, 1.25, 100);
    const quarter = multivariateVerdict(reference, 1.25, 25);
    expect(full.upper).toBeCloseTo(1.3, 12);
    expect(quarter.upper).toBeCloseTo(1.6, 12);
    expect(full.drift).toBe(false);
    expect(multivariateVerdict(reference, 1.35, 100).drift).toBe(true);
    expect(quarter.lower).toBeCloseTo(0.4, 12);
    expect(multivariateVerdict({ ...reference, chunkStd: 1 }, 0.5, 100).lower).toBe(0);
  });

  it('refuses bad input with a clear error', () => {
    expect(() => fitPcaReconstruction([{ a: 1 }])).toThrow(/at least 2 reference rows/);
    expect(() => fitPcaReconstruction([{ a: 1 }, { a: 2 }], { varianceShare: 1.5 })).toThrow(/varianceShare must be in \(0, 1\)/);
    expect(() => referenceChunkStatistics([1, 2], 0)).toThrow(/chunkSize must be a positive integer/);
  });
});

describe('multivariate bounds at the false-alarm budget', () => {
  it('normalUpperQuantile matches scipy.stats.norm.isf, far into the tail', () => {
    // scipy.stats.norm.isf(p)
    const cases: Array<[number, number]> = [
      [0.3, 0.5244005127080409],
      [0.025, 1.9599639845400545],
      [0.0013498980316301, 3],
      [1e-5, 4.264890793922825],
      [4.166e-6, 4.456470655476292],
      [1e-20, 9.262340089798409],
      [0.9, -1.2815515655446004],
    ];
    for (const [p, z] of cases) expect(normalUpperQuantile(p)).toBeCloseTo(z, 10);
    expect(normalUpperQuantile(0.5)).toBe(0);
    expect(() => normalUpperQuantile(0)).toThrow(/p must be in \(0, 1\), got 0/);
  });

  it("spends alpha two-sided on the larger of the chunk std and a chunk mean's sampling error", () => {
    const reference = { chunkSize: 100, chunks: 20, chunkMean: 1, chunkStd: 0.1, rowMean: 1, rowStd: 0.5 };
    // 0.1 > 0.5 / sqrt(100): the chunk std; z for alpha 1e-4 two-sided is 3.8906
    const budget = multivariateVerdict(reference, 1.35, 100, { kind: 'budget', alpha: 1e-4 });
    expect(budget.upper).toBeCloseTo(1 + 0.38906, 4);
    expect(budget.lower).toBeCloseTo(1 - 0.38906, 4);
    expect(budget.drift).toBe(false);
    expect(multivariateVerdict(reference, 1.35, 100).drift).toBe(true); // outside NannyML's 1 +- 3 x 0.1
    // a chunk std below the sampling error of a mean of rows (a lucky reference) is floored at it
    const lucky = multivariateVerdict({ ...reference, chunkStd: 0.01 }, 1, 100, { kind: 'budget', alpha: 1e-4 });
    expect(lucky.upper).toBeCloseTo(1 + 3.8906 * 0.05, 4);
    // the reference's own mean error is uncertain too: 100 reference rows add var 0.25 / 100
    const small = multivariateVerdict(reference, 1, 100, { kind: 'budget', alpha: 1e-4, referenceRows: 100 });
    expect(small.upper).toBeCloseTo(1 + 3.8906 * Math.sqrt(0.01 + 0.0025), 4);
    // a window of a quarter chunk: twice the spread
    expect(multivariateVerdict(reference, 1, 25, { kind: 'budget', alpha: 1e-4 }).upper).toBeCloseTo(1 + 2 * 0.38906, 4);
    expect(() => multivariateVerdict(reference, 1, 100, { kind: 'budget', alpha: 0 })).toThrow(/alpha must be in \(0, 1\), got 0/);
  });

  it('takes the reference errors out of sample: in-sample ones are biased low against new rows', () => {
    const random = mulberry32(5);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    // 12 independent features: PCA keeps 8 near-equal axes, chosen partly by the reference's own noise
    const rows = (n: number): FeatureRow[] => Array.from({ length: n }, () => Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`x${i}`, normal()])));
    const reference = rows(2000);
    const mean = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + x, 0) / v.length;
    const model = fitPcaReconstruction(reference);
    const inSample = mean(reconstructionErrors(model, reference));
    const fresh = mean(reconstructionErrors(model, rows(50_000)));
    const crossFitted = mean(crossFittedErrors(model, reference));
    expect(fresh - inSample).toBeGreaterThan(0.02);
    expect(Math.abs(fresh - crossFitted)).toBeLessThan((fresh - inSample) / 3);
    expect(fitMultivariateReference(reference, 100)?.errors.rowMean).toBeCloseTo(crossFitted, 12);
  });
});

describe('out-of-sample reference errors encode each fold as a model fitted on the other folds would', () => {
  const normal = (random: () => number) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  /** Each fold scored by a model fitted from scratch on the other folds (what crossFittedErrors stands for). */
  function refitErrors(rows: readonly FeatureRow[], folds: number): Float64Array {
    const errors = new Float64Array(rows.length);
    for (let fold = 0; fold < folds; fold++) {
      const start = Math.floor((fold * rows.length) / folds);
      const end = Math.floor(((fold + 1) * rows.length) / folds);
      const model = fitPcaReconstruction([...rows.slice(0, start), ...rows.slice(end)]);
      errors.set(reconstructionErrors(model, rows.slice(start, end)), start);
    }
    return errors;
  }

  // 1,000 rows in 10 folds of 100: 'rare' is in the last fold only (2 % of the reference, so the
  // full model one-hots it), 'edge' sits at 1.0 % overall but above 1 % of the other folds' rows
  // when its fold is held out, x2 and color go missing, and the most frequent color of the other
  // folds differs when the first fold (full of 'green') is held out
  function referenceRows(): FeatureRow[] {
    const random = mulberry32(11);
    return Array.from({ length: 1000 }, (_, i) => {
      const a = normal(random);
      const fold = Math.floor(i / 100);
      let color: string | null = random() < 0.45 ? 'red' : random() < 0.6 ? 'blue' : 'green';
      if (random() < 0.04) color = null;
      if (fold === 0 && i % 2 === 0) color = 'green';
      if (fold === 9 && i % 5 === 0) color = 'rare';
      if (fold === 4 && i % 10 === 1) color = 'edge';
      return {
        x1: a + 0.3 * normal(random),
        x2: random() < 0.05 ? null : -a + 0.5 * normal(random),
        x3: normal(random),
        color,
        size: i % 3 === 0 ? 'S' : 'L',
      };
    });
  }

  it('gives every row the error of a model fitted on the other nine folds', () => {
    const rows = referenceRows();
    const full = fitPcaReconstruction(rows);
    expect(full.categorical.find((c) => c.name === 'color')?.categories).toContain('rare');
    const expected = refitErrors(rows, 10);
    const actual = crossFittedErrors(full, rows, 10);
    for (let i = 0; i < rows.length; i++) expect(actual[i], `row ${i}`).toBeCloseTo(expected[i], 9);
  });

  it('treats a category seen only in the held-out fold as unseen, as the live scorer treats an unknown one', () => {
    const rows = referenceRows();
    const errors = crossFittedErrors(fitPcaReconstruction(rows), rows, 10);
    // the last fold holds every 'rare' row: the other folds' model has no column for it
    const others = fitPcaReconstruction(rows.slice(0, 900));
    expect(others.categorical.find((c) => c.name === 'color')?.categories).not.toContain('rare');
    const live = new ReconstructionScorer(others);
    const rareRows = rows.flatMap((row, i) => (row.color === 'rare' ? [i] : []));
    expect(rareRows.length).toBe(20);
    for (const i of rareRows) {
      const unseen = live.score({ ...rows[i], color: 'never-seen' }).error;
      expect(live.score(rows[i]).error).toBe(unseen);
      expect(errors[i], `row ${i}`).toBeCloseTo(unseen, 9);
    }
  });
});
