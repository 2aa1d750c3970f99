// Tiles of a GEMM job: (part, block of output rows, block of output columns).
//
// Each tile does at most GEMM_TILE_MAX_MACS multiply-adds: as many rows of 256 columns as fit (up to
// 256), and with deep K (beyond 8192) fewer columns of GEMM_ROW_ALIGN rows. The row blocks also shrink
// so every thread gets several tiles. Tiles are listed column block by column block, so consecutive
// tiles — which the threads pull in turn — share W's columns, which the wasm kernel packs once per
// thread and keeps (workers/kernels/wasm/gemm-driver.ts) however many row blocks pass over them.

import { GEMM_TILE, type GemmPart, type GemmTile } from '../../workers/kernels/jobs.js';
import {
  GEMM_COL_ALIGN, GEMM_COL_BLOCK, GEMM_ROW_ALIGN, GEMM_TILE_MAX_MACS, MAX_GEMM_ROW_BLOCK, TILES_PER_THREAD, blockLength, ceilDiv,
} from './tiles.js';

/** The largest tile of a part within the work bound: [rows, cols]. Only at K > 2^18 is even the
 *  smallest block (4 × 8 × K) over it — weights no machine holds (3K² floats). */
export function gemmTileLimit(part: Pick<GemmPart, 'N' | 'K'>): readonly [rows: number, cols: number] {
  const cols = Math.min(GEMM_COL_BLOCK, part.N);
  const rows = Math.floor(GEMM_TILE_MAX_MACS / (cols * Math.max(part.K, 1)) / GEMM_ROW_ALIGN) * GEMM_ROW_ALIGN;
  if (rows >= GEMM_ROW_ALIGN) return [Math.min(MAX_GEMM_ROW_BLOCK, rows), cols];
  const narrow = Math.floor(GEMM_TILE_MAX_MACS / (GEMM_ROW_ALIGN * part.K) / GEMM_COL_ALIGN) * GEMM_COL_ALIGN;
  return [GEMM_ROW_ALIGN, Math.min(cols, Math.max(GEMM_COL_ALIGN, narrow))];
}

export function planGemmTiles(parts: readonly GemmPart[], threads: number): Int32Array {
  const tiles: GemmTile[] = [];
  const limits = parts.map(gemmTileLimit);
  const totalColBlocks = parts.reduce((sum, p, i) => sum + ceilDiv(p.N, limits[i][1]), 0);
  const rowBlocksWanted = Math.ceil((TILES_PER_THREAD * threads) / Math.max(totalColBlocks, 1));
  parts.forEach((p, index) => {
    if (p.M === 0 || p.N === 0) return;
    const [maxRows, colBlock] = limits[index];
    const rowBlock = blockLength(p.M, rowBlocksWanted, GEMM_ROW_ALIGN, maxRows);
    for (let n0 = 0; n0 < p.N; n0 += colBlock) {
      for (let m0 = 0; m0 < p.M; m0 += rowBlock) {
        tiles.push({ part: index, rowStart: m0, rowEnd: Math.min(p.M, m0 + rowBlock), colStart: n0, colEnd: Math.min(p.N, n0 + colBlock) });
      }
    }
  });
  return GEMM_TILE.pack(tiles);
}
