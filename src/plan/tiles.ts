// How work is cut into tiles. Tiles are small enough that every thread gets several (threads pull
// them from a shared counter, so fast threads take more), large enough that per-tile overhead —
// one Atomics.add and the reload of a key/value block — stays negligible.

/** About this many tiles per thread: ggml's rule of thumb; enough to even out threads that are
 *  descheduled or slowed by a neighbour, few enough that a tile is still hundreds of µs of work. */
export const TILES_PER_THREAD = 4;

/** An attention tile is not cut smaller than this much work (about 40 µs of the wasm kernel): a
 *  thread entering a phase costs ~10 µs and a wake-up, and a tiny call cut for 64 threads woke all 64
 *  on a 2-core machine for tiles of a few µs each, which cost the calling thread more (futex lock
 *  contention) than the tiles saved. Only calls of a few MFLOP at large thread counts are affected. */
export const MIN_TILE_FLOPS = 1 << 20;

/** Query-row blocks are multiples of this, so SIMD kernels that group rows always see the same groups. */
export const ROW_ALIGN = 16;

/** At most this many query rows per attention tile: the unnormalised accumulators (rows × Dv) and
 *  the score block (rows × 64) stay within L2 for head dims up to 256. */
export const MAX_ROW_BLOCK = 128;

/** Output rows × columns of a GEMM tile at most: a 256-row column block of W (256 × K floats, 512 KiB
 *  at K = 512) is reused across all the tile's rows while it sits in L2. */
export const GEMM_COL_BLOCK = 256;
export const MAX_GEMM_ROW_BLOCK = 256;

/** Multiply-adds (rows × cols × K) a GEMM tile does at most: ~0.6 ms on the wasm kernel, ~8 ms on js.
 *  GEMM tiles run without checks inside them (tile-control.ts is for attention tiles), so this bounds
 *  how long a thread takes to notice an abort, close() or a waiting call: 256 × 256 × K was 80 ms and
 *  more on js at K = E = 4096. Whatever the tile, each output element is the same sum over k. */
export const GEMM_TILE_MAX_MACS = 2 ** 23;

/** GEMM row blocks are multiples of the wasm kernel's row group (4), so no tile computes padding rows;
 *  unlike attention (ROW_ALIGN) no grouping of rows changes a bit: every row has its own sums. */
export const GEMM_ROW_ALIGN = 4;

/** GEMM column blocks narrower than GEMM_COL_BLOCK are multiples of the wasm kernel's panel (8 columns). */
export const GEMM_COL_ALIGN = 8;

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** A block length: `total / wantedBlocks` rounded up to `align`, within [align, max]; or `total` when
 *  that is at most `align` (a single small block). */
export function blockLength(total: number, wantedBlocks: number, align: number, max: number): number {
  if (total <= align) return Math.max(total, 1);
  const raw = Math.ceil(total / Math.max(wantedBlocks, 1));
  return Math.min(max, Math.max(align, ceilDiv(raw, align) * align));
}
