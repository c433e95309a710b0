/**
 * Extra SciPy reference values (test/stats/make_scipy_cases.py) reaching every branch of the
 * Kolmogorov distributions and the chi-squared / normal tails.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ks2Samp, ksExactWork } from '../../src/stats/distribution.ts';
import { kolmogorovSf, smirnovSf } from '../../src/stats/kolmogorov.ts';
import { chiSquaredSf, normalTwoSidedPValue } from '../../src/stats/special.ts';

interface Cases {
  kstwo: { n: number; d: number; sf: number }[];
  smirnov: { n: number; d: number; sf: number }[];
  ks: { name: string; method: 'auto'; reference: number[]; current: number[]; statistic: number; pvalue: number }[];
  chi2sf: { x: number; dof: number; sf: number }[];
  normal: { z: number; twoSided: number }[];
}

const cases = JSON.parse(readFileSync(new URL('./scipy-cases.json', import.meta.url), 'utf8')) as Cases;

function expectRelative(actual: number, expected: number, tolerance = 1e-6): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.abs(expected));
}

describe('kolmogorovSf = scipy.stats.kstwo.sf', () => {
  for (const c of cases.kstwo) {
    it(`n=${c.n} d=${c.d} -> ${c.sf}`, () => expectRelative(kolmogorovSf(c.n, c.d), c.sf));
  }
  it('is 1 at d <= 1/(2n) and 0 at d >= 1', () => {
    expect(kolmogorovSf(100, 0.004)).toBe(1);
    expect(kolmogorovSf(100, 1)).toBe(0);
  });
  it('rejects a non-integer n', () => {
    expect(() => kolmogorovSf(10.5, 0.1)).toThrow(/positive integer/);
  });
});

describe('smirnovSf = scipy.special.smirnov', () => {
  for (const c of cases.smirnov) {
    it(`n=${c.n} d=${c.d}`, () => expectRelative(smirnovSf(c.n, c.d), c.sf));
  }
});

describe('ks2Samp (auto) = scipy.stats.ks_2samp', () => {
  for (const c of cases.ks) {
    it(`${c.name} (n=${c.reference.length}, m=${c.current.length})`, () => {
      const result = ks2Samp(c.reference, c.current);
      expect(Math.abs(result.statistic - c.statistic)).toBeLessThanOrEqual(1e-9);
      expectRelative(result.pValue, c.pvalue);
      expect(result.method).toBe(Math.max(c.reference.length, c.current.length) <= 10000 ? 'exact' : 'asymp');
    });
  }
  it('a work budget sends expensive exact computations to the asymptotic distribution', () => {
    const c = cases.ks.find((k) => k.name === 'unequal-mid');
    if (c === undefined) throw new Error('missing case');
    const work = ksExactWork(c.reference.length, c.current.length, c.statistic);
    // 700 x (2 x 0.0733 x 300 + 2) = 32200 steps
    expect(work).toBeCloseTo(700 * (2 * c.statistic * 300 + 2), 9);
    expect(ks2Samp(c.reference, c.current, 'auto', work + 1).method).toBe('exact');
    const cheap = ks2Samp(c.reference, c.current, 'auto', work - 10);
    expect(cheap.method).toBe('asymp');
    // the asymptotic p-value is close to the exact 0.1994 at these sizes
    expect(Math.abs(cheap.pValue - c.pvalue)).toBeLessThan(0.02);
  });
  it('names the offending value on bad input', () => {
    expect(() => ks2Samp([1, Number.NaN], [1])).toThrow(/reference\[1\] is NaN/);
    expect(() => ks2Samp([1], [])).toThrow(/current is empty/);
  });
});

describe('chi-squared and normal tails', () => {
  for (const c of cases.chi2sf) {
    it(`chi2.sf(${c.x}, ${c.dof})`, () => expectRelative(chiSquaredSf(c.x, c.dof), c.sf, 1e-9));
  }
  for (const c of cases.normal) {
    it(`2 * norm.sf(|${c.z}|)`, () => expectRelative(normalTwoSidedPValue(c.z), c.twoSided, 1e-9));
  }
});
