/**
 * Distributions of Kolmogorov–Smirnov statistics, matching SciPy:
 * - `kolmogorovSf(n, d)`   = scipy.stats.kstwo.sf(d, n): two-sided one-sample D_n, exact-ish
 *   (Simard & L'Ecuyer 2011 selection between Ruben–Gambino closed forms, the Durbin matrix
 *   (Marsaglia–Tsang–Wang), Pelz–Good, and 2 x Smirnov);
 * - `smirnovSf(n, d)`      = scipy.special.smirnov(n, d): one-sided D_n^+ (Birnbaum–Tingey sum);
 * - `twoSampleExactPValue` = the exact two-sided p-value of ks_2samp(method='exact'): lattice
 *   paths (Hodges 1958), with the 1-p recursion of Viehmann (arXiv:2102.08037) for n1 != n2 and
 *   the alternating reflection sum for n1 == n2.
 *
 * Two deliberate differences from SciPy, both far inside the 1e-6 relative tolerance:
 * - for n <= 140 and 0.754693 < n d^2 <= 4 SciPy uses the Pomeranz recursion; we use the Durbin
 *   matrix there too. Both are exact algorithms (the matrix is at most 47 x 47 in that range);
 * - for n > 140 and n d^1.5 <= 1.4 SciPy uses the Durbin matrix (up to 115 x 115, ~150 ms); we
 *   use Pelz–Good, which agrees to < 5e-8 relative on the survival function there.
 */

const MIN_LOG = -708.3964185322641; // log of the smallest normal double, as cephes' MINLOG
const SCALE_EXPONENT = 128;
const SCALE_UP = 2 ** SCALE_EXPONENT;
const SCALE_DOWN = 2 ** -SCALE_EXPONENT;
const SQRT_TWO_PI = Math.sqrt(2 * Math.PI);
const LOG_TWO_PI = Math.log(2 * Math.PI);
const PI_SQUARED = Math.PI ** 2;
const PI_FOUR = Math.PI ** 4;
const PI_SIX = Math.PI ** 6;
const SQRT3 = Math.sqrt(3);
const SMIRNOV_MAX_COMPUTE_N = 1_000_000;
// Bernoulli-number Stirling coefficients B_2j / (2j (2j-1)), j = 8..1 (highest power first).
const STIRLING_COEFFICIENTS = [
  -3617 / 122400, 1 / 156, -691 / 360360, 1 / 1188, -1 / 1680, 1 / 1260, -1 / 360, 1 / 12,
];

const clipProbability = (p: number): number => (p < 0 ? 0 : p > 1 ? 1 : p);

/** x * 2^exponent without overflowing the intermediate power of two. */
function scaleByPowerOfTwo(x: number, exponent: number): number {
  let result = x;
  let remaining = exponent;
  while (remaining > 1000) {
    result *= 2 ** 1000;
    remaining -= 1000;
  }
  while (remaining < -1000) {
    result *= 2 ** -1000;
    remaining += 1000;
  }
  return result * 2 ** remaining;
}

/** log(n! / n^n) by Stirling's series with n log n removed up front (no cancellation). */
function logFactorialOverPower(n: number): number {
  const rn = 1 / n;
  let poly = 0;
  for (const c of STIRLING_COEFFICIENTS) poly = poly * (rn / n) + c;
  return Math.log(n) / 2 - n + LOG_TWO_PI / 2 + rn * poly;
}

/** Row-major m x m matrix product into a fresh array. */
function multiplySquare(a: Float64Array, b: Float64Array, m: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += aik * b[k * m + j];
    }
  }
  return out;
}

