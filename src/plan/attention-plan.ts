// Tiles of an attention job: (batch, head — or the query heads of one kv head, tileHeads —, block of
// query rows[, key split]), ordered largest-first.
//
// With causal masking row i costs i + Sk - Sq + 1 keys, so the last blocks of a head cost several
// times the first. Threads pull tiles in list order, so handing out the costly ones first and the
// cheap ones last lets every thread finish within about one small tile of the others.
// A sliding window caps every row at `window` keys: the cost of a block is the key range its rows
// see together, [keyStart(first row), keyEnd(last row)), and all but the first blocks cost the same.

import type { KeyRangeShape } from '../../workers/kernels/key-range.js';
import { keyEnd, keyStart } from '../../workers/kernels/key-range.js';
import { ATTENTION_TILE } from '../../workers/kernels/jobs.js';
import { MAX_ROW_BLOCK, MIN_TILE_FLOPS, ROW_ALIGN, TILES_PER_THREAD, blockLength, ceilDiv } from './tiles.js';

export interface AttentionShape extends KeyRangeShape {
  readonly B: number;
  readonly H: number;
  /** K/V heads (H a multiple of it); absent: H. */
  readonly Hkv?: number;
  /** The job has per-head ALiBi slopes (see tileHeads). */
  readonly alibi?: boolean;
}

/**
 * Query heads per tile: all H / Hkv heads of a kv head (tile-rows.ts), so one pass over its K/V serves
 * them, or 1. A pure function of the shape, never of the thread count (like everything that decides
 * which rows share a tile; none of it changes a bit). Per-head terms are handled row by row by both
 * kernels — masks and bias (any stride over heads), sinks (a row's initial state) — except ALiBi: the
 * wasm kernel takes one slope per call and row positions as consecutive from the chunk's first row, so
 * an ALiBi job keeps one head per tile.
 */
export function tileHeads(shape: Pick<AttentionShape, 'H' | 'Hkv' | 'alibi'>): number {
  return shape.alibi ? 1 : shape.H / (shape.Hkv ?? shape.H); // validation made Hkv divide H
}

/** The splits some row can see: [first, first + count) of length keysPerSplit; when no row sees a key,
 *  split 0 alone, which stays empty (the tiles of a split job each name a split). */
export interface SplitRange {
  readonly keysPerSplit: number;
  readonly first: number;
  readonly count: number;
}

export function splitRange(shape: AttentionShape, keysPerSplit: number): SplitRange {
  // keyStart and keyEnd never decrease with i, and rows that see nothing have start = end = 0, so
  // every visible key lies in [keyStart(first row), keyEnd(last row)).
  const lo = keyStart(shape, 0), hi = keyEnd(shape, shape.Sq - 1);
  if (shape.Sq === 0 || hi <= lo) return { keysPerSplit, first: 0, count: 1 };
  const first = Math.floor(lo / keysPerSplit);
  return { keysPerSplit, first, count: ceilDiv(hi, keysPerSplit) - first };
}

interface Piece { readonly block: number; readonly i0: number; readonly i1: number; readonly split: number; readonly cost: number }

/** `flopsPerKey`: what one row does per key it sees, 2·(D + Dv): with the keys the rows see, it sets
 *  how many row blocks a head is worth (MIN_TILE_FLOPS each at least). With `split`, a tile's row group
 *  is (row block, b, unit), numbered in that order, and every group has at least one tile — a block
 *  whose rows see no key gets one of split `first` with nothing to do — since the last tile of a group
 *  to finish is what writes the group's output (workers/kernels/split-merge.ts). */
export function planAttentionTiles(shape: AttentionShape, threads: number, flopsPerKey: number, split?: SplitRange): Int32Array {
  const { B, H, Sq, Sk } = shape;
  if (Sq === 0 || B * H === 0) return new Int32Array(0);
  // A unit is what one tile's row block covers: one head, or a group of `heads` sharing a kv head.
  const heads = tileHeads(shape), units = H / heads;
  const unitFlops = flopsPerKey * Math.max(0, keyEnd(shape, Sq - 1) - keyStart(shape, 0)) * Sq * heads;
  const rowBlocksWanted = Math.min(Math.ceil((TILES_PER_THREAD * threads) / (B * units)), Math.ceil(unitFlops / MIN_TILE_FLOPS));
  // A grouped tile holds rowBlock · heads rows: its query rows are capped so that this stays within
  // MAX_ROW_BLOCK where ROW_ALIGN allows (the js kernel's scratch and a pause slot hold a tile's rows).
  const maxRowBlock = Math.max(ROW_ALIGN, Math.floor(MAX_ROW_BLOCK / heads / ROW_ALIGN) * ROW_ALIGN);
  const rowBlock = blockLength(Sq, rowBlocksWanted, ROW_ALIGN, maxRowBlock);
  const pieces: Piece[] = [];
  for (let block = 0, i0 = 0; i0 < Sq; block++, i0 += rowBlock) {
    const i1 = Math.min(Sq, i0 + rowBlock);
    const lo = keyStart(shape, i0), hi = keyEnd(shape, i1 - 1); // the rows' keys together
    if (!split) {
      pieces.push({ block, i0, i1, split: 0, cost: Math.max(0, hi - lo) });
      continue;
    }
    // Only splits the block's rows can see; a row's other splits keep their empty initial state.
    const before = pieces.length;
    for (let s = split.first; s < split.first + split.count; s++) {
      const cost = Math.min(hi, Math.min(Sk, (s + 1) * split.keysPerSplit)) - Math.max(lo, s * split.keysPerSplit);
      if (cost > 0) pieces.push({ block, i0, i1, split: s, cost });
    }
    if (pieces.length === before) pieces.push({ block, i0, i1, split: split.first, cost: 0 });
  }
  // Stable sort: equal costs keep row order, so the list is a pure function of the shape.
  pieces.sort((x, y) => y.cost - x.cost);
  const tiles = new Int32Array(pieces.length * B * units * ATTENTION_TILE.ints);
  const at = ATTENTION_TILE.offsets;
  let o = 0;
  const emit = (b: number, unit: number, p: Piece) => { // every field of ATTENTION_TILE
    tiles[o + at.b] = b;
    tiles[o + at.h] = unit * heads;
    tiles[o + at.heads] = heads;
    tiles[o + at.rowStart] = p.i0;
    tiles[o + at.rowEnd] = p.i1;
    tiles[o + at.split] = p.split;
    tiles[o + at.group] = split ? (p.block * B + b) * units + unit : 0;
    o += ATTENTION_TILE.ints;
  };
  if (shape.window === undefined) {
    for (const p of pieces) for (let b = 0; b < B; b++) for (let u = 0; u < units; u++) emit(b, u, p);
  } else {
    // Windowed blocks cost about the same, so nothing is gained by interleaving heads; head by head,
    // consecutive tiles read the same K/V spans, which the wasm kernel packs once per thread and caches.
    for (let b = 0; b < B; b++) for (let u = 0; u < units; u++) for (const p of pieces) emit(b, u, p);
  }
  return tiles;
}
