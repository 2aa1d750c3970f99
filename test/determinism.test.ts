// Bit-for-bit determinism: attnpool promises identical results (per kernel) whatever the thread count,
// and the same numerics on the calling thread (small problems) as in the workers (large ones).
// Sizes are chosen so the work is really split: B1 H4 S300 D32 is ~46 MFLOP of attention, the MHA
// layer with S=200 E=64 adds ~10 MFLOP of projections, both far above any sensible inline threshold.
// Each result is also compared with the float64 reference, so "identical" cannot mean "identically wrong".

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, INLINE_MAX_FLOPS, zeros } from '../dist/src/index.js';
import { expectAttentionClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { KERNELS, kernelOptions, THREAD_COUNTS } from './support/kernels.js';
import { attentionInputs, mhaInputs, type AttentionSpec, type MhaCase, type MhaSpec } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';

const TIMEOUT_MS = 60_000;

interface AttentionCase extends AttentionSpec {
  readonly label: string;
  readonly causal: boolean;
}

const attentionCases: readonly AttentionCase[] = [
  { label: 'B1 H4 S300 D32', seed: 11, B: 1, H: 4, Hkv: 4, Sq: 300, Sk: 300, D: 32, Dv: 32, causal: false },
  { label: 'B1 H4 S300 D32 causal', seed: 12, B: 1, H: 4, Hkv: 4, Sq: 300, Sk: 300, D: 32, Dv: 32, causal: true },
  { label: 'GQA H8/Hkv2, Sq150 Sk170, D24 Dv20, causal, mask [B,1,Sq,Sk] and bias [1,H,Sq,Sk]', seed: 13, B: 2, H: 8, Hkv: 2, Sq: 150, Sk: 170, D: 24, Dv: 20, causal: true, maskShape: [2, 1, 150, 170], biasShape: [1, 8, 150, 170] },
  { label: 'MQA H6/Hkv1, Sq 257 Sk 131, mask [Sq,Sk]', seed: 14, B: 1, H: 6, Hkv: 1, Sq: 257, Sk: 131, D: 16, Dv: 40, causal: false, maskShape: [257, 131] },
  { label: 'float64, B2 H3 S160 D24 causal', seed: 15, B: 2, H: 3, Hkv: 3, Sq: 160, Sk: 160, D: 24, Dv: 24, causal: true, dtype: 'float64' },
];

const mhaCases: readonly MhaCase[] = [
  { label: 'self S200 E64 H4', seed: 21, B: 1, Sq: 200, Sk: 200, E: 64, numHeads: 4, selfAttention: true, causal: false },
  { label: 'self S200 E64 H4 causal, key padding', seed: 22, B: 2, Sq: 200, Sk: 200, E: 64, numHeads: 4, selfAttention: true, causal: true, keyLengths: [200, 137] },
  { label: 'cross Sq120 Sk230 E48 H6, no biases', seed: 23, B: 1, Sq: 120, Sk: 230, E: 48, numHeads: 6, selfAttention: false, causal: false, withBias: false },
];

describe.each(KERNELS)('kernel %s', (kernel) => {
  const pools = new Map<number, AttentionPool>();
  beforeAll(() => {
    for (const threads of THREAD_COUNTS) pools.set(threads, new AttentionPool({ threads, ...kernelOptions(kernel) }));
  });
  afterAll(async () => {
    await Promise.all([...pools.values()].map((p) => p.close()));
  });

  it('each pool reports the thread count it was given', () => {
    for (const [threads, pool] of pools) expect(pool.threads).toBe(threads);
  });

  async function runAttention(pool: AttentionPool, c: AttentionCase, inputs = attentionInputs(c)) {
    const lse = zeros([c.B, c.H, c.Sq], c.dtype ?? 'float32');
    const out = await pool.attention(inputs.q, inputs.k, inputs.v, {
      causal: c.causal,
      ...(inputs.mask && { mask: inputs.mask }),
      ...(inputs.bias && { bias: inputs.bias }),
      lse,
    });
    return { out, lse };
  }

  type AttentionResult = Awaited<ReturnType<typeof runAttention>>;

  it.each(attentionCases)('attention $label: out and lse identical for every thread count', async (c) => {
    const inputs = attentionInputs(c);
    const results: AttentionResult[] = [];
    for (const threads of THREAD_COUNTS) results.push(await runAttention(pools.get(threads)!, c, inputs));
    results.forEach((r, n) => {
      expectSameBits(r.out.data, results[0].out.data, `out, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
      expectSameBits(r.lse.data, results[0].lse.data, `lse, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
    });
    const ref = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: c.causal, mask: inputs.mask, bias: inputs.bias });
    expectAttentionClose(results[0].out.data, results[0].lse.data, ref, c.label);
  }, TIMEOUT_MS);

  async function runMha(pool: AttentionPool, c: MhaCase, inputs: ReturnType<typeof mhaInputs>, needWeights: 'per-head' | 'average') {
    return pool.multiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, {
      numHeads: c.numHeads,
      causal: c.causal,
      ...(inputs.keyPaddingMask && { keyPaddingMask: inputs.keyPaddingMask }),
      needWeights,
    });
  }

  it.each(mhaCases)('multiHeadAttention $label: output and weights identical for every thread count', async (c) => {
    const inputs = mhaInputs(c);
    const ref = referenceMultiHeadAttention(inputs.query, inputs.key, inputs.value, inputs.weights, { numHeads: c.numHeads, causal: c.causal, keyPaddingMask: inputs.keyPaddingMask });
    for (const needWeights of ['per-head', 'average'] as const) {
      const results: Awaited<ReturnType<typeof runMha>>[] = [];
      for (const threads of THREAD_COUNTS) results.push(await runMha(pools.get(threads)!, c, inputs, needWeights));
      results.forEach((r, n) => {
        expectSameBits(r.output.data, results[0].output.data, `${needWeights}: output, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
        expectSameBits(r.attnWeights!.data, results[0].attnWeights!.data, `${needWeights}: weights, ${THREAD_COUNTS[n]} vs ${THREAD_COUNTS[0]} threads`);
      });
      expectRelativeToMax(results[0].output.data, ref.output, FLOAT32_RTOL, `${needWeights}: output vs reference`);
      const refWeights = needWeights === 'per-head' ? ref.weightsPerHead : ref.weightsAverage;
      expectMaxAbsDiff(results[0].attnWeights!.data, refWeights, WEIGHTS_ATOL, `${needWeights}: weights vs reference`);
    }
  }, TIMEOUT_MS);

  it('concurrent calls on one pool give the same bits as the same calls one at a time', async () => {
    const pool = pools.get(3)!;
    const sequential: AttentionResult[] = [];
    for (const c of attentionCases) sequential.push(await runAttention(pool, c));
    const concurrent = await Promise.all(attentionCases.map((c) => runAttention(pool, c)));
    concurrent.forEach((r, n) => {
      expectSameBits(r.out.data, sequential[n].out.data, `${attentionCases[n].label}: out`);
      expectSameBits(r.lse.data, sequential[n].lse.data, `${attentionCases[n].label}: lse`);
    });
  }, TIMEOUT_MS);

  // The worker path against the calling-thread path. Rows of non-causal attention are independent (a
  // row's result depends only on its own query row and the keys/values of its head), and so are the
  // batch elements of an MHA layer, so a big problem made of copies of a tiny one must reproduce the
  // tiny one's bits in every copy: the tiny problem runs on the calling thread, the big one in workers.
  // (attnpool exports its inline threshold; the sizes below sit a factor 10 or more on either side of
  // it whatever the exact flop formula, so the two paths really are both taken.)
  const attentionFlops = (B: number, H: number, Sq: number, Sk: number, D: number): number => 4 * B * H * Sq * Sk * D;
  it('attention: the worker path gives the calling-thread path bits (copies of a tiny problem)', async () => {
    const tiny: AttentionSpec = { seed: 31, B: 1, H: 1, Hkv: 1, Sq: 4, Sk: 64, D: 16, Dv: 16 };
    const small = attentionInputs(tiny);
    const B = 2, H = 8, Sq = 1024; // 67 MFLOP: certainly split across workers
    expect(attentionFlops(1, 1, tiny.Sq, tiny.Sk, tiny.D) * 10).toBeLessThan(INLINE_MAX_FLOPS);
    expect(attentionFlops(B, H, Sq, tiny.Sk, tiny.D) / 10).toBeGreaterThan(INLINE_MAX_FLOPS);
    const q = zeros([B, H, Sq, tiny.D]);
    const k = zeros([B, H, tiny.Sk, tiny.D]);
    const v = zeros([B, H, tiny.Sk, tiny.Dv]);
    for (let bh = 0; bh < B * H; bh++) {
      for (let i = 0; i < Sq; i += tiny.Sq) q.data.set(small.q.data, (bh * Sq + i) * tiny.D);
      k.data.set(small.k.data, bh * tiny.Sk * tiny.D);
      v.data.set(small.v.data, bh * tiny.Sk * tiny.Dv);
    }
    for (const threads of [1, 2]) {
      const pool = pools.get(threads)!;
      const smallLse = zeros([1, 1, tiny.Sq]);
      const smallOut = await pool.attention(small.q, small.k, small.v, { lse: smallLse });
      const bigLse = zeros([B, H, Sq]);
      const bigOut = await pool.attention(q, k, v, { lse: bigLse });
      for (let row = 0; row < B * H * Sq; row += tiny.Sq) {
        expectSameBits(bigOut.data.subarray(row * tiny.Dv, (row + tiny.Sq) * tiny.Dv), smallOut.data, `${threads} threads: out rows ${row}..${row + tiny.Sq - 1}`);
        expectSameBits(bigLse.data.subarray(row, row + tiny.Sq), smallLse.data, `${threads} threads: lse rows ${row}..`);
      }
      expectAttentionClose(smallOut.data, smallLse.data, referenceAttention(small.q, small.k, small.v), 'tiny problem');
    }
  }, TIMEOUT_MS);

  it('multiHeadAttention: the worker path gives the calling-thread path bits (copies of a tiny batch element)', async () => {
    const tiny: MhaSpec = { seed: 32, B: 1, Sq: 8, Sk: 8, E: 32, selfAttention: true };
    const small = mhaInputs(tiny);
    const copies = 512; // ~35 MFLOP of projections and attention: certainly split across workers
    const layerFlops = (B: number): number => 2 * B * tiny.Sq * 4 * tiny.E * tiny.E + attentionFlops(B, 1, tiny.Sq, tiny.Sq, tiny.E);
    expect(layerFlops(1) * 10).toBeLessThan(INLINE_MAX_FLOPS);
    expect(layerFlops(copies) / 10).toBeGreaterThan(INLINE_MAX_FLOPS);
    const query = zeros([copies, tiny.Sq, tiny.E]);
    for (let b = 0; b < copies; b++) query.data.set(small.query.data, b * tiny.Sq * tiny.E);
    for (const threads of [1, 2]) {
      const pool = pools.get(threads)!;
      const options = { numHeads: 4, causal: true, needWeights: 'per-head' } as const;
      const one = await pool.multiHeadAttention(small.query, small.query, small.query, small.weights, options);
      const many = await pool.multiHeadAttention(query, query, query, small.weights, options);
      const rowLength = tiny.Sq * tiny.E;
      const weightsLength = 4 * tiny.Sq * tiny.Sq;
      for (let b = 0; b < copies; b++) {
        expectSameBits(many.output.data.subarray(b * rowLength, (b + 1) * rowLength), one.output.data, `${threads} threads: output of copy ${b}`);
        expectSameBits(many.attnWeights!.data.subarray(b * weightsLength, (b + 1) * weightsLength), one.attnWeights!.data, `${threads} threads: weights of copy ${b}`);
      }
      const ref = referenceMultiHeadAttention(small.query, small.query, small.query, small.weights, { numHeads: 4, causal: true });
      expectRelativeToMax(one.output.data, ref.output, FLOAT32_RTOL, 'tiny layer output');
    }
  }, TIMEOUT_MS);
});
