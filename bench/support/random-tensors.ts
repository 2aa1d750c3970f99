// Seeded uniform random tensors for benchmarks: the same inputs in every run and for every thread count.

import { tensor, type Shape, type Tensor } from '../../src/index.js';

/** mulberry32: tiny, fast, good enough for benchmark inputs. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTensor(shape: Shape, seed: number): Tensor {
  const next = seededUniform(seed);
  const t = tensor(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = next() * 2 - 1;
  return t;
}
