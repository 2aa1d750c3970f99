// Decode steps over caches of several storage dtypes, alternating call by call in one process (a slow
// spell of the machine lands on every dtype alike): each round appends one position to each cache and
// attends one query row per head to all of it. tokens/s = steps / the dtype's summed step time (the
// append included: a float16 or int8 cache converts on the way in). Each dtype runs on its own pool: a
// wasm thread keeps one storage format's K/V pieces at a time (kv-pieces.ts), so dtypes sharing a pool
// would repack every cache on every call and time the packing instead of the decode step.

import type { AttentionPool, KvCacheDType, Tensor } from '../../src/index.js';
import { randomTensor } from './random-tensors.js';
import { timeInterleaved } from './interleaved.js';

export interface DecodeShape {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Positions cached before the timed steps. */
  readonly start: number;
}

/** tokens/s per dtype, in the order given; pools[i] runs dtypes[i]. */
export async function decodeTokensPerSecond(pools: readonly AttentionPool[], shape: DecodeShape, dtypes: readonly KvCacheDType[],
  warmup: number, steps: number): Promise<number[]> {
  const { heads: H, kvHeads: Hkv, headDim: D, start } = shape;
  const total = warmup + steps;
  const prefillK = randomTensor([1, Hkv, start, D], 1), prefillV = randomTensor([1, Hkv, start, D], 2);
  const stepK = randomTensor([total, Hkv, D], 3), stepV = randomTensor([total, Hkv, D], 4), stepQ = randomTensor([total, H, D], 5);
  const token = (t: Tensor, i: number, n: number): Tensor => ({ data: t.data.subarray(i * n * D, (i + 1) * n * D), shape: [1, n, 1, D] });
  const calls = dtypes.map((dtype, d) => {
    const pool = pools[d];
    const cache = pool.createKvCache({ batch: 1, kvHeads: Hkv, headDim: D, capacity: start + total, dtype: dtype as 'float32' });
    cache.append(prefillK, prefillV);
    let i = 0;
    return async () => {
      cache.append(token(stepK, i, Hkv), token(stepV, i, Hkv));
      await pool.attention(token(stepQ, i, H), cache, { causal: true });
      i++;
    };
  });
  const times = await timeInterleaved(calls, warmup, steps);
  return times.map((ms) => steps / (ms.reduce((a, b) => a + b, 0) / 1000));
}
