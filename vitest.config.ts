import { defineConfig } from 'vitest/config';

// Test files import the built package (dist/): piscina workers must be plain .js files.
// Files run in child processes, one at a time per core: each file already spreads its work over a
// pool of worker threads, and two pools fighting for 2 cores only slows both down.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
