import type { SegmentFeatureDrift } from '../contract/metrics.ts';
import { profileFromWindow } from '../reference/profile.ts';
import type { DriftOptions, DriftTestOverride } from '../stats/select.ts';
import { PaneInput, PaneOutcome } from '../window/pane.ts';
import type { FeatureSummary } from '../window/pane.ts';
import type { ModelWindows } from '../window/windows.ts';
import { driftOf } from './metrics.ts';

export interface SegmentDriftOptions {
  overrides: Readonly<Record<string, DriftTestOverride>>;
  falseAlarmsPerMillion?: number;
  discreteMaxValues?: number;
  evaluationsPerWindow?: number;
}

function valuesOf(summary: FeatureSummary): number {
  return (summary.numeric?.count ?? 0) + (summary.categories?.total ?? 0);
}

/**
 * The features that drifted most inside one segment: the segment's feature summaries in the
 * window against the same segment's in the window before it (a rolling reference of the same
 * length), with the drift tests a window's features get (src/gateway/metrics.ts driftOf), largest
 * PSI first. A segment's own reference, not the model's: a segment that always differs from the
 * whole population (one country's ages) is not "drifting". Panes summarize a segment's features
 * only for the first limits.segmentSketchValues values of each key (see PaneInput.addSegmentFeatures);
 * without them the list is empty and `note` says why. Reads the panes of the window before
 * (ModelWindows.sumRange), so it runs on request for one segment, never on the metrics path.
 */
export function segmentFeatureDrift(
  windows: ModelWindows,
  window: string,
  version: string | undefined,
  key: string,
  value: string,
  options: SegmentDriftOptions,
): { features: SegmentFeatureDrift[]; note?: string } {
  const aggregate = windows.get(window, version);
  const current = aggregate?.input.segmentFeatures.get(key)?.get(value);
  if (aggregate === undefined || current === undefined || current.size === 0) {
    return { features: [], note: `no feature summaries of segment ${key}=${value} in this window: panes keep them for the first limits.segmentSketchValues values of each key (0, the default, keeps none)` };
  }
  const { from, to } = windows.bounds(window);
  const before = windows.sumRange(from - (to - from), from, version).input.segmentFeatures.get(key)?.get(value);
  if (before === undefined || before.size === 0) {
    return { features: [], note: `no feature summaries of segment ${key}=${value} in the window before this one to compare with` };
  }
  const limits = aggregate.input.limits;
  const referenceInput = new PaneInput(limits);
  for (const [name, summary] of before) referenceInput.features.set(name, summary);
  const reference = profileFromWindow(`segment:${key}=${value}`, windows.model, version ?? null, 'window', referenceInput, new PaneOutcome(limits), from - (to - from), from);
  const features: SegmentFeatureDrift[] = [];
  for (const [name, featureReference] of Object.entries(reference.features)) {
    const summary = current.get(name);
    if (summary === undefined) continue;
    const entry = driftOf(featureReference, summary, {
      override: options.overrides[name],
      falseAlarmsPerMillion: options.falseAlarmsPerMillion,
      discreteMaxValues: options.discreteMaxValues,
      evaluationsPerWindow: options.evaluationsPerWindow,
    } satisfies DriftOptions);
    if (entry === null) continue;
    features.push({
      feature: name,
      type: entry.type,
      count: entry.count,
      referenceCount: valuesOf(before.get(name) as FeatureSummary),
      psi: entry.tests.psi.statistic,
      primary: entry.primary,
      statistic: entry.tests[entry.primary]?.statistic ?? entry.tests.psi.statistic,
      drift: entry.drift,
    });
  }
  features.sort((a, b) => b.psi - a.psi || (a.feature < b.feature ? -1 : 1));
  return features.length > 0 ? { features } : { features, note: `no feature of segment ${key}=${value} has values on both sides to compare` };
}
