// Stage 3 (pv.ts) for one row over V rows as stored (binary16, or int8 with a float32 scale per 32
// values of a row), decoded inside the loop: what a decode step (one query row) runs over a float16 or
// int8 cache, so V is never written to the block staging and read back. Taken only when the span's V
// decodes to finite values and Dv is a multiple of 8 (attention.ts).
//
// The same bits as pv1 over the decoded rows. Per element the sequence is pv1's: one multiply by α,
// then multiply-adds in key order, of p times the decoded value:
//   int8: the value is float32(q · scale), as decodeInt8Row makes it.
//   binary16: with one multiply fewer per 4 values. float16.ts decodes v as w = v · 2^-112 (its bits
//   moved into place) times 2^112; here the 2^112 goes on p instead: p' = p · 2^112 is exact (p ≤ 1
//   and is 0 or normal, exp.ts flushes subnormals), w is exact (a float32, subnormal for binary16
//   subnormals), so p'·w is the same real number as p·v and madd(p', w, acc) rounds it — fused or
//   not — exactly as madd(p, v, acc) does.
// Only the block's real keys are read: the staging's zero pad rows would add p · 0 = +0, which changes
// no accumulator (an accumulator is never −0: it starts at +0 and +0 + −0 is +0).

import { float16Unscaled, highHalvesHigh, highHalvesLow, keepMask, REBIAS } from './float16';
import { INT8_BLOCK, int8ScaleRowBytes } from './layout';
import { madd } from './madd';
const REBIAS_FACTOR: f32 = reinterpret<f32>(REBIAS); // 2^112

/** acc = α·acc + Σ_k p[k]·v[k] over `keys` binary16 V rows of dv values (dv a multiple of 8, = dvPad). */
export function pv1Float16(acc: usize, dv: i32, p: usize, alpha: f32, v: usize, keys: i32): void {
  pv1Stored<u16>(acc, dv, p, alpha, v, 0, keys);
}

/** The same over int8 V rows and their scales (INT8_BLOCK values per scale). */
export function pv1Int8(acc: usize, dv: i32, p: usize, alpha: f32, v: usize, scales: usize, keys: i32): void {
  pv1Stored<i8>(acc, dv, p, alpha, v, scales, keys);
}

// @ts-ignore: decorator
@inline
function pv1Stored<T>(acc: usize, dv: i32, p: usize, alpha: f32, v: usize, scales: usize, keys: i32): void {
  const rowBytes = <usize>dv * sizeof<T>();
  const scaleRowBytes = int8ScaleRowBytes(dv);
  const a = f32x4.splat(alpha);
  const keep = keepMask(); // loaded once: see float16.ts on constants
  const pEnd = p + (<usize>keys << 2);
  let c = 0;
  for (; c + 32 <= dv; c += 32) {
    const at = acc + (<usize>c << 2);
    let s0 = f32x4.mul(v128.load(at), a), s1 = f32x4.mul(v128.load(at, 16), a);
    let s2 = f32x4.mul(v128.load(at, 32), a), s3 = f32x4.mul(v128.load(at, 48), a);
    let s4 = f32x4.mul(v128.load(at, 64), a), s5 = f32x4.mul(v128.load(at, 80), a);
    let s6 = f32x4.mul(v128.load(at, 96), a), s7 = f32x4.mul(v128.load(at, 112), a);
    let vk = v + <usize>c * sizeof<T>();
    let scale = scales + (<usize>(c / INT8_BLOCK) << 2); // int8: the 32 columns are one scale block
    for (let pk = p; pk < pEnd; pk += 4) {
      const x = weight<T>(pk);
      const sc = sizeof<T>() == 1 ? v128.load32_splat(scale) : x; // binary16 has no scale (unused)
      let h = piece<T>(vk);
      s0 = madd(x, low<T>(h, sc, keep), s0); s1 = madd(x, high<T>(h, sc, keep), s1);
      h = piece<T>(vk + 8 * sizeof<T>());
      s2 = madd(x, low<T>(h, sc, keep), s2); s3 = madd(x, high<T>(h, sc, keep), s3);
      h = piece<T>(vk + 16 * sizeof<T>());
      s4 = madd(x, low<T>(h, sc, keep), s4); s5 = madd(x, high<T>(h, sc, keep), s5);
      h = piece<T>(vk + 24 * sizeof<T>());
      s6 = madd(x, low<T>(h, sc, keep), s6); s7 = madd(x, high<T>(h, sc, keep), s7);
      vk += rowBytes;
      scale += scaleRowBytes;
    }
    v128.store(at, s0); v128.store(at, s1, 16); v128.store(at, s2, 32); v128.store(at, s3, 48);
    v128.store(at, s4, 64); v128.store(at, s5, 80); v128.store(at, s6, 96); v128.store(at, s7, 112);
  }
  for (; c < dv; c += 8) {
    const at = acc + (<usize>c << 2);
    let s0 = f32x4.mul(v128.load(at), a), s1 = f32x4.mul(v128.load(at, 16), a);
    let vk = v + <usize>c * sizeof<T>();
    let scale = scales + (<usize>(c / INT8_BLOCK) << 2);
    for (let pk = p; pk < pEnd; pk += 4) {
      const x = weight<T>(pk);
      const sc = sizeof<T>() == 1 ? v128.load32_splat(scale) : x;
      const h = piece<T>(vk);
      s0 = madd(x, low<T>(h, sc, keep), s0); s1 = madd(x, high<T>(h, sc, keep), s1);
      vk += rowBytes;
      scale += scaleRowBytes;
    }
    v128.store(at, s0); v128.store(at, s1, 16);
  }
}

/** p[k] on every lane: times 2^112 for binary16 (see the header). */
// @ts-ignore: decorator
@inline
function weight<T>(pk: usize): v128 {
  return sizeof<T>() == 2 ? f32x4.splat(load<f32>(pk) * REBIAS_FACTOR) : v128.load32_splat(pk);
}

/** 8 stored values as 16-bit lanes: binary16 bits, or int8 sign-extended. */
// @ts-ignore: decorator
@inline
function piece<T>(at: usize): v128 {
  if (sizeof<T>() == 2) return v128.load(at);
  return i16x8.extend_low_i8x16_s(v128.load64_zero(at));
}

/** Values 0–3 (high: 4–7) of a piece decoded: binary16 as v · 2^-112, int8 as float32(q · scale). */
// @ts-ignore: decorator
@inline
function low<T>(h: v128, scale: v128, keep: v128): v128 {
  if (sizeof<T>() == 2) return float16Unscaled(highHalvesLow(h), keep);
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h)), scale);
}

// @ts-ignore: decorator
@inline
function high<T>(h: v128, scale: v128, keep: v128): v128 {
  if (sizeof<T>() == 2) return float16Unscaled(highHalvesHigh(h), keep);
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h)), scale);
}
