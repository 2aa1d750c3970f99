// Stage 3 of a span's key block: acc = α·acc + p·V for the rows the softmax left active, lanes along
// Dv (V rows [keys][dvPad], contiguous across a row's features). Per element the sequence is the same
// on every path — one multiply by α, then multiply-adds in key order — so a row's bits do not depend
// on which rows share its group.
//
// Blocking, for lscpu "Intel(R) Xeon(R) Processor" (16 xmm registers under V8; multiply-adds, fused or
// not, on two ports):
//   pv4  4 rows × 8 columns: 8 f32x4 accumulators, 2 V loads and a broadcast p = 11 registers, the
//        shape of dot4x8 and for the same reason (4 × 12 or 6 × 8 spill). Each V vector loaded is used
//        by four rows, so the loop issues one load per two multiply-adds. One key per iteration:
//        unrolling by two measured no faster (V8 then spills an accumulator).
//   pv1  1 row × 32 columns: 8 accumulators again, now to keep 8 independent multiply-add chains in
//        flight; with one accumulator the pass waited on each multiply-add before the next. A decode
//        step's single row runs here, as do groups with an inactive row and spans whose V holds
//        Inf/NaN (skipZero: keys with p = 0 are left out, so a masked key's Inf·0 cannot poison a row;
//        chosen per span of V, never per tile).

import { madd } from './madd';
import { SCORE_ROW_BYTES } from './scratch';

/**
 * acc[r] = α[r]·acc[r] + Σ_k p[r][k]·v[k] for the 4 rows of a group, 8 columns at a time (then a last
 * 4). Per element this is exactly pv1's sequence: one multiply by α, then multiply-adds in key order.
 */
export function pv4(acc: usize, dvPad: i32, p: usize, alpha: usize, v: usize, keys: i32): void {
  const rowBytes = <usize>dvPad << 2;
  const a0 = v128.load32_splat(alpha), a1 = v128.load32_splat(alpha, 4);
  const a2 = v128.load32_splat(alpha, 8), a3 = v128.load32_splat(alpha, 12);
  let c = 0;
  for (; c + 8 <= dvPad; c += 8) {
    const at0 = acc + (<usize>c << 2), at1 = at0 + rowBytes, at2 = at1 + rowBytes, at3 = at2 + rowBytes;
    let c00 = f32x4.mul(v128.load(at0), a0), c01 = f32x4.mul(v128.load(at0, 16), a0);
    let c10 = f32x4.mul(v128.load(at1), a1), c11 = f32x4.mul(v128.load(at1, 16), a1);
    let c20 = f32x4.mul(v128.load(at2), a2), c21 = f32x4.mul(v128.load(at2, 16), a2);
    let c30 = f32x4.mul(v128.load(at3), a3), c31 = f32x4.mul(v128.load(at3, 16), a3);
    let vk = v + (<usize>c << 2);
    let pk = p;
    const pEnd = p + (<usize>keys << 2);
    // The p loads of rows 1–3 use immediate offsets of whole score rows.
    for (; pk < pEnd; pk += 4) {
      const v0 = v128.load(vk), v1 = v128.load(vk, 16);
      let x = v128.load32_splat(pk);
      c00 = madd(x, v0, c00); c01 = madd(x, v1, c01);
      x = v128.load32_splat(pk, SCORE_ROW_BYTES);
      c10 = madd(x, v0, c10); c11 = madd(x, v1, c11);
      x = v128.load32_splat(pk, 2 * SCORE_ROW_BYTES);
      c20 = madd(x, v0, c20); c21 = madd(x, v1, c21);
      x = v128.load32_splat(pk, 3 * SCORE_ROW_BYTES);
      c30 = madd(x, v0, c30); c31 = madd(x, v1, c31);
      vk += rowBytes;
    }
    v128.store(at0, c00); v128.store(at0, c01, 16);
    v128.store(at1, c10); v128.store(at1, c11, 16);
    v128.store(at2, c20); v128.store(at2, c21, 16);
    v128.store(at3, c30); v128.store(at3, c31, 16);
  }
  if (c < dvPad) {
    const at0 = acc + (<usize>c << 2), at1 = at0 + rowBytes, at2 = at1 + rowBytes, at3 = at2 + rowBytes;
    let c0 = f32x4.mul(v128.load(at0), a0), c1 = f32x4.mul(v128.load(at1), a1);
    let c2 = f32x4.mul(v128.load(at2), a2), c3 = f32x4.mul(v128.load(at3), a3);
    let vk = v + (<usize>c << 2);
    for (let k = 0; k < keys; k++) {
      const v0 = v128.load(vk);
      const pk = p + (<usize>k << 2);
      c0 = madd(v128.load32_splat(pk), v0, c0);
      c1 = madd(v128.load32_splat(pk, SCORE_ROW_BYTES), v0, c1);
      c2 = madd(v128.load32_splat(pk, 2 * SCORE_ROW_BYTES), v0, c2);
      c3 = madd(v128.load32_splat(pk, 3 * SCORE_ROW_BYTES), v0, c3);
      vk += rowBytes;
    }
    v128.store(at0, c0); v128.store(at1, c1); v128.store(at2, c2); v128.store(at3, c3);
  }
}

