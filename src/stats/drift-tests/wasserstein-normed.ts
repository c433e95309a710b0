import { normByStd, wassersteinDistance } from '../distribution.ts';
import { wassersteinFromBuckets } from '../sketch-distance.ts';
import type { DriftTestDefinition } from './types.ts';

export const WASSERSTEIN_NORMED: DriftTestDefinition<'wasserstein_normed'> = {
  name: 'wasserstein_normed',
  description: 'Wasserstein-1 distance divided by the reference population std (exact on raw samples, bounded from sketches)',
  decision: 'effect-size',
  defaultThreshold: 0.1,
  numeric: (s) => {
    if (s.raw !== undefined) return { statistic: normByStd(wassersteinDistance(s.raw.reference, s.raw.current), s.referenceStd) };
    const buckets = s.summaryBuckets();
    const w = wassersteinFromBuckets(s.referenceSummary, s.currentSummary, buckets.reference, buckets.current, s.bucketWalk());
    return { statistic: normByStd(w.statistic, s.referenceStd), errorBound: normByStd(w.errorBound, s.referenceStd) };
  },
};
