// mergeAttention: the golden merge case; attention over all keys against attention over key shards
// (pool.attention with lse on each) merged; a shared prefix attended once for many suffixes; rows no
// part saw; float64; validation.

import { describe, expect, it } from 'vitest';
import { mergeAttention, type AttentionPart } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectLseClose, expectRelativeToMax, expectSameBits } from './support/compare.js';
import { mergeCases } from './support/golden-rotary-merge.js';
import { randomMask, randomTensor, Rng, toFloat64, type FloatData, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { referenceMerge } from './support/reference-rotary.js';
import { suitePool } from './support/suite-pools.js';

const pool = suitePool({ threads: 2 });

function zerosLike(shape: readonly number[], float64 = false): TensorLike {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: float64 ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float32Array(new SharedArrayBuffer(n * 4)), shape: [...shape] };
}

/** Keys [from, to) of a [B, H, S, D] tensor (axis 2), or mask columns [from, to) of a [B, H, Sq, Sk] one (axis 3). */
function slice(t: TensorLike | TensorLike<Uint8Array>, axis: 2 | 3, from: number, to: number): TensorLike {
  const shape = [...t.shape];
  const inner = axis === 2 ? shape[3] : 1, len = shape[axis], outer = t.data.length / (len * inner);
  shape[axis] = to - from;
  const Ctor = t.data.constructor as new (n: number) => FloatData;
  const data = new Ctor(outer * (to - from) * inner);
  for (let o = 0; o < outer; o++) data.set(t.data.subarray((o * len + from) * inner, (o * len + to) * inner) as never, o * (to - from) * inner);
  return { data, shape };
}

/** Attention over keys [from, to) with its lse, the mask cut to those keys. */
async function shard(q: TensorLike, k: TensorLike, v: TensorLike, mask: TensorLike<Uint8Array> | undefined, from: number, to: number): Promise<AttentionPart<FloatData>> {
  const [B, H, Sq] = q.shape, Dv = v.shape[3], f64 = q.data instanceof Float64Array;
  const out = zerosLike([B, H, Sq, Dv], f64), lse = zerosLike([B, H, Sq], f64);
  await pool.attention(q as never, slice(k, 2, from, to) as never, slice(v, 2, from, to) as never,
    { out: out as never, lse: lse as never, ...(mask && { mask: slice(mask, 3, from, to) as never }) });
  return { out, lse } as never;
}

