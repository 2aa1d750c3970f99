// Decoding through a KvCache on the wasm kernel, whose workers keep K/V packed from one call to the
// next (workers/kernels/wasm/kv-pieces.ts) and pack only the positions appended since: every step must
// give the bits of the same call over plain tensors holding the cache's positions (packed afresh), for
// 1 and 2 threads, split-KV or not, and after reset(), reserve() or another cache's calls in between.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, INLINE_MAX_FLOPS, type KvCache, type Tensor } from '../dist/src/index.js';
import { splitKvOption } from '../dist/testkit/hooks-option.js';
import { keysPerSplit } from '../dist/src/plan/split-kv-plan.js';
import { expectSameBits } from './support/compare.js';
import { attentionInputs, type AttentionInputs, type TensorLike } from './support/random.js';

const TIMEOUT_MS = 60_000;
const B = 1, H = 8, Hkv = 8, D = 64;

/** Positions [start, end) along axis 2 of a [B, H, S, C] tensor, as a new shared tensor. */
function positions(t: TensorLike, start: number, end: number): Tensor<Float32Array> {
  const [b, h, S, C] = t.shape;
  const n = end - start;
  const data = new Float32Array(new SharedArrayBuffer(b * h * n * C * 4));
  for (let bh = 0; bh < b * h; bh++) data.set((t.data as Float32Array).subarray((bh * S + start) * C, (bh * S + end) * C), bh * n * C);
  return { data, shape: [b, h, n, C] };
}

/** A sequence of S positions: q row i is the query of step i. */
function sequence(seed: number, S: number): AttentionInputs {
  return attentionInputs({ seed, B, H, Hkv, Sq: S, Sk: S, D, Dv: D });
}

/** Appends positions [from, to) one at a time and attends each step's query; returns the outputs. The
 *  plain-tensor calls come afterwards (checkSteps): a call without a cache in between would make the
 *  workers drop their kept K/V, and the steps would not exercise packing only what was appended. */
async function decodeSteps(pool: AttentionPool, cache: KvCache, seq: AttentionInputs, from: number, to: number): Promise<Float32Array[]> {
  const outs: Float32Array[] = [];
  for (let i = from; i < to; i++) {
    cache.append(positions(seq.k, i, i + 1), positions(seq.v, i, i + 1));
    outs.push((await pool.attention(positions(seq.q, i, i + 1), cache, { causal: true })).data);
  }
  return outs;
}

/** Each step's output must be the bits of the same call over plain tensors holding keys [0, i + 1). */
async function checkSteps(pool: AttentionPool, outs: readonly Float32Array[], seq: AttentionInputs, from: number, label: string): Promise<void> {
  for (let n = 0; n < outs.length; n++) {
    const i = from + n;
    const plain = await pool.attention(positions(seq.q, i, i + 1), positions(seq.k, 0, i + 1), positions(seq.v, 0, i + 1), { causal: true });
    expectSameBits(outs[n], plain.data, `${label}: step with ${i + 1} keys`);
  }
}

function prefilled(pool: AttentionPool, seq: AttentionInputs, length: number, capacity: number): KvCache {
  const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, capacity });
  cache.append(positions(seq.k, 0, length), positions(seq.v, 0, length));
  return cache;
}

describe('KV cache decode on the wasm kernel: K/V kept packed across calls', () => {
  let pools: Record<string, AttentionPool>;
  beforeAll(() => {
    pools = {
      one: new AttentionPool({ threads: 1, kernel: 'wasm' }),
      two: new AttentionPool({ threads: 2, kernel: 'wasm' }),
      split: new AttentionPool({ threads: 2, kernel: 'wasm', ...splitKvOption({ keysPerSplit: 320 }) }),
    };
  });
  afterAll(async () => {
    await Promise.all(Object.values(pools ?? {}).map((p) => p.close()));
  });

  // Steps from 2040 to 2060 keys: above the inline threshold (they run in the workers), across the
  // 1024-key piece boundary at 2048, and from unsplit calls to split-KV ones (2 splits from 2048 keys).
  const seq = sequence(701, 2060);

  it('1 and 2 threads: every step equals the plain-tensor call, across the start of split-KV', async () => {
    expect((2 * H * 2040 * 2 * D) / 2).toBeGreaterThan(INLINE_MAX_FLOPS);
    expect(keysPerSplit({ B, H, Sq: 1, Sk: 2047, weights: false })).toBe(0);
    expect(keysPerSplit({ B, H, Sq: 1, Sk: 2048, weights: false })).toBeGreaterThan(0);
    const one = await decodeSteps(pools.one, prefilled(pools.one, seq, 2040, 2060), seq, 2040, 2060);
    const two = await decodeSteps(pools.two, prefilled(pools.two, seq, 2040, 2060), seq, 2040, 2060);
    await checkSteps(pools.one, one, seq, 2040, '1 thread');
    for (let n = 0; n < one.length; n++) expectSameBits(two[n], one[n], `1 vs 2 threads, step ${n}`);
  }, TIMEOUT_MS);

  it('split-KV forced at 320 keys per split (splits and pieces do not line up)', async () => {
    const outs = await decodeSteps(pools.split, prefilled(pools.split, seq, 1010, 2060), seq, 1010, 1030);
    await checkSteps(pools.split, outs, seq, 1010, 'split 320');
  }, TIMEOUT_MS);

  it('reset() then other data of the same length gives the new answer; so does reserve() then appends', async () => {
    const other = sequence(702, 2060);
    for (const pool of [pools.one, pools.two]) {
      const cache = prefilled(pool, seq, 2040, 2060);
      const before = await decodeSteps(pool, cache, seq, 2040, 2044);
      cache.reset(); // no call reads the cache: the same buffers, a new epoch
      cache.append(positions(other.k, 0, 2040), positions(other.v, 0, 2040));
      const afterReset = await decodeSteps(pool, cache, other, 2040, 2044);
      cache.reserve(4096); // new buffers, a new id
      const afterReserve = await decodeSteps(pool, cache, other, 2044, 2050);
      await checkSteps(pool, before, seq, 2040, 'before reset');
      await checkSteps(pool, afterReset, other, 2040, 'after reset');
      await checkSteps(pool, afterReserve, other, 2044, 'after reserve');
    }
  }, TIMEOUT_MS);

  it('two caches decoding in turn on one pool', async () => {
    const other = sequence(703, 2060);
    for (const pool of [pools.one, pools.two]) {
      const a = prefilled(pool, seq, 2040, 2060), b = prefilled(pool, other, 2040, 2060);
      const outsA: Float32Array[] = [], outsB: Float32Array[] = [];
      for (let i = 2040; i < 2050; i++) {
        outsA.push(...await decodeSteps(pool, a, seq, i, i + 1));
        outsB.push(...await decodeSteps(pool, b, other, i, i + 1));
      }
      await checkSteps(pool, outsA, seq, 2040, 'cache a');
      await checkSteps(pool, outsB, other, 2040, 'cache b');
    }
  }, TIMEOUT_MS);
});
