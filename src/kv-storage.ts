// The element storage of a KvCache: keys and values as rows of headDim / valueDim elements (one row per
// position of one kv head), in the cache's dtype — float32 or float64 as given, float16 or int8 encoded
// from float32 rows on the way in (workers/storage/; int8 also keeps one float32 scale per 32 values of
// a row). The cache decides which rows; this file knows how a row is held.

import type { FloatArray } from './tensor.js';
import type { KvStorage, View4 } from '../workers/kernels/jobs.js';
import { DTYPES, sharedArray, type StoredArray } from '../workers/dtypes.js';
import { encodeFloat16 } from '../workers/storage/float16.js';
import { encodeInt8Rows, int8BlocksPerRow } from '../workers/storage/int8-blocks.js';
import type { KvCacheDType } from './validate/kv-cache-args.js';

export type KvElements = FloatArray | StoredArray;

/** One side (keys or values) of a cache: its elements and, for int8, its rows' block scales. */
export interface KvSide {
  readonly data: KvElements;
  readonly scales: Float32Array | undefined;
  readonly cols: number;
}

/** `rows` zero rows of `cols` elements of `dtype` on a new SharedArrayBuffer. */
export function allocateSide(dtype: KvCacheDType, rows: number, cols: number): KvSide {
  const block = DTYPES[dtype].scaleBlock;
  return {
    data: sharedArray(dtype, rows * cols),
    scales: block === null ? undefined : sharedArray('float32', rows * int8BlocksPerRow(cols)),
    cols,
  };
}

/** Bytes a side of `rows` rows of `cols` takes (for error messages and bounds). */
export function sideBytes(dtype: KvCacheDType, rows: number, cols: number): number {
  const block = DTYPES[dtype].scaleBlock;
  return rows * cols * DTYPES[dtype].bytes + (block === null ? 0 : rows * int8BlocksPerRow(cols) * 4);
}

/** Rows [row, row + n) of the side from `n` rows of float values at src[srcAt…], converted. */
export function writeRows(side: KvSide, dtype: KvCacheDType, row: number, src: FloatArray, srcAt: number, n: number): void {
  const { cols } = side;
  const count = n * cols;
  if (dtype === 'float16') encodeFloat16(side.data as Uint16Array, row * cols, src, srcAt, count);
  else if (dtype === 'int8') encodeInt8Rows(side.data as Int8Array, row * cols, side.scales!, row * int8BlocksPerRow(cols), src, srcAt, n, cols);
  else (side.data as FloatArray).set(src.subarray(srcAt, srcAt + count) as never, row * cols);
}

/** Rows [srcRow, srcRow + n) of `src` into rows from dstRow of `dst` (same dtype and cols), as stored. */
export function copyStoredRows(dst: KvSide, dstRow: number, src: KvSide, srcRow: number, n: number): void {
  const { cols } = src;
  dst.data.set(src.data.subarray(srcRow * cols, (srcRow + n) * cols) as never, dstRow * cols);
  if (src.scales && dst.scales) {
    const blocks = int8BlocksPerRow(cols);
    dst.scales.set(src.scales.subarray(srcRow * blocks, (srcRow + n) * blocks), dstRow * blocks);
  }
}

/** The kernels' views of a cache of `capacity` positions over kvHeads heads: [B, Hkv, capacity, cols]. */
export function sideView<A>(data: A, kvHeads: number, capacity: number, cols: number): View4<A> {
  return { data, offset: 0, strideB: kvHeads * capacity * cols, strideH: capacity * cols, strideRow: cols };
}

/** How the kernels must read K and V of a stored dtype (undefined for float caches). */
export function kvStorageOf(dtype: KvCacheDType, keys: KvSide, values: KvSide, kvHeads: number, capacity: number): KvStorage | undefined {
  if (dtype === 'float16') return { dtype };
  if (dtype !== 'int8') return undefined;
  return {
    dtype,
    kScales: sideView(keys.scales!, kvHeads, capacity, int8BlocksPerRow(keys.cols)),
    vScales: sideView(values.scales!, kvHeads, capacity, int8BlocksPerRow(values.cols)),
  };
}

/** Whether a cache of `dtype` can hold every value of `data`: int8 blocks have no Infinity or NaN. The
 *  index of the first value it cannot hold, or -1. */
export function firstUnstorable(dtype: KvCacheDType, data: FloatArray): number {
  if (dtype !== 'int8') return -1;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}
