// Issue #12, item 9: threads notice an abort, close() or a waiting call between tiles, and GEMM tiles
// have no checks inside them, so their work is bounded: at most 2^23 multiply-adds (rows × cols × K)
// whatever the shape — 256 × 256 × 4096 (2^28, ~80 ms and more on js) before. A tiling never changes
// bits: each output element is one sum over k in the same order whatever the tile holding it, which is
// checked here at a deep K on both kernels, and at the layer against threads and the float64 reference.

import { describe, expect, it } from 'vitest';
import { AttentionPool } from '../dist/src/index.js';
import { planGemmTiles } from '../dist/src/plan/gemm-plan.js';
import { GEMM_TILE, tileCount, type GemmPart, type GemmTile, type Kernel } from '../dist/workers/kernels/jobs.js';
import { jsKernel } from '../dist/workers/kernels/js/js-kernel.js';
import { createWasmKernel, wasmKernels } from '../dist/workers/kernels/wasm/index.js';
import { expectRelativeToMax, expectSameBits, FLOAT32_RTOL } from './support/compare.js';
import { KERNELS, WASM_BUILD } from './support/kernels.js';
import { mhaInputs } from './support/random.js';
import { referenceMultiHeadAttention } from './support/reference.js';
import { gemmJob, gemmPart, gemmTiles, readGemmOut } from './support/wasm-jobs.js';

const TIMEOUT_MS = 120_000;
const MAX_TILE_MACS = 2 ** 23;

/** A part of the given sizes: the planner reads only M, N and K. */
const sized = (M: number, N: number, K: number) => ({ M, N, K }) as GemmPart;

/** The distinct [start, end) ranges, which must cut [0, total) into consecutive pieces. */
function expectPartition(ranges: Set<string>, total: number, label: string): number {
  const sorted = [...ranges].map((r) => r.split(',').map(Number)).sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [start, end] of sorted) {
    expect(start, `${label}: next range starts where the last ended`).toBe(at);
    expect(end, `${label}: a non-empty range`).toBeGreaterThan(start);
    at = end;
  }
  expect(at, `${label}: ranges cover [0, ${total})`).toBe(total);
  return sorted.length;
}

describe('planGemmTiles: every tile within 2^23 multiply-adds, the tiles exactly cover each part', () => {
  const shapes = [
    [1, 1, 1], [3, 5, 7], [2048, 12288, 4096], [2048, 4096, 4096], [1000, 768, 768], [37, 3072, 1024],
    [4096, 100, 64], [513, 300, 8192], [17, 12288, 16384], [64, 1000, 65536],
  ] as const;
  for (const [M, N, K] of shapes) {
    it(`M ${M}, N ${N}, K ${K}`, () => {
      for (const threads of [1, 2, 8]) {
        const label = `M${M} N${N} K${K}, ${threads} threads`;
        const tiles = planGemmTiles([sized(M, N, K)], threads);
        const rowRanges = new Set<string>(), colRanges = new Set<string>(), pairs = new Set<string>();
        for (const { part, rowStart: m0, rowEnd: m1, colStart: n0, colEnd: n1 } of GEMM_TILE.unpack(tiles)) {
          expect(part).toBe(0);
          expect((m1 - m0) * (n1 - n0) * K, `${label}: tile [${m0}, ${m1}) × [${n0}, ${n1}) multiply-adds`).toBeLessThanOrEqual(MAX_TILE_MACS);
          rowRanges.add(`${m0},${m1}`);
          colRanges.add(`${n0},${n1}`);
          pairs.add(`${m0},${n0}`);
        }
        // A grid: the row blocks partition [0, M), the column blocks [0, N), and each pair is one tile.
        const rowBlocks = expectPartition(rowRanges, M, `${label}: rows`);
        const colBlocks = expectPartition(colRanges, N, `${label}: columns`);
        expect(GEMM_TILE.unpack(tiles).length, `${label}: one tile per (row block, column block)`).toBe(rowBlocks * colBlocks);
        expect(pairs.size).toBe(rowBlocks * colBlocks);
      }
    });
  }

  it('consecutive tiles share their column block (the wasm kernel packs W columns once per thread)', () => {
    const tiles = planGemmTiles([sized(2048, 12288, 4096)], 2);
    let changes = 0;
    GEMM_TILE.unpack(tiles).forEach((tile, t, all) => { if (t > 0 && tile.colStart !== all[t - 1].colStart) changes++; });
    expect(changes + 1, 'distinct runs of one column block').toBe(12288 / 256);
  });
});

describe('GEMM bits do not depend on the tiling (K = 4096)', () => {
  const spec = { M: 40, N: 264, K: 4096, bias: true, seed: 4096 };
  const tilings: Record<string, GemmTile[]> = {
    'the whole product in one tile': gemmTiles(0, spec.M, spec.N, [], []),
    'the old rule: 256 × 256 blocks': gemmTiles(0, spec.M, spec.N, [], [256]),
    'uneven cuts': gemmTiles(0, spec.M, spec.N, [1, 6, 19, 33], [3, 8, 100, 257]),
  };
  const kernels: [string, () => Kernel][] = [
    ['js', () => jsKernel],
    ['wasm', () => createWasmKernel(wasmKernels(WASM_BUILD)!.module)],
  ];
  for (const [name, make] of kernels) {
    it(`${name}: the planner's tiles give the bits of every other tiling`, () => {
      const run = (tiles: readonly GemmTile[]) => {
        const { part } = gemmPart(spec);
        const kernel = make();
        const job = gemmJob([part], tiles);
        for (let t = 0; t < tileCount(job); t++) kernel.tiles.gemm(job, t);
        return readGemmOut(part);
      };
      const planned = run(GEMM_TILE.unpack(planGemmTiles([sized(spec.M, spec.N, spec.K)], 2)));
      for (const [label, tiles] of Object.entries(tilings)) expectSameBits(planned, run(tiles), `${name}: planner vs ${label}`);
    });
  }
});

describe('multiHeadAttention at E = 2048: the same bits on 1 and 2 threads, close to the reference', () => {
  const inputs = mhaInputs({ seed: 2048, B: 1, Sq: 24, Sk: 24, E: 2048, numHeads: 16, selfAttention: true });
  const reference = referenceMultiHeadAttention(inputs.query, inputs.query, inputs.query, inputs.weights, { numHeads: 16 });
  for (const kernel of KERNELS) {
    it(`${kernel}`, async () => {
      const outputs = [];
      for (const threads of [1, 2]) {
        const pool = new AttentionPool({ threads, kernel, wasmBuild: kernel === 'wasm' ? WASM_BUILD : 'auto' });
        try {
          const { output } = await pool.multiHeadAttention(inputs.query, inputs.query, inputs.query, inputs.weights, { numHeads: 16 });
          outputs.push(output.data);
        } finally {
          await pool.close();
        }
      }
      expectSameBits(outputs[1], outputs[0], `${kernel}: 2 threads vs 1`);
      expectRelativeToMax(outputs[0], reference.output, FLOAT32_RTOL, `${kernel}: vs the float64 reference`);
    }, TIMEOUT_MS);
  }
});
