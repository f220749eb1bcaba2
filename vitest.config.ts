import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Dawn's OpenGL ES adapter is one per process and the CI machine has 2 cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
