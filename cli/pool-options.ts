// The options every command that builds a pool shares.

import { availableParallelism } from 'node:os';
import { AttentionPool, type KernelChoice, type WasmBuildChoice } from '../src/index.js';
import { UsageError } from './errors.js';
import { byteCount, positiveInt } from './options.js';

export type { KernelChoice, WasmBuildChoice };
const KERNELS: readonly KernelChoice[] = ['auto', 'wasm', 'js'];
const WASM_BUILDS: readonly WasmBuildChoice[] = ['auto', 'simd', 'relaxed-simd'];

/** The parsed --kernel and --wasm-build of a command (yargs camel-cases the latter). */
export interface KernelArgs {
  readonly kernel: KernelChoice;
  readonly wasmBuild: WasmBuildChoice;
}

/** The pool options a command may also set beyond the kernel: the per-call memory bound. */
export interface PoolArgs extends KernelArgs {
  /** undefined: the library's default (a quarter of os.totalmem()). */
  readonly maxCallBytes?: number;
}

export const maxCallBytesOption = {
  requiresArg: true,
  describe: "the pool's maxCallBytes: what one call may allocate before it is refused (64MiB, 2GiB, Infinity)",
  defaultDescription: 'a quarter of os.totalmem()',
  coerce: byteCount('max-call-bytes'),
} as const;

export const threadsOption = {
  requiresArg: true,
  describe: 'worker threads in the pool',
  default: availableParallelism(),
  defaultDescription: 'os.availableParallelism()',
  coerce: positiveInt('threads'),
} as const;

export const kernelOption = {
  choices: KERNELS,
  default: 'auto' as KernelChoice,
  describe: "tile kernel: 'auto' picks the fastest available",
} as const;

export const wasmBuildOption = {
  choices: WASM_BUILDS,
  default: 'auto' as WasmBuildChoice,
  describe: "build of the wasm kernel: 'auto' = relaxed-simd (fused multiply-add) where the runtime accepts it " +
    '(Node ≥ 22; Node 20 only with --experimental-wasm-relaxed-simd), else simd',
} as const;

/** A pool for a command; the library's rejection of an option value is a usage error of the CLI. */
export function openPool(threads: number, { kernel, wasmBuild, maxCallBytes }: PoolArgs): AttentionPool {
  try {
    return new AttentionPool({ threads, kernel, wasmBuild, maxCallBytes });
  } catch (err) {
    if (err instanceof RangeError || err instanceof TypeError) throw new UsageError(err.message);
    throw err;
  }
}

/** Opens a pool, runs `work` on it and closes it whatever happens. The pool opens before `work` reads
 *  any file, so an option the pool refuses is reported first (and its threads start meanwhile). */
export async function withPool<T>(threads: number, options: PoolArgs, work: (pool: AttentionPool) => Promise<T>): Promise<T> {
  const pool = openPool(threads, options);
  try {
    return await work(pool);
  } finally {
    await pool.close();
  }
}
