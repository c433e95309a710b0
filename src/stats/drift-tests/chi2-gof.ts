import { chiSquaredGoodnessOfFit } from '../distribution.ts';
import type { DriftTestDefinition } from './types.ts';

export const CHI2_GOF: DriftTestDefinition<'chi2_gof'> = {
  name: 'chi2_gof',
  description: "chi-squared goodness of fit of the current counts to the reference shares (Evidently's chi2)",
  decision: 'p-value',
  defaultThreshold: 0.05,
  categorical: (s) => {
    const gof = chiSquaredGoodnessOfFit(s.reference, s.current);
    return { statistic: gof.statistic, pValue: gof.pValue };
  },
};
