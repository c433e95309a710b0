export type { QuantileSummary } from './types.ts';
export { LogHistogram } from './log-histogram.ts';
export type { LogHistogramOptions } from './log-histogram.ts';
export { CategoryCounter, OTHER_CATEGORY } from './category-counter.ts';
export type { CategoryCounterJSON } from './category-counter.ts';
export { Moments } from './moments.ts';
export type { MomentsJSON } from './moments.ts';
