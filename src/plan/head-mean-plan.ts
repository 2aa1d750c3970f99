// Tiles of the head-mean job (needWeights: 'average'): (batch, block of query rows).

import { MAX_ROW_BLOCK, ROW_ALIGN, TILES_PER_THREAD, blockLength } from './tiles.js';

export function planHeadMeanTiles(B: number, Sq: number, threads: number): Int32Array {
  if (B === 0 || Sq === 0) return new Int32Array(0);
  const rowBlock = blockLength(Sq, Math.ceil((TILES_PER_THREAD * threads) / B), ROW_ALIGN, MAX_ROW_BLOCK);
  const tiles: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let i0 = 0; i0 < Sq; i0 += rowBlock) tiles.push(b, i0, Math.min(Sq, i0 + rowBlock));
  }
  const shared = new Int32Array(new SharedArrayBuffer(tiles.length * 4));
  shared.set(tiles);
  return shared;
}
