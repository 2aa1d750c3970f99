// The kernels a thread can use. The wasm kernel is instantiated lazily, once per thread, from the
// module compiled once on the main thread.

import type { Kernel, KernelName } from './jobs.js';
import { jsKernel } from './js/js-kernel.js';
import { createWasmKernel } from './wasm/index.js';

export type KernelSet = Record<KernelName, () => Kernel>;

/** `sharedModule`: the same build's shared-memory twin, for jobs over a paged store. */
export function kernelsFrom(wasmModule: WebAssembly.Module | null, sharedModule: WebAssembly.Module | null = null): KernelSet {
  let wasm: Kernel | undefined;
  return {
    js: () => jsKernel,
    wasm: () => {
      if (!wasmModule) throw new Error('attnpool: the wasm kernel is not available in this thread');
      return (wasm ??= createWasmKernel(wasmModule, sharedModule));
    },
  };
}