describe('golden merge case', () => {
  const [c] = mergeCases();
  it('merge-3 within suggested_out_rtol, lse within 1e-5', () => {
    expect(c.name).toBe('merge-3');
    expect(c.parts).toHaveLength(3);
    const merged = mergeAttention(c.parts);
    expectRelativeToMax(merged.out.data, c.outF64.data, c.rtol, 'out');
    expectLseClose(merged.lse.data, c.lse.data, 'lse');
    expect(merged.out.shape).toEqual(c.outF64.shape);
    expect(merged.lse.shape).toEqual(c.lse.shape);
    expect(merged.out.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    const ref = referenceMerge(c.parts, c.outF64.shape[3]);
    expectRelativeToMax(ref.out, c.outF64.data, 1e-12, 'test reference');
  });

  it('merge-3 in float64: within 1e-12 of the float64 expectation', () => {
    const parts = c.parts.map((p) => ({ out: toFloat64(p.out), lse: toFloat64(p.lse) }));
    const merged = mergeAttention(parts);
    expect(merged.out.data).toBeInstanceOf(Float64Array);
    expectRelativeToMax(merged.out.data, c.outF64.data, 1e-12, 'out');
  });
});

describe('key shards merged equal attention over all keys', () => {
  const specs = [
    { label: 'three shards, float32', seed: 1901, B: 2, H: 4, Hkv: 2, Sq: 40, Sk: 300, D: 32, cuts: [0, 77, 200, 300], float64: false, masked: false },
    { label: 'five shards with a causal mask and a sparse random mask (rows some shards never see), float32', seed: 1902, B: 1, H: 2, Hkv: 2, Sq: 64, Sk: 256, D: 16, cuts: [0, 10, 64, 65, 190, 256], float64: false, masked: true },
    { label: 'two shards, float64, causal mask', seed: 1903, B: 1, H: 3, Hkv: 3, Sq: 60, Sk: 100, D: 8, cuts: [0, 64, 100], float64: true, masked: true },
  ];
  it.each(specs)('$label', async (s) => {
    const rng = new Rng(s.seed);
    const dtype = s.float64 ? 'float64' : 'float32';
    const q = randomTensor(rng, [s.B, s.H, s.Sq, s.D], dtype), k = randomTensor(rng, [s.B, s.Hkv, s.Sk, s.D], dtype), v = randomTensor(rng, [s.B, s.Hkv, s.Sk, s.D], dtype);
    let mask: TensorLike<Uint8Array> | undefined;
    if (s.masked) {
      // Query i sees key j <= i + Sk − Sq (bottom-right causal), and a random tenth of the rest is cut too.
      mask = randomMask(rng, [s.B, 1, s.Sq, s.Sk], 0.9);
      for (let i = 0; i < s.Sq; i++) for (let j = i + s.Sk - s.Sq + 1; j < s.Sk; j++) for (let b = 0; b < s.B; b++) mask.data[(b * s.Sq + i) * s.Sk + j] = 0;
    }
    const parts: AttentionPart<FloatData>[] = [];
    for (let n = 0; n + 1 < s.cuts.length; n++) parts.push(await shard(q, k, v, mask, s.cuts[n], s.cuts[n + 1]));
    if (s.masked) expect(parts.some((p) => Array.from(p.lse.data).includes(-Infinity)), 'some shard has rows that saw nothing').toBe(true);
    const merged = mergeAttention(parts);
    const ref = referenceAttention(q, k, v, { mask });
    expectAttentionClose(merged.out.data, merged.lse.data, ref, s.label);
    // And against pool.attention over all keys at once.
    const whole = await pool.attention(q as never, k as never, v as never, { ...(mask && { mask }) });
    expectRelativeToMax(merged.out.data, whole.data, s.float64 ? 1e-12 : 1e-5, 'vs one call over all keys');
  });
});

describe('a shared prefix attended once for many suffixes', () => {
  it('N suffixes: the prefix in one call for all their queries, each suffix on its own, merged', async () => {
    const rng = new Rng(1904);
    const [H, P, S, D, N] = [4, 200, 24, 32, 5];
    const kPrefix = randomTensor(rng, [1, H, P, D]), vPrefix = randomTensor(rng, [1, H, P, D]);
    const suffixes = Array.from({ length: N }, () => ({ q: randomTensor(rng, [1, H, S, D]), k: randomTensor(rng, [1, H, S, D]), v: randomTensor(rng, [1, H, S, D]) }));
    // Every suffix's queries stacked along the rows: [1, H, N·S, D]; the prefix is read by one call.
    const qAll = zerosLike([1, H, N * S, D]);
    suffixes.forEach((x, n) => { for (let h = 0; h < H; h++) qAll.data.set(x.q.data.subarray(h * S * D, (h + 1) * S * D), (h * N * S + n * S) * D); });
    const prefix = { out: zerosLike([1, H, N * S, D]), lse: zerosLike([1, H, N * S]) };
    await pool.attention(qAll as never, kPrefix as never, vPrefix as never, { out: prefix.out as never, lse: prefix.lse as never });
    for (const [n, x] of suffixes.entries()) {
      const own = { out: zerosLike([1, H, S, D]), lse: zerosLike([1, H, S]) };
      await pool.attention(x.q as never, x.k as never, x.v as never, { causal: true, out: own.out as never, lse: own.lse as never });
      const prefixRows = { out: slice(prefix.out, 2, n * S, (n + 1) * S), lse: lseRows(prefix.lse, n * S, S) };
      const merged = mergeAttention([prefixRows, own] as never);
      // Against attention over the concatenated prefix + suffix, causal (bottom-right: every prefix key is seen).
      const k = concat(kPrefix, x.k), v = concat(vPrefix, x.v);
      expectAttentionClose(merged.out.data as FloatData, merged.lse.data as FloatData, referenceAttention(x.q, k, v, { causal: true }), `suffix ${n}`);
    }
  });
});

function lseRows(lse: TensorLike, from: number, n: number): TensorLike {
  const [B, H, S] = lse.shape;
  const data = new Float32Array(B * H * n);
  for (let bh = 0; bh < B * H; bh++) data.set(lse.data.subarray(bh * S + from, bh * S + from + n), bh * n);
  return { data, shape: [B, H, n] };
}

function concat(a: TensorLike, b: TensorLike): TensorLike {
  const [B, H, Sa, D] = a.shape, Sb = b.shape[2];
  const data = new Float32Array(B * H * (Sa + Sb) * D);
  for (let bh = 0; bh < B * H; bh++) {
    data.set(a.data.subarray(bh * Sa * D, (bh + 1) * Sa * D), bh * (Sa + Sb) * D);
    data.set(b.data.subarray(bh * Sb * D, (bh + 1) * Sb * D), (bh * (Sa + Sb) + Sa) * D);
  }
  return { data, shape: [B, H, Sa + Sb, D] };
}

describe('rows, order and precision', () => {
  const shape = [1, 1, 3, 2];
  const part = (out: number[], lse: number[]) => ({ out: { data: new Float64Array(out), shape }, lse: { data: new Float64Array(lse), shape: shape.slice(0, 3) } });
  it('a row no part saw is 0 with lse −Infinity; a row one part saw is that part\'s row', () => {
    const merged = mergeAttention([part([0, 0, 1, 2, 0, 0], [-Infinity, 0.5, -Infinity]), part([0, 0, 0, 0, 3, 4], [-Infinity, -Infinity, 7])]);
    expect(Array.from(merged.out.data)).toEqual([0, 0, 1, 2, 3, 4]);
    expect(Array.from(merged.lse.data)).toEqual([-Infinity, 0.5, 7]);
  });

  it('one part comes back with its own bits', () => {
    const rng = new Rng(1905);
    const out = randomTensor(rng, [2, 3, 4, 5]), lse = randomTensor(rng, [2, 3, 4]);
    const merged = mergeAttention([{ out, lse }] as never);
    expectSameBits(merged.out.data as FloatData, out.data, 'out');
    expectSameBits(merged.lse.data as FloatData, lse.data, 'lse');
  });

  it('lse values far apart (1e4) and large (1e6) stay exact in float64', () => {
    const merged = mergeAttention([part([1, 1, 1, 1, 1, 1], [1e6, 0, -1e4]), part([3, 3, 3, 3, 3, 3], [1e6, 1e4, 0])]);
    // Row 0: equal weights; rows 1 and 2: the second part outweighs the first by e^(1e4), which vanishes.
    expect(Array.from(merged.out.data)).toEqual([2, 2, 3, 3, 3, 3]);
    expect(merged.lse.data[0]).toBe(1e6 + Math.log(2));
    expect(merged.lse.data[1]).toBe(1e4);
    expect(merged.lse.data[2]).toBe(0);
  });

  it('random parts against the reference, float64 within 1e-14', () => {
    const rng = new Rng(1906);
    const parts = Array.from({ length: 4 }, () => ({ out: randomTensor(rng, [2, 2, 9, 7], 'float64'), lse: randomTensor(rng, [2, 2, 9], 'float64', { std: 30 }) }));
    const merged = mergeAttention(parts as never);
    const ref = referenceMerge(parts, 7);
    expectRelativeToMax(merged.out.data as FloatData, ref.out, 1e-14, 'out');
    expectRelativeToMax(merged.lse.data as FloatData, ref.lse, 1e-14, 'lse');
  });
});

describe('validation', () => {
  const f32 = (shape: number[]) => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
  const good = { out: f32([1, 2, 3, 4]), lse: f32([1, 2, 3]) };
  const bad: [string, unknown, ErrorConstructor, RegExp][] = [
    ['not an array', good, TypeError, /^mergeAttention: parts must be an array of \{ out, lse \}/],
    ['no parts', [], RangeError, /^mergeAttention: parts must be at least one \{ out, lse \}, got \[\]/],
    ['a part not an object', [good, 3], TypeError, /^mergeAttention: parts\[1\] must be an object \{ out, lse \}, got 3/],
    ['out missing', [{ lse: good.lse }], TypeError, /^mergeAttention: parts\[0\]\.out must be a tensor/],
    ['out rank', [{ out: f32([2, 3, 4]), lse: f32([2, 3]) }], RangeError, /parts\[0\]\.out\.shape must be of rank 4 \(\[B, H, Sq, Dv\]\)/],
    ['lse shape', [{ out: good.out, lse: f32([1, 2, 4]) }], RangeError, /parts\[0\]\.lse\.shape must be \[1, 2, 3\] \(parts\[0\]\.out\.shape without its last dimension\), got \[1, 2, 4\]/],
    ['shapes differ', [good, { out: f32([1, 2, 3, 5]), lse: f32([1, 2, 3]) }], RangeError, /parts\[1\]\.out\.shape must be \[1, 2, 3, 4\] \(parts\[0\]\.out\.shape\), got \[1, 2, 3, 5\]/],
    ['dtypes differ', [good, { out: { data: new Float64Array(24), shape: [1, 2, 3, 4] }, lse: { data: new Float64Array(6), shape: [1, 2, 3] } }], TypeError, /parts\[1\]\.out\.data must be a Float32Array like parts\[0\]\.out\.data/],
    ['lse dtype', [{ out: good.out, lse: { data: new Float64Array(6), shape: [1, 2, 3] } }], TypeError, /parts\[0\]\.lse\.data must be a Float32Array like parts\[0\]\.out\.data/],
    ['lse NaN', [{ out: good.out, lse: { data: new Float32Array([0, 0, NaN, 0, 0, 0]), shape: [1, 2, 3] } }], RangeError, /parts\[0\]\.lse\.data\[2\] must be finite or -Infinity \(a row that saw no key\), got NaN/],
    ['lse +Infinity', [good, { out: good.out, lse: { data: new Float32Array([0, 0, 0, 0, 0, Infinity]), shape: [1, 2, 3] } }], RangeError, /parts\[1\]\.lse\.data\[5\] must be finite or -Infinity/],
    ['length', [{ out: { data: new Float32Array(5), shape: [1, 2, 3, 4] }, lse: good.lse }], RangeError, /parts\[0\]\.out\.data\.length must be product/],
  ];
  it.each(bad)('%s', async (_, parts, type, message) => {
    const err = await caught(() => mergeAttention(parts as never));
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
  });
});
