// The wasm SIMD kernel called directly on hand-built jobs (no pool): against a plain float64
// reference on awkward sizes and strided layouts, and on non-finite inputs. Bits under every tiling
// and against the js kernel: wasm-kernel-tiling.test.ts; the GEMM kernel: wasm-gemm.test.ts.

import { describe, expect, it } from 'vitest';
import { expectLseClose, expectRelativeToMax } from './support/compare.js';
import { Rng } from './support/random.js';
import { attentionInputs, attentionJob, attentionResult, attentionTiles, randomBroadcastable, type AttentionCase } from './support/wasm-jobs.js';
import { checkAgainstReference, newKernel, runAll } from './support/wasm-kernel.js';
import { referenceAttention } from './support/wasm-reference.js';

describe('wasm attention kernel against the float64 reference', () => {
  const kernel = newKernel();

  describe.each([1, 3, 7, 63, 65, 129])('D = %i', (D) => {
    it.each([1, 5, 17])('Sk = %i (Dv = D + 2, GQA 4:2, Sq = 9)', (Sk) => {
      const spec: AttentionCase = { B: 2, H: 4, Hkv: 2, Sq: 9, Sk, D, Dv: D + 2, weights: true, seed: 1000 + D * 10 + Sk };
      checkAgainstReference(kernel, attentionInputs(spec), [4], `D${D} Sk${Sk}`);
    });
  });

  it('several key blocks, Sq and Sk not multiples of anything, strided heads-interleaved layout', () => {
    const spec: AttentionCase = { B: 2, H: 3, Hkv: 3, Sq: 37, Sk: 203, D: 24, Dv: 20, layout: 'heads-interleaved', seed: 11 };
    checkAgainstReference(kernel, attentionInputs(spec), [16, 32]);
  });

  it('padded rows and offsets (reads nothing outside the views: gaps hold NaN)', () => {
    const spec: AttentionCase = { B: 1, H: 2, Hkv: 1, Sq: 21, Sk: 70, D: 13, Dv: 6, layout: 'padded', weights: true, seed: 12 };
    checkAgainstReference(kernel, attentionInputs(spec));
  });

  it.each([
    { label: 'Sq < Sk (chunked prefill)', Sq: 40, Sk: 150 },
    { label: 'Sq = Sk', Sq: 130, Sk: 130 },
    { label: 'Sq > Sk: the first Sq - Sk rows see no key (zeros, lse -Infinity)', Sq: 90, Sk: 70 },
    { label: 'Sq = 1 (decoding)', Sq: 1, Sk: 300 },
  ])('causal, $label', ({ Sq, Sk }) => {
    const spec: AttentionCase = { B: 1, H: 2, Hkv: 2, Sq, Sk, D: 16, Dv: 16, causal: true, weights: true, seed: 13 + Sq };
    checkAgainstReference(kernel, attentionInputs(spec), [16, 48]);
  });

  it.each([
    { label: 'per batch, shared by heads [B, 1, Sq, Sk]', shape: [2, 1, 25, 80] as const },
    { label: 'key padding [B, 1, 1, Sk] (row stride 0)', shape: [2, 1, 1, 80] as const },
    { label: 'per query row [1, 1, Sq, 1] (column stride 0)', shape: [1, 1, 25, 1] as const },
    { label: 'one mask for everything [1, 1, 1, 1]', shape: [1, 1, 1, 1] as const },
    { label: 'full [B, H, Sq, Sk]', shape: [2, 3, 25, 80] as const },
  ])('boolean mask broadcast $label', ({ shape }) => {
    const rng = new Rng(14 + shape[0] * 100 + shape[3]);
    const spec: AttentionCase = {
      B: 2, H: 3, Hkv: 1, Sq: 25, Sk: 80, D: 10, Dv: 9, weights: true, seed: 15,
      mask: randomBroadcastable(shape, rng, 'mask', 0.6),
    };
    checkAgainstReference(kernel, attentionInputs(spec), [16]);
  });

  it.each([
    { label: '[1, H, Sq, Sk] (batch stride 0)', shape: [1, 3, 25, 80] as const },
    { label: '[B, 1, 1, Sk] (row stride 0)', shape: [2, 1, 1, 80] as const },
    { label: '[1, 1, Sq, 1] (column stride 0)', shape: [1, 1, 25, 1] as const },
  ])('bias broadcast $label, with causal masking and a scale', ({ shape }) => {
    const rng = new Rng(16 + shape[1] * 100 + shape[2]);
    const spec: AttentionCase = {
      B: 2, H: 3, Hkv: 3, Sq: 25, Sk: 80, D: 10, Dv: 9, causal: true, scale: 0.375, weights: true, seed: 17,
      bias: randomBroadcastable(shape, rng, 'bias'),
    };
    checkAgainstReference(kernel, attentionInputs(spec), [16]);
  });

  it('mask and bias together; rows whose keys are all masked give zeros, lse -Infinity and zero weights', () => {
    const rng = new Rng(18);
    const mask = randomBroadcastable([1, 2, 20, 75], rng, 'mask', 0.5);
    for (const i of [0, 3, 17]) mask.values.fill(0, (1 * 20 + i) * 75, (1 * 20 + i + 1) * 75); // head 1, rows 0, 3, 17
    const spec: AttentionCase = {
      B: 1, H: 2, Hkv: 1, Sq: 20, Sk: 75, D: 8, Dv: 8, weights: true, seed: 19,
      mask, bias: randomBroadcastable([1, 2, 20, 75], rng, 'bias'),
    };
    const job = checkAgainstReference(kernel, attentionInputs(spec), [4]);
    const got = attentionResult(job);
    for (const i of [0, 3, 17]) {
      const row = 1 * 20 + i;
      expect(Array.from(got.out.subarray(row * 8, row * 8 + 8)), `out row ${i}`).toEqual(new Array(8).fill(0));
      expect(got.lse[row], `lse row ${i}`).toBe(-Infinity);
      expect(got.weights!.subarray(row * 75, row * 75 + 75).every((w) => w === 0), `weights row ${i}`).toBe(true);
    }
  });

  it('multi-query attention (Hkv = 1) and large logits (|s| in the hundreds)', () => {
    const inputs = attentionInputs({ B: 1, H: 4, Hkv: 1, Sq: 33, Sk: 66, D: 16, Dv: 16, seed: 20 });
    const big = { ...inputs, q: { ...inputs.q, values: inputs.q.values.map((x) => Math.fround(x * 8)) }, k: { ...inputs.k, values: inputs.k.values.map((x) => Math.fround(x * 8)) } };
    const ref = referenceAttention(big);
    const job = attentionJob(big, attentionTiles(1, 4, 33, [16]));
    runAll(kernel, job);
    // The golden README's bound for large-logit cases: float32 scores carry ~6e-8·|s| absolute error.
    expectRelativeToMax(attentionResult(job).out, ref.out, 1e-4, 'large logits out');
    expectLseClose(attentionResult(job).lse, ref.lse, 'large logits lse');
  });

  it('keys split over several K/V spans (Sk·(D + Dv) above the per-span budget), causal, with weights', () => {
    // 16 MiB per span at D = Dv = 1000 is 2048 keys: 5000 keys make three spans, and two kv heads'
    // spans (six slots of 16 MiB) overflow the 64 MiB cache, so slots are evicted and refilled.
    const spec: AttentionCase = { B: 1, H: 2, Hkv: 2, Sq: 6, Sk: 5000, D: 1000, Dv: 1000, causal: true, weights: true, seed: 21 };
    checkAgainstReference(kernel, attentionInputs(spec), [3]);
  });

  it('Sk = 0: every row attends nothing (zeros, lse -Infinity)', () => {
    const spec: AttentionCase = { B: 1, H: 2, Hkv: 1, Sq: 5, Sk: 0, D: 4, Dv: 3, weights: true, seed: 24 };
    const job = checkAgainstReference(kernel, attentionInputs(spec), [2]);
    expect(Array.from(attentionResult(job).lse)).toEqual(new Array(10).fill(-Infinity));
  });

  it('throws a TypeError naming the array for float64 jobs', () => {
    const job = attentionJob(attentionInputs({ B: 1, H: 1, Hkv: 1, Sq: 2, Sk: 2, D: 2, Dv: 2, seed: 22 }), attentionTiles(1, 1, 2));
    const float64 = { ...job, k: { ...job.k, data: new Float64Array(job.k.data) } };
    expect(() => newKernel().tiles.attention(float64, 0)).toThrow(TypeError);
    expect(() => newKernel().tiles.attention(float64, 0)).toThrow(/job\.k\.data must be a Float32Array.*got Float64Array/);
  });
});

