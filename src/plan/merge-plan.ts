// Tiles of the split-KV merge phase: blocks of flat rows (b·H + h)·Sq + i.

import { MERGE_TILE, type MergeTile } from '../../workers/kernels/jobs.js';
import { TILES_PER_THREAD, ceilDiv } from './tiles.js';

export function planMergeTiles(rows: number, threads: number): Int32Array {
  if (rows === 0) return new Int32Array(0);
  const rowsPerTile = ceilDiv(rows, TILES_PER_THREAD * threads);
  const tiles: MergeTile[] = [];
  for (let r0 = 0; r0 < rows; r0 += rowsPerTile) tiles.push({ rowStart: r0, rowEnd: Math.min(rows, r0 + rowsPerTile) });
  return MERGE_TILE.pack(tiles);
}
