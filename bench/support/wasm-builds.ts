// The two builds of the wasm kernel side by side in one process: a pool pinned to each, for a
// benchmark to alternate call by call (see bench/attention.bench.ts for why alternating).

import { AttentionPool, type KernelChoice } from '../../src/index.js';

export interface BuildPools {
  readonly simd: AttentionPool;
  readonly relaxed: AttentionPool;
}

/** Pools of `threads` threads pinned to 'simd' and to 'relaxed-simd', or why the comparison cannot run
 *  here (the js kernel was asked for, or the runtime lacks relaxed SIMD: the pool's RangeError says
 *  which runtime and what to do). */
export function openBuildPools(threads: number, kernel: KernelChoice): BuildPools | string {
  if (kernel === 'js') return '--kernel js runs no wasm build';
  let relaxed: AttentionPool;
  try {
    relaxed = new AttentionPool({ threads, kernel: 'wasm', wasmBuild: 'relaxed-simd' });
  } catch (err) {
    if (err instanceof RangeError) return err.message;
    throw err;
  }
  return { simd: new AttentionPool({ threads, kernel: 'wasm', wasmBuild: 'simd' }), relaxed };
}
