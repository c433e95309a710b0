import { describe, expect, it } from 'vitest';
import { absenceProbability, categoryNovelty, hasVanished, missingShare, shareOf } from '../../src/stats/data-quality.ts';

describe('missing share', () => {
  it('is the events without a value over all events', () => {
    expect(missingShare(200, 140)).toBeCloseTo(0.3, 12);
    expect(missingShare(50, 50)).toBe(0);
    expect(missingShare(50, 0)).toBe(1);
  });

  it('is null without events, and float residue of subtracted panes stays within [0, 1]', () => {
    expect(missingShare(0, 0)).toBeNull();
    expect(missingShare(100, 100.000000001)).toBe(0);
    expect(shareOf(-1e-12, 10)).toBe(0);
  });
});

describe('new categories', () => {
  const reference = new Map([['a', 70], ['b', 30]]);

  it('counts the share of values in categories the reference never held and names them, heaviest first', () => {
    const novelty = categoryNovelty([['a', 50], ['c', 5], ['b', 30], ['d', 15]], reference);
    expect(novelty.values).toBe(100);
    expect(novelty.newShare).toBeCloseTo(0.2, 12);
    expect(novelty.unknownShare).toBe(0);
    expect(novelty.newCategories).toEqual(['d', 'c']);
  });

  it("counts the window's folded values (beyond its cap) as unknown, not new", () => {
    const novelty = categoryNovelty([['a', 80], ['__other__', 20]], reference);
    expect(novelty.newShare).toBe(0);
    expect(novelty.unknownShare).toBeCloseTo(0.2, 12);
  });

  it('calls no category new when the reference folded some of its own: they may be among them', () => {
    const capped = new Map([['a', 70], ['__other__', 5]]);
    const novelty = categoryNovelty([['a', 60], ['z', 40]], capped);
    expect(novelty.newShare).toBe(0);
    expect(novelty.unknownShare).toBeCloseTo(0.4, 12);
    expect(novelty.newCategories).toEqual([]);
  });

  it('lists at most ten new categories but counts them all', () => {
    const window: Array<[string, number]> = [['a', 10]];
    for (let i = 0; i < 15; i++) window.push([`new${String(i).padStart(2, '0')}`, 1]);
    const novelty = categoryNovelty(window, reference);
    expect(novelty.newShare).toBeCloseTo(15 / 25, 12);
    expect(novelty.newCategories).toHaveLength(10);
    expect(novelty.newCategories[0]).toBe('new00');
  });

  it('has no share without categorical values', () => {
    expect(categoryNovelty([], reference).newShare).toBeNull();
  });
});

describe('vanished features', () => {
  it('a feature present in every reference row is vanished after two events without it, not after one', () => {
    // (1 - 1000/1001)^n: one event 1e-3, two events 1e-6
    expect(absenceProbability(1, 1000, 1)).toBeCloseTo(1 / 1001, 12);
    expect(hasVanished(1, 1000, 1, 0)).toBe(false);
    expect(hasVanished(1, 1000, 2, 0)).toBe(true);
  });

  it('a rare feature (5 % of the reference) needs about 270 events without it', () => {
    // 0.95^n <= 1e-6 from n = 270
    expect(hasVanished(0.05, 10_000, 200, 0)).toBe(false);
    expect(hasVanished(0.05, 10_000, 300, 0)).toBe(true);
  });

  it('a feature with any value in the window, or none in the reference, has not vanished', () => {
    expect(hasVanished(1, 1000, 500, 1)).toBe(false);
    expect(hasVanished(0, 1000, 500, 0)).toBe(false);
    expect(hasVanished(1, 0, 500, 0)).toBe(false);
  });
});
