import { describe, expect, it } from 'vitest';
import { fisherLowerTail, holmAdjusted, rankSegments } from '../../src/stats/segments.ts';
import type { SegmentCounts } from '../../src/stats/segments.ts';
import { budgetSignificance } from '../../src/stats/select.ts';

const seg = (labeled: number, correct: number, predictions = labeled): SegmentCounts => ({ predictions, labeled, correct });

/** Overall counts as the sum of the segments (every labelled prediction carries the key). */
function overallOf(segments: Record<string, SegmentCounts>): { labeled: number; correct: number } {
  let labeled = 0;
  let correct = 0;
  for (const s of Object.values(segments)) {
    labeled += s.labeled;
    correct += s.correct;
  }
  return { labeled, correct };
}

describe('fisherLowerTail', () => {
  it("equals SciPy's fisher_exact([[x, n - x], [y, m - y]], alternative='less')", () => {
    // scipy.stats.fisher_exact(table, alternative='less').pvalue (SciPy 1.x)
    const cases: Array<[number, number, number, number, number]> = [
      [3, 10, 18, 20, 0.0016572133513662747],
      [9, 10, 10, 20, 0.9969253468503844],
      [0, 5, 30, 30, 3.080411050050519e-6],
      [14, 20, 2070, 2400, 0.04821643529020054],
      [450, 600, 1634, 1820, 5.627020265697635e-18],
      [20, 20, 50, 100, 1],
      [100, 100, 0, 100, 1],
    ];
    for (const [x, n, y, m, expected] of cases) expect(fisherLowerTail(x, n, y, m)).toBeCloseTo(expected, expected < 1e-3 ? 17 : 12);
    for (const [x, n, y, m, expected] of cases.filter((c) => c[4] > 0 && c[4] < 1)) {
      expect(Math.abs(fisherLowerTail(x, n, y, m) / expected - 1)).toBeLessThan(1e-9);
    }
  });

  it('refuses counts that are not whole or exceed their trials', () => {
    expect(() => fisherLowerTail(1.5, 10, 3, 10)).toThrow(/x must be a whole count >= 0, got 1.5/);
    expect(() => fisherLowerTail(11, 10, 3, 10)).toThrow(/successes exceed trials \(11 of 10, 3 of 10\)/);
  });
});

describe('holmAdjusted', () => {
  it('multiplies the i-th smallest of m by m - i, keeps the order monotone and leaves untested entries null', () => {
    // statsmodels multipletests([0.01, 0.04, 0.03], method='holm') -> [0.03, 0.06, 0.06]
    const adjusted = holmAdjusted([0.01, 0.04, null, 0.03]);
    expect(adjusted[0]).toBeCloseTo(0.03, 15);
    expect(adjusted[1]).toBeCloseTo(0.06, 15);
    expect(adjusted[2]).toBeNull();
    expect(adjusted[3]).toBeCloseTo(0.06, 15);
    expect(holmAdjusted([0.5, 0.9])).toEqual([1, 1]);
  });

  it('refuses a p-value outside [0, 1], naming its position', () => {
    expect(() => holmAdjusted([0.1, 1.5])).toThrow(/p-value 1 must lie in \[0, 1\], got 1.5/);
  });
});

