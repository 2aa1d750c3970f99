// Tiles of a GEMM job: (part, block of output rows, block of output columns).

import type { GemmPart } from '../../workers/kernels/jobs.js';
import { GEMM_COL_BLOCK, MAX_GEMM_ROW_BLOCK, ROW_ALIGN, TILES_PER_THREAD, blockLength } from './tiles.js';

export function planGemmTiles(parts: readonly GemmPart[], threads: number): Int32Array {
  const tiles: number[] = [];
  const colBlocks = (N: number) => Math.ceil(N / GEMM_COL_BLOCK);
  const totalColBlocks = parts.reduce((sum, p) => sum + colBlocks(p.N), 0);
  const rowBlocksWanted = Math.ceil((TILES_PER_THREAD * threads) / Math.max(totalColBlocks, 1));
  parts.forEach((p, index) => {
    if (p.M === 0 || p.N === 0) return;
    const rowBlock = blockLength(p.M, rowBlocksWanted, ROW_ALIGN, MAX_GEMM_ROW_BLOCK);
    for (let m0 = 0; m0 < p.M; m0 += rowBlock) {
      for (let n0 = 0; n0 < p.N; n0 += GEMM_COL_BLOCK) {
        tiles.push(index, m0, Math.min(p.M, m0 + rowBlock), n0, Math.min(p.N, n0 + GEMM_COL_BLOCK));
      }
    }
  });
  const shared = new Int32Array(new SharedArrayBuffer(tiles.length * 4));
  shared.set(tiles);
  return shared;
}
