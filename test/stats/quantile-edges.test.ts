/**
 * quantileEdges is numpy.quantile(sample, numpy.linspace(0.1, 0.9, 9)) bit for bit, for every
 * sample size 1..2000 (golden from test/golden/make_quantile_edges.py, run with NumPy).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quantileEdges } from '../../src/stats/distribution.ts';

const golden = JSON.parse(readFileSync(new URL('../golden/quantile-edges.json', import.meta.url), 'utf8')) as {
  bins: number;
  edges: number[][];
};

/** The generator's sample of size n: the same integer formula and IEEE operations as in Python. */
function sample(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (((i * 7919 + n * 104729) % 1000003) % 1009) / 1009 * 3.7 - 1.3);
}

/** The virtual index driftwatch used before, n q + (1 - q) - 1: equal in exact arithmetic, not in doubles. */
function edgesWithOldIndex(values: number[]): number[] {
  const sorted = [...values].sort((x, y) => x - y);
  const n = sorted.length;
  return Array.from({ length: 9 }, (_, i) => {
    const q = i === 8 ? 0.9 : i * ((0.9 - 0.1) / 8) + 0.1;
    const v = n * q + (1 - q) - 1;
    if (v <= 0) return sorted[0]!;
    if (v >= n - 1) return sorted[n - 1]!;
    const below = Math.floor(v);
    const g = v - below;
    const d = sorted[below + 1]! - sorted[below]!;
    return g >= 0.5 ? sorted[below + 1]! - d * (1 - g) : sorted[below]! + d * g;
  });
}

describe('quantileEdges against NumPy', () => {
  it('the golden covers every size 1..2000 with 9 decile edges', () => {
    expect(golden.bins).toBe(10);
    expect(golden.edges).toHaveLength(2000);
    expect(golden.edges.every((row) => row.length === 9)).toBe(true);
  });

  it('equals numpy.quantile bit for bit at every size 1..2000, 1,001 included', () => {
    const mismatched: number[] = [];
    for (let n = 1; n <= 2000; n++) {
      const edges = quantileEdges(sample(n), golden.bins);
      if (!edges.every((e, i) => Object.is(e, golden.edges[n - 1]![i]))) mismatched.push(n);
    }
    expect(mismatched).toEqual([]);
    expect(quantileEdges(sample(1001))).toEqual(golden.edges[1000]);
  });

  it('the golden tells NumPy’s virtual index (n - 1) q from n q + (1 - q) - 1', () => {
    const differing = Array.from({ length: 2000 }, (_, i) => i + 1).filter(
      (n) => !edgesWithOldIndex(sample(n)).every((e, i) => Object.is(e, golden.edges[n - 1]![i])),
    );
    expect(differing.length).toBeGreaterThan(0);
  });
});