describe('rankSegments', () => {
  // four regions at 90 %; 'east' (1000 labels) at 75 %: a 15-point drop; 'tiny' (20 labels) at 70 %
  const segments = {
    north: seg(2000, 1800),
    south: seg(2000, 1800),
    west: seg(1000, 900),
    east: seg(1000, 750),
    tiny: seg(20, 14),
  };
  const overall = overallOf(segments);
  // the gateway's alpha for this window: 0.5 false alarms per million labels, re-evaluated 60 times a window
  const alpha = budgetSignificance(overall.labeled, 0.5, 60);

  it('ranks a segment whose accuracy dropped 15 points first, above a 20-event segment with a larger, noisy drop', () => {
    const ranked = rankSegments(overall, segments, alpha);
    expect(ranked.map((r) => r.value)).toEqual(['east', 'tiny', 'north', 'south', 'west']);
    const [east, tiny] = ranked;
    expect(east.significant).toBe(true);
    expect(east.accuracy).toBe(0.75);
    expect(east.drop).toBeCloseTo(overall.correct / overall.labeled - 0.75, 12);
    expect(tiny.drop as number).toBeGreaterThan(east.drop as number);
    expect(tiny.significant).toBe(false);
    expect(tiny.adjustedPValue as number).toBeGreaterThan(alpha);
    // the regions at 90 % are above the overall figure: negative drops, nothing significant
    for (const row of ranked.slice(2)) {
      expect(row.drop as number).toBeLessThan(0);
      expect(row.significant).toBe(false);
    }
  });

  it("tests the segment against the rest with Fisher's exact test (one-sided), the pooled z beside it", () => {
    const ranked = rankSegments(overall, segments, alpha);
    const east = ranked.find((r) => r.value === 'east')!;
    const n1 = overall.labeled - 1000;
    const x1 = overall.correct - 750;
    const pooled = (x1 + 750) / (n1 + 1000);
    const z = (x1 / n1 - 0.75) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / 1000));
    expect(east.z).toBeCloseTo(z, 10);
    expect(east.pValue).toBe(fisherLowerTail(750, 1000, x1, n1));
    // scipy.stats.fisher_exact([[14, 6], [5250, 750]], alternative='less').pvalue
    const tiny = ranked.find((r) => r.value === 'tiny')!;
    expect(tiny.pValue).toBeCloseTo(0.03156769448746235, 12);
    // Holm: east's p is the smallest of five tested segments
    expect(east.adjustedPValue).toBeCloseTo(Math.min(1, 5 * (east.pValue as number)), 15);
  });

  it('keeps the correction: a drop significant alone is not when many segments are tested', () => {
    // one segment at p ~ 0.02 among ten: alone significant at 0.05, not after Holm (x10)
    const many: Record<string, SegmentCounts> = {};
    for (let i = 0; i < 9; i++) many[`s${i}`] = seg(1000, 900);
    many.worse = seg(200, 170); // 85 % vs 90 %: p ~ 0.02
    const ranked = rankSegments(overallOf(many), many, 0.05);
    const worse = ranked[0];
    expect(worse.value).toBe('worse');
    expect(worse.pValue as number).toBeLessThan(0.05);
    expect(worse.adjustedPValue as number).toBeGreaterThan(0.05);
    expect(worse.significant).toBe(false);
  });

  it('lists segments without labels last, untested, and leaves a segment holding every label untested', () => {
    const ranked = rankSegments({ labeled: 100, correct: 80 }, { only: seg(100, 80), waiting: seg(0, 0, 40) }, 0.01);
    expect(ranked.map((r) => [r.value, r.accuracy, r.pValue, r.significant])).toEqual([
      ['only', 0.8, null, false],
      ['waiting', null, null, false],
    ]);
    expect(ranked[1].predictions).toBe(40);
  });

  it('refuses impossible counts and a bad alpha, naming the segment and the field', () => {
    expect(() => rankSegments({ labeled: 10, correct: 5 }, { a: seg(4, 5) }, 0.01)).toThrow(/segment 'a': correct must be a count in \[0, labeled = 4\], got 5/);
    expect(() => rankSegments({ labeled: 10, correct: 5 }, { a: seg(20, 5) }, 0.01)).toThrow(/segment 'a': 5 correct of 20 labeled exceeds the overall 5 of 10/);
    expect(() => rankSegments({ labeled: 10, correct: 5 }, { a: { predictions: -1, labeled: 1, correct: 1 } }, 0.01)).toThrow(/predictions must be a finite count >= 0, got -1/);
    expect(() => rankSegments({ labeled: 10, correct: 5 }, {}, 0)).toThrow(/alpha must lie in \(0, 1\), got 0/);
  });
});
