import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  aucVariance,
  f1Variance,
  minimumBaselineLabels,
  normalUpperQuantile,
  normalUpperTail,
  proportionDropTest,
  restrictedProportions,
} from '../../src/stats/proportion-tests.ts';

interface Golden {
  proportion: Array<{ x1: number; n1: number; x2: number; n2: number; margin: number; q1: number; q2: number; z: number; pValue: number }>;
  f1: Array<{ tp: number; fp: number; fn: number; tn: number; variance: number }>;
  auc: Array<{ auc: number; positives: number; negatives: number; variance: number }>;
  quantile: Array<{ p: number; z: number }>;
  tail: Array<{ z: number; p: number }>;
}

const golden = JSON.parse(readFileSync(new URL('../golden/quality-tests.json', import.meta.url), 'utf8')) as Golden;

describe('quality drop tests against SciPy (test/golden/make_quality_tests_golden.py)', () => {
  it.each(golden.proportion)('Farrington–Manning $x1/$n1 vs $x2/$n2, margin $margin', (c) => {
    const [q1, q2] = restrictedProportions(c.x1, c.n1, c.x2, c.n2, c.margin);
    // the golden restricted MLE is a numerical maximization (xatol 1e-13)
    expect(q1).toBeCloseTo(c.q1, 8);
    expect(q2).toBeCloseTo(c.q2, 8);
    const test = proportionDropTest(c.x1, c.n1, c.x2, c.n2, c.margin);
    expect(test.z).toBeCloseTo(c.z, 6);
    expect(Math.abs(test.pValue - c.pValue)).toBeLessThanOrEqual(1e-6 * Math.max(c.pValue, 1e-12) + 1e-14);
  });

  it.each(golden.f1)('F1 delta-method variance of TP $tp, FP $fp, FN $fn', (c) => {
    expect(f1Variance(c.tp, c.fp, c.fn)).toBeCloseTo(c.variance, 9);
  });

  it.each(golden.auc)('Hanley–McNeil variance of AUC $auc with $positives/$negatives', (c) => {
    expect(aucVariance(c.auc, c.positives, c.negatives)).toBeCloseTo(c.variance, 12);
  });

  it.each(golden.quantile)('normal upper quantile at $p', (c) => {
    expect(normalUpperQuantile(c.p)).toBeCloseTo(c.z, 8);
  });

  it.each(golden.tail)('normal upper tail at $z', (c) => {
    expect(Math.abs(normalUpperTail(c.z) - c.p)).toBeLessThanOrEqual(1e-9 * c.p);
  });
});

describe('proportionDropTest', () => {
  it('does not find the issue’s stationary example significant (0.649 against 0.714 − 0.05 with a few hundred labels)', () => {
    // reference 0.714 on 300 labels, window 0.649 on 300 labels: below the 0.664 threshold, but well within noise
    const test = proportionDropTest(214, 300, 195, 300, 0.05);
    expect(test.pValue).toBeGreaterThan(0.3);
  });

  it('finds a 15-point drop against a 5,000-label reference significant at a small alpha', () => {
    expect(proportionDropTest(3750, 5000, 1200, 2000, 0.05).pValue).toBeLessThan(1e-8);
  });

  it('stays defined when the baseline is perfect or the window at 0 %', () => {
    const perfect = proportionDropTest(300, 300, 180, 200, 0.05);
    expect(Number.isFinite(perfect.z)).toBe(true);
    expect(perfect.pValue).toBeLessThan(0.01);
    const empty = proportionDropTest(10, 300, 0, 200, 0.02);
    expect(Number.isFinite(empty.z)).toBe(true);
  });

  it('refuses counts that are not proportions, naming them', () => {
    expect(() => proportionDropTest(5, 0, 1, 2, 0.05)).toThrow(/n1 = 0/);
    expect(() => proportionDropTest(5, 4, 1, 2, 0.05)).toThrow(/5\/4/);
    expect(() => proportionDropTest(1, 4, 1, 2, -0.1)).toThrow(/margin/);
  });
});

describe('minimumBaselineLabels', () => {
  it('asks z² p(1 − p) / margin² labels: 0.75 accuracy, 5-point margin, alpha 1e-4 → ~1,040', () => {
    const z = normalUpperQuantile(1e-4);
    expect(minimumBaselineLabels(0.75, 0.05, 1e-4)).toBe(Math.ceil((z * z * 0.1875) / 0.0025));
    expect(minimumBaselineLabels(0.75, 0.05, 1e-4)).toBeGreaterThan(1000);
    expect(minimumBaselineLabels(0.75, 0.05, 1e-4)).toBeLessThan(1100);
  });

  it('needs one label when there is no margin', () => {
    expect(minimumBaselineLabels(0.75, 0, 1e-4)).toBe(1);
  });
});
