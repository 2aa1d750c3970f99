// Strided views over contiguous tensors, and the copy-in/copy-out of caller buffers that are not
// shared.

import type { View4 } from '../../workers/kernels/jobs.js';
import { allocLike, isShared, type FloatArray, type Tensor } from '../tensor.js';

/** A contiguous [B, H, rows, cols] tensor as a View4. */
export function contiguous4(data: FloatArray, H: number, rows: number, cols: number): View4 {
  return { data, offset: 0, strideB: H * rows * cols, strideH: rows * cols, strideRow: cols };
}

/** Where a call writes a result: the caller's tensor when it is shared, else a shared buffer that is
 *  copied into the caller's tensor at the end (`finish`). */
export interface OutputBuffer {
  readonly data: FloatArray;
  finish(): Tensor<FloatArray>;
}

export function outputBuffer(given: Tensor<FloatArray> | undefined, like: FloatArray, shape: readonly number[], length: number): OutputBuffer {
  if (given && isShared(given.data)) return { data: given.data, finish: () => given };
  const data = allocLike(like, length);
  return {
    data,
    finish: () => {
      if (!given) return { data, shape: [...shape] };
      given.data.set(data);
      return given;
    },
  };
}