/** P(D_n <= d) by Durbin's matrix method as evaluated by Marsaglia, Tsang & Wang (2003). */
export function durbinMatrixCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  // v[j] = (1 - h^(j+1)) / (j+1)!,  w[j] = 1 / j!
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let factorialInverse = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = factorialInverse;
    factorialInverse /= j;
    v[j - 1] = (1 - h ** j) * factorialInverse;
  }
  const corner = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + corner) * factorialInverse;
  let power = new Float64Array(m * m);
  for (let i = 1; i < m; i++) {
    for (let r = i - 1; r < m; r++) power[r * m + i] = w[r - i + 1];
  }
  for (let r = 0; r < m; r++) power[r * m] = v[r];
  for (let c = 0; c < m; c++) power[(m - 1) * m + c] = v[m - 1 - c];

  let result = new Float64Array(m * m);
  for (let i = 0; i < m; i++) result[i * m + i] = 1;
  let remaining = n;
  let resultExponent = 0;
  let powerExponent = 0;
  const centre = (k - 1) * m + (k - 1);
  while (remaining > 0) {
    if (remaining % 2 === 1) {
      result = multiplySquare(result, power, m);
      resultExponent += powerExponent;
    }
    power = multiplySquare(power, power, m);
    powerExponent *= 2;
    if (Math.abs(power[centre]) > SCALE_UP) {
      for (let i = 0; i < power.length; i++) power[i] /= SCALE_UP;
      powerExponent += SCALE_EXPONENT;
    }
    remaining = Math.floor(remaining / 2);
  }
  let p = result[centre];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < SCALE_DOWN) {
      p *= SCALE_UP;
      resultExponent -= SCALE_EXPONENT;
    }
  }
  if (resultExponent !== 0) p = scaleByPowerOfTwo(p, resultExponent);
  return clipProbability(p);
}

/** Pelz–Good approximation of P(D_n <= d) (accurate for large n, small d). */
export function pelzGoodCdf(n: number, d: number): number {
  if (d <= 0) return 0;
  if (d >= 1) return 1;
  const z = Math.sqrt(n) * d;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qLog = -PI_SQUARED / 8 / z2;
  if (qLog < -708) return 0;
  let q = Math.exp(qLog);

  const k1a = -z2;
  const k1b = PI_SQUARED / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI_SQUARED) / 4;
  const k2c = (PI_FOUR * (1 - 2 * z2)) / 16;
  const k3d = (PI_SIX * (5 - 30 * z2)) / 64;
  const k3c = (PI_FOUR * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI_SQUARED * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;

  let k0 = 0;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  // Horner scheme over odd integers: sum_k c_k q^((2k-1)^2).
  const maxK = Math.ceil((16 * z) / Math.PI);
  for (let k = maxK; k >= 1; k--) {
    const oddM = 2 * k - 1;
    const m2 = oddM * oddM;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qPower = q ** (8 * k);
    k0 = k0 * qPower + 1;
    k1 = k1 * qPower + (k1a + k1b * m2);
    k2 = k2 * qPower + (k2a + k2b * m2 + k2c * m4);
    k3 = k3 * qPower + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
  }
  const common = q * SQRT_TWO_PI;
  k0 = (k0 * common) / z;
  k1 = (k1 * common) / (6 * z4);
  k2 = (k2 * common) / (72 * z ** 7);
  k3 = (k3 * common) / (6480 * z ** 10);

  // The extra sums over all integers for K2 and K3.
  q = Math.exp(-PI_SQUARED / 2 / z2);
  const sqrt3z = SQRT3 * z;
  let k2Extra = 0;
  let k3Extra = 0;
  for (let k = maxK; k >= 1; k--) {
    const k2sq = k * k;
    const qPow = q ** k2sq;
    const kPi = Math.PI * k;
    k2Extra += k2sq * qPow;
    k3Extra += (sqrt3z + kPi) * (sqrt3z - kPi) * k2sq * qPow;
  }
  k2 += (k2Extra * PI_SQUARED * SQRT_TWO_PI) / (-36 * z3);
  k3 += (k3Extra * PI_SQUARED * SQRT_TWO_PI) / (216 * z6);
  return k0 + k1 / Math.sqrt(n) + k2 / n + k3 / n ** 1.5;
}

/**
 * scipy.special.smirnov(n, d): P(D_n^+ >= d) for the one-sided one-sample statistic.
 * Birnbaum–Tingey: d * sum_{j=0}^{floor(n(1-d))} C(n,j) (1-d-j/n)^(n-j) (d+j/n)^(j-1); every term
 * is positive, so the sum is accumulated in log space without cancellation.
 */
