// KvCache dtype 'float16' and 'int8': golden var-kv-f16 and var-kv-int8 on both kernels (within
// suggested_out_rtol, lse 1e-5), whose k_stored / v_stored are exactly what the storage rules give
// the appended k / v; the same bits as a float32 cache holding those decoded values (the kernels read
// the stored form and nothing else); decode loops over kept pieces and split-KV, 1, 2 and 3 threads
// bit-identical; reserve keeps the stored rows; bad input refused before anything is written.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'npyjs';
import { AttentionPool, zeros, type KvCache, type Tensor } from '../dist/src/index.js';
import { expectSameBits } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { randomTensor, Rng, type TensorLike } from './support/random.js';
import { decodedRows, type StoredDtype } from './support/stored-rows.js';

const TIMEOUT_MS = 120_000;
const DIR = new URL('./golden-variants/', import.meta.url);

interface VariantCase {
  readonly q: TensorLike<Float32Array>; readonly k: TensorLike<Float32Array>; readonly v: TensorLike<Float32Array>;
  readonly kStored: TensorLike<Float32Array>; readonly vStored: TensorLike<Float32Array>;
  readonly out: Float64Array; readonly lse: Float32Array; readonly rtol: number;
}

/** A case of test/golden-variants, every file checked against the manifest's sha256 and shape. */
function loadCase(name: string): VariantCase {
  const manifest = JSON.parse(readFileSync(new URL('manifest.json', DIR), 'utf8')) as { cases: Array<{ name: string; suggested_out_rtol: number; files: Record<string, { sha256: string; shape: number[] }> }> };
  const entry = manifest.cases.find((c) => c.name === name)!;
  const file = (f: string) => {
    const bytes = readFileSync(new URL(`${name}/${f}`, DIR));
    expect(createHash('sha256').update(bytes).digest('hex'), `${name}/${f}`).toBe(entry.files[f].sha256);
    const npy = parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(npy.shape).toEqual(entry.files[f].shape);
    return { data: npy.data, shape: npy.shape } as TensorLike<Float32Array>;
  };
  return {
    q: file('q.npy'), k: file('k.npy'), v: file('v.npy'), kStored: file('k_stored.npy'), vStored: file('v_stored.npy'),
    out: file('out.f64.npy').data as unknown as Float64Array, lse: file('lse.npy').data, rtol: entry.suggested_out_rtol,
  };
}

function shared(t: TensorLike<Float32Array>): Tensor<Float32Array> {
  const data = new Float32Array(new SharedArrayBuffer(t.data.byteLength));
  data.set(t.data);
  return { data, shape: [...t.shape] };
}

async function cachedCall(pool: AttentionPool, dtype: 'float32' | StoredDtype, k: TensorLike<Float32Array>, v: TensorLike<Float32Array>,
  q: TensorLike<Float32Array>, steps = 1): Promise<{ out: Float32Array; lse: Float32Array }> {
  const [B, Hkv, Sk, D] = k.shape;
  const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: v.shape[3], capacity: Sk, dtype });
  const upTo = (t: TensorLike<Float32Array>, from: number, to: number): Tensor<Float32Array> => {
    const C = t.shape[3], n = to - from;
    const data = new Float32Array(B * Hkv * n * C);
    for (let bh = 0; bh < B * Hkv; bh++) data.set(t.data.subarray((bh * Sk + from) * C, (bh * Sk + to) * C), bh * n * C);
    return { data, shape: [B, Hkv, n, C] };
  };
  // The first Sk − steps positions at once, then one position per call (a decode loop over kept pieces).
  cache.append(upTo(k, 0, Sk - steps + 1), upTo(v, 0, Sk - steps + 1));
  const lse = zeros([q.shape[0], q.shape[1], q.shape[2]]);
  let out = await pool.attention(shared(q), cache as KvCache<Float32Array>, { causal: true, lse });
  for (let p = Sk - steps + 1; p < Sk; p++) {
    cache.append(upTo(k, p, p + 1), upTo(v, p, p + 1));
    out = await pool.attention(shared(q), cache as KvCache<Float32Array>, { causal: true, lse });
  }
  return { out: out.data, lse: lse.data };
}

