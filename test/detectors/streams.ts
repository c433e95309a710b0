/** Seeded test streams (no Math.random, so every failure reproduces). */

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
