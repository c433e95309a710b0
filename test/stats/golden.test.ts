/**
 * Every case of test/golden/drift-statistics.json (SciPy/NumPy, see test/golden/make_golden.py),
 * recomputed from its raw inputs and held to the file's stated tolerances.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  binCounts,
  chiSquaredContingency,
  chiSquaredGoodnessOfFit,
  hellingerDistance,
  jensenShannonDistance,
  ks2Samp,
  populationStd,
  psi,
  quantileEdges,
  wassersteinDistance,
  wassersteinNormed,
} from '../../src/stats/distribution.ts';

interface GoldenFile {
  tolerance: { statistic: number; pvalue_relative: number };
  cases: {
    ks: { name: string; method: 'exact' | 'asymp'; reference: number[]; current: number[]; statistic: number; pvalue: number }[];
    chi2: {
      name: string;
      reference: number[];
      current: number[];
      goodnessOfFit: { statistic: number; pvalue: number; dof: number };
      contingency: { statistic: number; pvalue: number; dof: number };
    }[];
    jensenshannon: { name: string; reference: number[]; current: number[]; distance: number }[];
    hellinger: { name: string; reference: number[]; current: number[]; distance: number }[];
    wasserstein: { name: string; reference: number[]; current: number[]; distance: number; normed: number }[];
    psi: {
      name: string;
      reference: number[];
      current: number[];
      innerEdges: number[];
      referenceShares: number[];
      currentShares: number[];
      psi: number;
    }[];
  };
}

const golden = JSON.parse(
  readFileSync(new URL('../golden/drift-statistics.json', import.meta.url), 'utf8'),
) as GoldenFile;
const STAT_TOL = golden.tolerance.statistic;
const P_REL_TOL = golden.tolerance.pvalue_relative;

function expectStatistic(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(STAT_TOL);
}

function expectPValue(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(P_REL_TOL * Math.abs(expected));
}

describe('golden: Kolmogorov–Smirnov two-sample (scipy.stats.ks_2samp)', () => {
  for (const c of golden.cases.ks) {
    it(`${c.name} (${c.method}, n=${c.reference.length}, m=${c.current.length})`, () => {
      const result = ks2Samp(c.reference, c.current, c.method);
      expect(result.method).toBe(c.method);
      expectStatistic(result.statistic, c.statistic);
      expectPValue(result.pValue, c.pvalue);
    });
  }
  it("'auto' picks exact below 10000 values and reproduces the exact goldens", () => {
    for (const c of golden.cases.ks.filter((k) => k.method === 'exact')) {
      const result = ks2Samp(c.reference, c.current);
      expect(result.method).toBe('exact');
      expectPValue(result.pValue, c.pvalue);
    }
  });
});

describe('golden: chi-squared (scipy.stats.chisquare / chi2_contingency)', () => {
  for (const c of golden.cases.chi2) {
    it(`${c.name} goodness of fit`, () => {
      const result = chiSquaredGoodnessOfFit(c.reference, c.current);
      expect(result.dof).toBe(c.goodnessOfFit.dof);
      expectStatistic(result.statistic, c.goodnessOfFit.statistic);
      expectPValue(result.pValue, c.goodnessOfFit.pvalue);
    });
    it(`${c.name} contingency`, () => {
      const result = chiSquaredContingency(c.reference, c.current);
      expect(result.dof).toBe(c.contingency.dof);
      expectStatistic(result.statistic, c.contingency.statistic);
      expectPValue(result.pValue, c.contingency.pvalue);
    });
  }
});

describe('golden: Jensen–Shannon and Hellinger distances', () => {
  for (const c of golden.cases.jensenshannon) {
    it(`jensen-shannon ${c.name}`, () => {
      expectStatistic(jensenShannonDistance(c.reference, c.current), c.distance);
    });
  }
  for (const c of golden.cases.hellinger) {
    it(`hellinger ${c.name}`, () => {
      expectStatistic(hellingerDistance(c.reference, c.current), c.distance);
    });
  }
});

describe('golden: Wasserstein-1 (scipy.stats.wasserstein_distance)', () => {
  for (const c of golden.cases.wasserstein) {
    it(`${c.name}`, () => {
      expectStatistic(wassersteinDistance(c.reference, c.current), c.distance);
      expectStatistic(wassersteinNormed(c.reference, c.current), c.normed);
      expectStatistic(wassersteinDistance(c.reference, c.current) / populationStd(c.reference), c.normed);
    });
  }
});

describe('golden: PSI on reference decile bins', () => {
  for (const c of golden.cases.psi) {
    it(`${c.name}`, () => {
      const edges = quantileEdges(c.reference, 10);
      expect(edges).toHaveLength(9);
      edges.forEach((edge, i) => expectStatistic(edge, c.innerEdges[i]));
      const expected = binCounts(c.reference, edges);
      const actual = binCounts(c.current, edges);
      const shares = (counts: Float64Array, n: number) =>
        Array.from(counts, (k) => (k === 0 ? 1e-4 : k / n));
      shares(expected, c.reference.length).forEach((s, i) => expectStatistic(s, c.referenceShares[i]));
      shares(actual, c.current.length).forEach((s, i) => expectStatistic(s, c.currentShares[i]));
      expectStatistic(psi(expected, actual), c.psi);
    });
  }
});
