// Sizes that travel as 32-bit integers. The planners' tile lists are Int32Array records (batch, head,
// row and column indices, workers/kernels/jobs.ts) and the wasm kernel takes row counts, head dims and
// key positions as i32 (asm/), so a dimension of 2^31 or more would wrap silently — a call that big
// needs 8 GiB for one tensor, which a large machine can hold. Calls past these limits are refused up
// front instead, naming the dimension, the limit and the value.

import { rangeError } from '../errors.js';

/** Every dimension of every tensor argument, and every row count of a GEMM, must be below this. */
export const INDEX_LIMIT = 2 ** 31;
const INDEX_LIMIT_TEXT = 'below 2^31 = 2147483648';

/** Keys an attention call may have: the wasm kernel steps through keys in 64-key blocks whose int32
 *  end (the block start + 64) must not pass 2^31 − 1, so Sk stays a whole block below 2^31. */
export const MAX_KEYS = 2 ** 31 - 64;
const MAX_KEYS_TEXT = 'at most 2^31 − 64 = 2147483584 (the wasm kernel counts keys in 64-key blocks as int32)';

export function checkIndexLimit(op: string, what: string, value: number): void {
  if (value >= INDEX_LIMIT) throw rangeError(op, what, INDEX_LIMIT_TEXT, value);
}

export function checkKeyCount(op: string, what: string, value: number): void {
  if (value > MAX_KEYS) throw rangeError(op, what, MAX_KEYS_TEXT, value);
}
