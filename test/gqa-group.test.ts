// Grouped-query tiles: a tile holds the rows of all H / Hkv query heads of a kv head (tile-rows.ts), so
// one pass over the kv head's K/V serves them. Rows never influence each other, so the grouping must not
// change a bit. Each case is checked against
//   * the same call over K/V repeated per query head (Hkv' = H: one head per tile, the ungrouped path —
//     no switch inside the code under test), bit for bit: out and lse;
//   * the float64 reference of test/support/variant-reference.ts (golden tolerances);
//   * every thread count (1, 2, 3) and both kernels.
// Shapes: H 8 / Hkv 2, H 8 / Hkv 1, H 32 / Hkv 8, H 6 / Hkv 3; Sq 1, 3, 4, 17, 130; causal (both
// alignments) and not, window, masks and bias per head / shared / broadcast over rows, softcap, sinks,
// ALiBi (kept one head a tile), lse; Sk ≥ 4096 for split-KV; KvCaches float32, float16, int8.

import { describe, expect, it } from 'vitest';
import { AttentionPool, type AttentionOptions, type KvCache, type KvCacheDType, type Tensor } from '../dist/src/index.js';
import { planAttentionTiles, tileHeads } from '../dist/src/plan/attention-plan.js';
import { ATTENTION_TILE } from '../dist/workers/kernels/jobs.js';
import { expectLseClose, expectRelativeToMax, expectSameBits, FLOAT32_RTOL } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { randomMask, randomTensor, Rng, type TensorLike } from './support/random.js';
import { decodedTensor } from './support/stored-rows.js';
import { variantReference, type VariantReferenceOptions } from './support/variant-reference.js';

const THREADS = [1, 2, 3] as const;
const TIMEOUT_MS = 240_000;

/** [1, Hkv, S, C] → [1, H, S, C]: query head h's copy of kv head ⌊h / (H / Hkv)⌋. */
function repeatHeads(t: TensorLike<Float32Array>, H: number): TensorLike<Float32Array> {
  const [B, Hkv, S, C] = t.shape;
  const data = new Float32Array(new SharedArrayBuffer(B * H * S * C * 4));
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv));
    data.set(t.data.subarray((b * Hkv + g) * S * C, (b * Hkv + g + 1) * S * C), (b * H + h) * S * C);
  }
  return { data, shape: [B, H, S, C] };
}

function lseTensor(H: number, Sq: number): Tensor<Float32Array> {
  return { data: new Float32Array(new SharedArrayBuffer(H * Sq * 4)).fill(7), shape: [1, H, Sq] };
}

type Causal = boolean | 'top-left';

interface Case {
  readonly label: string;
  readonly H: number;
  readonly Hkv: number;
  readonly Sq: number;
  readonly Sk: number;
  readonly D?: number;
  readonly Dv?: number;
  readonly causal?: Causal;
  readonly window?: number;
  /** The mask's shape, from which its broadcasting follows. */
  readonly maskShape?: readonly number[];
  readonly biasShape?: readonly number[];
  readonly softcap?: number;
  readonly sinks?: boolean;
  readonly alibi?: boolean;
}

const CASES: readonly Case[] = [
  { label: 'H8 Hkv2 decode, causal, Sk 4100 (split-KV)', H: 8, Hkv: 2, Sq: 1, Sk: 4100, causal: true },
  { label: 'H8 Hkv1 decode, sinks + softcap, Sk 4096 (split-KV)', H: 8, Hkv: 1, Sq: 1, Sk: 4096, sinks: true, softcap: 4 },
  { label: 'H32 Hkv8 decode, causal, Sk 5000 (split-KV)', H: 32, Hkv: 8, Sq: 1, Sk: 5000, causal: true, D: 32, Dv: 32 },
  { label: 'H6 Hkv3 Sq3, causal, mask per head and row', H: 6, Hkv: 3, Sq: 3, Sk: 300, causal: true, maskShape: [1, 6, 3, 300] },
  { label: 'H8 Hkv2 Sq4, causal window 700, Sk 4096 (split-KV)', H: 8, Hkv: 2, Sq: 4, Sk: 4096, causal: true, window: 700 },
  { label: 'H8 Hkv2 Sq17, top-left causal, bias per head, Dv 40', H: 8, Hkv: 2, Sq: 17, Sk: 200, causal: 'top-left', biasShape: [1, 8, 17, 200], Dv: 40 },
  { label: 'H8 Hkv2 Sq130 prefill chunk, causal, bias shared over heads, mask per head broadcast over rows', H: 8, Hkv: 2, Sq: 130, Sk: 300, causal: true, biasShape: [130, 300], maskShape: [1, 8, 1, 300] },
  { label: 'H6 Hkv3 Sq130, not causal, sinks, mask [Sk] shared', H: 6, Hkv: 3, Sq: 130, Sk: 150, sinks: true, maskShape: [150] },
  { label: 'H6 Hkv3 Sq17 ALiBi causal (one head a tile)', H: 6, Hkv: 3, Sq: 17, Sk: 200, causal: true, alibi: true },
  { label: 'H32 Hkv8 Sq17, causal, sinks, Sk 4096', H: 32, Hkv: 8, Sq: 17, Sk: 4096, causal: true, sinks: true, D: 16, Dv: 16 },
  { label: 'H8 Hkv1 Sq4, causal, sinks, Sk 8192 (split-KV)', H: 8, Hkv: 1, Sq: 4, Sk: 8192, causal: true, sinks: true },
];

