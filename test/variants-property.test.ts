// Property tests of the attention variants (causal 'top-left' / 'bottom-right', softcap, ALiBi, sinks)
// in random combinations with each other and with masks, bias, GQA, sliding windows, forced split-KV
// and float64, against the plain float64 reference of support/variant-reference.ts, on both kernels;
// 1, 2 and 3 threads must give the same bits. Then the same over KvCaches (plain and window caches,
// whose dropped positions ALiBi must count), and the layer with the weights (a sink takes its share,
// so a row's weights sum to less than 1).

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { AttentionPool, alibiSlopes, createRemoteEngine, zeros, type AttentionOptions, type KernelName, type KvCache, type Tensor } from '../dist/src/index.js';
import { splitKvOption } from '../dist/testkit/hooks-option.js';
import { expectAttentionClose, expectRelativeToMax, expectSameBits, WEIGHTS_ATOL, expectMaxAbsDiff } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { attentionInputs, mhaInputs, randomTensor, Rng, type TensorLike } from './support/random.js';
import { linear, mergeHeads, splitHeads } from './support/reference.js';
import { variantReference, type VariantReferenceOptions } from './support/variant-reference.js';

const TIMEOUT_MS = 300_000;
const THREADS = [1, 2, 3] as const;
type Causal = boolean | 'bottom-right' | 'top-left';

interface Combo {
  readonly seed: number;
  readonly B: number; readonly H: number; readonly groups: number;
  readonly Sq: number; readonly Sk: number; readonly D: number; readonly Dv: number;
  readonly causal: Causal; readonly window?: number;
  readonly softcap?: number; readonly alibi?: 'paper' | 'random'; readonly sinks: boolean;
  readonly mask?: 'full' | 'heads' | 'keys'; readonly bias?: 'full' | 'rows';
  readonly split: boolean; readonly float64: boolean;
}

const combo: fc.Arbitrary<Combo> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  B: fc.integer({ min: 1, max: 2 }),
  H: fc.constantFrom(1, 2, 4, 6),
  groups: fc.constantFrom(1, 2),
  Sq: fc.integer({ min: 1, max: 70 }),
  Sk: fc.integer({ min: 1, max: 300 }),
  D: fc.integer({ min: 1, max: 40 }),
  Dv: fc.integer({ min: 1, max: 24 }),
  causal: fc.constantFrom<Causal>(false, true, 'bottom-right', 'top-left'),
  window: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
  softcap: fc.option(fc.double({ min: 0.3, max: 30, noNaN: true }), { nil: undefined }),
  alibi: fc.option(fc.constantFrom<'paper' | 'random'>('paper', 'random'), { nil: undefined }),
  sinks: fc.boolean(),
  mask: fc.option(fc.constantFrom<'full' | 'heads' | 'keys'>('full', 'heads', 'keys'), { nil: undefined }),
  bias: fc.option(fc.constantFrom<'full' | 'rows'>('full', 'rows'), { nil: undefined }),
  split: fc.boolean(),
  float64: fc.boolean(),
}).map((c) => ({
  ...c,
  // A window needs causal; GQA needs a head count the groups divide.
  window: c.causal === false ? undefined : c.window,
  groups: c.H % c.groups === 0 ? c.groups : 1,
}));

interface Built {
  readonly q: TensorLike; readonly k: TensorLike; readonly v: TensorLike;
  readonly options: AttentionOptions<Float32Array | Float64Array>;
  readonly reference: VariantReferenceOptions;
}

function build(c: Combo): Built {
  const Hkv = c.H / c.groups;
  const maskShape = { full: [c.B, c.H, c.Sq, c.Sk], heads: [c.B, 1, c.Sq, c.Sk], keys: [c.Sk] };
  const biasShape = { full: [c.B, c.H, c.Sq, c.Sk], rows: [c.Sq, 1] };
  const inputs = attentionInputs({
    seed: c.seed, B: c.B, H: c.H, Hkv, Sq: c.Sq, Sk: c.Sk, D: c.D, Dv: c.Dv, dtype: c.float64 ? 'float64' : 'float32',
    maskShape: c.mask && maskShape[c.mask], biasShape: c.bias && biasShape[c.bias],
  });
  const rng = new Rng(c.seed + 1);
  const slopes = c.alibi === 'paper' ? alibiSlopes(c.H) : c.alibi ? Float64Array.from({ length: c.H }, () => 0.6 * rng.uniform() - 0.3) : undefined;
  const sinks = c.sinks ? randomTensor(rng, [c.H], c.float64 ? 'float64' : 'float32') : undefined;
  const common = { causal: c.causal, window: c.window, softcap: c.softcap, mask: inputs.mask, bias: inputs.bias };
  return {
    q: inputs.q, k: inputs.k, v: inputs.v,
    options: { ...common, alibiSlopes: slopes, sinks: sinks as Tensor<Float32Array> | undefined } as AttentionOptions<Float32Array | Float64Array>,
    reference: { ...common, alibiSlopes: slopes, sinks: sinks?.data },
  };
}

const pools: AttentionPool[] = [];
afterAll(async () => { await Promise.all(pools.map((p) => p.close())); });

