// node dist/bench/kernel.bench.js — the wasm kernel against the js kernel, one thread, kernel level
// (no pool, no workers): the tiles a 1-thread plan makes, run one after another on this thread.
//
//   attention B1 H8 D64 S4096, non-causal and causal: GFLOP/s = 4·H·S²·D / t (halved for causal)
//   projection GEMM S4096 E512: x [4096, 512] · W [1536, 512]ᵀ + b, GFLOP/s = 2·M·N·K / t
//
// The js kernel is about 30× slower, so it runs on a slice of the same job — the tiles of the first
// --js-heads heads for attention, the first --js-rows rows for the GEMM — and its rate is compared
// with the wasm kernel's on the whole job. Each run gets a fresh job object, so the wasm kernel packs
// K/V (and W) again, as it does once per thread in every real call; "wasm, K/V per tile" repacks
// them for every tile (a fresh job per tile), the cost the per-job cache avoids, and "K/V already
// packed" reuses one job so nothing is packed at all.
// Options: --iterations N (wasm runs, default 5), --js-iterations N (default 3), --js-heads, --js-rows,
// --wasm-build auto|simd|relaxed-simd (as the pool option; 'auto' = relaxed where the runtime accepts it).

import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { planAttentionTiles } from '../src/plan/attention-plan.js';
import { planGemmTiles } from '../src/plan/gemm-plan.js';
import { jsKernel } from '../workers/kernels/js/js-kernel.js';
import {
  ATTENTION_TILE, GEMM_TILE, tileCount, type AttentionJob, type GemmJob, type GemmPart, type Kernel, type View4,
} from '../workers/kernels/jobs.js';
import { createWasmKernel, wasmKernels, type WasmBuildChoice } from '../workers/kernels/wasm/index.js';
import { randomTensor } from './support/random-tensors.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '5' },
    'js-iterations': { type: 'string', default: '3' },
    'js-heads': { type: 'string', default: '1' },
    'js-rows': { type: 'string', default: '1024' },
    'wasm-build': { type: 'string', default: 'auto' },
  },
});
const wasmRuns = Number(values.iterations);
const jsRuns = Number(values['js-iterations']);
const jsHeads = Number(values['js-heads']);
const jsRows = Number(values['js-rows']);

const build = values['wasm-build'] as WasmBuildChoice;
const wasmBuild = wasmKernels(build);
if (!wasmBuild) throw new Error(`kernel.bench: the ${build} wasm build is missing or not valid on Node ${process.version} (npm run build makes it)`);
const wasm = createWasmKernel(wasmBuild.module);

interface Case {
  readonly label: string;
  readonly kernel: Kernel;
  readonly runs: number;
  readonly flops: number;
  /** One timed run: computes every tile of a fresh job. */
  readonly run: () => void;
}

/** Median milliseconds of `runs` timed runs after one warm-up run. */
async function medianMs(c: Case): Promise<number> {
  const bench = new Bench({ iterations: c.runs, time: 0, warmupIterations: 1, warmupTime: 0 });
  bench.add(c.label, c.run);
  await bench.run();
  const result = bench.tasks[0].result;
  if (!('latency' in result)) throw new Error(`kernel.bench: ${c.label} failed`);
  return result.latency.p50;
}

function headView(data: Float32Array, H: number, S: number, D: number): View4 {
  return { data, offset: 0, strideB: H * S * D, strideH: S * D, strideRow: D };
}

