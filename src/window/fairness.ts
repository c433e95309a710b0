import type { PaneInput, PaneOutcome } from './pane.ts';
import type { FairnessSummary } from '../contract/metrics.ts';
import { fairnessSummary } from '../stats/fairness.ts';
import type { GroupCounts } from '../stats/fairness.ts';

/**
 * Fairness across the values of each segment key, from the pane counters: input
 * [predictions, predicted positive] and outcome [labeled, actual positive, true positive, ...].
 * The metrics themselves (selection rate, demographic parity, disparate impact, equal
 * opportunity) are src/stats/fairness.ts.
 */
export function fairnessOf(input: PaneInput, outcome: PaneOutcome | undefined): Record<string, FairnessSummary> {
  const out: Record<string, FairnessSummary> = {};
  for (const [key, byValue] of input.segments) {
    const outcomes = outcome?.segments.get(key);
    const groups = new Map<string, GroupCounts>();
    for (const [value, counts] of byValue) {
      const labeled = outcomes?.get(value);
      const actualPositive = labeled ? labeled[1] : 0;
      groups.set(value, {
        count: counts[0],
        predictedPositive: counts[1],
        actualPositive,
        // a window edge can cut a pane's input and outcome apart by a few events: keep the counts consistent
        truePositive: labeled ? Math.min(labeled[2], actualPositive, counts[1]) : 0,
      });
    }
    const { fourFifthsRuleViolated: _violated, ...summary } = fairnessSummary(groups);
    out[key] = summary;
  }
  return out;
}
