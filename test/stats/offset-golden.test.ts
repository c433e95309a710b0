/**
 * Offset columns (spread small next to magnitude: a sensor in kelvin, a latitude, a pressure in Pa,
 * epoch seconds, 1e-6 +- 1e-9, -1e9 +- 5) from test/golden/offset-columns.json (SciPy/NumPy, see
 * make_offset_golden.py): the exact statistics to SciPy's, and the live sketch path (panes of 16
 * partitions -> window -> drift entry against a file reference) to the README's stated bounds,
 * with the verdict a user expects (a 0.5 sigma shift found, an unchanged column quiet).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { binCounts, ks2Samp, populationStd, psi, wassersteinDistance } from '../../src/stats/distribution.ts';
import { profileFromRows } from '../../src/reference/profile.ts';
import { PARTITIONS, liveWindow } from './helpers/live-window.ts';
import { buildModelMetrics } from '../../src/gateway/metrics.ts';

interface OffsetCase {
  name: string;
  location: number;
  sigma: number;
  shift: number;
  referenceZ: number[];
  currentZ: number[];
  ks: { statistic: number; pvalue: number };
  wasserstein: { distance: number; normed: number };
  innerEdges: number[];
  psi: number;
}

const golden = JSON.parse(readFileSync(new URL('../golden/offset-columns.json', import.meta.url), 'utf8')) as {
  tolerance: { statistic: number; pvalue_relative: number; sketch: { ks: number; wassersteinNormed: number; psi: number } };
  cases: OffsetCase[];
};

function valuesOf(c: OffsetCase, z: number[]): Float64Array {
  return Float64Array.from(z, (v) => c.location + c.sigma * v);
}

/** 16 partitions each on the centers of its own first values (a model before its workers follow a reference). */
function partitionsOnOwnCenters(): Array<Map<string, number>> {
  return Array.from({ length: PARTITIONS }, () => new Map<string, number>());
}

describe('offset columns against SciPy (test/golden/offset-columns.json)', () => {
  it('has the cases it was generated with', () => {
    expect(golden.cases.length).toBe(12);
  });

  for (const c of golden.cases) {
    it(`${c.name}: the exact statistics equal SciPy's`, () => {
      const reference = valuesOf(c, c.referenceZ);
      const current = valuesOf(c, c.currentZ);
      const ks = ks2Samp(reference, current, 'asymp');
      expect(Math.abs(ks.statistic - c.ks.statistic)).toBeLessThanOrEqual(golden.tolerance.statistic);
      expect(Math.abs(ks.pValue - c.ks.pvalue)).toBeLessThanOrEqual(golden.tolerance.pvalue_relative * c.ks.pvalue + 1e-300);
      const w = wassersteinDistance(reference, current);
      expect(Math.abs(w - c.wasserstein.distance)).toBeLessThanOrEqual(1e-9 * c.sigma);
      expect(Math.abs(w / populationStd(reference) - c.wasserstein.normed)).toBeLessThanOrEqual(1e-7);
      expect(Math.abs(psi(binCounts(reference, c.innerEdges), binCounts(current, c.innerEdges)) - c.psi)).toBeLessThanOrEqual(1e-9);
    });

    it(`${c.name}: the live sketch path is within the stated bounds, with the expected verdict`, () => {
      const reference = profileFromRows('golden', 'm', null, Array.from(valuesOf(c, c.referenceZ), (x) => ({ features: { x } })));
      const metrics = buildModelMetrics(liveWindow(valuesOf(c, c.currentZ), partitionsOnOwnCenters(), reference), {
        model: 'm', version: null, window: '5m', windowMs: 300_000, from: 0, to: 300_000, reference, overrides: {},
      });
      const entry = metrics.drift.features.x;
      expect(entry?.type).toBe('numeric');
      if (entry === undefined) return;
      const bounds = golden.tolerance.sketch;
      expect(Math.abs(entry.tests.ks.statistic - c.ks.statistic)).toBeLessThanOrEqual(bounds.ks);
      expect(Math.abs(entry.tests.wasserstein_normed.statistic - c.wasserstein.normed)).toBeLessThanOrEqual(bounds.wassersteinNormed);
      if (c.shift === 0) expect(Math.abs(entry.tests.psi.statistic - c.psi)).toBeLessThanOrEqual(bounds.psi);
      expect(entry.drift).toBe(c.shift > 0);
    });
  }
});
