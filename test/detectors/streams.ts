/** Seeded test streams (no Math.random, so every failure reproduces). */

import { readFileSync } from 'node:fs';
export { mulberry32 } from '../../src/simulator/random.ts';
import { mulberry32 } from '../../src/simulator/random.ts';

/** Standard normal draw by Box–Muller. */
export function gaussian(random: () => number): number {
  let u = 0;
  while (u === 0) u = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** 0/1 errors with rate `before` until `changeAt`, then `after`. */
export function bernoulliStream(seed: number, length: number, changeAt: number, before: number, after: number): number[] {
  const random = mulberry32(seed);
  const values: number[] = [];
  for (let t = 0; t < length; t++) values.push(random() < (t < changeAt ? before : after) ? 1 : 0);
  return values;
}

/** Normal values with standard deviation `sd` and mean `before` until `changeAt`, then `after`. */
export function gaussianStream(seed: number, length: number, changeAt: number, before: number, after: number, sd: number): number[] {
  const random = mulberry32(seed);
  const values: number[] = [];
  for (let t = 0; t < length; t++) values.push((t < changeAt ? before : after) + sd * gaussian(random));
  return values;
}

/** Indices at which the detector signalled a drift. */
export function driftIndices(detector: { update(x: number): void; readonly driftDetected: boolean }, values: readonly number[]): number[] {
  const found: number[] = [];
  values.forEach((x, i) => {
    detector.update(x);
    if (detector.driftDetected) found.push(i);
  });
  return found;
}

/** River's documented binary example stream: error rate 0.5, then 0.7 from index 1000 (test/golden). */
export function riverBinaryStream(): number[] {
  const golden = JSON.parse(readFileSync(new URL('../golden/detector-examples.json', import.meta.url), 'utf8')) as {
    streams: { binary: { values: number[] } };
  };
  return golden.streams.binary.values;
}

/**
 * River's doc loop: every drift index, and the first warning of each drift cycle (the first
 * warning, then the first after each drift), as River's docstrings print them.
 */
export function docLoop(
  detector: { update(x: number): void; readonly driftDetected: boolean; readonly warningDetected: boolean },
  values: readonly number[],
): { drifts: number[]; warnings: number[] } {
  const drifts: number[] = [];
  const warnings: number[] = [];
  let printWarning = true;
  values.forEach((x, i) => {
    detector.update(x);
    if (detector.warningDetected && printWarning) {
      warnings.push(i);
      printWarning = false;
    }
    if (detector.driftDetected) {
      drifts.push(i);
      printWarning = true;
    }
  });
  return { drifts, warnings };
}
