// Sizes shared by the kernels and their JavaScript driver (which reads them through the exports in
// kernels.ts, so each number lives in one place).

/** Keys per online-softmax step, a fixed constant of the kernel: where the blocks start decides where
 *  the running maximum is rescaled, so it must never depend on the tile. 64 keys of K and V at head
 *  dim 64 are 2 × 16 KiB, which stay in the 48 KiB L1 while every row group of a chunk passes over
 *  them; the per-block bookkeeping (horizontal max and sum, the rescale factor, reloading the
 *  accumulators) is paid once per 64 keys, and a causal diagonal block wastes at most 63 keys a row. */
export const KEY_BLOCK: i32 = 64;

/** Rows handled together by the micro-kernels (one f32x4 accumulator pair per row). */
export const ROW_GROUP: i32 = 4;

/** Columns of a packed panel: two f32x4 lanes of keys (Q·Kᵀ) or output features (GEMM). */
export const PANEL_WIDTH: i32 = 8;

/** Values of a stored int8 row per float32 scale (workers/kernels/wasm/kv-format.ts). */
export const INT8_BLOCK: i32 = 32;

/** Bytes of one stored int8 row's scales: a float32 per INT8_BLOCK of its `cols` values. */
// @ts-ignore: decorator
@inline
export function int8ScaleRowBytes(cols: i32): usize {
  return <usize>((cols + INT8_BLOCK - 1) / INT8_BLOCK) << 2;
}
