// What a float16 or int8 KvCache makes of float32 rows, decoded back to float32 through the codec
// modules (workers/storage/): the values a float32 cache must hold to give a stored cache's bits.

import { float16Bits, float16Value } from '../../dist/workers/storage/float16.js';
import { encodeInt8Rows, int8BlocksPerRow, int8Value } from '../../dist/workers/storage/int8-blocks.js';
import type { TensorLike } from './random.js';

export type StoredDtype = 'float16' | 'int8';

/** Rows of `cols` values as the storage rules keep them, decoded. */
export function decodedRows(dtype: StoredDtype, data: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  if (dtype === 'float16') {
    for (let i = 0; i < data.length; i++) out[i] = float16Value(float16Bits(data[i]));
    return out;
  }
  const rows = data.length / cols, blocks = int8BlocksPerRow(cols);
  const q = new Int8Array(data.length), scales = new Float32Array(rows * blocks);
  encodeInt8Rows(q, 0, scales, 0, data, 0, rows, cols);
  for (let i = 0; i < data.length; i++) out[i] = int8Value(q[i], scales[Math.floor(i / cols) * blocks + Math.floor((i % cols) / 32)]);
  return out;
}

/** A [.., C] tensor's rows decoded, as decodedRows. */
export function decodedTensor(dtype: StoredDtype, t: TensorLike<Float32Array>): TensorLike<Float32Array> {
  return { data: decodedRows(dtype, t.data, t.shape[t.shape.length - 1]), shape: t.shape };
}