interface Inputs {
  readonly q: TensorLike<Float32Array>;
  readonly k: TensorLike<Float32Array>;
  readonly v: TensorLike<Float32Array>;
  readonly options: AttentionOptions;
  readonly reference: VariantReferenceOptions;
}

function inputsOf(c: Case, seed: number): Inputs {
  const rng = new Rng(seed);
  const D = c.D ?? 64, Dv = c.Dv ?? D;
  const q = randomTensor(rng, [1, c.H, c.Sq, D]) as TensorLike<Float32Array>;
  const k = randomTensor(rng, [1, c.Hkv, c.Sk, D]) as TensorLike<Float32Array>;
  const v = randomTensor(rng, [1, c.Hkv, c.Sk, Dv]) as TensorLike<Float32Array>;
  const mask = c.maskShape ? randomMask(rng, c.maskShape, 0.7) : undefined;
  const bias = c.biasShape ? randomTensor(rng, c.biasShape) : undefined;
  const sinks = c.sinks ? randomTensor(rng, [c.H]) : undefined;
  const alibiSlopes = c.alibi ? Array.from({ length: c.H }, (_, h) => 2 ** -(h + 1)) : undefined;
  const options: AttentionOptions = {
    ...(c.causal !== undefined && { causal: c.causal === 'top-left' ? 'top-left' : c.causal }),
    ...(c.window !== undefined && { window: c.window }),
    ...(mask && { mask: mask as Tensor<Uint8Array> }), ...(bias && { bias: bias as Tensor }),
    ...(c.softcap !== undefined && { softcap: c.softcap }), ...(sinks && { sinks: sinks as Tensor }), ...(alibiSlopes && { alibiSlopes }),
  };
  const reference: VariantReferenceOptions = {
    causal: c.causal, window: c.window, mask, bias, softcap: c.softcap, sinks: sinks?.data, alibiSlopes,
  };
  return { q, k, v, options, reference };
}

/** The planner really groups these shapes (so the bit comparisons below compare two paths). */
function expectGrouped(c: Case, threads: number): void {
  const shape = { B: 1, H: c.H, Hkv: c.Hkv, alibi: c.alibi, Sq: c.Sq, Sk: c.Sk, causal: c.causal !== undefined && c.causal !== false };
  const heads = ATTENTION_TILE.unpack(planAttentionTiles(shape, threads, 256)).map((t) => t.heads);
  const expected = c.alibi ? 1 : c.H / c.Hkv;
  expect(tileHeads(shape), c.label).toBe(expected);
  expect(new Set(heads), `${c.label}: heads of every tile`).toEqual(new Set([expected]));
}

