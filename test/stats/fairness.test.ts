import { describe, expect, it } from 'vitest';
import {
  addGroupLabel,
  addGroupPrediction,
  emptyGroupCounts,
  fairnessSummary,
  mergeGroupCounts,
} from '../../src/stats/fairness.ts';

describe('fairnessSummary', () => {
  it('computes selection rates, parity difference, disparate impact and TPR gap', () => {
    const report = fairnessSummary({
      a: { count: 200, predictedPositive: 100, actualPositive: 80, truePositive: 60 },
      b: { count: 100, predictedPositive: 30, actualPositive: 50, truePositive: 25 },
      c: { count: 50, predictedPositive: 20, actualPositive: 0, truePositive: 0 },
    });
    expect(report.groups).toEqual({
      a: { count: 200, selectionRate: 0.5, tpr: 0.75 },
      b: { count: 100, selectionRate: 0.3, tpr: 0.5 },
      c: { count: 50, selectionRate: 0.4, tpr: null },
    });
    expect(report.demographicParityDifference).toBeCloseTo(0.2, 15);
    expect(report.disparateImpactRatio).toBeCloseTo(0.6, 15);
    expect(report.fourFifthsRuleViolated).toBe(true);
    expect(report.equalOpportunityDifference).toBeCloseTo(0.25, 15);
  });

  it('passes the four-fifths rule at a ratio of exactly 0.8', () => {
    const report = fairnessSummary(
      new Map([
        ['x', { count: 10, predictedPositive: 5, actualPositive: 4, truePositive: 2 }],
        ['y', { count: 10, predictedPositive: 4, actualPositive: 4, truePositive: 2 }],
      ]),
    );
    expect(report.disparateImpactRatio).toBeCloseTo(0.8, 15);
    expect(report.fourFifthsRuleViolated).toBe(false);
    expect(report.equalOpportunityDifference).toBe(0);
  });

  it('is null with fewer than two qualifying groups or no selections', () => {
    const one = fairnessSummary({ a: { count: 10, predictedPositive: 1, actualPositive: 1, truePositive: 1 } });
    expect(one.demographicParityDifference).toBeNull();
    expect(one.disparateImpactRatio).toBeNull();
    expect(one.fourFifthsRuleViolated).toBeNull();
    const none = fairnessSummary({
      a: { count: 10, predictedPositive: 0, actualPositive: 0, truePositive: 0 },
      b: { count: 10, predictedPositive: 0, actualPositive: 0, truePositive: 0 },
    });
    expect(none.demographicParityDifference).toBe(0);
    expect(none.disparateImpactRatio).toBeNull();
    const small = fairnessSummary(
      {
        a: { count: 100, predictedPositive: 50, actualPositive: 0, truePositive: 0 },
        b: { count: 3, predictedPositive: 0, actualPositive: 0, truePositive: 0 },
      },
      { minCount: 30 },
    );
    expect(small.groups.b.selectionRate).toBeNull();
    expect(small.demographicParityDifference).toBeNull();
  });

  it('counters add up and merge/subtract', () => {
    const g = emptyGroupCounts();
    addGroupPrediction(g, true);
    addGroupPrediction(g, false);
    addGroupLabel(g, true, true);
    addGroupLabel(g, false, true);
    expect(g).toEqual({ count: 2, predictedPositive: 1, actualPositive: 2, truePositive: 1 });
    const total = emptyGroupCounts();
    mergeGroupCounts(total, g);
    mergeGroupCounts(total, g);
    mergeGroupCounts(total, g, -1);
    expect(total).toEqual(g);
  });

  it('names the group and field on bad counts', () => {
    expect(() => fairnessSummary({ z: { count: 1, predictedPositive: 2, actualPositive: 0, truePositive: 0 } })).toThrow(
      /group 'z' has more predicted positives/,
    );
    expect(() => fairnessSummary({ z: { count: -1, predictedPositive: 0, actualPositive: 0, truePositive: 0 } })).toThrow(
      /group 'z' has count = -1/,
    );
  });
});
