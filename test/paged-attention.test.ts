// pool.attention(q, sequence) over a paged store (issue #15): the same K/V appended to a sequence and to
// a KvCache of the same dtype on the same pool give the same bits (float32, float16, int8; pageTokens 64
// and 256; lengths on and off block and panel boundaries; decode Sq = 1 and causal prefill chunks;
// GQA H8 Hkv2; Dv ≠ D with and without pad columns), on both kernels; the same bits on 1, 2 and 3
// threads; and within FLOAT32_RTOL of the independent float64 reference over the values the storage
// rules keep (test/support/stored-rows.ts).

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionPool, type KernelName, type PagedDType, type Tensor } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { randomTensor, Rng, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { decodedTensor } from './support/stored-rows.js';

const TIMEOUT_MS = 240_000;
const THREADS = [1, 2, 3] as const;
const DTYPES: readonly PagedDType[] = ['float32', 'float16', 'int8'];

const pools = new Map<string, AttentionPool>();
function poolFor(kernel: KernelName, threads: number): AttentionPool {
  const key = `${kernel}:${threads}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new AttentionPool({ threads, ...kernelOptions(kernel) });
    pools.set(key, pool);
  }
  return pool;
}
afterAll(async () => {
  for (const pool of pools.values()) await pool.close();
});

/** Positions [from, to) of a [1, Hkv, S, C] tensor, as a new tensor. */
function rows(t: TensorLike<Float32Array>, from: number, to: number): Tensor<Float32Array> {
  const [, Hkv, S, C] = t.shape, n = to - from;
  const data = new Float32Array(Hkv * n * C);
  for (let h = 0; h < Hkv; h++) data.set(t.data.subarray((h * S + from) * C, (h * S + to) * C), h * n * C);
  return { data, shape: [1, Hkv, n, C] };
}

interface Case {
  readonly dtype: PagedDType; readonly pageTokens: number; readonly length: number; readonly Sq: number;
  readonly H: number; readonly Hkv: number; readonly D: number; readonly Dv: number;
}

/** The case's paged call and KvCache call on `pool`, after the same appends: the first length − Sq
 *  positions in chunks of 100 (several pages per append, partial pages between), then the last Sq. */
async function pagedAndCached(pool: AttentionPool, c: Case, k: TensorLike<Float32Array>, v: TensorLike<Float32Array>, q: Tensor<Float32Array>) {
  const { dtype, pageTokens, length, Sq, Hkv, D, Dv } = c;
  const store = pool.createPagedKvCache({ kvHeads: Hkv, headDim: D, valueDim: Dv, dtype, pageTokens, capacityTokens: length + 64 });
  const cache = pool.createKvCache({ batch: 1, kvHeads: Hkv, headDim: D, valueDim: Dv, capacity: length, dtype });
  const sequence = store.sequence();
  const prefix = length - Sq;
  for (let at = 0; at < prefix; at += 100) {
    const to = Math.min(prefix, at + 100);
    sequence.append(rows(k, at, to), rows(v, at, to));
    cache.append(rows(k, at, to), rows(v, at, to));
  }
  sequence.append(rows(k, prefix, length), rows(v, prefix, length));
  cache.append(rows(k, prefix, length), rows(v, prefix, length));
  expect(sequence.length).toBe(length);
  const lse = (): Tensor<Float32Array> => ({ data: new Float32Array(new SharedArrayBuffer(c.H * Sq * 4)), shape: [1, c.H, Sq] });
  const pagedLse = lse(), cachedLse = lse();
  const paged = await pool.attention(q, sequence, { causal: true, lse: pagedLse });
  const cached = await pool.attention(q, cache, { causal: true, lse: cachedLse });
  sequence.release();
  return { paged: paged.data, pagedLse: pagedLse.data, cached: cached.data, cachedLse: cachedLse.data };
}

function casesFor(dtype: PagedDType): Case[] {
  const cases: Case[] = [];
  for (const pageTokens of [64, 256]) {
    for (const length of [1, 63, 64, 65, 300, 1030]) {
      for (const Sq of [1, 7]) {
        if (Sq > length) continue;
        // GQA with Dv ≠ D (Dv = 40: no pad columns; 30: two) alternating with plain multi-head.
        const shape = length % 2 === 0 ? { H: 8, Hkv: 2, D: 64, Dv: 40 } : { H: 4, Hkv: 4, D: 32, Dv: 30 };
        cases.push({ dtype, pageTokens, length, Sq, ...shape });
      }
    }
  }
  return cases;
}

for (const kernel of KERNELS) {
  describe(`paged attention vs KvCache (${kernel} kernel)`, () => {
    for (const dtype of DTYPES) {
      it(`${dtype}: the KvCache's bits, on 1, 2 and 3 threads; the float64 reference within tolerance`, async () => {
        let seed = 1500 + DTYPES.indexOf(dtype);
        for (const c of casesFor(dtype)) {
          const rng = new Rng(seed++);
          const k = randomTensor(rng, [1, c.Hkv, c.length, c.D]) as TensorLike<Float32Array>;
          const v = randomTensor(rng, [1, c.Hkv, c.length, c.Dv]) as TensorLike<Float32Array>;
          const q = randomTensor(rng, [1, c.H, c.Sq, c.D]) as Tensor<Float32Array>;
          const label = `${kernel} ${dtype} pageTokens ${c.pageTokens} length ${c.length} Sq ${c.Sq} H${c.H} Hkv${c.Hkv} D${c.D} Dv${c.Dv}`;
          let first: Float32Array | undefined;
          for (const threads of THREADS) {
            const r = await pagedAndCached(poolFor(kernel, threads), c, k, v, q);
            expectSameBits(r.paged, r.cached, `${label}, ${threads} threads: out vs KvCache`);
            expectSameBits(r.pagedLse, r.cachedLse, `${label}, ${threads} threads: lse vs KvCache`);
            if (first) expectSameBits(r.paged, first, `${label}: ${threads} threads vs 1`);
            first ??= r.paged;
            if (threads === 1) {
              const stored = (t: TensorLike<Float32Array>) => (dtype === 'float32' ? t : decodedTensor(dtype, t));
              const reference = referenceAttention(q, stored(k), stored(v), { causal: true });
              expectAttentionClose(r.paged, r.pagedLse, reference, `${label} vs float64 reference`);
            }
          }
        }
      }, TIMEOUT_MS);
    }

    it('every KvCache option over pages: window, mask, bias, scale, softcap, ALiBi, sinks, out (the KvCache\'s bits)', async () => {
      const pool = poolFor(kernel, 2);
      const rng = new Rng(1600);
      const H = 8, Hkv = 2, D = 64, Dv = 64, length = 333, Sq = 5;
      const k = randomTensor(rng, [1, Hkv, length, D]) as TensorLike<Float32Array>;
      const v = randomTensor(rng, [1, Hkv, length, Dv]) as TensorLike<Float32Array>;
      const q = randomTensor(rng, [1, H, Sq, D]) as Tensor<Float32Array>;
      const mask = { data: Uint8Array.from({ length: Sq * length }, () => (rng.uniform() < 0.8 ? 1 : 0)), shape: [1, 1, Sq, length] };
      const bias = randomTensor(rng, [1, H, Sq, length], 'float32', { std: 0.5 }) as Tensor<Float32Array>;
      const sinks = { data: Float64Array.from({ length: H }, () => rng.normal()), shape: [H] };
      const store = pool.createPagedKvCache({ kvHeads: Hkv, headDim: D, dtype: 'float32', pageTokens: 64, capacityTokens: 512 });
      const cache = pool.createKvCache({ batch: 1, kvHeads: Hkv, headDim: D, capacity: length });
      const sequence = store.sequence();
      sequence.append(rows(k, 0, length), rows(v, 0, length));
      cache.append(rows(k, 0, length), rows(v, 0, length));
      const options = { causal: true, window: 200, mask, bias, scale: 0.1, softcap: 20, alibiSlopes: [0.5, 0.25, 0.125, 0.0625, 0.03, 0.02, 0.01, 0.005], sinks };
      const out = { data: new Float32Array(new SharedArrayBuffer(H * Sq * Dv * 4)), shape: [1, H, Sq, Dv] };
      const paged = await pool.attention(q, sequence, { ...options, out });
      expect(paged).toBe(out);
      const cached = await pool.attention(q, cache, options);
      expectSameBits(paged.data, cached.data, `${kernel}: every option, paged vs KvCache`);
      expect(paged.data.some((x) => x !== 0)).toBe(true);
    }, TIMEOUT_MS);
  });
}