function poolsFor(kernel: KernelName): { whole: AttentionPool[]; split: AttentionPool[] } {
  const make = (split: boolean) => THREADS.map((threads) => {
    const pool = new AttentionPool({ threads, ...kernelOptions(kernel), ...splitKvOption(split ? { keysPerSplit: 64 } : 'off') });
    pools.push(pool);
    return pool;
  });
  return { whole: make(false), split: make(true) };
}

/** out and lse of one call on each pool; asserts they have the same bits. */
async function sameBitsOnEach(byThreads: readonly AttentionPool[], label: string,
  call: (pool: AttentionPool, lse: Tensor<Float32Array | Float64Array>) => Promise<Tensor<Float32Array | Float64Array>>,
  lseShape: readonly number[], float64: boolean): Promise<{ out: Float32Array | Float64Array; lse: Float32Array | Float64Array }> {
  const results: { out: Float32Array | Float64Array; lse: Float32Array | Float64Array }[] = [];
  for (const pool of byThreads) {
    const lse = zeros(lseShape, float64 ? 'float64' : 'float32') as Tensor<Float32Array | Float64Array>;
    const out = await call(pool, lse);
    results.push({ out: out.data, lse: lse.data });
  }
  for (let t = 1; t < results.length; t++) {
    expectSameBits(results[t].out, results[0].out, `${label}: out, ${THREADS[t]} threads vs 1`);
    expectSameBits(results[t].lse, results[0].lse, `${label}: lse, ${THREADS[t]} threads vs 1`);
  }
  return results[0];
}

// Shapes above the 2 MFLOP inline threshold, so the workers share their tiles (and key blocks are
// skipped under both alignments), with every variant at once.
const LARGE: readonly Combo[] = [
  { seed: 11, B: 1, H: 4, groups: 2, Sq: 150, Sk: 400, D: 32, Dv: 32, causal: 'top-left', softcap: 5, alibi: 'paper', sinks: true, split: false, float64: false },
  { seed: 12, B: 2, H: 3, groups: 3, Sq: 130, Sk: 90, D: 24, Dv: 16, causal: 'top-left', window: 40, softcap: 2, alibi: 'random', sinks: true, mask: 'heads', bias: 'rows', split: false, float64: false },
  { seed: 13, B: 1, H: 2, groups: 1, Sq: 3, Sk: 1500, D: 64, Dv: 48, causal: true, softcap: 10, alibi: 'paper', sinks: true, split: true, float64: false },
  { seed: 14, B: 1, H: 6, groups: 2, Sq: 90, Sk: 700, D: 16, Dv: 16, causal: 'bottom-right', window: 300, alibi: 'paper', sinks: true, split: true, float64: true },
];

