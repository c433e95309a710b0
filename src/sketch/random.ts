/**
 * mulberry32: a 32-bit seeded PRNG returning floats in [0, 1). Seeded sampling (a reference
 * profile's reservoir) gives the same result for the same data; the simulator, tests and benches
 * use it for reproducible runs. Not cryptographic.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