/**
 * One row's acc = α·acc + Σ_k p[k]·v[k]; with skipZero, keys with p = 0 are left out entirely.
 * 32 columns (8 accumulators) per pass over the keys, then 4 at a time (see the header).
 * Per element the operations are pv4's: one multiply by α, then multiply-adds in key order.
 */
export function pv1(acc: usize, dvPad: i32, p: usize, alpha: f32, v: usize, keys: i32, skipZero: bool): void {
  const rowBytes = <usize>dvPad << 2;
  const a = f32x4.splat(alpha);
  const pEnd = p + (<usize>keys << 2);
  let c = 0;
  for (; c + 32 <= dvPad; c += 32) {
    const at = acc + (<usize>c << 2);
    let s0 = f32x4.mul(v128.load(at), a), s1 = f32x4.mul(v128.load(at, 16), a);
    let s2 = f32x4.mul(v128.load(at, 32), a), s3 = f32x4.mul(v128.load(at, 48), a);
    let s4 = f32x4.mul(v128.load(at, 64), a), s5 = f32x4.mul(v128.load(at, 80), a);
    let s6 = f32x4.mul(v128.load(at, 96), a), s7 = f32x4.mul(v128.load(at, 112), a);
    let vk = v + (<usize>c << 2);
    for (let pk = p; pk < pEnd; pk += 4) {
      const x = load<f32>(pk);
      if (!skipZero || x != 0) {
        const xs = f32x4.splat(x);
        s0 = madd(xs, v128.load(vk), s0); s1 = madd(xs, v128.load(vk, 16), s1);
        s2 = madd(xs, v128.load(vk, 32), s2); s3 = madd(xs, v128.load(vk, 48), s3);
        s4 = madd(xs, v128.load(vk, 64), s4); s5 = madd(xs, v128.load(vk, 80), s5);
        s6 = madd(xs, v128.load(vk, 96), s6); s7 = madd(xs, v128.load(vk, 112), s7);
      }
      vk += rowBytes;
    }
    v128.store(at, s0); v128.store(at, s1, 16); v128.store(at, s2, 32); v128.store(at, s3, 48);
    v128.store(at, s4, 64); v128.store(at, s5, 80); v128.store(at, s6, 96); v128.store(at, s7, 112);
  }
  for (; c < dvPad; c += 4) {
    const at = acc + (<usize>c << 2);
    let sum = f32x4.mul(v128.load(at), a);
    let vk = v + (<usize>c << 2);
    for (let pk = p; pk < pEnd; pk += 4) {
      const x = load<f32>(pk);
      if (!skipZero || x != 0) sum = madd(f32x4.splat(x), v128.load(vk), sum);
      vk += rowBytes;
    }
    v128.store(at, sum);
  }
}
