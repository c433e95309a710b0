import { jensenShannonDistance } from '../distribution.ts';
import type { DriftTestDefinition } from './types.ts';

export const JENSEN_SHANNON: DriftTestDefinition<'jensen_shannon'> = {
  name: 'jensen_shannon',
  description: 'Jensen–Shannon distance (natural log, as SciPy and Evidently) between the bin or category shares',
  decision: 'effect-size',
  defaultThreshold: 0.1,
  numeric: (s) => ({ statistic: jensenShannonDistance(s.referenceBins, s.currentBins) }),
  categorical: (s) => ({ statistic: jensenShannonDistance(s.reference, s.current) }),
};
