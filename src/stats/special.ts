/**
 * Special functions the drift tests need for p-values: log-gamma, the regularized incomplete
 * gamma functions, and the chi-squared / normal survival functions built on them.
 *
 * Accuracy: lnGamma uses the Lanczos approximation (g = 7, 9 terms), relative error ~1e-15 in
 * Gamma; the incomplete gamma uses the series for x < a + 1 and Lentz's continued fraction
 * otherwise (Numerical Recipes, 3rd ed., 6.2), both iterated to double precision. The result
 * for the upper tail is computed directly (never as 1 - P when P is near 1), so tiny p-values
 * such as 1e-18 keep their relative accuracy.
 */

const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);
const MAX_ITERATIONS = 100_000;
const EPSILON = 1e-16;
const TINY = 1e-300;

/** ln(Gamma(x)) for x > 0 (reflection for x < 0.5). */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`lnGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x)
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS_COEFFICIENTS[0];
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) sum += LANCZOS_COEFFICIENTS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** exp(-x + a ln x - lnGamma(a)): the common prefactor of both incomplete-gamma expansions. */
function gammaPrefactor(a: number, x: number): number {
  return Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Lower regularized incomplete gamma by its power series (converges fast for x < a + 1). */
function lowerGammaSeries(a: number, x: number): number {
  let ap = a;
  let term = 1 / a;
  let sum = term;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) return sum * gammaPrefactor(a, x);
  }
  throw new Error(`incomplete gamma series did not converge for a=${a}, x=${x}`);
}

/** Upper regularized incomplete gamma by its continued fraction (modified Lentz; x >= a + 1). */
function upperGammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) return h * gammaPrefactor(a, x);
  }
  throw new Error(`incomplete gamma continued fraction did not converge for a=${a}, x=${x}`);
}

/** Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedGammaQ: a must be > 0, got ${a}`);
  if (!(x >= 0)) throw new RangeError(`regularizedGammaQ: x must be >= 0, got ${x}`);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) return 1 - lowerGammaSeries(a, x);
  return upperGammaContinuedFraction(a, x);
}

/** Regularized lower incomplete gamma P(a, x) = 1 - Q(a, x). */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedGammaP: a must be > 0, got ${a}`);
  if (!(x >= 0)) throw new RangeError(`regularizedGammaP: x must be >= 0, got ${x}`);
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  if (x < a + 1) return lowerGammaSeries(a, x);
  return 1 - upperGammaContinuedFraction(a, x);
}

/** Survival function of the chi-squared distribution with `dof` degrees of freedom: P(X >= x). */
export function chiSquaredSf(x: number, dof: number): number {
  if (!(dof > 0)) throw new RangeError(`chiSquaredSf: degrees of freedom must be > 0, got ${dof}`);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  return regularizedGammaQ(dof / 2, x / 2);
}

/**
 * Two-sided normal p-value P(|Z| >= |z|) = erfc(|z| / sqrt 2) = Q(1/2, z^2 / 2).
 * Computed through the incomplete gamma so far tails (z = 9 -> 2e-19) keep relative accuracy.
 */
export function normalTwoSidedPValue(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z === 0) return 1;
  return regularizedGammaQ(0.5, (z * z) / 2);
}
