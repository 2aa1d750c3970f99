// Stored K rows (binary16 or int8, [key][depth], kv-decode.ts) straight into the float32 panels the
// score loop reads ([panel][depth][8], what packPanels makes of float32 rows), in one pass: for each 8
// keys × 8 depths, the 8 row pieces are widened to 16-bit lanes and transposed as an 8 × 8 matrix of
// 16-bit values (three rounds of interleaves, 24 shuffles). The rows go in as keys 0, 4, 1, 5, 2, 6, 3, 7,
// so each depth's vector holds keys k and k + 4 in the low and high half of its 32-bit lane k: keys 4–7
// are then decoded in place and keys 0–3 after one shift left, with no widening shuffle. Shuffles run on
// one port of this CPU (Intel Xeon, as lscpu names it), which bounds this loop: 24 per 64 values here,
// against 40 when each depth's 8 keys were widened by shuffles, and 56 per 64 when rows were decoded
// into staging (16) and the float32 rows then transposed (packPanels, 32 + a store and reload of every
// value). The values are the row decoder's exactly (the same lane arithmetic), so the scores' bits are
// what they were.

import { allOnesExponent, float16Specials, float16Unscaled, keepMask, largestFinite, magnitudeMask, rebiasVector } from './float16';
import { INT8_BLOCK, PANEL_WIDTH, int8ScaleRowBytes } from './layout';

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
  const scaleRowBytes = int8ScaleRowBytes(depth);
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
      // Round 1: pairs of rows interleaved by 16-bit value, rows in the order 0, 4, 1, 5, 2, 6, 3, 7.
      const r0 = rowPiece<T>(at), r1 = rowPiece<T>(at + 4 * rowBytes);
      const a0 = v128.shuffle<i16>(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11), a1 = v128.shuffle<i16>(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15);
      const r2 = rowPiece<T>(at + rowBytes), r3 = rowPiece<T>(at + 5 * rowBytes);
      const a2 = v128.shuffle<i16>(r2, r3, 0, 8, 1, 9, 2, 10, 3, 11), a3 = v128.shuffle<i16>(r2, r3, 4, 12, 5, 13, 6, 14, 7, 15);
      const r4 = rowPiece<T>(at + 2 * rowBytes), r5 = rowPiece<T>(at + 6 * rowBytes);
      const a4 = v128.shuffle<i16>(r4, r5, 0, 8, 1, 9, 2, 10, 3, 11), a5 = v128.shuffle<i16>(r4, r5, 4, 12, 5, 13, 6, 14, 7, 15);
      const r6 = rowPiece<T>(at + 3 * rowBytes), r7 = rowPiece<T>(at + 7 * rowBytes);
      const a6 = v128.shuffle<i16>(r6, r7, 0, 8, 1, 9, 2, 10, 3, 11), a7 = v128.shuffle<i16>(r6, r7, 4, 12, 5, 13, 6, 14, 7, 15);
      // Infinity or NaN among the 64 values (binary16 only; rare): one test for the 8 × 8, not one per depth.
      const special = sizeof<T>() == 2 && hasFloat16Special(r0, r1, r2, r3, r4, r5, r6, r7);
      // Round 2: keys 0, 4, 1, 5 (b0–b3) and 2, 6, 3, 7 (b4–b7), two depths each.
      const b0 = v128.shuffle<i32>(a0, a2, 0, 4, 1, 5), b1 = v128.shuffle<i32>(a0, a2, 2, 6, 3, 7);
      const b2 = v128.shuffle<i32>(a1, a3, 0, 4, 1, 5), b3 = v128.shuffle<i32>(a1, a3, 2, 6, 3, 7);
      const b4 = v128.shuffle<i32>(a4, a6, 0, 4, 1, 5), b5 = v128.shuffle<i32>(a4, a6, 2, 6, 3, 7);
      const b6 = v128.shuffle<i32>(a5, a7, 0, 4, 1, 5), b7 = v128.shuffle<i32>(a5, a7, 2, 6, 3, 7);
      // Round 3: one depth's keys 0, 4, 1, 5, 2, 6, 3, 7 per vector, decoded into the panel's row of that depth.
      const o = out + (<usize>d << 5);
      storeKeys<T>(v128.shuffle<i64>(b0, b4, 0, 2), o, scaleLow, scaleHigh, special);
      storeKeys<T>(v128.shuffle<i64>(b0, b4, 1, 3), o + 32, scaleLow, scaleHigh, special);
      storeKeys<T>(v128.shuffle<i64>(b1, b5, 0, 2), o + 64, scaleLow, scaleHigh, special);
      storeKeys<T>(v128.shuffle<i64>(b1, b5, 1, 3), o + 96, scaleLow, scaleHigh, special);
      storeKeys<T>(v128.shuffle<i64>(b2, b6, 0, 2), o + 128, scaleLow, scaleHigh, special);
      storeKeys<T>(v128.shuffle<i64>(b2, b6, 1, 3), o + 160, scaleLow, scaleHigh, special);
      storeKeys<T>(v128.shuffle<i64>(b3, b7, 0, 2), o + 192, scaleLow, scaleHigh, special);
      storeKeys<T>(v128.shuffle<i64>(b3, b7, 1, 3), o + 224, scaleLow, scaleHigh, special);
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

/** One depth's 8 keys, 16-bit lanes in the order 0, 4, 1, 5, 2, 6, 3, 7 (32-bit lane k: key k low, key
 *  k + 4 high) → float32 at out (keys 0–3) and out + 16 (keys 4–7). */
// @ts-ignore: decorator
@inline
function storeKeys<T>(keys: v128, out: usize, scaleLow: v128, scaleHigh: v128, special: bool): void {
  if (sizeof<T>() == 2) {
    const rebias = rebiasVector(), keep = keepMask();
    let low = f32x4.mul(float16Unscaled(i32x4.shl(keys, 16), keep), rebias), high = f32x4.mul(float16Unscaled(keys, keep), rebias);
    if (special) { // Infinity or NaN somewhere in the 8 × 8: their exponent must be all ones (float16.ts)
      const specials = float16Specials(keys);
      const allOnes = allOnesExponent();
      low = v128.or(low, v128.and(i32x4.shl(specials, 16), allOnes));
      high = v128.or(high, v128.and(specials, allOnes));
    }
    v128.store(out, low);
    v128.store(out, high, 16);
  } else {
    v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.shr_s(i32x4.shl(keys, 16), 16)), scaleLow));
    v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.shr_s(keys, 16)), scaleHigh), 16);
  }
}

/** Whether any of eight vectors of binary16 holds Infinity or NaN (magnitude bits above 0x7bff): the
 *  largest magnitude of each lane, compared once. */
// @ts-ignore: decorator
@inline
function hasFloat16Special(r0: v128, r1: v128, r2: v128, r3: v128, r4: v128, r5: v128, r6: v128, r7: v128): bool {
  const mask = magnitudeMask();
  const m01 = i16x8.max_u(v128.and(r0, mask), v128.and(r1, mask)), m23 = i16x8.max_u(v128.and(r2, mask), v128.and(r3, mask));
  const m45 = i16x8.max_u(v128.and(r4, mask), v128.and(r5, mask)), m67 = i16x8.max_u(v128.and(r6, mask), v128.and(r7, mask));
  return v128.any_true(i16x8.gt_u(i16x8.max_u(i16x8.max_u(m01, m23), i16x8.max_u(m45, m67)), largestFinite()));
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
