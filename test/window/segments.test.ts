/** worstSegmentsOf on window aggregates: which labels count, and the worst segment across keys. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PANE_LIMITS } from '../../src/window/pane.ts';
import { WindowAggregate } from '../../src/window/windows.ts';
import { worstSegmentsOf } from '../../src/window/segments.ts';
import type { SegmentsContext } from '../../src/window/segments.ts';

const CTX: SegmentsContext = { model: 'm', version: null, window: '1m', windowMs: 60_000, from: 0, to: 60_000 };

/** `n` predictions of `segment`, each labelled, `correct` of them right; class outputs ('yes'/'no'). */
function addClassified(aggregate: WindowAggregate, segment: Record<string, string>, n: number, correct: number): void {
  const pairs = Object.entries(segment).flat();
  for (let i = 0; i < n; i++) {
    aggregate.input.addPrediction('yes', NaN, 0.5, 1, false, segment);
    aggregate.outcome.addJoined('yes', i < correct ? 'yes' : 'no', 0.5, 100, false, pairs);
  }
}

describe('worstSegmentsOf', () => {
  it('grades class outputs, and names the largest significant drop across keys as the worst', () => {
    const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
    addClassified(aggregate, { region: 'eu', plan: 'pro' }, 3000, 2700);
    addClassified(aggregate, { region: 'us', plan: 'pro' }, 3000, 2700);
    // plan=free drops 30 points, region=apac (all of them free) 30 too but over fewer labels
    addClassified(aggregate, { region: 'apac', plan: 'free' }, 1000, 600);
    addClassified(aggregate, { region: 'eu', plan: 'free' }, 1000, 600);
    const report = worstSegmentsOf(aggregate, CTX);
    expect(report.overall).toEqual({ labeled: 8000, correct: 6600, accuracy: 6600 / 8000 });
    expect(report.keys.plan.map((r) => [r.value, r.significant])).toEqual([['free', true], ['pro', false]]);
    expect(report.keys.region[0]).toMatchObject({ value: 'apac', significant: true, accuracy: 0.6 });
    // free: 1200 / 2000 = 60 %, a drop of 22.5 points; apac: 60 % too: the same drop, the first key wins ties
    expect(report.worst).toMatchObject({ key: 'region', value: 'apac', features: [] });
    expect(report.worst?.drop).toBeCloseTo(0.825 - 0.6, 12);
  });

  it('ranks nothing by accuracy for a regression model: values keep their predictions, no test', () => {
    const aggregate = new WindowAggregate(DEFAULT_PANE_LIMITS);
    for (let i = 0; i < 100; i++) {
      aggregate.input.addPrediction(3.5, NaN, 0.5, 1, false, { region: i < 30 ? 'eu' : 'us' });
      aggregate.outcome.addJoined(3.5, 4, 0.5, 100, false, ['region', i < 30 ? 'eu' : 'us']);
    }
    const report = worstSegmentsOf(aggregate, CTX);
    expect(report.overall.accuracy).toBeNull();
    expect(report.keys.region.map((r) => [r.value, r.predictions, r.accuracy, r.significant])).toEqual([
      ['us', 70, null, false],
      ['eu', 30, null, false],
    ]);
    expect(report.worst).toBeNull();
  });

  it('reports an empty window with no keys and no worst segment', () => {
    const report = worstSegmentsOf(undefined, CTX);
    expect(report).toMatchObject({ overall: { labeled: 0, correct: 0, accuracy: null }, keys: {}, worst: null, correction: 'holm' });
    expect(report.alpha).toBeGreaterThan(0);
  });
});
