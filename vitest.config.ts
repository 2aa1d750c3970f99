import { defineConfig } from 'vitest/config';

// Test files import the built package (dist/): piscina workers must be plain .js files.
// Files run in child processes, one at a time per core: each file already spreads its work over a
// pool of worker threads, and two pools fighting for 2 cores only slows both down.
//
// Two projects, so that the suites cover both builds of the wasm kernel (workers/kernels/wasm/index.ts)
// on every runtime. 'default' runs every file with wasmBuild 'auto': the fused multiply-add build
// ('relaxed-simd') on Node ≥ 22, the plain-SIMD build on Node 20. The second project runs the kernel
// suites again on the other build, pinned through ATTNPOOL_WASM_BUILD, which test/support/kernels.ts
// passes to the pools and kernels those suites make (a pinned build that cannot run fails the suite
// instead of silently re-testing the other one): on Node ≥ 22 'simd'; on Node 20 'relaxed-simd', with
// the V8 flag Node 20 needs for it. Node ≥ 22 has relaxed SIMD on by default and exits with "bad
// option" on that flag, so it is passed on Node 20 only. test/wasm-variant.test.ts checks in each
// project that the expected build is the one running.
const RELAXED_SIMD_NEEDS_FLAG = Number(process.versions.node.split('.')[0]) < 22;

const shared = {
  pool: 'forks',
  testTimeout: 60_000,
  hookTimeout: 60_000,
} as const;

const otherBuild = RELAXED_SIMD_NEEDS_FLAG
  ? { name: 'relaxed-simd', execArgv: ['--experimental-wasm-relaxed-simd'], env: { ATTNPOOL_WASM_BUILD: 'relaxed-simd' } }
  : { name: 'simd', env: { ATTNPOOL_WASM_BUILD: 'simd' } };

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'default', include: ['test/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          ...otherBuild,
          include: [
            'test/wasm-variant.test.ts', 'test/golden.test.ts', 'test/determinism.test.ts', 'test/wasm-kernel.test.ts',
            'test/wasm-kernel-tiling.test.ts', 'test/wasm-gemm.test.ts', 'test/wasm-float16.test.ts',
            'test/nonfinite.test.ts', 'test/wasm-kv-pieces.test.ts', 'test/large-scale.test.ts',
            'test/tile-pause.test.ts', 'test/variants-golden.test.ts', 'test/variants-property.test.ts', 'test/paged-attention.test.ts',
            'test/gqa-group.test.ts',
          ],
        },
      },
    ],
  },
});
