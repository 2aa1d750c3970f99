// The options every command that builds a pool shares.

import { availableParallelism } from 'node:os';
import { AttentionPool, type KernelChoice } from '../src/index.js';
import { UsageError } from './errors.js';
import { positiveInt } from './options.js';

export type { KernelChoice };
const KERNELS: readonly KernelChoice[] = ['auto', 'wasm', 'js'];

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

/** A pool for a command; the library's rejection of an option value is a usage error of the CLI. */
export function openPool(threads: number, kernel: KernelChoice): AttentionPool {
  try {
    return new AttentionPool({ threads, kernel });
  } catch (err) {
    if (err instanceof RangeError || err instanceof TypeError) throw new UsageError(err.message);
    throw err;
  }
}

/** Opens a pool, runs `work` on it and closes it whatever happens. The pool opens before `work` reads
 *  any file, so an option the pool refuses is reported first (and its threads start meanwhile). */
export async function withPool<T>(threads: number, kernel: KernelChoice, work: (pool: AttentionPool) => Promise<T>): Promise<T> {
  const pool = openPool(threads, kernel);
  try {
    return await work(pool);
  } finally {
    await pool.close();
  }
}
