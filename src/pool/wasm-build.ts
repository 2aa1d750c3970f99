// Which compiled wasm kernels a pool runs, from its kernel and wasmBuild options. The pool hands the
// one module to every worker and to its own calling thread, so all of them run the same build.

import { rangeError } from '../errors.js';
import { loadWasmBuild, wasmKernels, type WasmKernels, type WasmVariant } from '../../workers/kernels/wasm/index.js';
import type { ResolvedPoolOptions } from './pool-options.js';

const OP = 'AttentionPool';

/** The kernels the pool runs, or null for the js kernel. Throws a RangeError when the options ask for
 *  something this runtime cannot run: kernel 'wasm' without WebAssembly SIMD, or a pinned build it
 *  rejects (or that is not built). */
export function poolWasmKernels({ kernel, wasmBuild }: Pick<ResolvedPoolOptions, 'kernel' | 'wasmBuild'>): WasmKernels | null {
  if (kernel === 'js') return null;
  const kernels = wasmKernels(wasmBuild);
  if (kernels) return kernels;
  if (wasmBuild !== 'auto') throw unavailableBuild(wasmBuild);
  if (kernel === 'wasm') {
    throw new RangeError(`${OP}: options.kernel is 'wasm', but WebAssembly SIMD is not available in this runtime (Node ${process.version}; use 'auto' or 'js')`);
  }
  return null;
}

function unavailableBuild(variant: WasmVariant): RangeError {
  const load = loadWasmBuild(variant);
  const why = 'unavailable' in load && load.unavailable === 'missing'
    ? 'its module is not in dist/wasm/ (npm run build makes it)'
    : variant === 'relaxed-simd' && nodeMajor() < 22
      ? `Node ${process.version} accepts relaxed SIMD only when started with --experimental-wasm-relaxed-simd; Node ≥ 22 accepts it as is`
      : `this runtime (Node ${process.version}) rejects it`;
  // Without plain SIMD there is no relaxed SIMD either: only 'auto' (the js kernel) is left then.
  const usable = variant === 'relaxed-simd' ? "'auto' or 'simd'" : "'auto'";
  return rangeError(OP, 'options.wasmBuild', `${usable} here (${why})`, variant);
}

function nodeMajor(): number {
  return Number(process.versions.node.split('.')[0]);
}
