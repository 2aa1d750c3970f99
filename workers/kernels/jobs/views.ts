// The strided views jobs read and write: typed arrays over SharedArrayBuffers (on the worker path) or
// over any buffer (on the calling-thread path), described by offset and strides so the multi-head
// layer can read head h of a [B, S, E] projection (row stride E, head stride E / H) and write the
// attention output straight into the concatenated [B, Sq, E] layout, without any transpose.

import type { FloatArray } from '../../../src/tensor.js';

/** A [B, H, rows, cols] tensor with unit column stride (float unless stated: K/V may be stored in
 *  reduced precision, jobs/attention.ts). Element (b, h, r, c) is at
 *  `offset + b*strideB + h*strideH + r*strideRow + c`. */
export interface View4<A = FloatArray> {
  readonly data: A;
  readonly offset: number;
  readonly strideB: number;
  readonly strideH: number;
  readonly strideRow: number;
}

/** A [B, H, Sq, Sk] mask or bias, broadcast by zero strides (any of the four may be 0). */
export interface Broadcast4<A extends FloatArray | Uint8Array> {
  readonly data: A;
  readonly offset: number;
  readonly strideB: number;
  readonly strideH: number;
  readonly strideRow: number;
  readonly strideCol: number;
}
