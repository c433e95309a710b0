import { describe, expect, it } from 'vitest';
import { referenceSummaryOf } from '../../src/gateway/metrics.ts';
import { profileFromRows } from '../../src/reference/profile.ts';
import type { TrainingRow } from '../../src/reference/profile.ts';

describe('the reference summary quality rules compare with', () => {
  it('carries the F1, AUC and confusion counts of a labelled reference, counted as on the rows', () => {
    const rows: TrainingRow[] = [];
    // scores k/20 with labels chosen so that the counts are known: predicted 1 when score >= 0.5
    for (let k = 0; k < 20; k++) for (let r = 0; r < 10; r++) rows.push({ features: { x: k }, output: k / 20 + 0.01, label: r < k / 2 ? 1 : 0 });
    const summary = referenceSummaryOf(profileFromRows('ref', 'm', null, rows));
    let tp = 0, fp = 0, fn = 0, tn = 0;
    for (const row of rows) {
      const predicted = (row.output as number) >= 0.5 ? 1 : 0;
      if (predicted === 1 && row.label === 1) tp++;
      else if (predicted === 1) fp++;
      else if (row.label === 1) fn++;
      else tn++;
    }
    expect(summary.confusion).toEqual({ tp, fp, fn, tn });
    expect(summary.f1).toBeCloseTo((2 * tp) / (2 * tp + fp + fn), 12);
    // AUC by counting every positive-negative pair (scores fall in distinct histogram bins here)
    let concordant = 0, pairs = 0;
    for (const p of rows) if (p.label === 1) for (const n of rows) if (n.label === 0) {
      pairs++;
      concordant += (p.output as number) > (n.output as number) ? 1 : (p.output as number) === (n.output as number) ? 0.5 : 0;
    }
    expect(summary.auc).toBeCloseTo(concordant / pairs, 12);
    expect(summary.labeled).toBe(200);
  });

  it('has no F1, AUC or counts for a reference without labels', () => {
    const summary = referenceSummaryOf(profileFromRows('ref', 'm', null, [{ features: { x: 1 }, output: 0.3 }]));
    expect(summary.f1).toBeUndefined();
    expect(summary.confusion).toBeUndefined();
  });
});
