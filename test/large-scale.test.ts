// Huge score scales (issue 12, item 4). Any finite scale within float32's range is valid, and the
// definition out = softmax(q·kᵀ·scale + bias)·v then has finite scores in float64 however large the
// scale: the float64 reference (test/support/reference.ts) is what is right. When the scores are
// spread far beyond 1 the softmax is the limit it tends to — all weight on the row's largest score —
// and lse is that score, which may lie beyond float32 (then ±Infinity, its float32 rounding).
// Both kernels must give it, never NaN: the wasm kernel computes in float32, where scale·log2 e
// overflows beyond |scale| ≈ 2.36e38 and the scores of ordinary data overflow long before.
// Each case runs on the calling thread (small), on the workers, and split-KV (decode), and its bits
// must not depend on the thread count.

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectLseClose, expectRelativeToMax, expectSameBits, FLOAT32_RTOL } from './support/compare.js';
import { KERNELS } from './support/kernels.js';
import { randomMask, randomTensor, Rng, type TensorLike } from './support/random.js';
import { referenceAttention, type ReferenceAttentionOptions } from './support/reference.js';

const FLOAT32_MAX = 3.4028234663852886e38;
const THREADS = [1, 2, 3] as const;

interface Size { readonly label: string; readonly B: number; readonly H: number; readonly Sq: number; readonly Sk: number; readonly D: number }
const sizes: readonly Size[] = [
  { label: 'small (calling thread)', B: 1, H: 2, Sq: 8, Sk: 24, D: 8 },
  { label: 'large (workers)', B: 1, H: 4, Sq: 128, Sk: 200, D: 32 },
  { label: 'decode (split-KV)', B: 1, H: 2, Sq: 1, Sk: 4096, D: 32 },
];

interface Case {
  readonly label: string;
  readonly scale: number;
  /** Standard deviations of q and k. */
  readonly qStd: number;
  readonly kStd: number;
  readonly causal?: boolean;
  readonly withMaskAndBias?: boolean;
}
const cases: readonly Case[] = [
  // scale·log2 e is finite in float32, the scores of unit data are not.
  { label: 'scale 2.3e38', scale: 2.3e38, qStd: 1, kStd: 1 },
  { label: 'scale −2.3e38 (every row attends to its smallest q·k)', scale: -2.3e38, qStd: 1, kStd: 1 },
  // scale·log2 e itself overflows float32.
  { label: 'scale = float32 max, causal', scale: FLOAT32_MAX, qStd: 1, kStd: 1, causal: true },
  // An ordinary huge scale with larger data: scores ~1e40, beyond float32.
  { label: 'scale 1e30, q and k ~1e5', scale: 1e30, qStd: 1e5, kStd: 1e5, withMaskAndBias: true },
  // A huge scale meeting tiny queries: scores of order 1, a soft softmax, with bias and mask.
  { label: 'scale 1e30, q ~1e-30 (soft softmax)', scale: 1e30, qStd: 1e-30, kStd: 1, causal: true, withMaskAndBias: true },
];

function inputs(size: Size, c: Case, seed: number) {
  const rng = new Rng(seed);
  const { B, H, Sq, Sk, D } = size;
  const q = randomTensor(rng, [B, H, Sq, D], 'float32', { std: c.qStd });
  const k = randomTensor(rng, [B, H, Sk, D], 'float32', { std: c.kStd });
  const v = randomTensor(rng, [B, H, Sk, D]);
  const mask: TensorLike<Uint8Array> | undefined = c.withMaskAndBias ? randomMask(rng, [Sq, Sk], 0.75) : undefined;
  const bias: TensorLike | undefined = c.withMaskAndBias ? randomTensor(rng, [Sq, Sk]) : undefined;
  return { q, k, v, options: { scale: c.scale, causal: c.causal ?? false, mask, bias } satisfies ReferenceAttentionOptions };
}

/** The float32 rounding of the reference lse: ±Infinity where it lies beyond float32. */
function expectLseMatches(lse: Float32Array, reference: Float64Array, label: string): void {
  const inRange = (n: number) => Math.abs(reference[n]) <= FLOAT32_MAX;
  expectLseClose(lse, reference, label, inRange);
  for (let n = 0; n < reference.length; n++) {
    if (!inRange(n)) expect(lse[n], `${label}[${n}] (reference ${reference[n]})`).toBe(Math.sign(reference[n]) * Infinity);
  }
}

