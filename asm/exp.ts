// Vectorised exp for the softmax: four float32 lanes at once, no table, no branches.
//
// Range reduction: x = n·ln2 + r with n = nearest(x·log2e), |r| <= ln2/2, so exp(x) = 2^n · e^r.
// ln2 is split Cody–Waite style into LN2_HI (few significant bits, so n·LN2_HI is exact for the
// |n| <= 150 used here) and LN2_LO, which keeps r accurate to float32 rounding.
// e^r is Cephes' expf polynomial (degree 7 in total, minimax on [-ln2/2, ln2/2]).
// 2^n is applied as two exact power-of-two factors of about 2^(n/2), each a normal float32.
//
// Flush to zero: where the result would be subnormal (x < ln 2^-126), exp returns +0. Arithmetic on
// subnormals takes a microcode assist on x86 (~100 cycles) and WebAssembly cannot set the FTZ/DAZ
// flags native kernels use: a peaked softmax (logits spread over more than 87) made every p·V product
// subnormal and the whole attention 5× slower (measured: MHA layer with unit-range weights, S=2048).
// Such p are below 2^-126 of the row's largest weight, far under float32's resolution of the sum.
// Those arguments are replaced by 0 before the arithmetic (so no step produces a subnormal) and the
// lanes zeroed at the end; exp(-Infinity) = 0 exactly, and NaN propagates (x < FLUSH is false for
// NaN, and r becomes NaN).
//
// Domain: x <= 88 (the softmax only evaluates x = s - max <= 0).

const LOG2E: f32 = 1.44269504088896341;
// 1.5·2^23: adding it rounds a float32 of magnitude < 2^22 to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** The smallest float32 whose exp is a normal float32 (exp(FLUSH) ≥ 2^-126 > exp(previous float)). */
const FLUSH: f32 = -87.33654022216797;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

// @ts-ignore: decorator
@inline
export function expVec(x: v128): v128 {
  const flushed = f32x4.lt(x, f32x4.splat(FLUSH));
  const xc = v128.andnot(x, flushed); // 0 in flushed lanes
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
  // (n + 254 is in [128, 382] for n in [-126, 128], so both biased exponents are in [64, 191]).
  const e = i32x4.sub(t, i32x4.splat(ROUND_MAGIC_BITS - 254));
  const e1 = i32x4.shr_u(e, 1);
  const e2 = i32x4.sub(e, e1);
  return v128.andnot(f32x4.mul(f32x4.mul(p, i32x4.shl(e1, 23)), i32x4.shl(e2, 23)), flushed);
}

/** Test entry point: dst[i] = exp(src[i]) for i < count (count a multiple of 4). */
export function expArray(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, expVec(v128.load(src + o)));
  }
}
