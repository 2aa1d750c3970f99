// The wasm kernel computes in float32 only; the pool sends jobs of element types the wasm kernel does
// not stage (workers/dtypes.ts: float64) to the js kernel. K/V may also come stored (float16, int8).

import type { FloatArray } from '../../../src/tensor.js';
import { DTYPES, type StoredDType } from '../../dtypes.js';

export function requireFloat32(data: FloatArray, name: string): Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`wasm kernel: ${name} must be a Float32Array (float64 jobs run on the js kernel), got ${data.constructor.name}`);
  }
  return data;
}

/** K/V stored as `dtype` (a float16 or int8 KvCache) must come in that row's typed array. */
export function requireStored(data: unknown, dtype: StoredDType, name: string): void {
  const array = DTYPES[dtype].array;
  if (!(data instanceof array)) {
    throw new TypeError(`wasm kernel: ${name} must be a ${array.name} (K/V stored as ${dtype}), got ${(data as object).constructor.name}`);
  }
}
