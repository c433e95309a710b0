import type { MultivariateDrift } from '../contract/metrics.ts';
import type { ReferenceProfile } from '../reference/profile.ts';
import { multivariateVerdict, NANNYML_BOUND } from '../stats/pca-reconstruction.ts';
import type { MultivariateBound } from '../stats/pca-reconstruction.ts';
import { budgetSignificance, DEFAULT_FALSE_ALARMS_PER_MILLION } from '../stats/select.ts';
import { MV_ERROR_SUM, MV_EVENTS, MV_IMPUTED_EVENTS, MV_IMPUTED_VALUES } from '../window/pane.ts';
import type { PaneInput } from '../window/pane.ts';

/**
 * Fewer scored events than this: no verdict (drift false). The bounds treat a window's mean error
 * as normal, which a few dozen skewed errors are not.
 */
export const MULTIVARIATE_MIN_EVENTS = 50;

export interface MultivariateDriftOptions {
  /**
   * 'budget' (default): bounds at the significance the drift tests' false-alarm budget grants the
   * window (budgetSignificance of its count, divided by its evaluations per window length), so
   * the multivariate verdict raises no more false alarms per million events than a feature's
   * test does. 'nannyml': NannyML's chunk mean +- 3 std, for figures comparable with NannyML's.
   */
  bound?: 'budget' | 'nannyml';
  /** The drift tests' budget (config drift.falseAlarmsPerMillion; default 0.5). */
  falseAlarmsPerMillion?: number;
  /** Times the window is evaluated per window length as it slides (divides alpha). Default 1. */
  evaluationsPerWindow?: number;
}

/**
 * A window's multivariate drift: the mean reconstruction error of its events scored against the
 * reference's PCA model (the panes' sums under the reference's id), its bounds and verdict. null
 * when the reference has no model or no event was scored against it. Cheap (a few sums and a
 * normal quantile): computed on every read, never reused.
 */
export function multivariateDriftOf(input: PaneInput | undefined, reference: ReferenceProfile | null, options: MultivariateDriftOptions = {}): MultivariateDrift | null {
  const multivariate = reference?.multivariate;
  if (reference === null || multivariate === undefined || multivariate === null) return null;
  const cells = input?.multivariate?.get(reference.id);
  if (cells === undefined || !(cells[MV_EVENTS] >= 1)) return null;
  const count = Math.round(cells[MV_EVENTS]);
  const bound: MultivariateBound =
    options.bound === 'nannyml'
      ? NANNYML_BOUND
      : {
          kind: 'budget',
          alpha: budgetSignificance(count, options.falseAlarmsPerMillion ?? DEFAULT_FALSE_ALARMS_PER_MILLION, options.evaluationsPerWindow ?? 1),
          referenceRows: multivariate.model.fittedOn,
        };
  const verdict = multivariateVerdict(multivariate.errors, cells[MV_ERROR_SUM] / cells[MV_EVENTS], count, bound);
  return {
    reference: reference.id,
    count,
    errorMean: verdict.errorMean,
    lower: verdict.lower,
    upper: verdict.upper,
    drift: count >= MULTIVARIATE_MIN_EVENTS && verdict.drift,
    imputedEvents: Math.round(cells[MV_IMPUTED_EVENTS]),
    imputedValues: Math.round(cells[MV_IMPUTED_VALUES]),
    components: multivariate.model.components.length,
  };
}
