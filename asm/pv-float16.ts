// Stage 3 (pv.ts) for one row over binary16 V rows as stored, decoded inside the loop: what a decode
// step (one query row) runs over a float16 cache, so V is never written to the block staging and read
// back. Taken only when the span's V is finite (no Infinity or NaN patterns) and Dv is a multiple of 8.
//
// The same bits as pv1 over the decoded rows, with one multiply fewer per 4 values: float16.ts decodes
// a binary16 v as w = v · 2^-112 (its bits moved into place) times 2^112. Here the 2^112 goes on p
// instead: p' = p · 2^112 is exact (p ≤ 1 and is 0 or normal, exp.ts flushes subnormals), w is exact
// (a float32, subnormal for binary16 subnormals), so p'·w is the same real number as p·v and
// madd(p', w, acc) rounds it — fused or not — exactly as madd(p, v, acc) does. Per element the
// sequence is pv1's: one multiply by α, then multiply-adds in key order. Only the block's real keys
// are read (the staging's zero pad rows would add p · 0 = +0, which changes no accumulator).

import { float16Unscaled, highHalvesHigh, highHalvesLow, REBIAS } from './float16';
import { madd } from './madd';

const REBIAS_FACTOR: f32 = reinterpret<f32>(REBIAS); // 2^112

/** acc = α·acc + Σ_k p[k]·v[k] over `keys` binary16 V rows of dv values (dv a multiple of 8, = dvPad). */
export function pv1Float16(acc: usize, dv: i32, p: usize, alpha: f32, v: usize, keys: i32): void {
  const rowBytes = <usize>dv << 1;
  const a = f32x4.splat(alpha);
  const pEnd = p + (<usize>keys << 2);
  let c = 0;
  for (; c + 32 <= dv; c += 32) {
    const at = acc + (<usize>c << 2);
    let s0 = f32x4.mul(v128.load(at), a), s1 = f32x4.mul(v128.load(at, 16), a);
    let s2 = f32x4.mul(v128.load(at, 32), a), s3 = f32x4.mul(v128.load(at, 48), a);
    let s4 = f32x4.mul(v128.load(at, 64), a), s5 = f32x4.mul(v128.load(at, 80), a);
    let s6 = f32x4.mul(v128.load(at, 96), a), s7 = f32x4.mul(v128.load(at, 112), a);
    let vk = v + (<usize>c << 1);
    for (let pk = p; pk < pEnd; pk += 4) {
      const xs = f32x4.splat(load<f32>(pk) * REBIAS_FACTOR);
      let h = v128.load(vk);
      s0 = madd(xs, float16Unscaled(highHalvesLow(h)), s0); s1 = madd(xs, float16Unscaled(highHalvesHigh(h)), s1);
      h = v128.load(vk, 16);
      s2 = madd(xs, float16Unscaled(highHalvesLow(h)), s2); s3 = madd(xs, float16Unscaled(highHalvesHigh(h)), s3);
      h = v128.load(vk, 32);
      s4 = madd(xs, float16Unscaled(highHalvesLow(h)), s4); s5 = madd(xs, float16Unscaled(highHalvesHigh(h)), s5);
      h = v128.load(vk, 48);
      s6 = madd(xs, float16Unscaled(highHalvesLow(h)), s6); s7 = madd(xs, float16Unscaled(highHalvesHigh(h)), s7);
      vk += rowBytes;
    }
    v128.store(at, s0); v128.store(at, s1, 16); v128.store(at, s2, 32); v128.store(at, s3, 48);
    v128.store(at, s4, 64); v128.store(at, s5, 80); v128.store(at, s6, 96); v128.store(at, s7, 112);
  }
  for (; c < dv; c += 8) {
    const at = acc + (<usize>c << 2);
    let s0 = f32x4.mul(v128.load(at), a), s1 = f32x4.mul(v128.load(at, 16), a);
    let vk = v + (<usize>c << 1);
    for (let pk = p; pk < pEnd; pk += 4) {
      const xs = f32x4.splat(load<f32>(pk) * REBIAS_FACTOR);
      const h = v128.load(vk);
      s0 = madd(xs, float16Unscaled(highHalvesLow(h)), s0); s1 = madd(xs, float16Unscaled(highHalvesHigh(h)), s1);
      vk += rowBytes;
    }
    v128.store(at, s0); v128.store(at, s1, 16);
  }
}
