// The wasm SIMD GEMM kernel called directly on hand-built jobs (no pool): against a plain float64
// reference on awkward sizes and strided outputs (writing nothing outside them), several parts in one
// job against the js kernel, and bit for bit against itself under every row and column cut.

import { describe, expect, it } from 'vitest';
import type { GemmPart, GemmTile, Kernel } from '../dist/workers/kernels/jobs.js';
import { jsKernel } from '../dist/workers/kernels/js/js-kernel.js';
import { tileCount } from '../dist/workers/kernels/jobs.js';
import { expectRelativeToMax, expectSameBits } from './support/compare.js';
import { gemmJob, gemmPart, gemmTiles, readGemmOut } from './support/wasm-jobs.js';
import { newKernel } from './support/wasm-kernel.js';
import { referenceGemm } from './support/wasm-reference.js';

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
