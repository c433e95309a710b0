import { twoProportionZTest } from '../distribution.ts';
import type { DriftTestDefinition } from './types.ts';

export const Z: DriftTestDefinition<'z'> = {
  name: 'z',
  description: "two-proportion Z-test on the share of the reference's most frequent category",
  decision: 'p-value',
  defaultThreshold: 0.05,
  onlyForTwoCategories: true,
  categorical: (s) => {
    // The share of the reference's most frequent category (with exactly two, either is the same test).
    let top = 0;
    for (let i = 1; i < s.categories.length; i++) if (s.reference[i] > s.reference[top]) top = i;
    const z = twoProportionZTest(s.reference[top], s.referenceCount, s.current[top], s.count);
    return { statistic: z.statistic, pValue: z.pValue };
  },
};
