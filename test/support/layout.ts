// Between the multi-head layer's two layouts, [B, S, E] and PyTorch's default [S, B, E], computed here
// so that tests of batchFirst: false and --seq-first do not rely on attnpool to transpose.

import type { TensorLike } from './random.js';

/** [A, C, E] → [C, A, E] into a fresh shared buffer of the same element type: either way between the layouts. */
export function swapLeadingAxes<T extends TensorLike>(t: T): T {
  const [A, C, E] = t.shape as [number, number, number];
  const Ctor = t.data.constructor as new (buffer: SharedArrayBuffer) => T['data'];
  const data = new Ctor(new SharedArrayBuffer(t.data.byteLength));
  for (let a = 0; a < A; a++)
    for (let c = 0; c < C; c++)
      for (let e = 0; e < E; e++) data[(c * A + a) * E + e] = t.data[(a * C + c) * E + e]!;
  return { data, shape: [C, A, E] } as unknown as T;
}
