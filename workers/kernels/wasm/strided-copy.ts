// Moving rows between the job's strided views (SharedArrayBuffers of any size) and wasm memory.
//
// Rows are copied with TypedArray.prototype.set on subarrays (a native memcpy); a column stride of 0
// (a mask or bias broadcast along keys) becomes a fill.

import type { View4 } from '../jobs.js';
import { forEachRowRun, type KvRing } from '../kv-ring.js';

type Elements = Float32Array | Uint8Array | Uint16Array | Int8Array;

/** Element index of row `row` of head (b, h) in a view. */
export function rowStart(view: View4<unknown>, b: number, h: number, row: number): number {
  return view.offset + b * view.strideB + h * view.strideH + row * view.strideRow;
}

/** rows × cols elements: row r from src[srcAt + r·srcStride] to dst[dstAt + r·dstStride]. */
export function copyRows<E extends Elements>(dst: E, dstAt: number, dstStride: number,
  src: E, srcAt: number, srcStride: number, rows: number, cols: number): void {
  if (srcStride === cols && dstStride === cols) {
    dst.set(src.subarray(srcAt, srcAt + rows * cols), dstAt);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const from = srcAt + r * srcStride;
    dst.set(src.subarray(from, from + cols), dstAt + r * dstStride);
  }
}

/** Keys [from, from + count) of head (b, h) of a job's k or v (or int8 scales), cols elements each, to dst[dstAt …]
 *  (row stride dstStride) in key order, wherever a window cache's ring keeps them (kv-ring.ts). */
export function copyKeyRows<E extends Elements>(dst: E, dstAt: number, dstStride: number, view: View4<unknown>, ring: KvRing | undefined,
  b: number, h: number, from: number, count: number, cols: number): void {
  forEachRowRun(ring, from, count, (key, row, keys) => {
    copyRows(dst, dstAt + (key - from) * dstStride, dstStride, view.data as E, rowStart(view, b, h, row), view.strideRow, keys, cols);
  });
}

/** One row of `cols` elements read with column stride `srcStep` (0, 1, or a general stride). */
export function copyStridedRow(dst: Elements, dstAt: number, src: Elements, srcAt: number,
  srcStep: number, cols: number): void {
  if (srcStep === 1) {
    dst.set(src.subarray(srcAt, srcAt + cols), dstAt);
  } else if (srcStep === 0) {
    dst.fill(src[srcAt], dstAt, dstAt + cols);
  } else {
    for (let c = 0; c < cols; c++) dst[dstAt + c] = src[srcAt + c * srcStep];
  }
}
