// Vectorised exp for the softmax: four float32 lanes at once, no table, no branches.
//
// Range reduction: x = n·ln2 + r with n = nearest(x·log2e), |r| <= ln2/2, so exp(x) = 2^n · e^r.
// ln2 is split Cody–Waite style into LN2_HI (few significant bits, so n·LN2_HI is exact for the
// |n| <= 150 used here) and LN2_LO, which keeps r accurate to float32 rounding.
// e^r is Cephes' expf polynomial (degree 7 in total, minimax on [-ln2/2, ln2/2]).
// 2^n is applied as two exact power-of-two factors of about 2^(n/2): each stays a normal float32 for
// every n in [-150, 128], and the second multiply rounds once into the subnormal range, so results
// between 2^-149 and 2^-126 are as accurate as float32 allows instead of flushed to zero.
//
// Domain: x <= 88 (the softmax only evaluates x = s - max <= 0). Inputs below -104 are clamped to
// -104, where exp already rounds to +0, so exp(-Infinity) = 0 exactly; NaN propagates (pmax keeps its
// first operand when the comparison is false, and r becomes NaN).

const LOG2E: f32 = 1.44269504088896341;
// 1.5·2^23: adding it rounds a float32 of magnitude < 2^22 to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_FLOOR: f32 = -104.0;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

// @ts-ignore: decorator
@inline
export function expVec(x: v128): v128 {
  const xc = f32x4.pmax(x, f32x4.splat(EXP_FLOOR));
  const t = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  // e^r ≈ 1 + r + r²·p(r)
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  // 2^n = 2^(e1 - 127) · 2^(e2 - 127) with e1 + e2 = n + 254 read off the low mantissa bits of t
  // (n + 254 is in [104, 382] for n in [-150, 128], so both biased exponents are in [52, 191]).
  const e = i32x4.sub(t, i32x4.splat(ROUND_MAGIC_BITS - 254));
  const e1 = i32x4.shr_u(e, 1);
  const e2 = i32x4.sub(e, e1);
  return f32x4.mul(f32x4.mul(p, i32x4.shl(e1, 23)), i32x4.shl(e2, 23));
}

/** Test entry point: dst[i] = exp(src[i]) for i < count (count a multiple of 4). */
export function expArray(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, expVec(v128.load(src + o)));
  }
}
