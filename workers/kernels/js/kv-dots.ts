// The js kernel's q·k sums over one key, for every storage (kv-readers.ts, paged-readers.ts): float64
// products of q and the value each stored element decodes to, in a fixed order.

import { INT8_BLOCK } from '../../storage/int8-blocks.js';

/** a·b with four independent partial sums: a single chain of float64 adds is bound by the adder's
 *  latency, four chains keep it busy. The order is fixed (and the same in the stored variants below),
 *  so results stay reproducible. b's elements are `bStride` apart (8 in a float32 page's K panels). */
export function dot(a: ArrayLike<number>, aOffset: number, b: ArrayLike<number>, bOffset: number, bStride: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += a[aOffset + d] * b[bOffset + d * bStride];
    s1 += a[aOffset + d + 1] * b[bOffset + (d + 1) * bStride];
    s2 += a[aOffset + d + 2] * b[bOffset + (d + 2) * bStride];
    s3 += a[aOffset + d + 3] * b[bOffset + (d + 3) * bStride];
  }
  for (; d < n; d++) s0 += a[aOffset + d] * b[bOffset + d * bStride];
  return (s0 + s1) + (s2 + s3);
}

export function dotFloat16(a: ArrayLike<number>, aOffset: number, bits: Uint16Array, bOffset: number, values: Float32Array, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += a[aOffset + d] * values[bits[bOffset + d]];
    s1 += a[aOffset + d + 1] * values[bits[bOffset + d + 1]];
    s2 += a[aOffset + d + 2] * values[bits[bOffset + d + 2]];
    s3 += a[aOffset + d + 3] * values[bits[bOffset + d + 3]];
  }
  for (; d < n; d++) s0 += a[aOffset + d] * values[bits[bOffset + d]];
  return (s0 + s1) + (s2 + s3);
}

export function dotInt8(a: ArrayLike<number>, aOffset: number, q: Int8Array, bOffset: number, scales: Float32Array, sOffset: number, n: number): number {
  const value = (d: number) => Math.fround(q[bOffset + d] * scales[sOffset + Math.floor(d / INT8_BLOCK)]);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += a[aOffset + d] * value(d);
    s1 += a[aOffset + d + 1] * value(d + 1);
    s2 += a[aOffset + d + 2] * value(d + 2);
    s3 += a[aOffset + d + 3] * value(d + 3);
  }
  for (; d < n; d++) s0 += a[aOffset + d] * value(d);
  return (s0 + s1) + (s2 + s3);
}
