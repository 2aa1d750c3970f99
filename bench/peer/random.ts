/** Seeded inputs, so a benchmark row or a failing test sees the same numbers on every run. */

import { seededUniform } from '../support/random-tensors.js';

/** The benchmarks' one seeded generator (mulberry32), under the name the peer code uses. */
export const seededRandom = seededUniform;

/** `length` values uniform in [-bound, bound). */
export function uniformArray(length: number, next: () => number, bound = 1): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = (next() * 2 - 1) * bound;
  return values;
}
