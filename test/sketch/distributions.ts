import { mulberry32 } from '../../src/simulator/random.ts';
/** Seeded samplers for sketch tests (mulberry32 + Box-Muller): deterministic, no dependencies. */
export function seededUniform(seed: number): () => number {
  return mulberry32(seed);
}

export function seededNormal(seed: number): () => number {
  const uniform = seededUniform(seed);
  return () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

export interface NamedDistribution {
  name: string;
  sample: (count: number, seed: number) => number[];
}

function draw(count: number, next: () => number): number[] {
  return Array.from({ length: count }, next);
}

export const distributions: NamedDistribution[] = [
  { name: 'normal(0, 1)', sample: (n, seed) => draw(n, seededNormal(seed)) },
  { name: 'normal(1000, 5) (latency-like)', sample: (n, seed) => { const z = seededNormal(seed); return draw(n, () => 1000 + 5 * z()); } },
  { name: 'lognormal(0, 2)', sample: (n, seed) => { const z = seededNormal(seed); return draw(n, () => Math.exp(2 * z())); } },
  { name: 'uniform(-100, 50)', sample: (n, seed) => { const u = seededUniform(seed); return draw(n, () => -100 + 150 * u()); } },
  { name: 'pareto(alpha 0.8) heavy tail', sample: (n, seed) => { const u = seededUniform(seed); return draw(n, () => (1 - u()) ** (-1 / 0.8)); } },
  { name: 'negated pareto', sample: (n, seed) => { const u = seededUniform(seed); return draw(n, () => -((1 - u()) ** (-1 / 1.5))); } },
  { name: 'constant 42.5', sample: (n) => draw(n, () => 42.5) },
  { name: 'all zeros', sample: (n) => draw(n, () => 0) },
  {
    name: '30% zeros, rest +-exponential',
    sample: (n, seed) => {
      const u = seededUniform(seed);
      return draw(n, () => { const r = u(); return r < 0.3 ? 0 : (r < 0.65 ? -1 : 1) * -Math.log(1 - u()); });
    },
  },
  { name: 'probabilities in [0, 1]', sample: (n, seed) => { const u = seededUniform(seed); return draw(n, () => u() ** 3); } },
  { name: 'tiny values 1e-7 scale', sample: (n, seed) => { const u = seededUniform(seed); return draw(n, () => 1e-7 * (0.5 + u())); } },
];
