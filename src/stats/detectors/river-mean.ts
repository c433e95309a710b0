/**
 * River's running mean step, operation for operation, so detectors that follow River give
 * River's bits and not merely River's formula.
 *
 * river/stats/mean.py, `Mean.update(x, w=1.0)`: `self.n += w; self._mean += (w / self.n) * (x - self._mean)`.
 * With w = 1 that is `mean + (1 / n) * (x - mean)`: the reciprocal is rounded, then multiplied,
 * which differs from `(x - mean) / n` in the last bit for some inputs — enough to move a
 * statistic across a threshold it sits within a few ULPs of.
 *
 * @param mean the mean of the first n - 1 values
 * @param x the n-th value
 * @param n the count including x (River's `self.n` after `+= w`)
 */
export function riverMeanStep(mean: number, x: number, n: number): number {
  return mean + (1 / n) * (x - mean);
}
