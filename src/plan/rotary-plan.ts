// Tiles of a rotary job: (part, batch, block of positions), all heads of those positions. Each element
// is computed the same way whatever tile holds it (workers/kernels/rotary-tile.ts), so the cut only
// balances the threads and bounds a tile's time.

import { ROTARY_TILE, type RotaryPart, type RotaryTile } from '../../workers/kernels/jobs.js';
import { TILES_PER_THREAD, blockLength } from './tiles.js';

/** Elements a tile rotates at most (rows × H × D): ~1 ms of js here, so an abort, close() or a
 *  waiting call is noticed within about that (tiles run without checks inside them). */
export const ROTARY_TILE_MAX_ELEMENTS = 1 << 18;

export function planRotaryTiles(parts: readonly Pick<RotaryPart, 'H' | 'S'>[], B: number, D: number, threads: number): Int32Array {
  const tiles: RotaryTile[] = [];
  const wanted = Math.ceil((TILES_PER_THREAD * threads) / Math.max(B * parts.length, 1));
  parts.forEach(({ H, S }, part) => {
    if (H === 0 || S === 0 || D === 0) return;
    const maxRows = Math.max(1, Math.floor(ROTARY_TILE_MAX_ELEMENTS / (H * D)));
    const rows = blockLength(S, wanted, 1, maxRows);
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s += rows) tiles.push({ part, b, rowStart: s, rowEnd: Math.min(S, s + rows) });
    }
  });
  return ROTARY_TILE.pack(tiles);
}
