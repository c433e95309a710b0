import { describe, expect, it } from 'vitest';
import { DEFAULT_PANE_LIMITS, PaneInput, inputFromWire, inputToWire } from '../../src/window/pane.ts';
import { BucketScratch } from '../../src/sketch/bucket-store.ts';

function pane(seed: number, events: number): PaneInput {
  const input = new PaneInput(DEFAULT_PANE_LIMITS);
  for (let i = 0; i < events; i++) {
    const x = ((i * 2654435761 + seed * 97) >>> 0) / 4294967296;
    input.addPrediction(x, x, 0.5, 5 + 400 * x * x + seed, false, undefined);
    input.addFeature('amount', 10 ** (6 * x) * (seed + 1));
    input.addFeature('country', x < 0.5 ? 'fr' : 'de');
  }
  return input;
}

describe('a pane state decoded onto a bucket scratch (the gateway\'s, reset at every message)', () => {
  it('is the state decoded with arrays of its own, and the next state decoded onto the scratch leaves its figures alone', () => {
    const first = inputToWire(pane(1, 300));
    const second = inputToWire(pane(7, 500));
    const scratch = new BucketScratch();
    const decoded = inputFromWire(first, DEFAULT_PANE_LIMITS, 'state', scratch, true);
    const own = inputToWire(inputFromWire(first, DEFAULT_PANE_LIMITS));
    expect(inputToWire(decoded)).toEqual(own);
    // the latency sketch, read onto the scratch before it is merged into the pane's own, is the pane's alone
    const latencyBefore = Buffer.from(decoded.latency.toBytes());
    scratch.reset();
    inputFromWire(second, DEFAULT_PANE_LIMITS, 'state', scratch, true);
    expect(Buffer.from(decoded.latency.toBytes()).equals(latencyBefore)).toBe(true);
    expect(decoded.latency.count).toBe(300);
    expect(inputToWire(decoded).latency).toEqual(own.latency);
  });
});
