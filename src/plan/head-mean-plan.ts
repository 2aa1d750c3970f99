// Tiles of the head-mean job (needWeights: 'average'): (batch, block of query rows).

import { HEAD_MEAN_TILE, type HeadMeanTile } from '../../workers/kernels/jobs.js';
import { MAX_ROW_BLOCK, ROW_ALIGN, TILES_PER_THREAD, blockLength } from './tiles.js';

export function planHeadMeanTiles(B: number, Sq: number, threads: number): Int32Array {
  if (B === 0 || Sq === 0) return new Int32Array(0);
  const rowBlock = blockLength(Sq, Math.ceil((TILES_PER_THREAD * threads) / B), ROW_ALIGN, MAX_ROW_BLOCK);
  const tiles: HeadMeanTile[] = [];
  for (let b = 0; b < B; b++) {
    for (let i0 = 0; i0 < Sq; i0 += rowBlock) tiles.push({ b, rowStart: i0, rowEnd: Math.min(Sq, i0 + rowBlock) });
  }
  return HEAD_MEAN_TILE.pack(tiles);
}
