// Seeded uniform random tensors for benchmarks: the same inputs in every run and for every thread count.
// The generator is the project's one mulberry32 (cli/random.ts, which the shipped CLI needs itself).

import { Random } from '../../cli/random.js';
import { tensor, type Shape, type Tensor } from '../../src/index.js';

/** Uniform in [0, 1), from `seed`. */
export function seededUniform(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}

export function randomTensor(shape: Shape, seed: number): Tensor {
  const t = tensor(shape);
  new Random(seed).fill(t.data);
  return t;
}
