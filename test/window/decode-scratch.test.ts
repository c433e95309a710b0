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
  it('is the state decoded with arrays of its own, its latency read onto the scratch as its features are', () => {
    const first = inputToWire(pane(1, 300));
    const second = inputToWire(pane(7, 500));
    const scratch = new BucketScratch();
    const decoded = inputFromWire(first, DEFAULT_PANE_LIMITS, 'state', scratch, true);
    const own = inputToWire(inputFromWire(first, DEFAULT_PANE_LIMITS));
    expect(inputToWire(decoded)).toEqual(own);
    expect(decoded.latency.count).toBe(300);
    // two states decoded onto the scratch in one call (a fold) are each whole
    const other = inputFromWire(second, DEFAULT_PANE_LIMITS, 'state', scratch, true);
    expect(inputToWire(decoded)).toEqual(own);
    expect(inputToWire(other)).toEqual(inputToWire(inputFromWire(second, DEFAULT_PANE_LIMITS)));
  });

  it('restored without a scratch (a worker\'s checkpoint), keeps a latency of its own in counts, which it goes on adding to', () => {
    const restored = inputFromWire(inputToWire(pane(1, 300)), DEFAULT_PANE_LIMITS);
    restored.addPrediction(0.5, 0.5, 0.5, 17, false, undefined);
    expect(restored.latency.count).toBe(301);
    expect(restored.latency.storeForms().bytesPerWeight).toBe(2);
  });
});
