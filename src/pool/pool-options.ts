// Validation of the AttentionPool constructor's options.

import { availableParallelism, totalmem } from 'node:os';
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
  /** Bound on what one call may allocate (outputs, attention weights, scratch, shared copies of its
   *  inputs); a call over it rejects at once with a RangeError. Default a quarter of os.totalmem();
   *  Infinity lifts it. */
  maxCallBytes?: number;
}

export interface ResolvedPoolOptions {
  readonly threads: number;
  readonly maxQueue: number;
  readonly kernel: KernelChoice;
  readonly maxCallBytes: number;
}

/** A quarter of the machine's memory: far more than any reasonable call needs, and refused long before
 *  one call alone could exhaust the machine. It bounds each call, not the sum over concurrent calls. */
export const defaultMaxCallBytes = (): number => Math.floor(totalmem() / 4);

export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  const options = checkOptionsObject(OP, input);
  checkOptionNames(OP, options, ['threads', 'maxQueue', 'kernel', 'maxCallBytes']);
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
  return { threads, maxQueue, kernel, maxCallBytes };
}
