import { describe, expect, it } from 'vitest';
import { createDetector, detectorFromJSON } from '../../src/stats/detectors/index.ts';
import { bernoulliStream, driftIndices, gaussianStream } from './streams.ts';

describe('Page–Hinkley at driftwatch defaults (standardized, no forgetting)', () => {
  it('finds the same changes whatever the scale and offset of the values', () => {
    const values = gaussianStream(3, 6000, 3000, 10, 10.5, 2);
    const scaled = values.map((x) => 1000 * x - 42);
    const indices = driftIndices(createDetector('page_hinkley'), values);
    expect(indices.length).toBeGreaterThan(0);
    expect(driftIndices(createDetector('page_hinkley'), scaled)).toEqual(indices);
    // River's raw test depends on the scale: the same stream in other units gives other answers.
    const raw = { standardize: false, alpha: 0.9999, delta: 0.005, threshold: 50 };
    expect(driftIndices(createDetector('page_hinkley', raw), scaled)).not.toEqual(driftIndices(createDetector('page_hinkley', raw), values));
  });

  it('stays quiet on 300k stationary events at error rates 0.1 and 0.3 and on Gaussian values, where River defaults alarm', () => {
    const riverDefaults = { standardize: false, alpha: 0.9999, delta: 0.005, threshold: 50 };
    for (const [seed, rate] of [[11, 0.1], [12, 0.3]] as const) {
      const stream = bernoulliStream(seed, 300_000, 300_000, rate, rate);
      expect(driftIndices(createDetector('page_hinkley'), stream), `rate ${rate}`).toEqual([]);
      expect(driftIndices(createDetector('page_hinkley', riverDefaults), stream).length, `rate ${rate}`).toBeGreaterThan(0);
    }
    expect(driftIndices(createDetector('page_hinkley'), gaussianStream(13, 300_000, 300_000, 5, 5, 3))).toEqual([]);
  });

  it('detects an error-rate rise of 0.1 -> 0.17 after 5000 events in every seed, within 1000 events on average', () => {
    const delays: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const indices = driftIndices(createDetector('page_hinkley'), bernoulliStream(seed, 10_000, 5000, 0.1, 0.17));
      expect(indices.filter((i) => i < 5000), `seed ${seed}`).toEqual([]);
      const first = indices.find((i) => i >= 5000);
      expect(first, `seed ${seed}`).toBeDefined();
      delays.push((first as number) - 5000);
    }
    expect(delays.reduce((a, b) => a + b, 0) / delays.length).toBeLessThan(1000);
  });

  it('a constant stream that jumps is a change as soon as the minimum instances are in', () => {
    const values = [...new Array<number>(100).fill(3), ...new Array<number>(100).fill(4)];
    const first = driftIndices(createDetector('page_hinkley'), values)[0];
    expect(first).toBeGreaterThanOrEqual(100);
    expect(first).toBeLessThan(130);
  });

  it('round-trips its state mid-stream', () => {
    const values = gaussianStream(5, 4000, 2000, 0, 0.8, 1);
    const whole = driftIndices(createDetector('page_hinkley'), values);
    const first = createDetector('page_hinkley');
    values.slice(0, 1500).forEach((x) => first.update(x));
    const resumed = detectorFromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    expect(driftIndices(resumed, values.slice(1500)).map((i) => i + 1500)).toEqual(whole.filter((i) => i >= 1500));

  });

  it('validates the new option', () => {
    expect(() => createDetector('page_hinkley', { standardize: 'yes' as unknown as boolean })).toThrow(/standardize/);
  });
});