describe.each(KERNELS)('%s kernel', (kernel) => {
  describe.each([['var-kv-f16', 'float16'], ['var-kv-int8', 'int8']] as const)('golden %s', (name, dtype) => {
    const c = loadCase(name);

    it('k_stored and v_stored are exactly what the storage rules make of k and v', () => {
      // float16: bit for bit. int8: value for value — the golden keeps −0 where x / scale rounds to −0,
      // which a stored int8 q cannot hold; it decodes to +0, the same number.
      const same = (got: Float32Array, expected: Float32Array, label: string) => {
        if (dtype === 'float16') return expectSameBits(got, expected, label);
        expect(got.length).toBe(expected.length);
        const at = got.findIndex((x, i) => x !== expected[i]);
        expect(at, `${label}: first differing element (${got[at]} vs ${expected[at]})`).toBe(-1);
      };
      same(decodedRows(dtype, c.k.data, c.k.shape[3]), c.kStored.data, 'k_stored');
      same(decodedRows(dtype, c.v.data, c.v.shape[3]), c.vStored.data, 'v_stored');
    });

    it('matches out.f64 within suggested_out_rtol and lse within 1e-5, the bits of a float32 cache of the decoded values, on 1, 2 and 3 threads', async () => {
      let first: { out: Float32Array; lse: Float32Array } | undefined;
      for (const threads of [1, 2, 3]) {
        const pool = new AttentionPool({ threads, ...kernelOptions(kernel) });
        try {
          const got = await cachedCall(pool, dtype, c.k, c.v, c.q);
          let worst = 0, scale = 0;
          for (let i = 0; i < c.out.length; i++) { worst = Math.max(worst, Math.abs(got.out[i] - c.out[i])); scale = Math.max(scale, Math.abs(c.out[i])); }
          expect(worst / scale, `${threads} threads: max |out - out.f64| / max |out.f64|`).toBeLessThanOrEqual(c.rtol);
          for (let i = 0; i < c.lse.length; i++) expect(Math.abs(got.lse[i] - c.lse[i])).toBeLessThanOrEqual(1e-5);
          const decodedCache = await cachedCall(pool, 'float32', c.kStored, c.vStored, c.q);
          expectSameBits(got.out, decodedCache.out, `${threads} threads: out against the float32 cache of k_stored / v_stored`);
          expectSameBits(got.lse, decodedCache.lse, `${threads} threads: lse against the float32 cache`);
          if (first) expectSameBits(got.out, first.out, `${threads} threads against 1`);
          first ??= got;
        } finally {
          await pool.close();
        }
      }
    }, TIMEOUT_MS);
  });

  it.each(['float16', 'int8'] as const)('%s: a decode loop across pieces and split-KV (GQA, Sk 2500, D 40) gives the float32 cache\'s bits on 1, 2 and 3 threads', async (dtype) => {
    const rng = new Rng(21);
    const k = randomTensor(rng, [1, 2, 2500, 40]) as TensorLike<Float32Array>, v = randomTensor(rng, [1, 2, 2500, 40]) as TensorLike<Float32Array>;
    v.data[7 * 40 + 3] = dtype === 'float16' ? 1e6 : v.data[7 * 40 + 3]; // float16 overflow: an Infinity in V (the careful P·V)
    const q = randomTensor(rng, [1, 8, 1, 40]) as TensorLike<Float32Array>;
    const stored = (t: TensorLike<Float32Array>) => ({ data: decodedRows(dtype, t.data, t.shape[3]), shape: t.shape });
    let first: Float32Array | undefined;
    for (const threads of [1, 2, 3]) {
      const pool = new AttentionPool({ threads, ...kernelOptions(kernel) });
      try {
        const got = await cachedCall(pool, dtype, k, v, q, 5);
        const expected = await cachedCall(pool, 'float32', stored(k), stored(v), q, 5);
        expectSameBits(got.out, expected.out, `${dtype}, ${threads} threads`);
        if (first) expectSameBits(got.out, first, `${dtype}, ${threads} threads against 1`);
        first ??= got.out;
      } finally {
        await pool.close();
      }
    }
  }, TIMEOUT_MS);
});

describe('stored caches: reserve, errors', () => {
  const pool = new AttentionPool({ threads: 1 });

  it.each(['float16', 'int8'] as const)('%s: reserve keeps the stored rows', async (dtype) => {
    const rng = new Rng(5);
    const k = randomTensor(rng, [1, 2, 70, 40]) as Tensor<Float32Array>, v = randomTensor(rng, [1, 2, 70, 40]) as Tensor<Float32Array>;
    const q = randomTensor(rng, [1, 2, 1, 40]) as Tensor<Float32Array>;
    const small = pool.createKvCache({ batch: 1, kvHeads: 2, headDim: 40, capacity: 70, dtype });
    small.append(k, v);
    const before = await pool.attention(q, small);
    small.reserve(500);
    expect(small.capacity).toBe(500);
    expectSameBits((await pool.attention(q, small)).data, before.data, 'after reserve');
  });

  it('refuses bad dtypes and inputs, naming them, and writes nothing', () => {
    const layout = { batch: 1, kvHeads: 1, headDim: 4, capacity: 8 };
    expect(() => pool.createKvCache({ ...layout, dtype: 'bfloat16' as 'int8' })).toThrow(RangeError);
    expect(() => pool.createKvCache({ ...layout, dtype: 'bfloat16' as 'int8' })).toThrow(/options\.dtype.*'float16'.*'int8'/);
    const cache = pool.createKvCache({ ...layout, dtype: 'int8' });
    const f64 = { data: new Float64Array(4), shape: [1, 1, 1, 4] };
    expect(() => cache.append(f64 as never, f64 as never)).toThrow(TypeError);
    expect(() => cache.append(f64 as never, f64 as never)).toThrow(/k\.data.*Float32Array.*'int8'/);
    const nan = { data: new Float32Array([1, NaN, 2, 3]), shape: [1, 1, 1, 4] };
    const ok = { data: new Float32Array(4), shape: [1, 1, 1, 4] };
    expect(() => cache.append(ok, nan)).toThrow(RangeError);
    expect(() => cache.append(ok, nan)).toThrow(/v\.data must hold finite values for an 'int8' cache.*NaN at index 1/);
    expect(cache.length).toBe(0);
    const f16 = pool.createKvCache({ ...layout, dtype: 'float16' });
    f16.append(ok, { data: new Float32Array([Infinity, NaN, 1e6, -0]), shape: [1, 1, 1, 4] }); // float16 holds these
    expect(f16.length).toBe(1);
    expect(f16.dtype).toBe('float16');
    return expect(pool.attention({ data: new Float64Array(4), shape: [1, 1, 1, 4] } as never, f16)).rejects.toThrow(/q\.data.*Float32Array.*'float16'/);
  });

  it('closes', () => pool.close());
});
