import { describe, expect, it } from 'vitest';
import { driftRecomputeMs } from '../../src/gateway/window-source.ts';

describe('driftRecomputeMs', () => {
  it('recomputes a window every sixtieth of it, between 1 s and 10 s', () => {
    expect(driftRecomputeMs(60_000)).toBe(1000);
    expect(driftRecomputeMs(300_000)).toBe(5000);
    expect(driftRecomputeMs(3_600_000)).toBe(10_000);
    expect(driftRecomputeMs(10_000)).toBe(1000);
  });
});
