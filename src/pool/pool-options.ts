// Validation of the AttentionPool constructor's options.

import { availableParallelism } from 'node:os';
import { rangeError, typeError } from '../errors.js';
import { checkOptionNames, checkOptionsObject } from '../validate/tensor-arg.js';

const OP = 'AttentionPool';

export type KernelChoice = 'auto' | 'wasm' | 'js';

export interface AttentionPoolOptions {
  /** Worker threads; default os.availableParallelism(). */
  threads?: number;
  /** Bound on calls waiting for a turn; beyond it a call rejects at once (QueueFullError). Default: unbounded. */
  maxQueue?: number;
  /** 'auto' = the fastest kernel available here (wasm when WebAssembly SIMD validates, else js). */
  kernel?: KernelChoice;
}

export interface ResolvedPoolOptions {
  readonly threads: number;
  readonly maxQueue: number;
  readonly kernel: KernelChoice;
}

export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  const options = checkOptionsObject(OP, input);
  checkOptionNames(OP, options, ['threads', 'maxQueue', 'kernel']);
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
  return { threads, maxQueue, kernel };
}
