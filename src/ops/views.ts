// Strided views over contiguous tensors, and the copy-in/copy-out of caller buffers that are not
// shared.

import type { View4 } from '../../workers/kernels/jobs.js';
import { allocLike, isShared, type FloatArray, type Tensor } from '../tensor.js';
import type { ArrayType, CallScratch } from '../pool/scratch-pool.js';

/** A contiguous [B, H, rows, cols] tensor as a View4. */
export function contiguous4(data: FloatArray, H: number, rows: number, cols: number): View4 {
  return { data, offset: 0, strideB: H * rows * cols, strideH: rows * cols, strideRow: cols };
}

/** Where a call writes a result: the caller's tensor when it is shared, else a shared buffer that is
 *  copied into the caller's tensor, or a new one, at the end (`finish`). On the workers a result up to
 *  SCRATCH_RESULT_BYTES is staged in the call's scratch (src/pool/scratch-pool.ts), registered with
 *  the threads long ago, and copied out: copying even 4 MiB (~0.3 ms, for a call whose kernels run far
 *  longer) costs less than sending a fresh buffer to every thread, which then hold it until their
 *  next collection (workers/board/worker-buffers.ts; results of 288 KB, written in place, were most of
 *  what the threads were sent under `attnpool stress`). */
export interface OutputBuffer {
  readonly data: FloatArray;
  finish(): Tensor<FloatArray>;
}

const SCRATCH_RESULT_BYTES = 4 << 20;

export function outputBuffer(given: Tensor<FloatArray> | undefined, like: FloatArray, shape: readonly number[], length: number,
  scratch?: CallScratch): OutputBuffer {
  // A caller's shared buffer is written in place, unless the pool has never met it (it would then be
  // sent to every thread: scratch-pool.ts firstSight); the staged copy below goes into it at the end.
  if (given && isShared(given.data) && !scratch?.firstSight(given.data)) return { data: given.data, finish: () => given };
  const staged = scratch !== undefined && (given !== undefined || length * like.BYTES_PER_ELEMENT <= SCRATCH_RESULT_BYTES);
  // Not cleared: the tiles of a call write every element of its results before finish() reads them.
  const data = staged ? scratch.array(like.constructor as ArrayType<FloatArray>, length, false) : allocLike(like, length);
  return {
    data,
    finish: () => {
      if (given) {
        given.data.set(data);
        return given;
      }
      if (!staged) return { data, shape: [...shape] };
      const result = scratch.resultArray(like.constructor as ArrayType<FloatArray>, length);
      result.set(data);
      return { data: result, shape: [...shape] };
    },
  };
}
