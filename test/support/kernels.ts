// The kernels every numeric suite runs against (tfjs's habit: tests written once, run on every backend),
// the thread counts whose results must agree bit for bit, and the build of the wasm kernel they test.

import type { KernelName, WasmBuildChoice } from '../../dist/src/index.js';

export const KERNELS: readonly KernelName[] = ['js', 'wasm'];

export const THREAD_COUNTS: readonly number[] = [1, 2, 3, 4, 8];

const WASM_BUILDS: readonly WasmBuildChoice[] = ['auto', 'simd', 'relaxed-simd'];

/** The wasm build the kernel suites pin: ATTNPOOL_WASM_BUILD (vitest.config.ts's second project sets
 *  it to the build 'auto' does not pick on this runtime), else 'auto'. */
export const WASM_BUILD: WasmBuildChoice = wasmBuildFromEnv(process.env.ATTNPOOL_WASM_BUILD);

function wasmBuildFromEnv(value: string | undefined): WasmBuildChoice {
  if (value === undefined) return 'auto';
  const build = WASM_BUILDS.find((b) => b === value);
  if (!build) throw new Error(`ATTNPOOL_WASM_BUILD must be one of ${WASM_BUILDS.join(', ')}, got ${JSON.stringify(value)}`);
  return build;
}

/** Pool options for a suite's kernel: the wasm kernel on the pinned build (kernel 'js' takes no build). */
export function kernelOptions(kernel: KernelName): { kernel: KernelName; wasmBuild?: WasmBuildChoice } {
  return kernel === 'wasm' ? { kernel, wasmBuild: WASM_BUILD } : { kernel };
}
