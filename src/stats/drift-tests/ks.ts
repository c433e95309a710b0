import { GATEWAY_KS_MAX_EXACT_WORK, ks2Samp } from '../distribution.ts';
import { ksFromBuckets } from '../sketch-distance.ts';
import type { DriftTestDefinition } from './types.ts';

export const KS: DriftTestDefinition<'ks'> = {
  name: 'ks',
  description: 'two-sample Kolmogorov–Smirnov (exact on raw samples, bounded from the quantile sketches otherwise)',
  decision: 'p-value',
  defaultThreshold: 0.05,
  numeric: (s) => {
    if (s.raw !== undefined) {
      const ks = ks2Samp(s.raw.reference, s.raw.current, 'auto', GATEWAY_KS_MAX_EXACT_WORK);
      return { statistic: ks.statistic, pValue: ks.pValue };
    }
    const buckets = s.summaryBuckets();
    // from sketches the statistic is known within its error bound: its p-value is exact where it decides
    const ks = ksFromBuckets(buckets.reference, buckets.current, GATEWAY_KS_MAX_EXACT_WORK, s.bucketWalk(), s.threshold('ks'));
    return { statistic: ks.statistic, pValue: ks.pValue, errorBound: ks.errorBound };
  },
};
