// The K/V bytes a decode step reads: what the serving benchmark's GB/s counts. A call over a stream of
// L positions reads each of its Hkv heads' L keys and L values once, in the stored form (golden-variants
// README: float16 two bytes a value; int8 one byte a value plus one float32 scale per 32 values of a row).

import type { DecodeKvDtype } from '../dispatch/shapes.js';

const INT8_BLOCK = 32;

/** Bytes of one position of one kv head: its key row (headDim values) and its value row (valueDim). */
export function bytesPerPosition(dtype: DecodeKvDtype, headDim: number, valueDim = headDim): number {
  const values = headDim + valueDim;
  if (dtype === 'float32') return 4 * values;
  if (dtype === 'float16') return 2 * values;
  return values + 4 * (Math.ceil(headDim / INT8_BLOCK) + Math.ceil(valueDim / INT8_BLOCK));
}

/** Σ over streams of length · Hkv · bytesPerPosition. */
export function stepBytes(dtype: DecodeKvDtype, lengths: readonly number[], kvHeads: number, headDim: number): number {
  return lengths.reduce((sum, length) => sum + length, 0) * kvHeads * bytesPerPosition(dtype, headDim);
}
