// The WebAssembly SIMD kernel (sources in asm/, built by asm/build.mjs into dist/wasm/).
//
// Two builds of the same sources exist: kernels-relaxed.wasm uses relaxed SIMD's fused multiply-add
// (1.23–1.37× faster here) and kernels.wasm plain SIMD. A pool's options.wasmBuild picks one; 'auto'
// takes the first this runtime's WebAssembly.validate accepts, relaxed first: Node ≥ 22 accepts the
// relaxed build as is, Node 20 only when started with --experimental-wasm-relaxed-simd. Results differ
// between the two builds in the last bits (fused rounding), never between threads: every thread of a
// pool runs the module the pool chose.
//
// Each build is compiled at most once per process and can be posted to worker threads (a
// WebAssembly.Module is structured-cloneable); each createWasmKernel call instantiates it with its own
// memory, so every thread has private scratch and caches. Each build has a shared-memory twin, the
// same code over an imported memory (asm/build.mjs), which jobs over a paged K/V store run on: one
// instance per (thread, store) on the store's own memory (paged-instance.ts).

import { readFileSync } from 'node:fs';
import type { Kernel } from '../jobs.js';
import { WasmArena } from './arena.js';
import { WasmAttention } from './attention-driver.js';
import { WasmGemm } from './gemm-driver.js';
import { SHARED_TILES } from '../shared-tiles.js';
import { instantiateKernels } from './kernel-exports.js';
import { PagedInstances } from './paged-instance.js';

/** Which build of the kernels runs: with fused multiply-add, or plain SIMD. */
export type WasmVariant = 'relaxed-simd' | 'simd';

/** The build a pool asks for: one of them, or 'auto' (the fastest this runtime accepts). */
export type WasmBuildChoice = 'auto' | WasmVariant;

/** The builds in the order 'auto' tries them: fastest first. */
export const WASM_VARIANTS: readonly WasmVariant[] = ['relaxed-simd', 'simd'];

// This file compiles to dist/workers/kernels/wasm/index.js; the modules are in dist/wasm/.
const FILES: Record<WasmVariant, { readonly own: URL; readonly shared: URL }> = {
  'relaxed-simd': {
    own: new URL('../../../wasm/kernels-relaxed.wasm', import.meta.url),
    shared: new URL('../../../wasm/kernels-relaxed-shared.wasm', import.meta.url),
  },
  simd: {
    own: new URL('../../../wasm/kernels.wasm', import.meta.url),
    shared: new URL('../../../wasm/kernels-shared.wasm', import.meta.url),
  },
};

/** A compiled build of the kernels: the module with its own memory and its shared-memory twin. */
export interface WasmKernels {
  readonly module: WebAssembly.Module;
  /** The same code importing a shared memory (env.memory), for jobs over a paged store. */
  readonly sharedModule: WebAssembly.Module;
  readonly variant: WasmVariant;
}

/** One build's fate in this process: compiled, or why not ('missing': dist/wasm/ lacks the file;
 *  'rejected': this runtime's WebAssembly does not accept it). */
export type WasmBuildLoad = WasmKernels | { readonly variant: WasmVariant; readonly unavailable: 'missing' | 'rejected' };

const loads = new Map<WasmVariant, WasmBuildLoad>();

/** Compiles one build, once per process (later calls return the same module or the same reason). */
export function loadWasmBuild(variant: WasmVariant): WasmBuildLoad {
  let load = loads.get(variant);
  if (!load) {
    load = compileBuild(variant);
    loads.set(variant, load);
  }
  return load;
}

function compileBuild(variant: WasmVariant): WasmBuildLoad {
  let own: Buffer<ArrayBuffer>, shared: Buffer<ArrayBuffer>;
  try {
    own = readFileSync(FILES[variant].own);
    shared = readFileSync(FILES[variant].shared);
  } catch {
    return { variant, unavailable: 'missing' };
  }
  if (!WebAssembly.validate(own) || !WebAssembly.validate(shared)) return { variant, unavailable: 'rejected' };
  return { module: new WebAssembly.Module(own), sharedModule: new WebAssembly.Module(shared), variant };
}

/** The kernels `choice` names, compiled; null when that build cannot run here ('auto': when none
 *  can, i.e. no WebAssembly SIMD — then the pool uses the js kernel). */
export function wasmKernels(choice: WasmBuildChoice = 'auto'): WasmKernels | null {
  for (const variant of choice === 'auto' ? WASM_VARIANTS : [choice]) {
    const load = loadWasmBuild(variant);
    if ('module' in load) return load;
  }
  return null;
}

/** A kernel on a fresh instance of `module`, and for jobs over a paged store on instances of
 *  `sharedModule` (the same build's shared-memory twin) over the store's memory; without it such jobs
 *  throw. Float32 jobs only (float64 jobs run on the js kernel). */
export function createWasmKernel(module: WebAssembly.Module, sharedModule: WebAssembly.Module | null = null): Kernel {
  const kernels = instantiateKernels(module);
  const arena = new WasmArena(kernels);
  const attention = new WasmAttention(kernels, arena);
  const gemm = new WasmGemm(kernels, arena);
  const paged = new PagedInstances(sharedModule);
  return {
    name: 'wasm',
    tiles: {
      attention: (job, tile, control) => (job.paged ? paged.attentionOn(job.paged, job) : attention).tile(job, tile, control),
      gemm: (job, tile) => gemm.tile(job, tile),
      ...SHARED_TILES,
    },
  };
}
