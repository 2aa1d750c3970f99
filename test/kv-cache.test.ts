// The KV cache (pool.createKvCache, cache.append, pool.attention(q, cache, options)): a decode loop over
// a cache must give what full causal attention over the same sequence gives, on every kernel, in the
// calling thread and in the workers; golden sdpa-decode through a cache; GQA, mask and bias; and the
// remote engine, whose host reads the caller's cache in place. Capacity, reserve and reset:
// kv-cache-lifecycle.test.ts; bad input: kv-cache-errors.test.ts. Why decode rows can be compared bit
// for bit with the full causal call: support/kv-decode.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, INLINE_MAX_FLOPS, zeros, type Tensor } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectLseClose, expectRelativeToMax, expectSameBits } from './support/compare.js';
import { loadGoldenCases, type SdpaCase } from './support/golden.js';
import { KERNELS } from './support/kernels.js';
import { decodeLoop, expectDecodeMatches, expectError, fullCausal, positions, TIMEOUT_MS } from './support/kv-decode.js';
import { attentionInputs, randomMask, randomTensor, Rng } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { suitePool, suiteRemoteEngine } from './support/suite-pools.js';

describe.each(KERNELS)('KV cache on kernel %s', (kernel) => {
  let pool: AttentionPool;
  let singleThread: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2, kernel });
    singleThread = new AttentionPool({ threads: 1, kernel });
  });
  afterAll(async () => {
    await pool?.close();
    await singleThread?.close();
  });

  // S = 150 crosses two 64-key block boundaries and the 128-row tile boundary of the full call.
  const gqa = attentionInputs({ seed: 601, B: 2, H: 4, Hkv: 2, Sq: 150, Sk: 150, D: 16, Dv: 12 });

  it('a 1-token decode loop (GQA H4/Hkv2) reproduces full causal attention row by row', async () => {
    expectDecodeMatches(await decodeLoop(pool, gqa, 0), await fullCausal(pool, gqa), gqa, 'decode from empty');
  }, TIMEOUT_MS);

  it('a prefill chunk (n = 37), then 1-token steps with non-shared inputs, reproduces full causal attention', async () => {
    expectDecodeMatches(await decodeLoop(pool, gqa, 37, { shared: false }), await fullCausal(pool, gqa), gqa, 'prefill + decode');
  }, TIMEOUT_MS);

  it('in the workers (each step above the inline threshold): decode = full causal, and 1 thread = 2 threads', async () => {
    // B1 H8 D64 with 2,000 prefilled keys: a step counts 2·8·Sk·128 / 2 (causal calls count half) > 2 MFLOP,
    // so it leaves the calling thread.
    const S = 2008, prefill = 2000;
    expect((2 * 8 * (prefill + 1) * 128) / 2).toBeGreaterThan(INLINE_MAX_FLOPS);
    const big = attentionInputs({ seed: 602, B: 1, H: 8, Hkv: 8, Sq: S, Sk: S, D: 64, Dv: 64 });
    const decodedRows = (data: Float32Array | Float64Array, cols: number) => positions({ data, shape: [1, 8, S, cols] }, prefill, S).data;
    const decoded = await decodeLoop(pool, big, prefill, { attendPrefill: false });
    // The full causal call for the last 8 query rows only (bottom-right aligned: they see keys [0, i]).
    const tail = { q: positions(big.q, prefill, S), k: big.k, v: big.v };
    const fullTail = await fullCausal(pool, tail);
    expectSameBits(decodedRows(decoded.out, 64), fullTail.out, 'out, decode vs full causal');
    expectSameBits(decodedRows(decoded.lse, 1), fullTail.lse, 'lse, decode vs full causal');
    const single = await decodeLoop(singleThread, big, prefill, { attendPrefill: false });
    expectSameBits(single.out, decoded.out, 'out, 1 vs 2 threads');
    expectAttentionClose(fullTail.out, fullTail.lse, referenceAttention(tail.q, tail.k, tail.v, { causal: true }), 'decoded rows vs reference');
  }, TIMEOUT_MS);

  it('MQA (Hkv = 1) and Dv ≠ D', async () => {
    const mqa = attentionInputs({ seed: 603, B: 1, H: 6, Hkv: 1, Sq: 70, Sk: 70, D: 8, Dv: 20 });
    expectDecodeMatches(await decodeLoop(pool, mqa, 5), await fullCausal(pool, mqa), mqa, 'MQA');
  }, TIMEOUT_MS);

  it('golden sdpa-decode through a cache filled in uneven chunks', async () => {
    const c = loadGoldenCases().find((g): g is SdpaCase => g.name === 'sdpa-decode');
    if (!c) throw new Error('golden case sdpa-decode missing');
    const [B, H, Sq] = c.q.shape;
    const [, Hkv, Sk, D] = c.k.shape;
    const Dv = c.v.shape[3];
    expect([Sq, c.causal]).toEqual([1, true]);
    const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv, capacity: Sk + 10 });
    for (const [start, end] of [[0, 1], [1, 130], [130, 299], [299, 300]]) cache.append(positions(c.k, start, end), positions(c.v, start, end));
    const lse = zeros([B, H, Sq]);
    const out = await pool.attention(c.q, cache, { causal: true, lse });
    expectRelativeToMax(out.data, c.outF64.data, c.suggestedOutRtol, 'sdpa-decode out');
    expectLseClose(lse.data, c.lse.data, 'sdpa-decode lse');
    // The kernels read the cache through strides: the same bits as the tensor form over k and v.
    expectSameBits(out.data, (await pool.attention(c.q, c.k, c.v, { causal: true })).data, 'cache vs tensor form');
  }, TIMEOUT_MS);

  it('mask and bias broadcast against [B, H, Sq, cache.length], with causal', async () => {
    const rng = new Rng(604);
    const base = attentionInputs({ seed: 605, B: 2, H: 4, Hkv: 2, Sq: 3, Sk: 90, D: 16, Dv: 16 });
    const mask = randomMask(rng, [2, 1, 3, 90], 0.7);
    const bias = randomTensor(rng, [1, 4, 3, 90]);
    const cache = pool.createKvCache({ batch: 2, kvHeads: 2, headDim: 16, capacity: 128 });
    cache.append(base.k, base.v);
    const lse = zeros([2, 4, 3]);
    const out = await pool.attention(base.q, cache, { causal: true, mask, bias, lse });
    expectAttentionClose(out.data, lse.data, referenceAttention(base.q, base.k, base.v, { causal: true, mask, bias }), 'mask + bias');
    expectSameBits(out.data, (await pool.attention(base.q, base.k, base.v, { causal: true, mask, bias })).data, 'cache vs tensor form');
    // A mask sized for the capacity, not the length, is rejected: Sk is cache.length.
    await expectError(() => pool.attention(base.q, cache, { mask: randomMask(rng, [3, 128], 0.5) }), RangeError, /mask/);
  }, TIMEOUT_MS);

  it('float64 cache and q: float64 result on the js kernel', async () => {
    const f64 = attentionInputs({ seed: 606, B: 1, H: 2, Hkv: 2, Sq: 40, Sk: 40, D: 8, Dv: 8, dtype: 'float64' });
    const decoded = await decodeLoop(pool, f64, 3);
    expect(decoded.out).toBeInstanceOf(Float64Array);
    expectDecodeMatches(decoded, await fullCausal(pool, f64), f64, 'float64');
  }, TIMEOUT_MS);
});

