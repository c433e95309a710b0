import { psi } from '../distribution.ts';
import type { DriftTestDefinition } from './types.ts';

export const PSI: DriftTestDefinition<'psi'> = {
  name: 'psi',
  description: 'population stability index on the reference decile bins or on the categories',
  decision: 'effect-size',
  defaultThreshold: 0.2,
  numeric: (s) => ({ statistic: psi(s.referenceBins, s.currentBins) }),
  categorical: (s) => ({ statistic: psi(s.reference, s.current) }),
};
