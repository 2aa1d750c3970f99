// Window caches of dtype float16 and int8: the ring is written in place as stored rows (and int8
// scales), and both kernels read the held keys through it. A decode loop that fills the ring, wraps
// it and goes on (appends of one position and of a chunk) gives, call after call, the bits of a
// float32 window cache fed the decoded rows — the kernels read the stored form and nothing else —
// on 1 and 2 threads, large enough to run in the workers (the wasm kernel's kept pieces across the
// wrap), and a reference over the held positions as a plain tensor agrees within float32 rounding. A
// random mask over the held keys makes their order matter (unmasked attention is blind to it).

import { describe, expect, it } from 'vitest';
import { AttentionPool, zeros, type KvCache, type Tensor } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { randomMask, randomTensor, Rng, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { decodedTensor, type StoredDtype } from './support/stored-rows.js';
import { gatherAxis2, heldPositions, sliceAxis2 } from './support/window-reference.js';

const TIMEOUT_MS = 180_000;
type F32 = TensorLike<Float32Array>;

const WINDOW = 2100, SINKS = 4, D = 64, HKV = 4, H = 8;
/** Fills the ring, wraps it (at 2104) one position at a time, then a chunk and more single steps. */
const CHUNKS = [2000, 103, 1, 1, 1, 1, 1, 1, 1, 50, 1, 1];
const TOTAL = CHUNKS.reduce((a, b) => a + b, 0);

/** The mask of the call after append `call`: [1, 1, 1, held keys], the same for every cache. */
function callMask(call: number, keys: number): TensorLike<Uint8Array> {
  return randomMask(new Rng(1000 + call), [1, 1, 1, keys], 0.7);
}

/** out and lse of a call after each append of CHUNKS into a window cache of `dtype`. */
async function decodeLoop(pool: AttentionPool, dtype: 'float32' | StoredDtype, k: F32, v: F32, q: F32): Promise<Float32Array[]> {
  const cache = pool.createKvCache({ batch: 1, kvHeads: HKV, headDim: D, window: WINDOW, sinkTokens: SINKS, dtype }) as KvCache<Float32Array>;
  const results: Float32Array[] = [];
  let N = 0;
  for (const [call, n] of CHUNKS.entries()) {
    cache.append(sliceAxis2(k, N, N + n) as Tensor<Float32Array>, sliceAxis2(v, N, N + n) as Tensor<Float32Array>);
    N += n;
    const lse = zeros([1, H, 1]);
    const out = await pool.attention(q as Tensor<Float32Array>, cache, { lse, mask: callMask(call, cache.length) });
    results.push(out.data, lse.data);
  }
  expect([cache.position, cache.length]).toEqual([TOTAL, WINDOW + SINKS]);
  return results;
}

describe.each(KERNELS)('%s kernel', (kernel) => {
  it.each(['float16', 'int8'] as const)('%s window cache across the wrap: the bits of a float32 window cache of the decoded rows, 1 and 2 threads', async (dtype) => {
    const rng = new Rng(dtype === 'float16' ? 71 : 72);
    const k = randomTensor(rng, [1, HKV, TOTAL, D]) as F32, v = randomTensor(rng, [1, HKV, TOTAL, D]) as F32;
    const q = randomTensor(rng, [1, H, 1, D]) as F32;
    const kStored = decodedTensor(dtype, k), vStored = decodedTensor(dtype, v);
    let first: Float32Array[] | undefined;
    for (const threads of [1, 2]) {
      const pool = new AttentionPool({ threads, ...kernelOptions(kernel) });
      try {
        const got = await decodeLoop(pool, dtype, k, v, q);
        const expected = await decodeLoop(pool, 'float32', kStored, vStored, q);
        got.forEach((data, i) => expectSameBits(data, expected[i], `${threads} threads, call ${i >> 1} ${i % 2 ? 'lse' : 'out'}`));
        if (first) got.forEach((data, i) => expectSameBits(data, first![i], `${threads} threads against 1, call ${i >> 1}`));
        first ??= got;
      } finally {
        await pool.close();
      }
    }
    // The last call against attention over the held positions of the decoded rows, as plain tensors.
    const held = heldPositions(WINDOW, SINKS, TOTAL);
    const reference = referenceAttention(q, gatherAxis2(kStored, held), gatherAxis2(vStored, held), { mask: callMask(CHUNKS.length - 1, held.length) });
    expectAttentionClose(first![first!.length - 2], first![first!.length - 1], reference, 'last call against the reference');
  }, TIMEOUT_MS);
});
