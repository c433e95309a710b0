/**
 * Group-fairness metrics from per-group counters (fairlearn's definitions):
 * - selection rate of a group  = predicted positives / predictions;
 * - demographic parity difference = max - min selection rate over groups;
 * - disparate-impact ratio      = min / max selection rate (four-fifths rule: violated < 0.8);
 * - equal-opportunity difference = max - min true-positive rate (TP / actual positives) over
 *   the groups that have labelled positives.
 * Counters are additive (merge/subtract per pane). A metric is null when fewer than two groups
 * qualify (at least `minCount` predictions; for TPR at least one actual positive), or when the
 * ratio is undefined (every selection rate 0).
 */
import type { FairnessSummary } from '../contract/metrics.ts';

export interface GroupCounts {
  /** Predictions in the group. */
  count: number;
  /** Of those, predicted positive (selected). */
  predictedPositive: number;
  /** Labelled predictions whose label is positive. */
  actualPositive: number;
  /** Labelled positives that were predicted positive. */
  truePositive: number;
}

export interface FairnessReport extends FairnessSummary {
  /** Four-fifths rule: disparate-impact ratio < 0.8 (null when the ratio is null). */
  fourFifthsRuleViolated: boolean | null;
}

export const FOUR_FIFTHS = 0.8;

export function emptyGroupCounts(): GroupCounts {
  return { count: 0, predictedPositive: 0, actualPositive: 0, truePositive: 0 };
}

/** Counts one prediction (labels are counted later, when joined, with addGroupLabel). */
export function addGroupPrediction(counts: GroupCounts, predictedPositive: boolean): void {
  counts.count += 1;
  if (predictedPositive) counts.predictedPositive += 1;
}

/** Counts a label joined to a prediction counted earlier with addGroupPrediction. */
export function addGroupLabel(counts: GroupCounts, predictedPositive: boolean, actualPositive: boolean): void {
  if (actualPositive) {
    counts.actualPositive += 1;
    if (predictedPositive) counts.truePositive += 1;
  }
}

export function mergeGroupCounts(target: GroupCounts, source: GroupCounts, sign: 1 | -1 = 1): void {
  target.count += sign * source.count;
  target.predictedPositive += sign * source.predictedPositive;
  target.actualPositive += sign * source.actualPositive;
  target.truePositive += sign * source.truePositive;
}

function checkGroup(name: string, g: GroupCounts): void {
  for (const key of ['count', 'predictedPositive', 'actualPositive', 'truePositive'] as const) {
    if (!(g[key] >= 0) || !Number.isFinite(g[key])) {
      throw new RangeError(`fairness: group '${name}' has ${key} = ${g[key]}, expected a finite count >= 0`);
    }
  }
  if (g.predictedPositive > g.count) {
    throw new RangeError(`fairness: group '${name}' has more predicted positives (${g.predictedPositive}) than predictions (${g.count})`);
  }
  if (g.truePositive > g.actualPositive || g.truePositive > g.predictedPositive) {
    throw new RangeError(`fairness: group '${name}' has more true positives (${g.truePositive}) than actual or predicted positives`);
  }
}

export function fairnessSummary(
  groups: Readonly<Record<string, GroupCounts>> | ReadonlyMap<string, GroupCounts>,
  options: { minCount?: number } = {},
): FairnessReport {
  const minCount = options.minCount ?? 1;
  const out: FairnessSummary['groups'] = {};
  let minRate = Infinity;
  let maxRate = -Infinity;
  let rateGroups = 0;
  let minTpr = Infinity;
  let maxTpr = -Infinity;
  let tprGroups = 0;
  const list = groups instanceof Map ? [...groups.entries()] : Object.entries(groups);
  for (const [name, g] of list) {
    checkGroup(name, g);
    const qualifies = g.count >= minCount && g.count > 0;
    const selectionRate = qualifies ? g.predictedPositive / g.count : null;
    const tpr = qualifies && g.actualPositive > 0 ? g.truePositive / g.actualPositive : null;
    out[name] = { count: g.count, selectionRate, tpr };
    if (selectionRate !== null) {
      rateGroups++;
      minRate = Math.min(minRate, selectionRate);
      maxRate = Math.max(maxRate, selectionRate);
    }
    if (tpr !== null) {
      tprGroups++;
      minTpr = Math.min(minTpr, tpr);
      maxTpr = Math.max(maxTpr, tpr);
    }
  }
  const demographicParityDifference = rateGroups >= 2 ? maxRate - minRate : null;
  const disparateImpactRatio = rateGroups >= 2 && maxRate > 0 ? minRate / maxRate : null;
  return {
    groups: out,
    demographicParityDifference,
    disparateImpactRatio,
    equalOpportunityDifference: tprGroups >= 2 ? maxTpr - minTpr : null,
    fourFifthsRuleViolated: disparateImpactRatio === null ? null : disparateImpactRatio < FOUR_FIFTHS,
  };
}
