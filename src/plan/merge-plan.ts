// Tiles of the split-KV merge phase: blocks of flat rows (b·H + h)·Sq + i.

import { TILES_PER_THREAD, ceilDiv } from './tiles.js';

export function planMergeTiles(rows: number, threads: number): Int32Array {
  if (rows === 0) return new Int32Array(0);
  const rowsPerTile = ceilDiv(rows, TILES_PER_THREAD * threads);
  const tiles = new Int32Array(new SharedArrayBuffer(ceilDiv(rows, rowsPerTile) * 2 * 4));
  let t = 0;
  for (let r0 = 0; r0 < rows; r0 += rowsPerTile) {
    tiles[t++] = r0;
    tiles[t++] = Math.min(rows, r0 + rowsPerTile);
  }
  return tiles;
}