function attentionCases(causal: boolean): Case[] {
  const B = 1, H = 8, S = 4096, D = 64;
  const [q, k, v] = [1, 2, 3].map((seed) => randomTensor([B, H, S, D], seed).data);
  const tiles = planAttentionTiles({ B, H, Sq: S, Sk: S, causal }, 1, 4 * D);
  const job: AttentionJob = {
    kind: 'attention', B, H, Hkv: H, Sq: S, Sk: S, D, Dv: D, scale: 1 / Math.sqrt(D), causal,
    q: headView(q, H, S, D), k: headView(k, H, S, D), v: headView(v, H, S, D),
    out: headView(new Float32Array(B * H * S * D), H, S, D), tiles,
  };
  const flopsPerHead = (4 * S * S * D) / (causal ? 2 : 1);
  const jsTiles = ATTENTION_TILE.pack(ATTENTION_TILE.unpack(tiles).filter((tile) => tile.h < jsHeads));
  const name = `attention B1 H8 D64 S4096${causal ? ' causal' : ''}`;
  const cases: Case[] = [
    { label: `${name}, wasm`, kernel: wasm, runs: wasmRuns, flops: H * flopsPerHead, run: () => runAttention(wasm, { ...job }) },
    { label: `${name}, js (${jsHeads} head${jsHeads > 1 ? 's' : ''})`, kernel: jsKernel, runs: jsRuns, flops: jsHeads * flopsPerHead, run: () => runAttention(jsKernel, { ...job, tiles: jsTiles }) },
  ];
  if (!causal) {
    // The memory model's alternatives: K/V streamed into wasm memory for every tile, and no streaming
    // at all (the same job object again, so every head is already packed: the bound a shared memory
    // holding the tensors in place could reach, minus the Q and output copies).
    const packed = { ...job };
    cases.splice(1, 0, {
      label: `${name}, wasm, K/V per tile`, kernel: wasm, runs: wasmRuns, flops: H * flopsPerHead,
      run: () => { for (let t = 0; t < tileCount(job); t++) wasm.tiles.attention({ ...job }, t); },
    }, {
      label: `${name}, wasm, K/V already packed`, kernel: wasm, runs: wasmRuns, flops: H * flopsPerHead,
      run: () => runAttention(wasm, packed),
    });
  }
  return cases;
}

function runAttention(kernel: Kernel, job: AttentionJob): void {
  for (let t = 0; t < tileCount(job); t++) kernel.tiles.attention(job, t);
}

function gemmCases(): Case[] {
  const M = 4096, E = 512, N = 3 * E;
  const x = randomTensor([M, E], 4).data, w = randomTensor([N, E], 5).data, bias = randomTensor([N], 6).data;
  const part: GemmPart = {
    M, N, K: E, x, xOffset: 0, xRowStride: E, w, wOffset: 0, wRowStride: E, bias, biasOffset: 0,
    out: new Float32Array(M * N), outOffset: 0, outRowStride: N,
  };
  const tiles = planGemmTiles([part], 1);
  const job: GemmJob = { kind: 'gemm', parts: [part], tiles };
  const jsTiles = GEMM_TILE.pack(GEMM_TILE.unpack(tiles).filter((tile) => tile.rowEnd <= jsRows));
  const rowsOf = (selected: Int32Array) =>
    GEMM_TILE.unpack(selected).reduce((elements, t) => elements + (t.rowEnd - t.rowStart) * (t.colEnd - t.colStart), 0) / N;
  const name = 'GEMM S4096 E512 (x·Wᵀ, W 1536×512)';
  return [
    { label: `${name}, wasm`, kernel: wasm, runs: wasmRuns, flops: 2 * M * N * E, run: () => runGemm(wasm, { ...job }) },
    { label: `${name}, js (${rowsOf(jsTiles)} rows)`, kernel: jsKernel, runs: jsRuns, flops: 2 * rowsOf(jsTiles) * N * E, run: () => runGemm(jsKernel, { ...job, tiles: jsTiles }) },
  ];
}

function runGemm(kernel: Kernel, job: GemmJob): void {
  for (let t = 0; t < tileCount(job); t++) kernel.tiles.gemm(job, t);
}

console.log(`kernel level, 1 thread, wasm build ${wasmBuild.variant}; median of ${wasmRuns} wasm / ${jsRuns} js runs after one warm-up`);
console.log(`${'case'.padEnd(58)} ${'median ms'.padStart(10)} ${'GFLOP/s'.padStart(8)} ${'wasm/js'.padStart(8)}`);
for (const group of [attentionCases(false), attentionCases(true), gemmCases()]) {
  const rates = new Map<Case, number>();
  for (const c of group) {
    const ms = await medianMs(c);
    rates.set(c, c.flops / ms / 1e6);
    console.log(`${c.label.padEnd(58)} ${ms.toFixed(1).padStart(10)} ${rates.get(c)!.toFixed(2).padStart(8)}`);
  }
  const jsRate = [...rates].find(([c]) => c.kernel === jsKernel)![1];
  const wasmRate = rates.get(group[0])!;
  console.log(`${''.padEnd(58)} ${''.padStart(10)} ${''.padStart(8)} ${(wasmRate / jsRate).toFixed(1).padStart(7)}×`);
}
