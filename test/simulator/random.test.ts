import { describe, expect, it } from 'vitest';
import { LabelQueue } from '../../src/simulator/label-queue.ts';
import { cumulativeWeights, SeededRandom } from '../../src/simulator/random.ts';

function moments(draw: () => number, n = 50_000): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const v = draw();
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / n;
  return { mean, std: Math.sqrt(sumSq / n - mean * mean) };
}

describe('SeededRandom', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const seqA = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(seqA);
    expect(seqA.every((u) => u >= 0 && u < 1)).toBe(true);
  });

  it('draws uniforms, normals, lognormals and Poisson counts with the right moments', () => {
    const rng = new SeededRandom(1);
    const u = moments(() => rng.next());
    expect(u.mean).toBeCloseTo(0.5, 2);
    expect(u.std).toBeCloseTo(1 / Math.sqrt(12), 2);
    const n = moments(() => rng.gaussian(3, 2));
    expect(n.mean).toBeCloseTo(3, 1);
    expect(n.std).toBeCloseTo(2, 1);
    const logs: number[] = [];
    for (let i = 0; i < 20_001; i++) logs.push(rng.lognormal(Math.log(5000), 1));
    logs.sort((x, y) => x - y);
    expect(logs[10_000] / 5000).toBeGreaterThan(0.95); // median of lognormal(mu, s) is e^mu
    expect(logs[10_000] / 5000).toBeLessThan(1.05);
    const p = moments(() => rng.poisson(3));
    expect(p.mean).toBeCloseTo(3, 1);
    expect(p.std ** 2).toBeCloseTo(3, 0);
    expect(moments(() => rng.exponential(2)).mean).toBeCloseTo(2, 1);
  });

  it('picks indexes in proportion to their weights', () => {
    const rng = new SeededRandom(9);
    const cumulative = cumulativeWeights([1, 0, 3]);
    const counts = [0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[rng.pickCumulative(cumulative)]++;
    expect(counts[1]).toBe(0);
    expect(counts[0] / 40_000).toBeCloseTo(0.25, 2);
    expect(() => cumulativeWeights([0, 0])).toThrow(/must not all be zero/);
    expect(() => cumulativeWeights([1, -1])).toThrow(/weight 1 must be a finite number >= 0, got -1/);
  });
});

describe('LabelQueue', () => {
  it('pops in send-time order, ties in insertion order', () => {
    const q = new LabelQueue<string>(100);
    const rng = new SeededRandom(5);
    const times = Array.from({ length: 60 }, () => rng.int(0, 20));
    times.forEach((t, i) => q.push(t, `${t}:${i}`));
    const popped: string[] = [];
    while (q.peekTime() <= 20) popped.push(q.pop() as string);
    const expected = times.map((t, i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i).map(({ t, i }) => `${t}:${i}`);
    expect(popped).toEqual(expected);
    expect(q.size).toBe(0);
    expect(q.pop()).toBeUndefined();
    expect(q.peekTime()).toBe(Infinity);
  });

  it('refuses entries beyond its capacity and counts them', () => {
    const q = new LabelQueue<number>(3);
    expect([q.push(5, 1), q.push(1, 2), q.push(3, 3), q.push(0, 4)]).toEqual([true, true, true, false]);
    expect(q.dropped).toBe(1);
    expect(q.size).toBe(3);
    expect(q.pop()).toBe(2);
    expect(() => new LabelQueue(0)).toThrow(/capacity must be an integer >= 1, got 0/);
  });
});
