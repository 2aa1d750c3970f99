// Stored K rows (binary16 or int8, [key][depth], kv-decode.ts) straight into the float32 panels the
// score loop reads ([panel][depth][8], what packPanels makes of float32 rows), in one pass: for each 8
// keys × 8 depths, the 8 row pieces are widened to 16-bit lanes, transposed as an 8 × 8 matrix of
// 16-bit values (three rounds of interleaves, 24 shuffles), and each depth's 8 keys decoded into the
// panel's two vectors. Decoding rows into staging and then transposing the float32 rows (packPanels)
// stored and reloaded every value once more and shuffled 32-bit values, twice the shuffle work per
// value. The values are the row decoder's exactly (the same lane operations), so the scores' bits are
// what they were.

import { storeFloat16x8 } from './float16';
import { PANEL_WIDTH } from './layout';

const INT8_BLOCK: i32 = 32;

/** Full panels of binary16 K rows → float32 panels. depth: a multiple of 8. */
export function float16Panels(rows: usize, depth: i32, panels: i32, dst: usize): void {
  storedPanels<u16>(rows, 0, depth, panels, dst);
}

/** Full panels of int8 K rows (scales: one float32 per 32 values of a row) → float32 q·scale panels.
 *  depth: a multiple of 8. */
export function int8Panels(rows: usize, scales: usize, depth: i32, panels: i32, dst: usize): void {
  storedPanels<i8>(rows, scales, depth, panels, dst);
}

// @ts-ignore: decorator
@inline
function storedPanels<T>(rows: usize, scales: usize, depth: i32, panels: i32, dst: usize): void {
  const rowBytes = <usize>depth * sizeof<T>();
  const scaleRowBytes = <usize>((depth + INT8_BLOCK - 1) / INT8_BLOCK) << 2;
  for (let p = 0; p < panels; p++) {
    const src = rows + <usize>(p * PANEL_WIDTH) * rowBytes;
    const keyScales = scales + <usize>(p * PANEL_WIDTH) * scaleRowBytes;
    const out = dst + <usize>p * <usize>depth * (PANEL_WIDTH * 4);
    let scaleLow = f32x4.splat(0), scaleHigh = f32x4.splat(0);
    for (let d = 0; d < depth; d += 8) {
      if (sizeof<T>() == 1 && d % INT8_BLOCK == 0) {
        // The 8 keys' scales for depths [d, d + 32), keys 0–3 and 4–7.
        const at = keyScales + (<usize>(d / INT8_BLOCK) << 2);
        scaleLow = keyScaleVector(at, scaleRowBytes);
        scaleHigh = keyScaleVector(at + 4 * scaleRowBytes, scaleRowBytes);
      }
      const at = src + <usize>d * sizeof<T>();
      // Round 1: pairs of keys interleaved by 16-bit value.
      const r0 = rowPiece<T>(at), r1 = rowPiece<T>(at + rowBytes);
      const a0 = v128.shuffle<i16>(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11), a1 = v128.shuffle<i16>(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15);
      const r2 = rowPiece<T>(at + 2 * rowBytes), r3 = rowPiece<T>(at + 3 * rowBytes);
      const a2 = v128.shuffle<i16>(r2, r3, 0, 8, 1, 9, 2, 10, 3, 11), a3 = v128.shuffle<i16>(r2, r3, 4, 12, 5, 13, 6, 14, 7, 15);
      const r4 = rowPiece<T>(at + 4 * rowBytes), r5 = rowPiece<T>(at + 5 * rowBytes);
      const a4 = v128.shuffle<i16>(r4, r5, 0, 8, 1, 9, 2, 10, 3, 11), a5 = v128.shuffle<i16>(r4, r5, 4, 12, 5, 13, 6, 14, 7, 15);
      const r6 = rowPiece<T>(at + 6 * rowBytes), r7 = rowPiece<T>(at + 7 * rowBytes);
      const a6 = v128.shuffle<i16>(r6, r7, 0, 8, 1, 9, 2, 10, 3, 11), a7 = v128.shuffle<i16>(r6, r7, 4, 12, 5, 13, 6, 14, 7, 15);
      // Round 2: keys 0–3 (b0–b3) and 4–7 (b4–b7), two depths each.
      const b0 = v128.shuffle<i32>(a0, a2, 0, 4, 1, 5), b1 = v128.shuffle<i32>(a0, a2, 2, 6, 3, 7);
      const b2 = v128.shuffle<i32>(a1, a3, 0, 4, 1, 5), b3 = v128.shuffle<i32>(a1, a3, 2, 6, 3, 7);
      const b4 = v128.shuffle<i32>(a4, a6, 0, 4, 1, 5), b5 = v128.shuffle<i32>(a4, a6, 2, 6, 3, 7);
      const b6 = v128.shuffle<i32>(a5, a7, 0, 4, 1, 5), b7 = v128.shuffle<i32>(a5, a7, 2, 6, 3, 7);
      // Round 3: one depth's 8 keys per vector, decoded into the panel's row of that depth.
      const o = out + (<usize>d << 5);
      storeKeys<T>(v128.shuffle<i64>(b0, b4, 0, 2), o, scaleLow, scaleHigh);
      storeKeys<T>(v128.shuffle<i64>(b0, b4, 1, 3), o + 32, scaleLow, scaleHigh);
      storeKeys<T>(v128.shuffle<i64>(b1, b5, 0, 2), o + 64, scaleLow, scaleHigh);
      storeKeys<T>(v128.shuffle<i64>(b1, b5, 1, 3), o + 96, scaleLow, scaleHigh);
      storeKeys<T>(v128.shuffle<i64>(b2, b6, 0, 2), o + 128, scaleLow, scaleHigh);
      storeKeys<T>(v128.shuffle<i64>(b2, b6, 1, 3), o + 160, scaleLow, scaleHigh);
      storeKeys<T>(v128.shuffle<i64>(b3, b7, 0, 2), o + 192, scaleLow, scaleHigh);
      storeKeys<T>(v128.shuffle<i64>(b3, b7, 1, 3), o + 224, scaleLow, scaleHigh);
    }
  }
}

/** 8 values of a row as 16-bit lanes: binary16 bits, or int8 sign-extended. */
// @ts-ignore: decorator
@inline
function rowPiece<T>(at: usize): v128 {
  if (sizeof<T>() == 2) return v128.load(at);
  return i16x8.extend_low_i8x16_s(v128.load64_zero(at));
}

/** One depth's 8 keys (16-bit lanes) → float32 at out (keys 0–3) and out + 16 (keys 4–7). */
// @ts-ignore: decorator
@inline
function storeKeys<T>(keys: v128, out: usize, scaleLow: v128, scaleHigh: v128): void {
  if (sizeof<T>() == 2) {
    storeFloat16x8(keys, out);
  } else {
    v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(keys)), scaleLow));
    v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(keys)), scaleHigh), 16);
  }
}

/** The scales at `at` of 4 consecutive keys (rows `stride` bytes apart). */
// @ts-ignore: decorator
@inline
function keyScaleVector(at: usize, stride: usize): v128 {
  let v = v128.load32_zero(at);
  v = f32x4.replace_lane(v, 1, load<f32>(at + stride));
  v = f32x4.replace_lane(v, 2, load<f32>(at + 2 * stride));
  return f32x4.replace_lane(v, 3, load<f32>(at + 3 * stride));
}
