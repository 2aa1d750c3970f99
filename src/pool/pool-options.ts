// Validation of the AttentionPool constructor's options.

import { availableParallelism, totalmem } from 'node:os';
import { rangeError, typeError } from '../errors.js';
import { checkOptionNames, checkOptionsObject } from '../validate/tensor-arg.js';
import { WASM_VARIANTS, type WasmBuildChoice } from '../../workers/kernels/wasm/index.js';

const OP = 'AttentionPool';

export type KernelChoice = 'auto' | 'wasm' | 'js';

export interface AttentionPoolOptions {
  /** Worker threads; default os.availableParallelism(). */
  threads?: number;
  /** Bound on calls waiting for a turn; beyond it a call rejects at once (QueueFullError). Default: unbounded. */
  maxQueue?: number;
  /** 'auto' = the fastest kernel available here (wasm when WebAssembly SIMD validates, else js). */
  kernel?: KernelChoice;
  /** Bound on what one call may allocate (outputs, attention weights, scratch, shared copies of its
   *  inputs); a call over it rejects at once with a RangeError. Default a quarter of os.totalmem();
   *  Infinity lifts it. */
  maxCallBytes?: number;
  /** Which build of the wasm kernel runs: 'auto' (default) = 'relaxed-simd' where the runtime accepts
   *  relaxed SIMD (Node ≥ 22; Node 20 only with --experimental-wasm-relaxed-simd), else 'simd'. A
   *  specific build pins it: the pool runs the wasm kernel with exactly that build, or the constructor
   *  throws a RangeError; so with kernel 'js' only 'auto' is accepted. */
  wasmBuild?: WasmBuildChoice;
}

export interface ResolvedPoolOptions {
  readonly threads: number;
  readonly maxQueue: number;
  readonly kernel: KernelChoice;
  readonly maxCallBytes: number;
  readonly wasmBuild: WasmBuildChoice;
}

const WASM_BUILDS: readonly WasmBuildChoice[] = ['auto', ...WASM_VARIANTS];

/** A quarter of the machine's memory: far more than any reasonable call needs, and refused long before
 *  one call alone could exhaust the machine. It bounds each call, not the sum over concurrent calls. */
export const defaultMaxCallBytes = (): number => Math.floor(totalmem() / 4);

export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  const options = checkOptionsObject(OP, input);
  checkOptionNames(OP, options, ['threads', 'maxQueue', 'kernel', 'maxCallBytes', 'wasmBuild']);
  const threads = options.threads ?? availableParallelism();
  if (typeof threads !== 'number') throw typeError(OP, 'options.threads', 'a number', threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) throw rangeError(OP, 'options.threads', 'an integer from 1 to 1024', threads);
  const maxQueue = options.maxQueue ?? Infinity;
  if (typeof maxQueue !== 'number') throw typeError(OP, 'options.maxQueue', 'a number', maxQueue);
  if (!(Number.isInteger(maxQueue) || maxQueue === Infinity) || maxQueue < 0) {
    throw rangeError(OP, 'options.maxQueue', 'a non-negative integer or Infinity', maxQueue);
  }
  const kernel = options.kernel ?? 'auto';
  if (kernel !== 'auto' && kernel !== 'wasm' && kernel !== 'js') throw rangeError(OP, 'options.kernel', "'auto', 'wasm' or 'js'", kernel);
  const maxCallBytes = options.maxCallBytes ?? defaultMaxCallBytes();
  if (typeof maxCallBytes !== 'number') throw typeError(OP, 'options.maxCallBytes', 'a number', maxCallBytes);
  if (!(Number.isSafeInteger(maxCallBytes) || maxCallBytes === Infinity) || maxCallBytes < 0) {
    throw rangeError(OP, 'options.maxCallBytes', 'a non-negative integer (bytes) or Infinity', maxCallBytes);
  }
  const wasmBuild = options.wasmBuild ?? 'auto';
  if (!WASM_BUILDS.includes(wasmBuild as WasmBuildChoice)) throw rangeError(OP, 'options.wasmBuild', "'auto', 'simd' or 'relaxed-simd'", wasmBuild);
  // A pinned build is a promise about the wasm kernel's bits; a js pool could not keep it.
  if (kernel === 'js' && wasmBuild !== 'auto') throw rangeError(OP, "options.wasmBuild with options.kernel 'js'", "'auto' (it picks the wasm kernel's build)", wasmBuild);
  return { threads, maxQueue, kernel, maxCallBytes, wasmBuild: wasmBuild as WasmBuildChoice };
}
