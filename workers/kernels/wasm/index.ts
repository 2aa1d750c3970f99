// The WebAssembly SIMD kernel (sources in asm/, built into dist/wasm/kernels.wasm by asm/build.mjs).
//
// The module is compiled once per process and can be posted to worker threads (a WebAssembly.Module
// is structured-cloneable); each createWasmKernel call instantiates it with its own memory, so every
// thread has private scratch and caches.

import { readFileSync } from 'node:fs';
import type { Kernel } from '../jobs.js';
import { WasmArena } from './arena.js';
import { WasmAttention } from './attention-driver.js';
import { WasmGemm } from './gemm-driver.js';
import { instantiateKernels } from './kernel-exports.js';

// This file compiles to dist/workers/kernels/wasm/index.js; the module is dist/wasm/kernels.wasm.
const MODULE_URL = new URL('../../../wasm/kernels.wasm', import.meta.url);

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernel module, or null when it is missing (not built) or this runtime rejects it
 *  (no WebAssembly SIMD): then the pool uses the js kernel. */
export function compileWasmKernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) compiled = compile();
  return compiled;
}

function compile(): WebAssembly.Module | null {
  let bytes: Buffer<ArrayBuffer>;
  try {
    bytes = readFileSync(MODULE_URL);
  } catch {
    return null;
  }
  return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
}

/** A kernel on a fresh instance of `module`. Float32 jobs only (float64 jobs run on the js kernel). */
export function createWasmKernel(module: WebAssembly.Module): Kernel {
  const kernels = instantiateKernels(module);
  const arena = new WasmArena(kernels);
  const attention = new WasmAttention(kernels, arena);
  const gemm = new WasmGemm(kernels, arena);
  return {
    name: 'wasm',
    attentionTile: (job, tile) => attention.tile(job, tile),
    gemmTile: (job, tile) => gemm.tile(job, tile),
  };
}
