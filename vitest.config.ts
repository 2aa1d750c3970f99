import { defineConfig } from 'vitest/config';

// Test files import the built package (dist/): piscina workers must be plain .js files.
// Files run in child processes, one at a time per core: each file already spreads its work over a
// pool of worker threads, and two pools fighting for 2 cores only slows both down.
//
// Two projects: 'default' runs every file on plain Node, where the wasm kernel is the plain-SIMD
// build; 'relaxed-simd' runs the kernel suites again with V8's relaxed-SIMD flag, where the pool picks
// the fused multiply-add build instead (see workers/kernels/wasm/index.ts). test/wasm-variant.test.ts
// checks in each that the expected build is the one running.
const shared = {
  pool: 'forks',
  testTimeout: 60_000,
  hookTimeout: 60_000,
} as const;

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'default', include: ['test/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'relaxed-simd',
          include: [
            'test/wasm-variant.test.ts', 'test/golden.test.ts', 'test/determinism.test.ts', 'test/wasm-kernel.test.ts',
            'test/nonfinite.test.ts', 'test/wasm-kv-pieces.test.ts', 'test/large-scale.test.ts',
          ],
          execArgv: ['--experimental-wasm-relaxed-simd'],
          env: { ATTNPOOL_EXPECT_WASM_VARIANT: 'relaxed-simd' },
        },
      },
    ],
  },
});