describe('KV cache on the remote engine', () => {
  const remote = suiteRemoteEngine({ threads: 2, kernel: 'js' }, TIMEOUT_MS);
  const local = suitePool({ threads: 2, kernel: 'js' });

  it('a decode loop on the host gives the local pool bits; later appends and reset do not reach a call', async () => {
    const seq = attentionInputs({ seed: 631, B: 1, H: 8, Hkv: 8, Sq: 2052, Sk: 2052, D: 64, Dv: 64 });
    const prefill = 2048;
    const cache = remote().createKvCache({ batch: 1, kvHeads: 8, headDim: 64, capacity: 2052 });
    cache.append(positions(seq.k, 0, prefill), positions(seq.v, 0, prefill));
    for (let i = prefill; i < 2052; i++) {
      cache.append(positions(seq.k, i, i + 1), positions(seq.v, i, i + 1));
      const q = positions(seq.q, i, i + 1);
      const lse = zeros([1, 8, 1]);
      const out = await remote().attention(q, cache, { causal: true, lse });
      const expectedLse = zeros([1, 8, 1]);
      expectSameBits(out.data, (await local.attention(q, positions(seq.k, 0, i + 1), positions(seq.v, 0, i + 1), { causal: true, lse: expectedLse })).data, `step ${i}`);
      expectSameBits(lse.data, expectedLse.data, `step ${i} lse`);
    }
    const q = positions(seq.q, 2048, 2052);
    const pending = remote().attention(q, cache, { causal: true });
    cache.reset(); // the host is reading: the cache moves to fresh buffers
    cache.append(positions(seq.v, 0, 2052), positions(seq.k, 0, 2052));
    expectSameBits((await pending).data, (await local.attention(q, seq.k, seq.v, { causal: true })).data, 'call before reset');
  }, TIMEOUT_MS);

  it('bad input rejects with the class and message the pool gives', async () => {
    const cache = remote().createKvCache({ batch: 1, kvHeads: 2, headDim: 8, capacity: 4 });
    const q = randomTensor(new Rng(632), [1, 4, 1, 6]);
    const fromPool = (await caught(() => local.attention(q as Tensor, cache))) as Error;
    const fromRemote = (await caught(() => remote().attention(q as Tensor, cache))) as Error;
    expect(fromRemote).toBeInstanceOf(RangeError);
    expect(fromRemote.message).toBe(fromPool.message);
    expect(fromRemote.message).toMatch(/q\.shape\[3\] \(D\) must be equal to cache\.headDim = 8, got 6/);
  });
});
