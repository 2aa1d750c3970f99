// Tiles of an attention job: (batch, head, block of query rows), ordered largest-first.
//
// With causal masking row i costs i + Sk - Sq + 1 keys, so the last blocks of a head cost several
// times the first. Threads pull tiles in list order, so handing out the costly ones first and the
// cheap ones last lets every thread finish within about one small tile of the others.

import { MAX_ROW_BLOCK, ROW_ALIGN, TILES_PER_THREAD, blockLength } from './tiles.js';

export interface AttentionShape {
  readonly B: number;
  readonly H: number;
  readonly Sq: number;
  readonly Sk: number;
  readonly causal: boolean;
}

export function planAttentionTiles(shape: AttentionShape, threads: number): Int32Array {
  const { B, H, Sq, Sk, causal } = shape;
  if (Sq === 0 || B * H === 0) return new Int32Array(0);
  const rowBlocksWanted = Math.ceil((TILES_PER_THREAD * threads) / (B * H));
  const rowBlock = blockLength(Sq, rowBlocksWanted, ROW_ALIGN, MAX_ROW_BLOCK);
  const blocks: { i0: number; i1: number; cost: number }[] = [];
  for (let i0 = 0; i0 < Sq; i0 += rowBlock) {
    const i1 = Math.min(Sq, i0 + rowBlock);
    blocks.push({ i0, i1, cost: causal ? visibleKeys(i1 - 1, Sq, Sk) : Sk });
  }
  // Stable sort: equal costs keep row order, so the list is a pure function of the shape.
  blocks.sort((x, y) => y.cost - x.cost);
  const tiles = new Int32Array(new SharedArrayBuffer(B * H * blocks.length * 4 * 4));
  let t = 0;
  for (const { i0, i1 } of blocks) {
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        tiles[t++] = b; tiles[t++] = h; tiles[t++] = i0; tiles[t++] = i1;
      }
    }
  }
  return tiles;
}

/** Keys that causal query row i may see (bottom-right aligned). */
function visibleKeys(i: number, Sq: number, Sk: number): number {
  return Math.max(0, Math.min(Sk, i + Sk - Sq + 1));
}
