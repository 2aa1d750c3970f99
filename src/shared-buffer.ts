// The SharedArrayBuffer behind a new tensor, with attnpool's own errors for sizes no buffer can have
// (an element count past 2^53, more bytes than a SharedArrayBuffer can hold, more elements than this
// runtime's typed arrays can hold) and for sizes this process cannot allocate, instead of V8's
// "Invalid array buffer length", "Invalid typed array length: undefined" or "allocation failed".

import { DTYPES, type DType } from '../workers/dtypes.js';
import { bytesOf, formatBytes } from './validate/call-bytes.js';
import { checkTypedArrayLength } from './validate/typed-array-limit.js';
import type { Shape } from './tensor.js';

/** A zero-filled buffer for a `dtype` tensor of `shape` (already checked: non-negative safe integers). */
export function sharedBufferFor(op: string, shape: Shape, dtype: DType): SharedArrayBuffer {
  const bytes = bytesOf(shape, dtype);
  const what = `a ${dtype} tensor of shape [${shape.join(', ')}]`;
  if (bytes > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`${op}: ${what} would take ${formatBytes(bytes)}, more than a SharedArrayBuffer can hold (2^53 − 1 bytes)`);
  }
  checkTypedArrayLength(op, what, bytes / DTYPES[dtype].bytes);
  try {
    return new SharedArrayBuffer(bytes);
  } catch (err) {
    throw new RangeError(`${op}: ${what} needs ${formatBytes(bytes)} of shared memory, which could not be allocated`, { cause: err });
  }
}