describe.each(KERNELS)('%s kernel', (kernel) => {
  const { whole, split } = poolsFor(kernel);

  const check = async (c: Combo) => {
    const b = build(c);
    const ref = variantReference(b.q, b.k, b.v, b.reference);
    const label = JSON.stringify(c);
    const result = await sameBitsOnEach(c.split ? split : whole, label,
      (pool, lse) => pool.attention(b.q as Tensor, b.k as Tensor, b.v as Tensor, { ...b.options, lse } as AttentionOptions),
      [c.B, c.H, c.Sq], c.float64);
    expectAttentionClose(result.out, result.lse, ref, label);
  };

  it('random combinations of the variants with masks, bias, GQA, windows, split-KV and float64 match the reference', async () => {
    await fc.assert(fc.asyncProperty(combo, check), { numRuns: 60, seed: 16_001 });
  }, TIMEOUT_MS);

  it.each(LARGE)('on the workers: %j', check, TIMEOUT_MS);

  it('KvCache calls (plain and window caches, appended in chunks) match the reference over the positions held', async () => {
    const cacheCombo = fc.record({
      seed: fc.integer({ min: 1, max: 2 ** 30 }), H: fc.constantFrom(2, 4), Sq: fc.integer({ min: 1, max: 12 }),
      N: fc.integer({ min: 1, max: 260 }), chunk: fc.integer({ min: 1, max: 90 }),
      window: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), sinkTokens: fc.integer({ min: 0, max: 5 }),
      causal: fc.constantFrom<Causal>(true, 'top-left', false), softcap: fc.option(fc.double({ min: 0.5, max: 20, noNaN: true }), { nil: undefined }),
      alibi: fc.boolean(), sinks: fc.boolean(), split: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(cacheCombo, async (c) => {
      const D = 16, Hkv = c.H / 2;
      const rng = new Rng(c.seed);
      const k = randomTensor(rng, [1, Hkv, c.N, D]) as TensorLike<Float32Array>;
      const v = randomTensor(rng, [1, Hkv, c.N, D]) as TensorLike<Float32Array>;
      const q = randomTensor(rng, [1, c.H, c.Sq, D]) as TensorLike<Float32Array>;
      const slopes = c.alibi ? alibiSlopes(c.H) : undefined;
      const sinks = c.sinks ? randomTensor(rng, [c.H]) as Tensor<Float32Array> : undefined;
      // The positions a cache holds: all N, or for a window cache [0, s) and the latest w.
      const held = Array.from({ length: c.N }, (_, p) => p)
        .filter((p) => c.window === undefined || p < c.sinkTokens || p >= c.N - c.window);
      const options = { causal: c.causal, softcap: c.softcap, alibiSlopes: slopes, sinks };
      const label = JSON.stringify(c);
      const result = await sameBitsOnEach(c.split ? split : whole, label, async (pool, lse) => {
        const cache = pool.createKvCache(c.window === undefined
          ? { batch: 1, kvHeads: Hkv, headDim: D, capacity: c.N }
          : { batch: 1, kvHeads: Hkv, headDim: D, window: c.window, sinkTokens: c.sinkTokens });
        for (let p = 0; p < c.N; p += c.chunk) cache.append(positions(k, p, Math.min(c.N, p + c.chunk)), positions(v, p, Math.min(c.N, p + c.chunk)));
        return pool.attention(q as Tensor, cache as KvCache<Float32Array>, { ...options, lse } as AttentionOptions);
      }, [1, c.H, c.Sq], false);
      const ref = variantReference(q, gather(k, held), gather(v, held), {
        ...options, sinks: sinks?.data, keyPositions: held, lastPosition: c.N - 1,
      });
      expectAttentionClose(result.out, result.lse, ref, label);
    }), { numRuns: 30, seed: 16_002 });
  }, TIMEOUT_MS);

  it('the remote engine passes every variant through: the same bits as the pool', async () => {
    const c = LARGE[1];
    const b = build(c);
    const engine = await createRemoteEngine({ threads: 2, ...kernelOptions(kernel) });
    try {
      const options = { ...b.options, causal: 'top-left' } as AttentionOptions;
      const remote = await engine.attention(b.q as Tensor, b.k as Tensor, b.v as Tensor, options);
      const local = await whole[1].attention(b.q as Tensor, b.k as Tensor, b.v as Tensor, options);
      expectSameBits(remote.data, local.data, 'remote vs pool');
    } finally {
      await engine.close();
    }
  }, TIMEOUT_MS);

  it('the layer takes the variants; with sinks its per-head weights match the reference and sum to less than 1', async () => {
    const E = 32, H = 4, B = 2, Sq = 9, Sk = 13;
    const inputs = mhaInputs({ seed: 16_003, B, Sq, Sk, E, selfAttention: false });
    const rng = new Rng(16_004);
    const sinks = randomTensor(rng, [H]) as Tensor<Float32Array>;
    const options = { numHeads: H, causal: 'top-left' as const, softcap: 3, alibiSlopes: alibiSlopes(H), sinks, needWeights: 'per-head' as const };
    const { output, attnWeights } = await whole[1].multiHeadAttention(inputs.query as Tensor, inputs.key as Tensor, inputs.value as Tensor,
      inputs.weights as never, options);
    // The reference layer: float64 projections, the variant reference per head, the out-projection.
    const hd = E / H, w = inputs.weights;
    const Q = splitHeads(linear(inputs.query.data, B * Sq, E, w.inProjWeight, w.inProjBias, 0, E), B, Sq, H, hd);
    const K = splitHeads(linear(inputs.key.data, B * Sk, E, w.inProjWeight, w.inProjBias, E, E), B, Sk, H, hd);
    const V = splitHeads(linear(inputs.value.data, B * Sk, E, w.inProjWeight, w.inProjBias, 2 * E, E), B, Sk, H, hd);
    const att = variantReference(Q, K, V, { causal: 'top-left', softcap: 3, alibiSlopes: options.alibiSlopes, sinks: sinks.data });
    const expected = linear(mergeHeads(att.out, B, Sq, H, hd), B * Sq, E, w.outProjWeight, w.outProjBias, 0, E);
    expectRelativeToMax(output.data, expected, 1e-5, 'layer output');
    expectMaxAbsDiff(attnWeights!.data, att.weights, WEIGHTS_ATOL, 'layer weights');
    for (let row = 0; row < B * H * Sq; row++) {
      let sum = 0;
      for (let j = 0; j < Sk; j++) sum += attnWeights!.data[row * Sk + j];
      expect(sum, `row ${row}: the sink's share is missing`).toBeLessThan(1 - 1e-3);
    }
  }, TIMEOUT_MS);
});

/** Positions [from, to) of a [B, Hkv, N, C] tensor. */
function positions(t: TensorLike<Float32Array>, from: number, to: number): Tensor<Float32Array> {
  return gather(t, Array.from({ length: to - from }, (_, n) => from + n)) as Tensor<Float32Array>;
}

/** The given positions of a [B, Hkv, N, C] tensor, in that order. */
function gather(t: TensorLike<Float32Array>, at: readonly number[]): TensorLike<Float32Array> {
  const [B, Hkv, N, C] = t.shape;
  const data = new Float32Array(B * Hkv * at.length * C);
  for (let bh = 0; bh < B * Hkv; bh++) at.forEach((p, n) => data.set(t.data.subarray((bh * N + p) * C, (bh * N + p + 1) * C), (bh * at.length + n) * C));
  return { data, shape: [B, Hkv, at.length, C] };
}