export function smirnovSf(n: number, d: number): number {
  if (!(n > 0) || !Number.isInteger(n) || !(d >= 0 && d <= 1)) return NaN;
  if (n === 1) return 1 - d;
  if (d === 0) return 1;
  if (d === 1) return 0;
  const nd = n * d;
  const ndFloor = Math.floor(nd);
  const fraction = nd - ndFloor;
  if (ndFloor === 0 || (ndFloor === 1 && fraction === 0)) {
    return clipProbability(1 - d * (1 + d) ** (n - 1));
  }
  if (-2 * n * d * d < MIN_LOG) return 0;
  if (ndFloor >= n - 1) return clipProbability((1 - d) ** n);
  if (n > SMIRNOV_MAX_COMPUTE_N) {
    const logP = -((6 * nd + 1) ** 2) / 18 / n;
    return clipProbability(Math.exp(logP));
  }
  const lastJ = n - ndFloor - 1;
  let logBinomial = 0;
  let maxLog = -Infinity;
  let scaledSum = 0;
  for (let j = 0; j <= lastJ; j++) {
    const lower = (n - j - nd) / n; // 1 - d - j/n
    const upper = (j + nd) / n; // d + j/n
    if (lower > 0) {
      const logTerm = logBinomial + (n - j) * Math.log(lower) + (j - 1) * Math.log(upper);
      if (logTerm > maxLog) {
        scaledSum = scaledSum * Math.exp(maxLog - logTerm) + 1;
        maxLog = logTerm;
      } else {
        scaledSum += Math.exp(logTerm - maxLog);
        // Past the peak the terms keep falling; 1e-22 relative each is below double precision.
        if (logTerm < maxLog - 50) break;
      }
    }
    logBinomial += Math.log((n - j) / (j + 1));
  }
  return clipProbability(d * scaledSum * Math.exp(maxLog));
}

/**
 * Whether kolmogorovSf(n, d) takes Durbin's matrix (n <= 140, n d^2 <= 4, away from the closed
 * forms): a matrix power of side ~2 n d, 30-540 us at n 29-126 on the development machine, where
 * every other branch costs a few us.
 */
export function kolmogorovSfByMatrix(n: number, d: number): boolean {
  const t = n * d;
  return n <= 140 && d > 0 && d < 0.5 && t > 1 && t < n - 1 && t * d <= 4;
}

/**
 * scipy.stats.kstwo.sf(d, n): P(D_n >= d) for the two-sided one-sample KS statistic with sample
 * size n (an integer). Used for ks_2samp's asymptotic p-value with n = round(n1 n2 / (n1 + n2)).
 */
export function kolmogorovSf(n: number, d: number): number {
  if (!(n > 0) || !Number.isInteger(n)) {
    throw new RangeError(`kolmogorovSf: n must be a positive integer, got ${n}`);
  }
  if (Number.isNaN(d)) return NaN;
  if (d >= 1) return 0;
  if (d <= 0) return 1;
  const t = n * d;
  if (t <= 1) {
    // Ruben–Gambino: 1/(2n) <= d <= 1/n
    if (t <= 0.5) return 1;
    let cdf: number;
    if (n <= 140) {
      cdf = 1;
      for (let i = 1; i <= n; i++) cdf *= (i / n) * (2 * t - 1);
    } else {
      cdf = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    }
    return clipProbability(1 - cdf);
  }
  if (t >= n - 1) return clipProbability(2 * (1 - d) ** n);
  if (d >= 0.5) return clipProbability(2 * smirnovSf(n, d));
  const ndSquared = t * d;
  if (n <= 140) {
    if (ndSquared <= 4) return clipProbability(1 - durbinMatrixCdf(n, d));
    return clipProbability(2 * smirnovSf(n, d));
  }
  if (ndSquared >= 370) return 0;
  if (ndSquared >= 2.2) return clipProbability(2 * smirnovSf(n, d));
  // SciPy uses the Durbin matrix here when n <= 100000 and n d^1.5 <= 1.4. In that region the
  // CDF is tiny (sf >= 0.98) and Pelz–Good agrees with the matrix to < 5e-8 relative on the sf
  // (checked for n = 500 .. 100000), while the matrix costs up to 150 ms at n = 100000; so the
  // survival function always uses Pelz–Good for n > 140.
  const cdf = ndSquared >= 18 ? 1 : pelzGoodCdf(n, d);
  return clipProbability(1 - cdf);
}

/** 2 * sum_k (-1)^k ... : P(D_{n,n} >= h/n) for equal sample sizes (Horner form, no cancellation). */
function equalSizesPValue(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let ratio = 1;
    for (let j = 0; j < h; j++) ratio = ((n - k * h - j) * ratio) / (n + k * h + j + 1);
    p = ratio * (1 - p);
  }
  return 2 * p;
}

