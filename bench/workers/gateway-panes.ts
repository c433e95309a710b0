/**
 * The gateway bench's traffic, shared by the bench and its publisher thread: each model's current
 * pane folded by the real pane code (PaneInput, as a worker's processor does) from a deterministic
 * stream of heavy-tailed feature values.
 */
import type { PaneInput } from '../../src/window/pane.ts';

export const FEATURES = 30;
export const PANE_MS = 10_000;
export const FLUSH_MS = 1000;

/** A deterministic value stream: feature f is spread around its own centre, with a Cauchy tail. */
export function featureValue(f: number, i: number): number {
  const u = ((i * 2654435761 + f * 97) >>> 0) / 4294967296;
  return 10 * f + 5 * Math.tan(Math.PI * (u - 0.5)) * 0.2;
}

/** Adds `events` predictions (offsets `offset`..) with FEATURES numeric features each to `pane`. */
export function fill(pane: PaneInput, events: number, offset: number): void {
  for (let e = 0; e < events; e++) {
    const i = offset + e;
    pane.addPrediction(featureValue(99, i) > 990 ? 1 : 0, (i % 100) / 100, 0.5, 20 + (i % 50), false, undefined);
    for (let f = 0; f < FEATURES; f++) pane.addFeature(`f${f}`, featureValue(f, i));
  }
}

/** The environment variable a forked publisher (gateway-publisher.ts) reads its PublisherInit from, as JSON. */
export const PUBLISHER_INIT_ENV = 'DRIFTWATCH_BENCH_PUBLISHER';
