import type { MultivariateDrift } from '../contract/metrics.ts';
import type { ReferenceProfile } from '../reference/profile.ts';
import { multivariateVerdict } from '../stats/pca-reconstruction.ts';
import { MV_ERROR_SUM, MV_EVENTS, MV_IMPUTED_EVENTS, MV_IMPUTED_VALUES } from '../window/pane.ts';
import type { PaneInput } from '../window/pane.ts';

/**
 * Fewer scored events than this: no verdict (drift false). The bounds treat a window's mean error
 * as normal, which a few dozen skewed errors are not.
 */
export const MULTIVARIATE_MIN_EVENTS = 50;

/**
 * A window's multivariate drift: the mean reconstruction error of its events scored against the
 * reference's PCA model (the panes' sums under the reference's id), its bounds and verdict. null
 * when the reference has no model or no event was scored against it. Cheap (a few sums): computed
 * on every read, never reused.
 */
export function multivariateDriftOf(input: PaneInput | undefined, reference: ReferenceProfile | null): MultivariateDrift | null {
  const multivariate = reference?.multivariate;
  if (reference === null || multivariate === undefined || multivariate === null) return null;
  const cells = input?.multivariate?.get(reference.id);
  if (cells === undefined || !(cells[MV_EVENTS] >= 1)) return null;
  const count = Math.round(cells[MV_EVENTS]);
  const verdict = multivariateVerdict(multivariate.errors, cells[MV_ERROR_SUM] / cells[MV_EVENTS], count);
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
