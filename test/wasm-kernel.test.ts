// The wasm SIMD kernel called directly on hand-built jobs (no pool): against a plain float64
// reference on awkward sizes and strided layouts, against the js kernel, and bit for bit against
// itself under every way of cutting a head's rows (or a product's rows and columns) into tiles.

import { describe, expect, it } from 'vitest';
import type { AttentionJob, GemmPart, GemmTile, Kernel } from '../dist/workers/kernels/jobs.js';
import { jsKernel } from '../dist/workers/kernels/js/js-kernel.js';
import { tileCount } from '../dist/workers/kernels/jobs.js';
import { createWasmKernel, wasmKernels } from '../dist/workers/kernels/wasm/index.js';
import { expectLseClose, expectMaxAbsDiff, expectRelativeToMax, expectSameBits, FLOAT32_RTOL, WEIGHTS_ATOL } from './support/compare.js';
import { WASM_BUILD } from './support/kernels.js';
import { Rng } from './support/random.js';
import {
  attentionInputs, attentionJob, attentionResult, attentionTiles, gemmJob, gemmPart, gemmTiles, randomBroadcastable,
  readGemmOut, strayWrites, type AttentionCase, type AttentionInputs, type Logical,
} from './support/wasm-jobs.js';
import { referenceAttention, referenceGemm } from './support/wasm-reference.js';

const wasmModule = wasmKernels(WASM_BUILD)?.module ?? null;

function newKernel(): Kernel {
  expect(wasmModule, `the ${WASM_BUILD} wasm build must be built and valid on this runtime`).not.toBeNull();
  return createWasmKernel(wasmModule!);
}

/** Rows [from, to) of every (b, h) of a dense logical tensor. */
function rowsOf(t: Logical, from: number, to: number): Logical {
  const { B, H, rows, cols } = t.dims;
  const values = new Float64Array(B * H * (to - from) * cols);
  for (let bh = 0; bh < B * H; bh++) values.set(t.values.subarray((bh * rows + from) * cols, (bh * rows + to) * cols), bh * (to - from) * cols);
  return { dims: { B, H, rows: to - from, cols }, values };
}

function runAll(kernel: Kernel, job: AttentionJob): void {
  for (let t = 0; t < tileCount(job); t++) kernel.tiles.attention(job, t);
}

/** Runs the case on `kernel` with the given row cuts; checks it against the float64 reference. */
function checkAgainstReference(kernel: Kernel, inputs: AttentionInputs, cuts: readonly number[] = [], label = ''): AttentionJob {
  const { B, H, Sq, Sk, Dv } = inputs.spec;
  const job = attentionJob(inputs, attentionTiles(B, H, Sq, cuts));
  runAll(kernel, job);
  const ref = referenceAttention(inputs);
  const got = attentionResult(job);
  expectRelativeToMax(got.out, ref.out, FLOAT32_RTOL, `${label} out`);
  expectLseClose(got.lse, ref.lse, `${label} lse`);
  if (got.weights) expectMaxAbsDiff(got.weights, ref.weights, WEIGHTS_ATOL, `${label} weights`);
  expect(strayWrites(job.out, { B, H, rows: Sq, cols: Dv }, 7), `${label} writes outside out`).toBe(0);
  if (job.weights) expect(strayWrites(job.weights, { B, H, rows: Sq, cols: Sk }, 7), `${label} writes outside weights`).toBe(0);
  return job;
}

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

describe('wasm GEMM kernel', () => {
  const kernel = newKernel();

  function run(k: Kernel, parts: readonly GemmPart[], tiles: readonly GemmTile[]): void {
    const job = gemmJob(parts, tiles);
    for (let t = 0; t < tileCount(job); t++) k.tiles.gemm(job, t);
  }

  describe.each([1, 3, 7, 63, 65, 129])('K = %i', (K) => {
    it.each([1, 5, 17, 260])('N = %i, M = 13, with and without bias, strided', (N) => {
      for (const bias of [true, false]) {
        const { part, x, w, bias: b } = gemmPart({ M: 13, N, K, bias, seed: K * 1000 + N });
        run(kernel, [part], gemmTiles(0, 13, N, [8], [256]));
        const label = `M13 N${N} K${K} bias ${bias}`;
        expectRelativeToMax(readGemmOut(part), referenceGemm(13, N, K, x, w, b), 1e-6, label);
        // Elements outside the output view keep their sentinel.
        let stray = 0;
        part.out.forEach((value, i) => {
          const local = i - part.outOffset;
          const inside = local >= 0 && local < 13 * part.outRowStride && local % part.outRowStride < N;
          if (!inside && value !== 7) stray++;
        });
        expect(stray, `${label}: writes outside out`).toBe(0);
      }
    });
  });

  it('several parts in one job (Q, K, V projections of cross-attention) match the js kernel', () => {
    const parts = [
      gemmPart({ M: 33, N: 48, K: 48, bias: true, seed: 51 }),
      gemmPart({ M: 70, N: 48, K: 48, bias: true, seed: 52 }),
      gemmPart({ M: 70, N: 40, K: 48, bias: false, seed: 53 }),
    ];
    const tiles = [...gemmTiles(0, 33, 48, [16], [32]), ...gemmTiles(1, 70, 48, [32, 64], []), ...gemmTiles(2, 70, 40, [], [8, 16])];
    run(kernel, parts.map((p) => p.part), tiles);
    const js = parts.map((p, i) => gemmPart({ M: p.part.M, N: p.part.N, K: p.part.K, bias: !!p.bias, seed: 51 + i }));
    run(jsKernel, js.map((p) => p.part), tiles);
    parts.forEach((p, i) => {
      expectRelativeToMax(readGemmOut(p.part), readGemmOut(js[i].part), 1e-6, `part ${i} vs js`);
      expectRelativeToMax(readGemmOut(p.part), referenceGemm(p.part.M, p.part.N, p.part.K, p.x, p.w, p.bias), 1e-6, `part ${i} vs reference`);
    });
  });

  it('bits do not depend on row and column cuts', () => {
    const spec = { M: 77, N: 300, K: 70, bias: true, seed: 54 };
    const whole = gemmPart(spec);
    run(newKernel(), [whole.part], gemmTiles(0, 77, 300, [], []));
    for (const [rowCuts, colCuts] of [[[16, 32, 48, 64], [256]], [[1, 5, 76], [3, 8, 9, 200]], [[40], [150, 299]]]) {
      const cut = gemmPart(spec);
      run(kernel, [cut.part], gemmTiles(0, 77, 300, rowCuts, colCuts));
      expectSameBits(cut.part.out, whole.part.out, `rows cut at ${rowCuts}, columns at ${colCuts}`);
    }
  });

  it('throws a TypeError naming the array for float64 parts', () => {
    const { part } = gemmPart({ M: 2, N: 2, K: 2, bias: false, seed: 55 });
    const job = gemmJob([{ ...part, w: new Float64Array(part.w) }], gemmTiles(0, 2, 2, [], []));
    expect(() => newKernel().tiles.gemm(job, 0)).toThrow(/job\.parts\[0\]\.w must be a Float32Array.*got Float64Array/);
  });
});
