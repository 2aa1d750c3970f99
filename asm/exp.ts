// Vectorised 2^x for the softmax: four float32 lanes at once, no lookup table, no branches.
//
// The softmax works in base 2, as FlashAttention-2 does: the driver folds log2 e into the score scale,
// so a score arrives as x = s·scale·log2 e − m (m the row's running maximum in the same units) and its
// weight is 2^x = e^(s·scale − m·ln 2). Base 2 needs no Cody–Waite reduction by ln 2 (4 of the 27
// arithmetic instructions the natural exp took) and the degree drops by one; on this CPU multiplies
// and adds share two ports, so the softmax's cost is its count of arithmetic instructions.
//
// Range reduction: n = floor(x) (nearest(x − 0.5): where x is an integer it may pick x − 1, then
// f = 1), f = x − n in [0, 1], exact except for x in (−1, 0) where x + 1 rounds once (relative error
// ≤ 2^-25·ln 2 in the result). 2^f is a degree-6 polynomial, 1 + f·(C1 + … + f·C6), fitted for least
// maximum relative error on [0, 1] (8.5e-8 evaluated in float32). 2^n is the float32 with exponent
// field n + 127, built from the bits of the rounded x: the product p·2^n is exact.
//
// Flush to zero: where the result would be subnormal (x < −126) it is +0. Arithmetic on subnormals
// takes a microcode assist on x86 (~100 cycles) and WebAssembly cannot set the FTZ/DAZ flags native
// kernels use: a peaked softmax (logits spread over more than 87) made every p·V product subnormal and
// the whole attention 5× slower (measured: MHA layer with unit-range weights, S=2048). Such p are below
// 2^-126 of the row's largest weight, far under float32's resolution of the sum. x is first clamped to
// −126.75 (pmax, so −Infinity becomes −126.75 and NaN stays NaN; not to −127, whose x − 0.5 would
// round to the even −128); every x < −126 then has n = −127, which gives the exponent field 0, the
// float +0, and p·(+0) = +0, while floor keeps p·2^n ≥ 2^-126 for every x ≥ −126. No step sees a
// subnormal. 2^(−Infinity) = 0 and 2^0 = 1 exactly; NaN propagates (f and p become NaN).
//
// Domain: x <= 0 — the softmax only evaluates x = s − m and α = 2^(m_old − m_new), both <= 0.
//
// The constants live in a table in linear memory and every use is a broadcast load from it. As
// literal v128.const values V8 rebuilds each one in every loop iteration (it does not hoist them, and
// binaryen folds locals that hold them back into the loop), which cost more than the arithmetic.

const CONSTANTS = memory.data<f32>([
  -126.75, // CLAMP: every smaller argument and −Infinity is raised to it; its n is −127, it flushes to +0
  0.5, // HALF: nearest(x − 0.5) is floor(x)
  12582912.0, // ROUND_MAGIC 1.5·2^23: adding it rounds a float32 of magnitude < 2^22 to an integer in the low mantissa bits
  0.6931470632553101, 0.2402293086051941, 0.055485282093286514, // C1..C3
  0.009675451554358006, 0.0012467846972867846, 0.00021612914861179888, // C4..C6
  1.0, // ONE
  1.44269504088896341, // LOG2E: the bias's factor into base-2 units
], 16);
const CLAMP = 0, HALF = 4, ROUND_MAGIC = 8, C1 = 12, C2 = 16, C3 = 20, C4 = 24, C5 = 28, C6 = 32, ONE = 36;
export const ONE_CONSTANT = ONE;
export const LOG2E_CONSTANT = 40;
/** The bits of ROUND_MAGIC, less the float32 exponent bias: t's bits minus this are n + 127. */
const EXPONENT_FROM_ROUNDED = memory.data<i32>([0x4b400000 - 127], 16);

/** One of the table's constants in all four lanes. */
// @ts-ignore: decorator
@inline
export function constant(offset: usize): v128 {
  return v128.load32_splat(CONSTANTS + offset);
}

// @ts-ignore: decorator
@inline
export function exp2Vec(x: v128): v128 {
  const xc = f32x4.pmax(x, constant(CLAMP));
  const magic = constant(ROUND_MAGIC);
  const t = f32x4.add(f32x4.sub(xc, constant(HALF)), magic);
  const f = f32x4.sub(xc, f32x4.sub(t, magic));
  let p = f32x4.add(f32x4.mul(constant(C6), f), constant(C5));
  p = f32x4.add(f32x4.mul(p, f), constant(C4));
  p = f32x4.add(f32x4.mul(p, f), constant(C3));
  p = f32x4.add(f32x4.mul(p, f), constant(C2));
  p = f32x4.add(f32x4.mul(p, f), constant(C1));
  p = f32x4.add(f32x4.mul(p, f), constant(ONE));
  const twoToN = i32x4.shl(i32x4.sub(t, v128.load32_splat(EXPONENT_FROM_ROUNDED)), 23);
  return f32x4.mul(p, twoToN);
}

/** Test entry point: dst[i] = 2^src[i] for i < count (count a multiple of 4). */
export function exp2Array(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, exp2Vec(v128.load(src + o)));
  }
}
