// Tensors in SharedArrayBuffers past 4 GiB (issue 12, item 1). Structured cloning keeps a typed
// array's byteOffset and byteLength only modulo 2³² bytes (probed on Node 20, 22, 24 and 26), so
// before the fix a worker read a 4 GiB KvCache buffer as an empty array (zeros or NaN out), and a
// view at byteOffset ≥ 2³² as other memory, silently. Each case here runs a call whose tensors sit
// past 4 GiB and compares it bit for bit with the same call on small tensors of the same values
// (the trusted path), on both kernels, in the workers (every call is above INLINE_MAX_FLOPS) and
// through the remote engine, whose host thread gets its tensors by message too.
//
// Memory: a SharedArrayBuffer's pages are mapped only when first touched, so a buffer of 4 GiB or
// more costs only what a test writes and the kernels read. What each case touches is noted beside
// it; the file stays well under 100 MiB of RSS (checked at the end).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine, INLINE_MAX_FLOPS, zeros, type RemoteEngine, type Tensor } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { KERNELS } from './support/kernels.js';
import { attentionInputs, mhaInputs, randomTensor, Rng, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';

const GiB = 2 ** 30;
const FOUR_GiB = 4 * GiB;
const TIMEOUT_MS = 60_000;

type Data = Float32Array | Float64Array | Uint8Array;

/** Copies tensors one after another into a big SharedArrayBuffer from byte `start` on (64-byte
 *  aligned), so every view's byteOffset is at least `start`. */
class Placer {
  #next: number;

  constructor(readonly buffer: SharedArrayBuffer, start: number) {
    this.#next = start;
  }

  place<A extends Data>(t: TensorLike<A>): TensorLike<A> {
    const Ctor = t.data.constructor as new (buffer: SharedArrayBuffer, byteOffset: number, length: number) => A;
    const data = new Ctor(this.buffer, this.#next, t.data.length);
    data.set(t.data as never);
    this.#next = Math.ceil((this.#next + t.data.byteLength) / 64) * 64;
    return { data, shape: [...t.shape] };
  }
}

function attentionFlops(B: number, H: number, Sq: number, keysPerRow: number, D: number, Dv: number): number {
  return 2 * B * H * Sq * (D + Dv) * keysPerRow;
}

/** Keys [from, to) of a [B, Hkv, S, C] tensor, as a new tensor. */
function keysOf(t: TensorLike<Float32Array>, from: number, to: number): TensorLike<Float32Array> {
  const [B, H, S, C] = t.shape;
  const n = to - from;
  const data = new Float32Array(new SharedArrayBuffer(B * H * n * C * 4));
  for (let bh = 0; bh < B * H; bh++) data.set(t.data.subarray((bh * S + from) * C, (bh * S + to) * C), bh * n * C);
  return { data, shape: [B, H, n, C] };
}

describe('tensors whose views sit at byteOffset ≥ 4 GiB', () => {
  // B1 H4 Hkv2 Sq64 Sk128 D64 with a [1, 1, 64, 128] mask and a [1, 4, 64, 128] bias: about 300 KiB
  // written past 4 GiB per call (q, k, v, mask, bias, out, lse).
  const spec = { seed: 12, B: 1, H: 4, Hkv: 2, Sq: 64, Sk: 128, D: 64, Dv: 64, maskShape: [1, 1, 64, 128], biasShape: [1, 4, 64, 128] };
  const small = attentionInputs(spec);
  const reference = referenceAttention(small.q, small.k, small.v, { causal: true, mask: small.mask, bias: small.bias });

  function placeAll(): { q: TensorLike; k: TensorLike; v: TensorLike; mask: TensorLike<Uint8Array>; bias: TensorLike; out: TensorLike; lse: TensorLike } {
    const at = new Placer(new SharedArrayBuffer(FOUR_GiB + 2 * 2 ** 20), FOUR_GiB + 8);
    return {
      q: at.place(small.q), k: at.place(small.k), v: at.place(small.v), mask: at.place(small.mask!), bias: at.place(small.bias!),
      out: at.place(zeros([1, 4, 64, 64])), lse: at.place(zeros([1, 4, 64])),
    };
  }

  it('runs in the workers (above INLINE_MAX_FLOPS)', () => {
    expect(attentionFlops(1, 4, 64, 128 / 2, 64, 64)).toBeGreaterThan(INLINE_MAX_FLOPS);
  });

  for (const kernel of KERNELS) {
    it(`${kernel}: q, k, v, mask, bias, out and lse past 4 GiB give the bits of small tensors`, async () => {
      const pool = new AttentionPool({ threads: 2, kernel });
      try {
        const expectedLse = zeros([1, 4, 64]);
        const expected = await pool.attention(small.q, small.k, small.v, { causal: true, mask: small.mask, bias: small.bias, lse: expectedLse });
        expectAttentionClose(expected.data, expectedLse.data, reference, `${kernel} small tensors`);
        const big = placeAll();
        const result = await pool.attention(big.q, big.k, big.v, { causal: true, mask: big.mask, bias: big.bias, out: big.out, lse: big.lse });
        expect(result.data).toBe(big.out.data); // written in place, at its offset past 4 GiB
        expectSameBits(big.out.data, expected.data, `${kernel} out`);
        expectSameBits(big.lse.data, expectedLse.data, `${kernel} lse`);
      } finally {
        await pool.close();
      }
    }, TIMEOUT_MS);
  }

  it('the remote engine: the same, its host thread receiving every view by message', async () => {
    const engine = await createRemoteEngine({ threads: 2 });
    try {
      const expectedLse = zeros([1, 4, 64]);
      const expected = await engine.attention(small.q, small.k, small.v, { causal: true, mask: small.mask, bias: small.bias, lse: expectedLse });
      expectAttentionClose(expected.data, expectedLse.data, reference, 'remote small tensors');
      const big = placeAll();
      await engine.attention(big.q, big.k, big.v, { causal: true, mask: big.mask, bias: big.bias, out: big.out, lse: big.lse });
      expectSameBits(big.out.data, expected.data, 'remote out');
      expectSameBits(big.lse.data, expectedLse.data, 'remote lse');
      // A result the host allocates crosses back as well.
      const returned = await engine.attention(big.q, big.k, big.v, { causal: true, mask: big.mask, bias: big.bias });
      expectSameBits(returned.data, expected.data, 'remote returned out');
    } finally {
      await engine.close();
    }
  }, TIMEOUT_MS);

  for (const kernel of KERNELS) {
    it(`${kernel}: multiHeadAttention with query, key, value and weights past 4 GiB (the projections' GEMM jobs)`, async () => {
      // B1 Sq=Sk=256 E64: about 300 KiB past 4 GiB; 2·256·64·192 flops in the in-projection alone.
      const inputs = mhaInputs({ seed: 7, B: 1, Sq: 256, Sk: 256, E: 64, selfAttention: false });
      const options = { numHeads: 4, causal: true };
      const pool = new AttentionPool({ threads: 2, kernel });
      try {
        const expected = await pool.multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, options);
        const at = new Placer(new SharedArrayBuffer(FOUR_GiB + 2 ** 20), FOUR_GiB);
        const w = inputs.weights;
        const weights = {
          inProjWeight: at.place(w.inProjWeight), inProjBias: at.place(w.inProjBias!),
          outProjWeight: at.place(w.outProjWeight), outProjBias: at.place(w.outProjBias!),
        };
        const result = await pool.multiHeadAttention(at.place(inputs.query), at.place(inputs.key), at.place(inputs.value), weights, options);
        expectSameBits(result.output.data, expected.output.data, `${kernel} output`);
      } finally {
        await pool.close();
      }
    }, TIMEOUT_MS);
  }
});

describe('a KvCache of 4 GiB per buffer', () => {
  // { batch 1, kvHeads 8, headDim 128, capacity 2²⁰ }: 2 × 4 GiB, of which 200 positions (800 KiB
  // per buffer) are written and read. q has 32 heads (4 per kv head) and 4 rows: 13 Mflop.
  const layout = { batch: 1, kvHeads: 8, headDim: 128, capacity: 2 ** 20 };
  const rng = new Rng(99);
  const k = randomTensor(rng, [1, 8, 200, 128]) as TensorLike<Float32Array>;
  const v = randomTensor(rng, [1, 8, 200, 128]) as TensorLike<Float32Array>;
  const q = randomTensor(rng, [1, 32, 4, 128]) as TensorLike<Float32Array>;
  const reference = referenceAttention(q, k, v, { causal: true });

  it('runs in the workers (above INLINE_MAX_FLOPS)', () => {
    expect(attentionFlops(1, 32, 4, 200 - 2, 128, 128)).toBeGreaterThan(INLINE_MAX_FLOPS);
  });

  for (const kernel of KERNELS) {
    it(`${kernel}: attention over the cache gives the bits of the same keys as plain tensors`, async () => {
      const pool = new AttentionPool({ threads: 2, kernel });
      try {
        const cache = pool.createKvCache(layout);
        expect(cache.batch * cache.kvHeads * cache.capacity * cache.headDim * 4).toBeGreaterThanOrEqual(FOUR_GiB);
        cache.append(keysOf(k, 0, 150), keysOf(v, 0, 150));
        cache.append(keysOf(k, 150, 200), keysOf(v, 150, 200));
        const expected = await pool.attention(q, k, v, { causal: true });
        expectAttentionClose(expected.data, undefined, reference, `${kernel} plain tensors`);
        const result = await pool.attention(q, cache, { causal: true });
        expectSameBits(result.data, expected.data, `${kernel} over the cache`);
      } finally {
        await pool.close();
      }
    }, TIMEOUT_MS);
  }

  describe('through the remote engine', () => {
    let engine: RemoteEngine;
    beforeAll(async () => { engine = await createRemoteEngine({ threads: 2 }); });
    afterAll(() => engine.close());

    it('the host reads the cache buffers in place', async () => {
      const cache = engine.createKvCache(layout);
      cache.append(k, v);
      const expected = await engine.attention(q, k, v, { causal: true });
      expectAttentionClose(expected.data, undefined, reference, 'remote plain tensors');
      const result = await engine.attention(q, cache, { causal: true });
      expectSameBits(result.data, expected.data, 'remote over the cache');
    }, TIMEOUT_MS);
  });
});

describe('views of 4 GiB whose data is at their end', () => {
  // k and v [1, 1, 2²⁴, 64]: 4 GiB each. Causal with a 128-key window, the 64 query rows see only
  // the last 191 keys, which are all that is written (48 KiB each); the wasm kernel packs the
  // 32768-key span holding them (8 MiB of k and of v read). The same keys as small tensors give the
  // same bits: block boundaries (multiples of 64 keys) fall at the same places in both.
  const Sk = 2 ** 24, Sq = 64, D = 64, window = 128, tail = 192;
  const small = attentionInputs({ seed: 5, B: 1, H: 8, Hkv: 1, Sq, Sk: tail, D, Dv: D });
  const reference = referenceAttention(small.q, small.k, small.v, { causal: true, window });

  function bigKeys(t: TensorLike): Tensor {
    const data = new Float32Array(new SharedArrayBuffer(Sk * D * 4));
    data.set(t.data, (Sk - tail) * D);
    return { data, shape: [1, 1, Sk, D] };
  }

  it('runs in the workers (above INLINE_MAX_FLOPS), with views of at least 4 GiB', () => {
    expect(attentionFlops(1, 8, Sq, window, D, D)).toBeGreaterThan(INLINE_MAX_FLOPS);
    expect(Sk * D * 4).toBeGreaterThanOrEqual(FOUR_GiB);
  });

  for (const kernel of KERNELS) {
    it(`${kernel}: a sliding window over the last keys of 4 GiB k and v`, async () => {
      const pool = new AttentionPool({ threads: 2, kernel });
      try {
        const expectedLse = zeros([1, 8, Sq]);
        const expected = await pool.attention(small.q, small.k, small.v, { causal: true, window, lse: expectedLse });
        expectAttentionClose(expected.data, expectedLse.data, reference, `${kernel} small tensors`);
        const lse = zeros([1, 8, Sq]);
        const result = await pool.attention(small.q, bigKeys(small.k), bigKeys(small.v), { causal: true, window, lse });
        expectSameBits(result.data, expected.data, `${kernel} out`);
        expectSameBits(lse.data, expectedLse.data, `${kernel} lse`);
      } finally {
        await pool.close();
      }
    }, TIMEOUT_MS);
  }
});

it('the test process touched little of those buffers', () => {
  // Every buffer above is 4 GiB or more; together they are over 40 GiB of address space.
  expect(process.memoryUsage().rss).toBeLessThan(GiB);
});