/**
 * 1 / k for k up to twice the largest sample the exact p-value is used at by default
 * (KS_MAX_EXACT_N), read-only: a table made for each p-value was the gateway's largest allocation
 * outside its heap after the windows' own arrays (bench gateway, 300 models).
 */
const RECIPROCALS_UP_TO = 20_000;
const RECIPROCALS = reciprocalsUpTo(RECIPROCALS_UP_TO);

function reciprocalsUpTo(last: number): Float64Array {
  const table = new Float64Array(last + 1);
  for (let k = 1; k <= last; k++) table[k] = 1 / k;
  return table;
}

/**
 * Proportion of monotone lattice paths (0,0) -> (m,n) that leave the band |x/m - y/n| < h/lcm,
 * computed column by column as 1 - (paths inside) so the result keeps precision when small.
 */
function unequalSizesPValue(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let minJ = 0;
  let maxJ = Math.min(Math.ceil(h / mg), n + 1);
  let currentLength = maxJ - minJ;
  const column = new Float64Array(Math.min(2 * maxJ + 2, n + 1) + 2).fill(1);
  for (let j = minJ; j < maxJ; j++) column[j] = 0;
  // 1 / (i + j) for every step: each step's value depends on the previous one, and a division in
  // that chain made the walk latency-bound (~2x the cost of multiplying by the reciprocal)
  const reciprocal = m + n <= RECIPROCALS_UP_TO ? RECIPROCALS : reciprocalsUpTo(m + n);
  for (let i = 1; i <= m; i++) {
    const lastMinJ = minJ;
    const lastLength = currentLength;
    minJ = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxJ = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxJ <= minJ) return 1;
    const length = maxJ - minJ;
    const shift = minJ - lastMinJ; // >= 0: the band only moves up, so a step reads a cell not yet overwritten
    let value = minJ === 0 ? 0 : 1;
    let jj = 0;
    // Two steps at a time. A step is value' = a + b value (a = column * i / (i + j), b = j / (i + j)),
    // and the second of a pair is taken from the value before the first, (a1 + b1 a0) + (b1 b0) value:
    // the chain from one value to the next is then a multiply and an add per pair, not three
    // operations per step (the exact p-value is the largest single cost of a gateway's statistics:
    // 9 % of its thread at 300 models x 30 features over 16 partitions). All terms are positive,
    // so the regrouping moves the result by rounding alone (a few 1e-15 relative: test/stats).
    for (let ij = i + minJ; jj + 1 < length; jj += 2, ij += 2) {
      const j = jj + minJ;
      const r0 = reciprocal[ij];
      const r1 = reciprocal[ij + 1];
      const a0 = column[jj + shift] * i * r0;
      const b0 = j * r0;
      const a1 = column[jj + 1 + shift] * i * r1;
      const b1 = (j + 1) * r1;
      column[jj] = a0 + b0 * value;
      value = a1 + b1 * a0 + b1 * b0 * value;
      column[jj + 1] = value;
    }
    if (jj < length) {
      const j = jj + minJ;
      value = (column[jj + shift] * i + value * j) * reciprocal[i + j];
      column[jj] = value;
    }
    currentLength = length;
    // cells the band left (fewer than a few): a loop, not a fill() call per column
    for (let k = length; k < lastLength; k++) column[k] = 1;
  }
  return column[maxJ - minJ - 1];
}

function greatestCommonDivisor(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/**
 * Exact two-sided p-value of the two-sample KS test for sizes n1, n2 and observed statistic d.
 * d is first snapped to the lattice h / lcm(n1, n2) as SciPy does (the returned `statistic`).
 * Returns null when the exact computation is not possible (lcm beyond int32, or a numerically
 * invalid result), in which case callers fall back to the asymptotic distribution like SciPy.
 */
export function twoSampleExactPValue(
  n1: number,
  n2: number,
  d: number,
): { statistic: number; pValue: number } | null {
  const g = greatestCommonDivisor(n1, n2);
  const n1g = n1 / g;
  const n2g = n2 / g;
  if (n1g >= 2147483647 / n2g) return null;
  const lcm = n1g * n2;
  const h = Math.round(d * lcm);
  const statistic = h / lcm;
  if (h === 0) return { statistic, pValue: 1 };
  const pValue = n1 === n2 ? equalSizesPValue(n1, h) : unequalSizesPValue(n1, n2, g, h);
  if (!(pValue >= 0 && pValue <= 1)) return null;
  return { statistic, pValue };
}
