// Split-KV (flash-decoding): whether a call also splits its keys, and into how many keys per split.
//
// Rows are independent, so the planner cuts query rows into as many tiles as the threads want; but
// decoding (Sq = 1) or a few queries facing tens of thousands of keys give only B·H·⌈Sq/16⌉ row tiles —
// eight for B1 H8 — and a thread count above that would idle. Then the keys are cut too: each split
// produces (m, l, unnormalised acc) for its rows, and the last split tile of a row group to finish
// merges the group's splits in a fixed order (workers/kernels/split-merge.ts). The split changes the arithmetic (where the running maximum is rescaled, the final merge), so
// unlike the row blocks it must never depend on the thread count: the decision and the split length
// are a pure function of the shape, and results stay bit-for-bit the same for every thread count.
// Whether a pool follows this decision, never splits or splits at a forced length is its split-KV
// setting (split-kv-setting.ts).

import { ROW_ALIGN, ceilDiv } from './tiles.js';

/** Tiles a split call aims for, whatever the thread count: 4 per thread (TILES_PER_THREAD) for up to
 *  16 threads. A call with at least this many row tiles is never split. */
export const SPLIT_TARGET_TILES = 64;

/** A split never has fewer keys: 1024 keys × (D + Dv = 128) is 128 Ki multiply-adds, ~30 µs on the wasm
 *  kernel and far more on js, well above the per-tile cost (one Atomics.add, packing the split's K/V)
 *  and the merge's per-split cost (one row of Dv per split). */
export const MIN_SPLIT_KEYS = 1024;

/** Split boundaries are multiples of the kernels' key block (64, asm/layout.ts and JS_KEY_BLOCK), so
 *  every online-softmax block starts at the same global key whether or not the call is split. */
export const SPLIT_ALIGN = 64;

export interface SplitShape {
  readonly B: number;
  readonly H: number;
  readonly Sq: number;
  readonly Sk: number;
  readonly window?: number;
  /** The call writes the softmax probabilities: never split (see keysPerSplit). */
  readonly weights: boolean;
}

/**
 * Keys per split, or 0 for no split. Never split when the call asks for the attention weights: the
 * probabilities exp(s − m)/l need the row's final m and l, known only after the merge, so a split
 * call would need a third pass over the keys — and needWeights already costs O(Sq·Sk) memory and
 * time, so the decode shapes split-KV is for are not the ones that ask for it.
 */
export function keysPerSplit(shape: SplitShape): number {
  if (shape.weights) return 0;
  const { B, H, Sq, Sk, window } = shape;
  const rowTiles = B * H * ceilDiv(Sq, ROW_ALIGN);
  if (rowTiles === 0 || rowTiles >= SPLIT_TARGET_TILES) return 0;
  const keysPerRow = window === undefined ? Sk : Math.min(Sk, window);
  const splits = Math.min(ceilDiv(SPLIT_TARGET_TILES, rowTiles), Math.floor(keysPerRow / MIN_SPLIT_KEYS));
  if (splits < 2) return 0;
  return ceilDiv(ceilDiv(keysPerRow, splits), SPLIT_ALIGN) * SPLIT_ALIGN;
}
