import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  addBinaryOutcome,
  addRegressionOutcome,
  binaryOutcomeSummaryFrom,
  binaryQuality,
  copyOutcomeSummary,
  createBinaryOutcomeSummary,
  createMulticlassOutcomeSummary,
  createPredictionScoreSummary,
  createRegressionOutcomeSummary,
  estimatedAccuracy,
  mergeBinaryOutcome,
  multiclassOutcomeSummaryFrom,
  predictionScoreSummaryFrom,
  regressionOutcomeSummaryFrom,
  regressionQuality,
} from '../../src/index.ts';
import type {
  BinaryOutcomeSummary,
  MulticlassOutcomeSummary,
  PredictionScoreSummary,
  RegressionOutcomeSummary,
} from '../../src/index.ts';
import { PaneInput, PaneOutcome, DEFAULT_PANE_LIMITS } from '../../src/window/pane.ts';
import type { SegmentInputCounts, SegmentOutcomeCounts } from '../../src/window/pane.ts';

/**
 * The summaries are all Float64Arrays at run time; their brands make the compiler tell them apart.
 * The `@ts-expect-error` lines are checked by `npx tsc --noEmit` (test/ is in tsconfig.json's
 * include): if a brand were dropped, the line would compile and tsc would report the unused
 * directive. They sit in functions that are never called, so nothing runs with the wrong kind.
 */

describe('branded summary types', () => {
  it('refuse a regression summary where a binary one is expected, and every other swap', () => {
    const binary = createBinaryOutcomeSummary();
    const regression = createRegressionOutcomeSummary();
    const multiclass = createMulticlassOutcomeSummary(3);
    const scores = createPredictionScoreSummary();

    const neverCalled = (): void => {
      // @ts-expect-error a regression summary is not a binary outcome summary
      binaryQuality(regression);
      // @ts-expect-error a binary summary is not a regression summary
      addRegressionOutcome(binary, 1, 2);
      // @ts-expect-error multiclass and binary summaries do not merge
      mergeBinaryOutcome(binary, multiclass);
      // @ts-expect-error unlabelled scores are no calibration reference
      estimatedAccuracy(scores, scores);
      // @ts-expect-error a bare Float64Array is no summary: it must go through binaryOutcomeSummaryFrom
      binaryQuality(new Float64Array(310));
      // @ts-expect-error input counters of a segment are not its outcome counters
      const swapped: SegmentOutcomeCounts = new PaneInput(DEFAULT_PANE_LIMITS).segmentInput('region', 'eu') as SegmentInputCounts;
      void swapped;
    };
    void neverCalled;

    expectTypeOf(regression).not.toMatchTypeOf<BinaryOutcomeSummary>();
    expectTypeOf(binary).not.toMatchTypeOf<RegressionOutcomeSummary>();
    expectTypeOf(scores).not.toMatchTypeOf<BinaryOutcomeSummary>();
    expectTypeOf(multiclass).not.toMatchTypeOf<BinaryOutcomeSummary>();
    expectTypeOf(binary).toMatchTypeOf<Float64Array>();
    expectTypeOf(copyOutcomeSummary(regression)).toEqualTypeOf<RegressionOutcomeSummary>();
    expectTypeOf(new PaneOutcome(DEFAULT_PANE_LIMITS).segmentOutcome('region', 'eu')).toEqualTypeOf<SegmentOutcomeCounts | null>();
    expectTypeOf(binaryOutcomeSummaryFrom).returns.toEqualTypeOf<BinaryOutcomeSummary>();
    expectTypeOf(multiclassOutcomeSummaryFrom).returns.toEqualTypeOf<MulticlassOutcomeSummary>();
    expectTypeOf(regressionOutcomeSummaryFrom).returns.toEqualTypeOf<RegressionOutcomeSummary>();
    expectTypeOf(predictionScoreSummaryFrom).returns.toEqualTypeOf<PredictionScoreSummary>();
  });

  it('are plain Float64Arrays at run time: a copy or a decoded array computes the same metrics', () => {
    const binary = createBinaryOutcomeSummary(10, 0.5);
    addBinaryOutcome(binary, 0.9, 1);
    addBinaryOutcome(binary, 0.2, 0);
    addBinaryOutcome(binary, 0.7, 0);
    expect(binary).toBeInstanceOf(Float64Array);
    expect(Object.getOwnPropertySymbols(binary)).toEqual([]);
    const decoded = binaryOutcomeSummaryFrom(Float64Array.from(Array.from(binary)));
    expect(binaryQuality(decoded)).toEqual(binaryQuality(binary));
    const copy = copyOutcomeSummary(binary);
    expect(copy).not.toBe(binary);
    expect(binaryQuality(copy)).toEqual(binaryQuality(binary));

    const regression = createRegressionOutcomeSummary();
    addRegressionOutcome(regression, 2, 3);
    expect(regressionQuality(regressionOutcomeSummaryFrom(Float64Array.from(regression)))).toEqual(regressionQuality(regression));
  });

  it('are adopted from decoded cells only when the cells have the layout of their kind', () => {
    const binaryCells = Float64Array.from(createBinaryOutcomeSummary(10, 0.5));
    expect(binaryOutcomeSummaryFrom(binaryCells)).toBe(binaryCells); // checked, not copied
    expect(() => binaryOutcomeSummaryFrom(binaryCells.subarray(0, binaryCells.length - 1))).toThrow(/binary outcome summary: 39 cells/);
    expect(() => binaryOutcomeSummaryFrom(Float64Array.from(createRegressionOutcomeSummary()))).toThrow(RangeError);
    const badThreshold = Float64Array.from(binaryCells);
    badThreshold[1] = 1.5;
    expect(() => binaryOutcomeSummaryFrom(badThreshold)).toThrow(/threshold in \[0, 1\]/);

    expect(() => regressionOutcomeSummaryFrom(new Float64Array(6))).toThrow(/regression outcome summary: 6 cells/);
    expect(() => multiclassOutcomeSummaryFrom(new Float64Array(3 + 9))).toThrow(/multiclass outcome summary/); // k = 0
    const multiclassCells = Float64Array.from(createMulticlassOutcomeSummary(3));
    expect(multiclassOutcomeSummaryFrom(multiclassCells)).toBe(multiclassCells);
    expect(() => predictionScoreSummaryFrom(Float64Array.from(createBinaryOutcomeSummary(10)))).toThrow(/prediction score summary/);
    const scoreCells = Float64Array.from(createPredictionScoreSummary(10));
    expect(predictionScoreSummaryFrom(scoreCells)).toBe(scoreCells);
  });
});