describe.each(KERNELS)('kernel %s', (kernel) => {
  const pools = new Map(THREADS.map((t) => [t, new AttentionPool({ threads: t, kernel })]));
  afterAll(async () => {
    await Promise.all([...pools.values()].map((p) => p.close()));
  });

  describe.each(sizes)('$label', (size) => {
    it.each(cases)('$label: the reference, no NaN, the same bits for every thread count', async (c) => {
      const { q, k, v, options } = inputs(size, c, 1200 + size.Sk);
      const ref = referenceAttention(q, k, v, options);
      const { B, H, Sq } = size;
      let first: { out: Float32Array; lse: Float32Array } | undefined;
      for (const [threads, pool] of pools) {
        const lse = zeros([B, H, Sq]);
        const out = (await pool.attention(q, k, v, { ...options, lse })).data as Float32Array;
        const label = `${threads} threads`;
        expect(out.some(Number.isNaN), `${label}: NaN in out`).toBe(false);
        expectRelativeToMax(out, ref.out, FLOAT32_RTOL, `${label} out`);
        expectLseMatches(lse.data, ref.lse, `${label} lse`);
        if (!first) first = { out, lse: lse.data };
        else {
          expectSameBits(out, first.out, `${label} out vs ${THREADS[0]} thread`);
          expectSameBits(lse.data, first.lse, `${label} lse vs ${THREADS[0]} thread`);
        }
      }
    });
  });

  it('the hard-max limit by hand: a huge scale gives each row exactly v at its largest q·k', async () => {
    // Independent of the reference: with scale 2.3e38 every other key's weight is exp(−1e37) = 0.
    const size = sizes[1];
    const { q, k, v, options } = inputs(size, cases[0], 77);
    const { H, Sq, Sk, D } = size;
    const out = (await pools.get(2)!.attention(q, k, v, { scale: options.scale })).data;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Sq; i++) {
        let best = -1, bestDot = -Infinity;
        for (let j = 0; j < Sk; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q.data[((h * Sq) + i) * D + d] * k.data[((h * Sk) + j) * D + d];
          if (dot > bestDot) { bestDot = dot; best = j; }
        }
        const row = Array.from(out.subarray((h * Sq + i) * D, (h * Sq + i + 1) * D));
        expect(row, `row ${h},${i}`).toEqual(Array.from(v.data.subarray((h * Sk + best) * D, (h * Sk + best + 1) * D)));
      }
    }
  });

  it('ordinary data at an ordinary scale is unchanged by the huge-scale handling', async () => {
    const rng = new Rng(90);
    const q = randomTensor(rng, [1, 2, 64, 16]), k = randomTensor(rng, [1, 2, 96, 16]), v = randomTensor(rng, [1, 2, 96, 16]);
    const out = await pools.get(2)!.attention(q, k, v, { scale: 0.3 });
    expectAttentionClose(out.data, undefined, referenceAttention(q, k, v, { scale: 0.3 }), 'scale 0.3');
  });
});

describe('options.scale beyond float32', () => {
  const pool = new AttentionPool({ threads: 1, kernel: 'js' });
  afterAll(() => pool.close());
  const rng = new Rng(5);
  const q = randomTensor(rng, [1, 1, 2, 4]), k = randomTensor(rng, [1, 1, 3, 4]), v = randomTensor(rng, [1, 1, 3, 4]);

  it.each([3.5e38, -3.5e38, 1e300])('scale %d is a RangeError naming options.scale and the bound', async (scale) => {
    const err = await caught(() => pool.attention(q, k, v, { scale }));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/options\.scale/);
    expect((err as Error).message).toMatch(/float32/);
    expect((err as Error).message).toContain(String(scale));
  });

  it('the float32 maximum itself is accepted', async () => {
    const out = await pool.attention(q, k, v, { scale: -FLOAT32_MAX });
    expect(out.data.every(Number.isFinite)).toBe(true);
  });
});
