import { SI_PREDICTIONS, SO_CORRECT, SO_LABELED } from './pane.ts';
import type { PaneInput, PaneOutcome } from './pane.ts';
import type { WindowAggregate } from './windows.ts';
import type { ModelSegments, SegmentFeatureDrift, SegmentRank } from '../contract/metrics.ts';
import { binaryConfusion } from '../stats/quality.ts';
import { rankSegments } from '../stats/segments.ts';
import { budgetSignificance } from '../stats/select.ts';
import type { SegmentCounts } from '../stats/segments.ts';

/**
 * The worst segments of a window from its pane counters: per segment key, the values ranked by
 * accuracy drop against the window's overall accuracy (src/stats/segments.ts for the test and
 * the order). Accuracy is graded on labels only: the panes keep per-segment counts, not
 * per-segment score histograms, so there is no per-segment CBPE estimate before labels come.
 */

export interface SegmentsContext {
  model: string;
  version: string | null;
  window: string;
  windowMs: number;
  from: number;
  to: number;
  /** The drift tests' false-alarm budget (drift.falseAlarmsPerMillion; default 0.5 per million values). */
  falseAlarmsPerMillion?: number;
  /** Times the window is evaluated per window length as it slides (divides the budget's alpha, as for drift). */
  evaluationsPerWindow?: number;
  /**
   * The features that drifted most inside one segment, largest first, or a note saying why there
   * are none; absent: not looked at.
   */
  featureDrift?: (key: string, value: string) => { features: SegmentFeatureDrift[]; note?: string };
}

/** Labelled classifications of a window (binary outcomes plus multiclass confusion counts). */
function classifiedOf(outcome: PaneOutcome): number {
  let binary = 0;
  if (outcome.binary !== null) {
    const { tp, fp, tn, fn } = binaryConfusion(outcome.binary);
    binary = tp + fp + tn + fn;
  }
  return binary + (outcome.confusion ? outcome.confusion.total : 0);
}

/**
 * Per key and value: predictions (input counters) and labelled, correct (outcome counters). A
 * value may have outcome counts only (its predictions' pane already left the input side of the
 * window edge) or input counts only (no label yet).
 */
export function segmentCountsOf(input: PaneInput | undefined, outcome: PaneOutcome | undefined): Map<string, Map<string, SegmentCounts>> {
  const out = new Map<string, Map<string, SegmentCounts>>();
  const slot = (key: string, value: string): SegmentCounts => {
    let byValue = out.get(key);
    if (byValue === undefined) out.set(key, (byValue = new Map()));
    let counts = byValue.get(value);
    if (counts === undefined) byValue.set(value, (counts = { predictions: 0, labeled: 0, correct: 0 }));
    return counts;
  };
  for (const [key, byValue] of input?.segments ?? []) {
    for (const [value, counts] of byValue) slot(key, value).predictions = counts[SI_PREDICTIONS];
  }
  for (const [key, byValue] of outcome?.segments ?? []) {
    for (const [value, counts] of byValue) {
      const target = slot(key, value);
      target.labeled = counts[SO_LABELED];
      target.correct = counts[SO_CORRECT];
    }
  }
  return out;
}

/** The window's worst segments per key and, for the worst significant one, its most drifted features. */
export function worstSegmentsOf(aggregate: WindowAggregate | undefined, ctx: SegmentsContext): ModelSegments {
  const input = aggregate?.input;
  const outcome = aggregate?.outcome;
  // accuracy grades classifications; a model with regression outcomes has none to rank by
  const regression = outcome?.regression != null && outcome.regression[0] > 0;
  const labeled = outcome !== undefined && !regression ? classifiedOf(outcome) : 0;
  const correct = labeled > 0 && outcome !== undefined ? outcome.correct : 0;
  // the drift tests' alpha for a window of this many labels: the family-wise level of each key's list
  const alpha = budgetSignificance(Math.max(1, labeled), ctx.falseAlarmsPerMillion, ctx.evaluationsPerWindow);
  const keys: Record<string, SegmentRank[]> = {};
  for (const [key, byValue] of segmentCountsOf(input, outcome)) {
    if (labeled === 0) {
      for (const counts of byValue.values()) {
        counts.labeled = 0;
        counts.correct = 0;
      }
    }
    keys[key] = rankSegments({ labeled, correct }, byValue, alpha);
  }
  let worst: ModelSegments['worst'] = null;
  for (const [key, ranked] of Object.entries(keys)) {
    const top = ranked[0];
    if (top === undefined || !top.significant || top.drop === null) continue;
    if (worst === null || top.drop > worst.drop) worst = { key, value: top.value, drop: top.drop, features: [] };
  }
  if (worst !== null && ctx.featureDrift !== undefined) {
    const { features, note } = ctx.featureDrift(worst.key, worst.value);
    worst.features = features;
    if (note !== undefined) worst.featuresNote = note;
  }
  return {
    model: ctx.model,
    version: ctx.version,
    window: ctx.window,
    windowMs: ctx.windowMs,
    from: ctx.from,
    to: ctx.to,
    overall: { labeled, correct, accuracy: labeled > 0 ? correct / labeled : null },
    alpha,
    correction: 'holm',
    keys,
    worst,
  };
}
