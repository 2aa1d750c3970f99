// TEMPORARY placeholder by the lead so the core builds; helper-1 replaces this file with the real kernel.
import type { Kernel } from '../jobs.js';
export function compileWasmKernelModule(): WebAssembly.Module | null { return null; }
export function createWasmKernel(_module: WebAssembly.Module): Kernel { throw new Error('wasm kernel not built yet'); }
