// The wasm SIMD kernel called directly on hand-built jobs (no pool): bit for bit against itself under
// every way of cutting a head's rows into tiles, on fresh and reused kernels, across its softmax paths,
// decode against prefill, interleaved with GEMM jobs; and against the js kernel.

import { describe, expect, it } from 'vitest';
import { jsKernel } from '../dist/workers/kernels/js/js-kernel.js';
import { tileCount } from '../dist/workers/kernels/jobs.js';
import { expectLseClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { Rng } from './support/random.js';
import {
  attentionInputs, attentionJob, attentionResult, attentionTiles, gemmJob, gemmPart, gemmTiles, randomBroadcastable,
  type AttentionCase, type AttentionInputs, type Logical,
} from './support/wasm-jobs.js';
import { newKernel, runAll } from './support/wasm-kernel.js';

/** Rows [from, to) of every (b, h) of a dense logical tensor. */
function rowsOf(t: Logical, from: number, to: number): Logical {
  const { B, H, rows, cols } = t.dims;
  const values = new Float64Array(B * H * (to - from) * cols);
  for (let bh = 0; bh < B * H; bh++) values.set(t.values.subarray((bh * rows + from) * cols, (bh * rows + to) * cols), bh * (to - from) * cols);
  return { dims: { B, H, rows: to - from, cols }, values };
}

describe('wasm attention kernel: bits do not depend on the tiling', () => {
  const rng = new Rng(30);
  const cases: ReadonlyArray<{ label: string; spec: AttentionCase }> = [
    { label: 'plain', spec: { B: 1, H: 2, Hkv: 1, Sq: 150, Sk: 200, D: 20, Dv: 12, seed: 31 } },
    { label: 'causal Sq < Sk with mask, bias and weights', spec: {
      B: 2, H: 2, Hkv: 2, Sq: 150, Sk: 230, D: 9, Dv: 7, causal: true, weights: true, seed: 32,
      mask: randomBroadcastable([2, 1, 150, 230], rng, 'mask', 0.8), bias: randomBroadcastable([1, 2, 150, 230], rng, 'bias'),
    } },
    { label: 'causal Sq > Sk', spec: { B: 1, H: 3, Hkv: 1, Sq: 150, Sk: 130, D: 64, Dv: 64, causal: true, weights: true, seed: 33 } },
  ];
  const tilings: readonly (readonly number[])[] = [
    [16, 32, 48, 64, 80, 96, 112, 128, 144],
    [1, 7, 64, 65, 66, 99, 149],
    [3, 5, 8, 13, 21, 34, 55, 89, 144],
    [75],
  ];

  it.each(cases)('$label: one tile per head vs several cuttings, fresh and reused kernels', ({ spec }) => {
    const inputs = attentionInputs(spec);
    const whole = attentionJob(inputs, attentionTiles(spec.B, spec.H, spec.Sq));
    runAll(newKernel(), whole);
    const reused = newKernel();
    for (const cuts of tilings) {
      const job = attentionJob(inputs, attentionTiles(spec.B, spec.H, spec.Sq, cuts));
      // Tiles in reverse order: a kernel's caches must not make a tile depend on the ones before it.
      for (let t = tileCount(job) - 1; t >= 0; t--) reused.tiles.attention(job, t);
      expectSameBits(job.out.data as Float32Array, whole.out.data as Float32Array, `out, cuts ${cuts}`);
      expectSameBits(job.lse!.data as Float32Array, whole.lse!.data as Float32Array, `lse, cuts ${cuts}`);
      if (spec.weights) expectSameBits(job.weights!.data as Float32Array, whole.weights!.data as Float32Array, `weights, cuts ${cuts}`);
    }
  });

  // Blocks that every row of a 4-row group sees whole, with no mask, bias or weights, go through the
  // kernel's 4-row softmax; an all-true mask or a request for weights sends the same rows through the
  // row-by-row softmax. Both must produce the same bits.
  it.each([
    { label: 'non-causal', spec: { B: 1, H: 2, Hkv: 1, Sq: 37, Sk: 300, D: 64, Dv: 64, seed: 35 } },
    { label: 'causal', spec: { B: 1, H: 2, Hkv: 2, Sq: 200, Sk: 200, D: 24, Dv: 40, causal: true, seed: 36 } },
  ])('$label: the 4-row softmax and the row-by-row softmax give the same bits', ({ spec }) => {
    const inputs = attentionInputs(spec);
    const fast = attentionJob(inputs, attentionTiles(spec.B, spec.H, spec.Sq));
    runAll(newKernel(), fast);
    const allTrue = randomBroadcastable([1, 1, 1, spec.Sk], new Rng(37), 'mask', 1);
    const withMask = attentionJob(attentionInputs({ ...spec, mask: allTrue }), attentionTiles(spec.B, spec.H, spec.Sq));
    const withWeights = attentionJob(attentionInputs({ ...spec, weights: true }), attentionTiles(spec.B, spec.H, spec.Sq));
    for (const [label, job] of [['all-true mask', withMask], ['weights', withWeights]] as const) {
      runAll(newKernel(), job);
      expectSameBits(job.out.data as Float32Array, fast.out.data as Float32Array, `${label}: out`);
      expectSameBits(job.lse!.data as Float32Array, fast.lse!.data as Float32Array, `${label}: lse`);
    }
  });

  // A decode step (one query row over the keys so far) runs the kernel's one-row paths (dot1Panels,
  // the row softmax, pv1); the same row inside a causal prefill runs the 4-row ones. Every row gets
  // the same float32 operations either way, so incremental decoding reproduces the prefill's bits.
  it.each([
    { label: 'D 64, several key blocks', spec: { B: 1, H: 2, Hkv: 1, Sq: 300, Sk: 300, D: 64, Dv: 64, causal: true, seed: 38 } },
    { label: 'D 20, Dv 36', spec: { B: 2, H: 1, Hkv: 1, Sq: 150, Sk: 150, D: 20, Dv: 36, causal: true, seed: 39 } },
  ])('$label: a decode step gives the bits of the same row in a causal prefill', ({ spec }) => {
    const inputs = attentionInputs(spec);
    const prefill = attentionJob(inputs, attentionTiles(spec.B, spec.H, spec.Sq, [64, 128]));
    runAll(newKernel(), prefill);
    const full = attentionResult(prefill);
    const kernel = newKernel();
    for (const i of [0, 1, 62, 63, 64, 65, 129, spec.Sq - 1]) {
      const step: AttentionInputs = {
        spec: { ...spec, Sq: 1, Sk: i + 1 }, scale: inputs.scale,
        q: rowsOf(inputs.q, i, i + 1), k: rowsOf(inputs.k, 0, i + 1), v: rowsOf(inputs.v, 0, i + 1),
      };
      const job = attentionJob(step, attentionTiles(spec.B, spec.H, 1));
      runAll(kernel, job);
      const got = attentionResult(job);
      for (let bh = 0; bh < spec.B * spec.H; bh++) {
        const expected = full.out.subarray((bh * spec.Sq + i) * spec.Dv, (bh * spec.Sq + i + 1) * spec.Dv);
        expectSameBits(Float32Array.from(got.out.subarray(bh * spec.Dv, (bh + 1) * spec.Dv)), Float32Array.from(expected), `row ${i}, head ${bh}: out`);
        expect(Object.is(got.lse[bh], full.lse[bh * spec.Sq + i]), `row ${i}, head ${bh}: lse ${got.lse[bh]} vs ${full.lse[bh * spec.Sq + i]}`).toBe(true);
      }
    }
  });

  it('attention and GEMM jobs interleaved on one kernel give the same bits as fresh kernels', () => {
    const inputs = attentionInputs(cases[1].spec);
    const fresh = attentionJob(inputs, attentionTiles(2, 2, 150, [64]));
    runAll(newKernel(), fresh);
    const { part } = gemmPart({ M: 20, N: 30, K: 40, bias: true, seed: 34 });
    const gemm = gemmJob([part], gemmTiles(0, 20, 30, [], []));
    const kernel = newKernel();
    const job = attentionJob(inputs, attentionTiles(2, 2, 150, [64]));
    for (let t = 0; t < tileCount(job); t++) {
      kernel.tiles.attention(job, t);
      kernel.tiles.gemm(gemm, 0); // lays the kernel's memory out for the GEMM between attention tiles
    }
    expectSameBits(job.out.data as Float32Array, fresh.out.data as Float32Array, 'out');
    expectSameBits(job.weights!.data as Float32Array, fresh.weights!.data as Float32Array, 'weights');
  });
});

describe('wasm attention kernel against the js kernel', () => {
  const kernel = newKernel();
  const rng = new Rng(40);
  const specs: AttentionCase[] = Array.from({ length: 12 }, (_, n) => {
    const Hkv = 1 + Math.floor(rng.uniform() * 2);
    const Sq = 1 + Math.floor(rng.uniform() * 90), Sk = 1 + Math.floor(rng.uniform() * 200);
    const spec: AttentionCase = {
      B: 1 + Math.floor(rng.uniform() * 2), H: Hkv * (1 + Math.floor(rng.uniform() * 3)), Hkv, Sq, Sk,
      D: 1 + Math.floor(rng.uniform() * 80), Dv: 1 + Math.floor(rng.uniform() * 80),
      causal: rng.uniform() < 0.5, weights: rng.uniform() < 0.5, seed: 41 + n,
      layout: (['dense', 'heads-interleaved', 'padded'] as const)[n % 3],
    };
    return rng.uniform() < 0.5 ? { ...spec, mask: randomBroadcastable([1, 1, Sq, Sk], rng, 'mask', 0.8) } : spec;
  });

  it.each(specs)('B$B H$H Hkv$Hkv Sq$Sq Sk$Sk D$D Dv$Dv causal $causal', (spec) => {
    const inputs = attentionInputs(spec);
    const wasmJob = attentionJob(inputs, attentionTiles(spec.B, spec.H, spec.Sq, [16, 32, 48, 64, 80]));
    const jsJob = attentionJob(inputs, attentionTiles(spec.B, spec.H, spec.Sq, [16, 32, 48, 64, 80]));
    runAll(kernel, wasmJob);
    runAll(jsKernel, jsJob);
    const got = attentionResult(wasmJob), js = attentionResult(jsJob);
    expectRelativeToMax(got.out, js.out, FLOAT32_RTOL, 'out vs js');
    expectLseClose(got.lse, js.lse, 'lse vs js');
    if (got.weights) expectMaxAbsDiff(got.weights, js.weights!, WEIGHTS_ATOL, 'weights vs js');
  });
});
