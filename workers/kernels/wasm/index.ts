// The WebAssembly SIMD kernel (sources in asm/, built by asm/build.mjs into dist/wasm/).
//
// Two builds of the same sources exist: kernels-relaxed.wasm uses relaxed SIMD's fused multiply-add
// (1.23–1.37× faster here) and kernels.wasm plain SIMD. The first one this runtime's
// WebAssembly.validate accepts is used — on Node 20 the relaxed build needs
// --experimental-wasm-relaxed-simd. Results differ between the two builds in the last bits (fused
// rounding), never between threads: every thread of a process runs the same module.
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

/** Which build of the kernels runs: with fused multiply-add, or plain SIMD. */
export type WasmVariant = 'relaxed-simd' | 'simd';

// This file compiles to dist/workers/kernels/wasm/index.js; the modules are in dist/wasm/.
const BUILDS: readonly { variant: WasmVariant; url: URL }[] = [
  { variant: 'relaxed-simd', url: new URL('../../../wasm/kernels-relaxed.wasm', import.meta.url) },
  { variant: 'simd', url: new URL('../../../wasm/kernels.wasm', import.meta.url) },
];

interface CompiledKernels {
  readonly module: WebAssembly.Module;
  readonly variant: WasmVariant;
}

let compiled: CompiledKernels | null | undefined;

/** The compiled kernel module, or null when none is built or this runtime rejects them all (no
 *  WebAssembly SIMD): then the pool uses the js kernel. */
export function compileWasmKernelModule(): WebAssembly.Module | null {
  return compiledKernels()?.module ?? null;
}

/** The build compileWasmKernelModule returns, or null. */
export function wasmKernelVariant(): WasmVariant | null {
  return compiledKernels()?.variant ?? null;
}

function compiledKernels(): CompiledKernels | null {
  if (compiled === undefined) compiled = compileFirstAccepted();
  return compiled;
}

function compileFirstAccepted(): CompiledKernels | null {
  for (const { variant, url } of BUILDS) {
    let bytes: Buffer<ArrayBuffer>;
    try {
      bytes = readFileSync(url);
    } catch {
      continue;
    }
    if (WebAssembly.validate(bytes)) return { module: new WebAssembly.Module(bytes), variant };
  }
  return null;
}

/** The wasm kernel, plus a count tests read: keys packed into K/V kept across jobs (kv-pieces.ts). */
export interface WasmKernel extends Kernel {
  readonly pieceStats: { readonly packedKeys: number };
}

/** A kernel on a fresh instance of `module`. Float32 jobs only (float64 jobs run on the js kernel). */
export function createWasmKernel(module: WebAssembly.Module): WasmKernel {
  const kernels = instantiateKernels(module);
  const arena = new WasmArena(kernels);
  const attention = new WasmAttention(kernels, arena);
  const gemm = new WasmGemm(kernels, arena);
  return {
    name: 'wasm',
    attentionTile: (job, tile, control) => attention.tile(job, tile, control),
    gemmTile: (job, tile) => gemm.tile(job, tile),
    pieceStats: attention.pieceStats,
  };
}
