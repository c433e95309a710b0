import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // integration tests spawn nats-server processes; two cores, so keep the fan-out small
    maxWorkers: 2,
    reporters: ['default'],
  },
});
