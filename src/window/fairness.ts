import type { PaneInput, PaneOutcome } from './pane.ts';
import type { FairnessSummary } from './metrics-types.ts';

/**
 * Fairness across the values of each segment key, from pane counters:
 * input [predictions, predicted positive] and outcome [labeled, actual positive, true positive, ...].
 * Selection rate = predicted positive / predictions; TPR = true positive / actual positive.
 * Demographic parity difference = max - min selection rate; disparate-impact ratio = min / max
 * (the four-fifths rule flags < 0.8); equal-opportunity difference = max - min TPR.
 */
export function fairnessOf(input: PaneInput, outcome: PaneOutcome | undefined): Record<string, FairnessSummary> {
  const out: Record<string, FairnessSummary> = {};
  for (const [key, byValue] of input.segments) {
    const outcomes = outcome?.segments.get(key);
    const groups: FairnessSummary['groups'] = {};
    const rates: number[] = [];
    const tprs: number[] = [];
    for (const [value, counts] of byValue) {
      const predictions = counts[0];
      const selectionRate = predictions > 0 ? counts[1] / predictions : null;
      const labeled = outcomes?.get(value);
      const tpr = labeled !== undefined && labeled[1] > 0 ? labeled[2] / labeled[1] : null;
      groups[value] = { count: predictions, selectionRate, tpr };
      if (selectionRate !== null) rates.push(selectionRate);
      if (tpr !== null) tprs.push(tpr);
    }
    const maxRate = rates.length > 1 ? Math.max(...rates) : null;
    const minRate = rates.length > 1 ? Math.min(...rates) : null;
    out[key] = {
      groups,
      demographicParityDifference: maxRate !== null && minRate !== null ? maxRate - minRate : null,
      disparateImpactRatio: maxRate !== null && minRate !== null && maxRate > 0 ? minRate / maxRate : null,
      equalOpportunityDifference: tprs.length > 1 ? Math.max(...tprs) - Math.min(...tprs) : null,
    };
  }
  return out;
}
