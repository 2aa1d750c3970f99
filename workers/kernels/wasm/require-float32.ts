// The wasm kernel computes in float32 only; the pool sends jobs of element types the wasm kernel does
// not stage (workers/dtypes.ts: float64) to the js kernel.

import type { FloatArray } from '../../../src/tensor.js';

export function requireFloat32(data: FloatArray, name: string): Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`wasm kernel: ${name} must be a Float32Array (float64 jobs run on the js kernel), got ${data.constructor.name}`);
  }
  return data;
}
