// Vectorised tanh for the logit softcap (s' = c·tanh(s / c)): four float32 lanes, built on exp2Vec.
//
// tanh(x) = sign(x)·(1 − e)/(1 + e) with e = 2^(−2|x|·log2 e) in (0, 1], so no step overflows: large
// |x| give e = 0 (exp2Vec flushes below 2^-126) and exactly ±1; x = ±0 gives e = 1 and ±0; NaN stays
// NaN. The error is absolute rather than relative: e carries exp2Vec's 8.5e-8 relative error and one
// rounding, and 1 − e cancels for small |x|, so |tanh − exact| ≤ ~2e-7 everywhere (below 0.02 it is
// relatively worse, where tanh(x) ≈ x is small). After the multiply by c that is c·2e-7 on a score,
// against the ~|s|·6e-8 of the score's own float32 rounding, which for capped scores (|s| ≤ c) is of the
// same order. One division per vector: on this CPU divps costs about what four multiplies do.

import { constant, exp2Vec, ONE_CONSTANT } from './exp';

const TANH_CONSTANTS = memory.data<f32>([
  -2.8853900817779268, // −2·log2 e: |x| to the exponent of e
], 16);
const MINUS_TWO_LOG2E = 0;
const SIGN_BIT = memory.data<i32>([0x80000000], 16);

// @ts-ignore: decorator
@inline
export function tanhVec(x: v128): v128 {
  const e = exp2Vec(f32x4.mul(f32x4.abs(x), v128.load32_splat(TANH_CONSTANTS + MINUS_TWO_LOG2E)));
  const one = constant(ONE_CONSTANT);
  const t = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  return v128.or(t, v128.and(x, v128.load32_splat(SIGN_BIT))); // t ≥ 0 (or NaN): x's sign bit onto it
}

/** Test entry point: dst[i] = tanh(src[i]) for i < count (count a multiple of 4). */
export function tanhArray(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, tanhVec(v128.load(src + o)));
  }
}
