// Tiles of an attention job: (batch, head, block of query rows[, key split]), ordered largest-first.
//
// With causal masking row i costs i + Sk - Sq + 1 keys, so the last blocks of a head cost several
// times the first. Threads pull tiles in list order, so handing out the costly ones first and the
// cheap ones last lets every thread finish within about one small tile of the others.
// A sliding window caps every row at `window` keys: the cost of a block is the key range its rows
// see together, [keyStart(first row), keyEnd(last row)), and all but the first blocks cost the same.

import type { KeyRangeShape } from '../../workers/kernels/key-range.js';
import { keyEnd, keyStart } from '../../workers/kernels/key-range.js';
import { ATTENTION_TILE, type AttentionTile } from '../../workers/kernels/jobs.js';
import { MAX_ROW_BLOCK, MIN_TILE_FLOPS, ROW_ALIGN, TILES_PER_THREAD, blockLength, ceilDiv } from './tiles.js';

export interface AttentionShape extends KeyRangeShape {
  readonly B: number;
  readonly H: number;
}

/** The splits some row can see: [first, first + count) of length keysPerSplit. */
export interface SplitRange {
  readonly keysPerSplit: number;
  readonly first: number;
  readonly count: number;
}

export function splitRange(shape: AttentionShape, keysPerSplit: number): SplitRange {
  // keyStart and keyEnd never decrease with i, and rows that see nothing have start = end = 0, so
  // every visible key lies in [keyStart(first row), keyEnd(last row)).
  const lo = keyStart(shape, 0), hi = keyEnd(shape, shape.Sq - 1);
  if (shape.Sq === 0 || hi <= lo) return { keysPerSplit, first: 0, count: 0 };
  const first = Math.floor(lo / keysPerSplit);
  return { keysPerSplit, first, count: ceilDiv(hi, keysPerSplit) - first };
}

interface Piece { readonly i0: number; readonly i1: number; readonly split: number; readonly cost: number }

/** `flopsPerKey`: what one row does per key it sees, 2·(D + Dv): with the keys the rows see, it sets
 *  how many row blocks a head is worth (MIN_TILE_FLOPS each at least). */
export function planAttentionTiles(shape: AttentionShape, threads: number, flopsPerKey: number, split?: SplitRange): Int32Array {
  const { B, H, Sq, Sk } = shape;
  if (Sq === 0 || B * H === 0) return new Int32Array(0);
  const headFlops = flopsPerKey * Math.max(0, keyEnd(shape, Sq - 1) - keyStart(shape, 0)) * Sq;
  const rowBlocksWanted = Math.min(Math.ceil((TILES_PER_THREAD * threads) / (B * H)), Math.ceil(headFlops / MIN_TILE_FLOPS));
  const rowBlock = blockLength(Sq, rowBlocksWanted, ROW_ALIGN, MAX_ROW_BLOCK);
  const pieces: Piece[] = [];
  for (let i0 = 0; i0 < Sq; i0 += rowBlock) {
    const i1 = Math.min(Sq, i0 + rowBlock);
    const lo = keyStart(shape, i0), hi = keyEnd(shape, i1 - 1); // the rows' keys together
    if (!split) {
      pieces.push({ i0, i1, split: 0, cost: Math.max(0, hi - lo) });
      continue;
    }
    // Only splits the block's rows can see; a row's other splits keep their empty initial state.
    for (let s = split.first; s < split.first + split.count; s++) {
      const cost = Math.min(hi, Math.min(Sk, (s + 1) * split.keysPerSplit)) - Math.max(lo, s * split.keysPerSplit);
      if (cost > 0) pieces.push({ i0, i1, split: s, cost });
    }
  }
  // Stable sort: equal costs keep row order, so the list is a pure function of the shape.
  pieces.sort((x, y) => y.cost - x.cost);
  const tiles: AttentionTile[] = [];
  const emit = (b: number, h: number, p: Piece) => tiles.push({ b, h, rowStart: p.i0, rowEnd: p.i1, split: p.split });
  if (shape.window === undefined) {
    for (const p of pieces) for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) emit(b, h, p);
  } else {
    // Windowed blocks cost about the same, so nothing is gained by interleaving heads; head by head,
    // consecutive tiles read the same K/V spans, which the wasm kernel packs once per thread and caches.
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (const p of pieces) emit(b, h, p);
  }
  return ATTENTION_TILE.pack(tiles);
}
