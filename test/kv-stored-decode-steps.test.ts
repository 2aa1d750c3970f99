// Decode steps over float16 and int8 KvCaches with V across a wide range — for float16 every binary16
// class: subnormals (which the wasm kernel's single-row P·V reads as stored, asm/pv-stored.ts, as exact
// float32 subnormals), ±0, the smallest normals, the largest finite 65504; for int8 blocks whose scales
// differ by orders of magnitude — at Dv 64 and 40 (the stored P·V's 8-value loads, 32 then 8 columns)
// and 36 (not a multiple of 8: the staged path), GQA. Each step gives the bits of a float32 cache
// holding the decoded values and is within float32 rounding of a float64 softmax over those values
// computed here.

import { describe, expect, it } from 'vitest';
import { AttentionPool, type KvCache, type Tensor } from '../dist/src/index.js';
import { expectSameBits } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { Rng } from './support/random.js';
import { decodedRows, type StoredDtype } from './support/stored-rows.js';

const SK = 700, D = 64, STEPS = 3;

/** V values from every binary16 class, in random order and sign. */
function wideRangeV(rng: Rng, n: number): Float32Array {
  const classes = [() => rng.next() * 2 ** -14, () => 2 ** -24 * (1 + Math.floor(rng.next() * 1023)), () => 0, () => 2 ** -14,
    () => 65504, () => 60000 * rng.next(), () => rng.next() - 0.5, () => 2 ** -24];
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = classes[Math.floor(rng.next() * classes.length)]() * (rng.next() < 0.5 ? -1 : 1);
  return data;
}

function uniform(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** out for one query row per head over keys [0, sk) of [Hkv, SK, C] rows, in float64 (GQA: head h reads h / (H / Hkv)). */
function reference(q: Float32Array, k: Float32Array, v: Float32Array, H: number, Hkv: number, sk: number, dv: number): Float64Array {
  const out = new Float64Array(H * dv);
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv));
    const s = Array.from({ length: sk }, (_, j) => {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[h * D + d] * k[(g * SK + j) * D + d];
      return dot / Math.sqrt(D);
    });
    const m = Math.max(...s);
    const p = s.map((x) => Math.exp(x - m)), l = p.reduce((a, b) => a + b, 0);
    for (let j = 0; j < sk; j++) for (let c = 0; c < dv; c++) out[h * dv + c] += (p[j] / l) * v[(g * SK + j) * dv + c];
  }
  return out;
}

const CASES = (['float16', 'int8'] as const).flatMap((dtype) => [64, 40, 36].map((dv) => [dtype, dv] as [StoredDtype, number]));

describe.each(KERNELS)('%s kernel', (kernel) => {
  it.each(CASES)('%s, Dv %i: decode steps over wide-range V give the float32 cache\'s bits and the float64 result', async (dtype, dv) => {
    const rng = new Rng(dv);
    const H = 4, Hkv = 2;
    const k = uniform(rng, Hkv * SK * D), v = wideRangeV(rng, Hkv * SK * dv), q = uniform(rng, H * D);
    // int8: each 32-value block of a row scaled by its own power of ten, 1e-4 … 1e4.
    if (dtype === 'int8') v.forEach((x, i) => { v[i] = Math.fround(x * 10 ** ((Math.floor((i % dv) / 32) + Math.floor(i / dv)) % 9 - 4)); });
    const kDecoded = decodedRows(dtype, k, D), vDecoded = decodedRows(dtype, v, dv);
    const pool = new AttentionPool({ threads: 2, ...kernelOptions(kernel) });
    try {
      const caches = ([dtype, 'float32'] as const).map((storage) => pool.createKvCache({ batch: 1, kvHeads: Hkv, headDim: D, valueDim: dv, capacity: SK, dtype: storage }));
      const rows = (t: Float32Array, cols: number, from: number, to: number): Tensor<Float32Array> => {
        const data = new Float32Array(Hkv * (to - from) * cols);
        for (let g = 0; g < Hkv; g++) data.set(t.subarray((g * SK + from) * cols, (g * SK + to) * cols), g * (to - from) * cols);
        return { data, shape: [1, Hkv, to - from, cols] };
      };
      const append = (from: number, to: number) => {
        caches[0].append(rows(k, D, from, to), rows(v, dv, from, to));
        caches[1].append(rows(kDecoded, D, from, to), rows(vDecoded, dv, from, to));
      };
      append(0, SK - STEPS);
      const query: Tensor<Float32Array> = { data: q, shape: [1, H, 1, D] };
      for (let sk = SK - STEPS + 1; sk <= SK; sk++) {
        append(sk - 1, sk);
        const got = await pool.attention(query, caches[0] as KvCache<Float32Array>, { causal: true });
        const expected = await pool.attention(query, caches[1] as KvCache<Float32Array>, { causal: true });
        expectSameBits(got.data, expected.data, `Sk ${sk}: against the float32 cache of the decoded values`);
        const exact = reference(q, kDecoded, vDecoded, H, Hkv, sk, dv);
        // Weighted sums of values up to 65504 (int8: 6.6e8): float32 rounding of the terms, relative to the largest |v|.
        const largest = vDecoded.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        for (let i = 0; i < exact.length; i++) expect(Math.abs(got.data[i] - exact[i]), `Sk ${sk}, element ${i}`).toBeLessThanOrEqual(largest * 1e-5);
      }
    } finally {
      await pool.close();
    }
  }, 60_000);
});
