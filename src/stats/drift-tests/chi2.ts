import { chiSquaredContingency } from '../distribution.ts';
import type { DriftTestDefinition } from './types.ts';

export const CHI2: DriftTestDefinition<'chi2'> = {
  name: 'chi2',
  description: '2 x k contingency chi-squared test (reference and current both samples)',
  decision: 'p-value',
  defaultThreshold: 0.05,
  categorical: (s) => {
    const chi2 = chiSquaredContingency(s.reference, s.current);
    return { statistic: chi2.statistic, pValue: chi2.pValue };
  },
};