describe('wasm attention kernel: non-finite inputs', () => {
  const kernel = newKernel();
  const spec: AttentionCase = { B: 1, H: 2, Hkv: 1, Sq: 24, Sk: 100, D: 8, Dv: 8, causal: true, seed: 23 };

  it('NaN in q makes that row (and its lse) NaN and nothing else', () => {
    const inputs = attentionInputs(spec);
    inputs.q.values[(1 * 24 + 5) * 8 + 2] = NaN; // head 1, row 5
    const job = attentionJob(inputs, attentionTiles(1, 2, 24, [8]));
    runAll(kernel, job);
    const got = attentionResult(job), ref = referenceAttention(attentionInputs(spec));
    for (let row = 0; row < 48; row++) {
      if (row === 24 + 5) {
        expect(got.out.subarray(row * 8, row * 8 + 8).every(Number.isNaN), 'poisoned row').toBe(true);
        expect(got.lse[row]).toBeNaN();
      } else {
        expectRelativeToMax(got.out.subarray(row * 8, row * 8 + 8), ref.out.subarray(row * 8, row * 8 + 8), 1e-5, `row ${row}`);
      }
    }
  });

  it('NaN and Infinity in v of keys a row cannot see (causal) leave that row untouched', () => {
    // Key 90 is in the same 64-key block as keys every late row sees; rows with i + Sk - Sq < 90
    // must not see it, even though their block is computed for their tile-mates.
    const inputs = attentionInputs(spec);
    const poisoned = attentionInputs(spec);
    poisoned.v.values.fill(NaN, 90 * 8, 91 * 8);
    poisoned.v.values[91 * 8 + 1] = Infinity;
    const job = attentionJob(poisoned, attentionTiles(1, 2, 24));
    runAll(kernel, job);
    const got = attentionResult(job), ref = referenceAttention(inputs);
    for (let h = 0; h < 2; h++) for (let i = 0; i < 24; i++) {
      if (i + 100 - 24 >= 90) continue; // rows that see key 90
      const row = h * 24 + i;
      expectRelativeToMax(got.out.subarray(row * 8, row * 8 + 8), ref.out.subarray(row * 8, row * 8 + 8), 1e-5, `row ${h},${i}`);
    }
  });
});
