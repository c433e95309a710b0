import { hellingerDistance } from '../distribution.ts';
import type { DriftTestDefinition } from './types.ts';

export const HELLINGER: DriftTestDefinition<'hellinger'> = {
  name: 'hellinger',
  description: 'Hellinger distance between the bin or category shares',
  decision: 'effect-size',
  defaultThreshold: 0.1,
  numeric: (s) => ({ statistic: hellingerDistance(s.referenceBins, s.currentBins) }),
  categorical: (s) => ({ statistic: hellingerDistance(s.reference, s.current) }),
};
