// Grouped-query attention in the layer: multiHeadAttention(..., { numHeads: H, numKvHeads: Hkv }) projects
// K and V to Hkv heads (inProjWeight [E + 2·Hkv·hd, E]: Q rows, then K rows, then V rows) and query head h
// reads kv head floor(h / (H / Hkv)). Every case is checked three ways:
//   * against the independent float64 reference in test/support/reference.ts (output and weights);
//   * against the layer rebuilt from the public pool.attention(): float64 projections in test code, heads
//     split, pool.attention on k and v of Hkv heads (its grouping is checked against PyTorch's sdpa-gqa and
//     sdpa-mqa golden cases), heads merged and out-projected — so the layer must wire the same grouping;
//   * bit for bit across 1, 2 and 3 threads, per kernel and dtype.
// The cases sit several times above the inline threshold, so their work really is split across workers;
// a tiny case covers the calling-thread path, and a remote engine must pass numKvHeads on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine, INLINE_MAX_FLOPS, zeros } from '../dist/src/index.js';
import { expectMaxAbsDiff, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, FLOAT64_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { mhaInputs, toFloat64, type FloatDType, type MhaInputs, type MhaSpec, type TensorLike } from './support/random.js';
import { attendMaskFromPadding, linear, mergeHeads, referenceMultiHeadAttention, splitHeads } from './support/reference.js';

const TIMEOUT_MS = 60_000;
const THREADS = [1, 2, 3] as const;
const E = 64;
const H = 8;
const HEAD_DIM = E / H;

interface GqaCase extends MhaSpec {
  readonly label: string;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly causal: boolean;
}

const gqa = (c: Omit<GqaCase, 'E' | 'numHeads'>): GqaCase => ({ ...c, E, numHeads: H });
const cases: readonly GqaCase[] = [
  gqa({ label: 'self, Hkv 2', seed: 801, B: 2, Sq: 96, Sk: 96, numKvHeads: 2, selfAttention: true, causal: false }),
  gqa({ label: 'self causal, Hkv 1 (multi-query), key padding', seed: 802, B: 2, Sq: 96, Sk: 96, numKvHeads: 1, selfAttention: true, causal: true, keyLengths: [96, 53] }),
  gqa({ label: 'self causal, Hkv = H (ordinary heads, given explicitly)', seed: 803, B: 1, Sq: 128, Sk: 128, numKvHeads: H, selfAttention: true, causal: true }),
  gqa({ label: 'cross Sq72 Sk120, Hkv 4, key padding, no biases', seed: 804, B: 2, Sq: 72, Sk: 120, numKvHeads: 4, selfAttention: false, causal: false, keyLengths: [120, 77], withBias: false }),
  gqa({ label: 'cross key === value, Hkv 2, causal (Sq < Sk)', seed: 805, B: 2, Sq: 72, Sk: 120, numKvHeads: 2, selfAttention: false, keyIsValue: true, causal: true }),
  gqa({ label: 'cross key === value, Hkv 1, causal (Sq > Sk: leading rows see no key)', seed: 806, B: 2, Sq: 100, Sk: 64, numKvHeads: 1, selfAttention: false, keyIsValue: true, causal: true }),
  gqa({ label: 'cross, distinct key and value, Hkv = H', seed: 807, B: 1, Sq: 72, Sk: 120, numKvHeads: H, selfAttention: false, causal: false }),
];

/** The layer's multiply-adds ×2 (Q and out-projections E×E, K and V E×kvDim, attention), to show the
 *  cases leave the calling thread. */
function layerFlops(c: GqaCase): number {
  const Sk = c.selfAttention ? c.Sq : c.Sk;
  const kvDim = c.numKvHeads * (c.E / c.numHeads);
  return 2 * c.B * c.E * (2 * c.Sq * c.E + 2 * Sk * kvDim) + 4 * c.B * c.Sq * Sk * c.E;
}

/** The same inputs in float64 (exactly the same values), keeping which of query, key and value are one tensor. */
function inFloat64(inputs: MhaInputs): MhaInputs {
  const converted = new Map<TensorLike, TensorLike>();
  const f64 = <T extends TensorLike | undefined>(t: T): T => {
    if (t === undefined) return t;
    if (!converted.has(t)) converted.set(t, toFloat64(t));
    return converted.get(t) as T;
  };
  const w = inputs.weights;
  return {
    query: f64(inputs.query), key: f64(inputs.key), value: f64(inputs.value),
    weights: { inProjWeight: f64(w.inProjWeight), inProjBias: f64(w.inProjBias), outProjWeight: f64(w.outProjWeight), outProjBias: f64(w.outProjBias) },
    keyPaddingMask: inputs.keyPaddingMask,
  } as unknown as MhaInputs;
}

function inputsFor(c: GqaCase, dtype: FloatDType): MhaInputs {
  const inputs = mhaInputs(c);
  return dtype === 'float64' ? inFloat64(inputs) : inputs;
}

/** The GQA layer built from pool.attention: projections, head split, merge and out-projection in float64. */
async function layerViaAttention(pool: AttentionPool, inputs: MhaInputs, c: GqaCase): Promise<Float64Array> {
  const { query, key, value, weights, keyPaddingMask } = inputs;
  const [B, Sq] = query.shape;
  const Sk = key.shape[1];
  const kvDim = c.numKvHeads * HEAD_DIM;
  const q = splitHeads(linear(query.data, B * Sq, E, weights.inProjWeight, weights.inProjBias, 0, E), B, Sq, H, HEAD_DIM);
  const k = splitHeads(linear(key.data, B * Sk, E, weights.inProjWeight, weights.inProjBias, E, kvDim), B, Sk, c.numKvHeads, HEAD_DIM);
  const v = splitHeads(linear(value.data, B * Sk, E, weights.inProjWeight, weights.inProjBias, E + kvDim, kvDim), B, Sk, c.numKvHeads, HEAD_DIM);
  expect(k.shape).toEqual([B, c.numKvHeads, Sk, HEAD_DIM]);
  const heads = await pool.attention(q, k, v, { causal: c.causal, ...(keyPaddingMask && { mask: attendMaskFromPadding(keyPaddingMask) }) });
  return linear(mergeHeads(heads.data, B, Sq, H, HEAD_DIM), B * Sq, E, weights.outProjWeight, weights.outProjBias, 0, E);
}

const CONFIGS = [
  { dtype: 'float32', kernel: 'js' },
  { dtype: 'float32', kernel: 'wasm' },
  { dtype: 'float64', kernel: 'js' }, // float64 always runs on the js kernel
] as const;

describe.each(CONFIGS)('$dtype on the $kernel kernel', ({ dtype, kernel }) => {
  const pools = new Map<number, AttentionPool>();
  beforeAll(() => {
    for (const threads of THREADS) pools.set(threads, new AttentionPool({ threads, kernel }));
  });
  afterAll(async () => {
    await Promise.all([...pools.values()].map((p) => p.close()));
  });
  const rtol = dtype === 'float64' ? FLOAT64_RTOL : FLOAT32_RTOL;
  const weightsAtol = dtype === 'float64' ? FLOAT64_RTOL : WEIGHTS_ATOL;

  it.each(cases)('$label: the reference, the layer rebuilt from attention(), and every thread count agree', async (c) => {
    expect(layerFlops(c)).toBeGreaterThan(2 * INLINE_MAX_FLOPS);
    const inputs = inputsFor(c, dtype);
    const { query, key, value, weights, keyPaddingMask } = inputs;
    const Sk = key.shape[1];
    expect(weights.inProjWeight.shape).toEqual([E + 2 * c.numKvHeads * HEAD_DIM, E]);
    const ref = referenceMultiHeadAttention(query, key, value, weights, { numHeads: H, numKvHeads: c.numKvHeads, causal: c.causal, keyPaddingMask });
    const viaAttention = await layerViaAttention(pools.get(2)!, inputs, c);
    // The two references must agree with each other first, so a disagreement below points at the layer.
    expectRelativeToMax(viaAttention, ref.output, FLOAT64_RTOL, 'attention()-built layer vs reference');

    for (const needWeights of ['per-head', 'average'] as const) {
      const results = [];
      for (const threads of THREADS) {
        results.push(await pools.get(threads)!.multiHeadAttention(query, key, value, weights, {
          numHeads: H, numKvHeads: c.numKvHeads, causal: c.causal, needWeights, ...(keyPaddingMask && { keyPaddingMask }),
        }));
      }
      const [first] = results;
      expect(first.output.shape).toEqual([c.B, c.Sq, E]);
      expect(first.output.data.constructor.name).toBe(dtype === 'float64' ? 'Float64Array' : 'Float32Array');
      expect(first.attnWeights!.shape).toEqual(needWeights === 'per-head' ? [c.B, H, c.Sq, Sk] : [c.B, c.Sq, Sk]);
      results.forEach((r, n) => {
        expectSameBits(r.output.data, first.output.data, `${needWeights}: output, ${THREADS[n]} vs ${THREADS[0]} threads`);
        expectSameBits(r.attnWeights!.data, first.attnWeights!.data, `${needWeights}: weights, ${THREADS[n]} vs ${THREADS[0]} threads`);
      });
      expectRelativeToMax(first.output.data, ref.output, rtol, `${needWeights}: output vs reference`);
      expectRelativeToMax(first.output.data, viaAttention, rtol, `${needWeights}: output vs the attention()-built layer`);
      const refWeights = needWeights === 'per-head' ? ref.weightsPerHead : ref.weightsAverage;
      expectMaxAbsDiff(first.attnWeights!.data, refWeights, weightsAtol, `${needWeights}: weights vs reference`);
    }
  }, TIMEOUT_MS);
});

describe.each(['js', 'wasm'] as const)('the %s kernel', (kernel) => {
  let pool: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2, kernel });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('numKvHeads = numHeads gives the same bits as leaving it out (PyTorch\'s layout)', async () => {
    const c = cases[0];
    const inputs = mhaInputs({ ...c, numKvHeads: undefined, keyLengths: [96, 70] });
    expect(inputs.weights.inProjWeight.shape).toEqual([3 * E, E]);
    const { query, weights, keyPaddingMask } = inputs;
    const options = { numHeads: H, causal: true, keyPaddingMask, needWeights: 'per-head' } as const;
    const implicit = await pool.multiHeadAttention(query, query, query, weights, options);
    const explicit = await pool.multiHeadAttention(query, query, query, weights, { ...options, numKvHeads: H });
    expectSameBits(explicit.output.data, implicit.output.data, 'output');
    expectSameBits(explicit.attnWeights!.data, implicit.attnWeights!.data, 'weights');
    const ref = referenceMultiHeadAttention(query, query, query, weights, { numHeads: H, causal: true, keyPaddingMask });
    expectRelativeToMax(implicit.output.data, ref.output, FLOAT32_RTOL, 'output vs reference');
  }, TIMEOUT_MS);

  // What grouped-query attention means: an ordinary layer whose K and V weights repeat each kv head's rows
  // for the H / Hkv query heads that share it gives the same result (up to float32 rounding).
  it.each([1, 2, 4])('Hkv %i equals ordinary attention with each kv head\'s weights repeated for its query heads', async (numKvHeads) => {
    const c = { ...cases[4], numKvHeads };
    const { query, key, value, weights } = mhaInputs(c);
    const group = H / numKvHeads;
    const kvDim = numKvHeads * HEAD_DIM;
    const inProjWeight = zeros([3 * E, E]);
    const inProjBias = zeros([3 * E]);
    inProjWeight.data.set(weights.inProjWeight.data.subarray(0, E * E));
    inProjBias.data.set(weights.inProjBias!.data.subarray(0, E));
    for (const [from, to] of [[E, E], [E + kvDim, 2 * E]]) { // K rows, then V rows
      for (let h = 0; h < H; h++) {
        const src = from + Math.floor(h / group) * HEAD_DIM;
        const dst = to + h * HEAD_DIM;
        inProjWeight.data.set(weights.inProjWeight.data.subarray(src * E, (src + HEAD_DIM) * E), dst * E);
        inProjBias.data.set(weights.inProjBias!.data.subarray(src, src + HEAD_DIM), dst);
      }
    }
    const options = { numHeads: H, causal: c.causal, needWeights: 'per-head' } as const;
    const grouped = await pool.multiHeadAttention(query, key, value, weights, { ...options, numKvHeads });
    const repeated = await pool.multiHeadAttention(query, key, value, { ...weights, inProjWeight, inProjBias }, options);
    expectRelativeToMax(grouped.output.data, repeated.output.data, FLOAT32_RTOL, 'output');
    expectMaxAbsDiff(grouped.attnWeights!.data, repeated.attnWeights!.data, WEIGHTS_ATOL, 'weights');
  }, TIMEOUT_MS);

  // A batch element of the layer depends only on itself, so a big batch of copies of a tiny one (run by
  // the workers) must reproduce the tiny one's bits (run on the calling thread) in every copy.
  it('the worker path gives the calling-thread path bits (copies of a tiny batch element)', async () => {
    const tiny: GqaCase = { label: 'tiny', seed: 808, B: 1, Sq: 6, Sk: 6, E: 16, numHeads: 4, numKvHeads: 2, selfAttention: true, causal: true };
    const small = mhaInputs(tiny);
    const copies = 4096; // ~24 MFLOP: certainly split across workers
    expect(layerFlops(tiny) * 10).toBeLessThan(INLINE_MAX_FLOPS);
    expect(layerFlops({ ...tiny, B: copies }) / 10).toBeGreaterThan(INLINE_MAX_FLOPS);
    const query = zeros([copies, tiny.Sq, tiny.E]);
    for (let b = 0; b < copies; b++) query.data.set(small.query.data, b * tiny.Sq * tiny.E);
    const options = { numHeads: 4, numKvHeads: 2, causal: true, needWeights: 'per-head' } as const;
    const one = await pool.multiHeadAttention(small.query, small.query, small.query, small.weights, options);
    const many = await pool.multiHeadAttention(query, query, query, small.weights, options);
    const rowLength = tiny.Sq * tiny.E;
    const weightsLength = 4 * tiny.Sq * tiny.Sq;
    for (let b = 0; b < copies; b++) {
      expectSameBits(many.output.data.subarray(b * rowLength, (b + 1) * rowLength), one.output.data, `output of copy ${b}`);
      expectSameBits(many.attnWeights!.data.subarray(b * weightsLength, (b + 1) * weightsLength), one.attnWeights!.data, `weights of copy ${b}`);
    }
    const ref = referenceMultiHeadAttention(small.query, small.query, small.query, small.weights, { numHeads: 4, numKvHeads: 2, causal: true });
    expectRelativeToMax(one.output.data, ref.output, FLOAT32_RTOL, 'tiny layer output vs reference');
    expectMaxAbsDiff(one.attnWeights!.data, ref.weightsPerHead, WEIGHTS_ATOL, 'tiny layer weights vs reference');
  }, TIMEOUT_MS);
});

// The remote engine validates on the caller's thread and passes the options on to a pool in its host
// thread, so numKvHeads must cross the wire: the same call gives the local pool's bits.
it('a remote engine forwards numKvHeads: the same bits as a local pool', async () => {
  const c = cases[3];
  const { query, key, value, weights, keyPaddingMask } = mhaInputs(c);
  const options = { numHeads: H, numKvHeads: c.numKvHeads, keyPaddingMask, needWeights: 'per-head' } as const;
  const remote = await createRemoteEngine({ threads: 2, kernel: 'js' });
  const local = new AttentionPool({ threads: 2, kernel: 'js' });
  try {
    const a = await remote.multiHeadAttention(query, key, value, weights, options);
    const b = await local.multiHeadAttention(query, key, value, weights, options);
    expectSameBits(a.output.data, b.output.data, 'output');
    expectSameBits(a.attnWeights!.data, b.attnWeights!.data, 'weights');
    const err = await remote.multiHeadAttention(query, key, value, weights, { ...options, numKvHeads: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/options\.numKvHeads/);
  } finally {
    await Promise.all([remote.close(), local.close()]);
  }
}, TIMEOUT_MS);