describe.each(KERNELS)('%s kernel', (kernel) => {
  it.each(CASES.map((c, n) => [c.label, c, n] as const))('%s: grouped heads give the ungrouped bits, the float64 result, any thread count', async (_, c, n) => {
    const { q, k, v, options, reference } = inputsOf(c, 1500 + n);
    const kRep = repeatHeads(k, c.H), vRep = repeatHeads(v, c.H);
    const ref = variantReference(q, k, v, reference);
    let first: Float32Array | undefined;
    for (const threads of THREADS) {
      expectGrouped(c, threads);
      const pool = new AttentionPool({ threads, ...kernelOptions(kernel) });
      try {
        const lse = lseTensor(c.H, c.Sq), lseRep = lseTensor(c.H, c.Sq);
        const got = await pool.attention(q as Tensor<Float32Array>, k as Tensor<Float32Array>, v as Tensor<Float32Array>, { ...options, lse });
        const ungrouped = await pool.attention(q as Tensor<Float32Array>, kRep as Tensor<Float32Array>, vRep as Tensor<Float32Array>, { ...options, lse: lseRep });
        expectSameBits(got.data as Float32Array, ungrouped.data as Float32Array, `${threads} threads: out vs K/V repeated per head`);
        expectSameBits(lse.data, lseRep.data, `${threads} threads: lse vs K/V repeated per head`);
        first ??= got.data as Float32Array;
        expectSameBits(got.data as Float32Array, first, `${threads} threads vs ${THREADS[0]}`);
        expectRelativeToMax(got.data, ref.out, FLOAT32_RTOL, `${threads} threads: out vs float64`);
        expectLseClose(lse.data, ref.lse, `${threads} threads: lse vs float64`);
      } finally {
        await pool.close();
      }
    }
  }, TIMEOUT_MS);

  const CACHE_DTYPES: readonly KvCacheDType[] = ['float32', 'float16', 'int8'];
  it.each(CACHE_DTYPES)('KvCache %s, H8 Hkv2: decode steps and a prefill chunk past Sk 4096 give the bits of a cache of repeated heads', async (dtype) => {
    const H = 8, Hkv = 2, D = 64, S0 = 4090, rng = new Rng(1600 + CACHE_DTYPES.indexOf(dtype));
    const k = randomTensor(rng, [1, Hkv, S0 + 20, D]) as TensorLike<Float32Array>;
    const v = randomTensor(rng, [1, Hkv, S0 + 20, D]) as TensorLike<Float32Array>;
    const rows = (t: TensorLike<Float32Array>, from: number, to: number): Tensor<Float32Array> => {
      const [, heads, S, C] = t.shape;
      const data = new Float32Array(heads * (to - from) * C);
      for (let g = 0; g < heads; g++) data.set(t.data.subarray((g * S + from) * C, (g * S + to) * C), g * (to - from) * C);
      return { data, shape: [1, heads, to - from, C] };
    };
    const kRep = repeatHeads(k, H), vRep = repeatHeads(v, H);
    const kSeen = dtype === 'float32' ? k : decodedTensor(dtype, k), vSeen = dtype === 'float32' ? v : decodedTensor(dtype, v);
    let first: Float32Array[] | undefined;
    for (const threads of THREADS) {
      const pool = new AttentionPool({ threads, ...kernelOptions(kernel) });
      try {
        const grouped = pool.createKvCache({ batch: 1, kvHeads: Hkv, headDim: D, capacity: S0 + 20, dtype });
        const repeated = pool.createKvCache({ batch: 1, kvHeads: H, headDim: D, capacity: S0 + 20, dtype });
        const results: Float32Array[] = [];
        const step = async (from: number, to: number, Sq: number, label: string) => {
          grouped.append(rows(k, from, to), rows(v, from, to));
          repeated.append(rows(kRep, from, to), rows(vRep, from, to));
          const q = randomTensor(new Rng(to), [1, H, Sq, D]) as Tensor<Float32Array>;
          const lse = lseTensor(H, Sq), lseRep = lseTensor(H, Sq);
          const got = await pool.attention(q, grouped as KvCache<Float32Array>, { causal: true, lse });
          const ungrouped = await pool.attention(q, repeated as KvCache<Float32Array>, { causal: true, lse: lseRep });
          expectSameBits(got.data, ungrouped.data, `${threads} threads, ${label}: out vs repeated heads`);
          expectSameBits(lse.data, lseRep.data, `${threads} threads, ${label}: lse vs repeated heads`);
          const sk = to;
          const ref = variantReference(q, rows(kSeen, 0, sk), rows(vSeen, 0, sk), { causal: true });
          expectRelativeToMax(got.data, ref.out, FLOAT32_RTOL, `${threads} threads, ${label}: out vs float64 over the stored values`);
          expectLseClose(lse.data, ref.lse, `${threads} threads, ${label}: lse vs float64`);
          results.push(got.data);
        };
        await step(0, S0, 1, 'first step');
        for (let s = S0; s < S0 + 3; s++) await step(s, s + 1, 1, `decode step to ${s + 1}`);
        await step(S0 + 3, S0 + 20, 17, 'prefill chunk of 17');
        first ??= results;
        results.forEach((r, i) => expectSameBits(r, first![i], `${threads} threads vs ${THREADS[0]}, call ${i}`));
      } finally {
        await pool.close();
      }
    }
  }, TIMEOUT_MS);
});
