// binary16 → float32 on SIMD lanes, exactly (WebAssembly SIMD has no f16 lanes): each binary16 is
// placed in the high half of a 32-bit lane (rows: a shuffle with zeros, which also does the widening;
// stored-panels.ts arranges its transposes so that a shift or nothing does), an arithmetic shift right
// by 3 moves its exponent and mantissa into a float32's (exponent bits 27–23, mantissa 22–13) while
// copying the sign down, the three copies and whatever the low half held are cleared, and a multiply by
// 2^112 rebiases the exponent (15 → 127). The multiply keeps the sign (−0 stays −0) and is exact, also
// for binary16 subnormals, which arrive as float32 subnormals and leave as normal values. Infinity and
// NaN (exponent all ones) then need the float32 exponent all ones too: they are rare, so a lane test
// finds them per 8 values and only then are they patched (the mantissa, hence the NaN payload, is
// already in place). Four integer and float operations per 4 values where the old sequence took ten.
// Checked for all 65536 patterns against workers/storage/float16.ts (test/wasm-float16.test.ts).

/** float32 bits of 2^112: the rebias factor. */
export const REBIAS: i32 = 0x77800000;

// The lane constants live in a table and every use is a broadcast load from it (as in exp.ts): V8
// rebuilds a literal v128.const in every loop iteration, which made the decode twice as slow.
const CONSTANTS = memory.data<i32>([0x8fffe000, REBIAS, 0x7c007c00, 0x7f800000, 0x7fff7fff, 0x7bff7bff], 16);
const KEEP = 0, REBIAS_AT = 4, EXPONENT16 = 8, ALL_ONES_EXPONENT = 12, MAGNITUDE16 = 16, LARGEST_FINITE16 = 20;

// @ts-ignore: decorator
@inline
function constant(offset: usize): v128 {
  return v128.load32_splat(CONSTANTS + offset);
}

/** 2^112 in every lane. */
// @ts-ignore: decorator
@inline
export function rebiasVector(): v128 {
  return constant(REBIAS_AT);
}

/** 16-bit lanes: a binary16's magnitude bits, and the largest finite magnitude. */
// @ts-ignore: decorator
@inline
export function magnitudeMask(): v128 {
  return constant(MAGNITUDE16);
}

// @ts-ignore: decorator
@inline
export function largestFinite(): v128 {
  return constant(LARGEST_FINITE16);
}

/** The float32 exponent all ones in every lane. */
// @ts-ignore: decorator
@inline
export function allOnesExponent(): v128 {
  return constant(ALL_ONES_EXPONENT);
}

/** Lanes 0–3 (high: 4–7) of eight 16-bit lanes, each in the high half of a 32-bit lane. */
// @ts-ignore: decorator
@inline
export function highHalvesLow(h: v128): v128 {
  return v128.shuffle<i16>(i16x8.splat(0), h, 0, 8, 1, 9, 2, 10, 3, 11);
}

// @ts-ignore: decorator
@inline
export function highHalvesHigh(h: v128): v128 {
  return v128.shuffle<i16>(i16x8.splat(0), h, 4, 12, 5, 13, 6, 14, 7, 15);
}

/** Four binary16 values v, each in the high half of its 32-bit lane (the low half is ignored), as the
 *  float32 v · 2^-112 (exact; the bits only moved) — but for Infinity and NaN (see float16Specials).
 *  keep: keepMask(), which loops load once. */
// @ts-ignore: decorator
@inline
export function float16Unscaled(x: v128, keep: v128): v128 {
  return v128.and(i32x4.shr_s(x, 3), keep);
}

/** The bits float16Unscaled keeps after its shift: the sign and binary16's exponent and mantissa. */
// @ts-ignore: decorator
@inline
export function keepMask(): v128 {
  return constant(KEEP);
}

/** The same four values as float32 — but for Infinity and NaN (see float16Specials). */
// @ts-ignore: decorator
@inline
export function float16Finite(x: v128): v128 {
  return f32x4.mul(float16Unscaled(x, constant(KEEP)), constant(REBIAS_AT));
}

/** All ones in the 16-bit lanes of h holding Infinity or NaN. */
// @ts-ignore: decorator
@inline
export function float16Specials(h: v128): v128 {
  const exponent = constant(EXPONENT16);
  return i16x8.eq(v128.and(h, exponent), exponent);
}

/** Eight binary16 values → two float32 vectors at dst and dst + 16. */
// @ts-ignore: decorator
@inline
export function storeFloat16x8(h: v128, dst: usize): void {
  let low = float16Finite(highHalvesLow(h)), high = float16Finite(highHalvesHigh(h));
  const specials = float16Specials(h);
  if (v128.any_true(specials)) {
    // Infinity or NaN: the multiply gave 2^16 · 1.mantissa; the exponent must be all ones.
    const allOnes = constant(ALL_ONES_EXPONENT);
    low = v128.or(low, v128.and(highHalvesLow(specials), allOnes));
    high = v128.or(high, v128.and(highHalvesHigh(specials), allOnes));
  }
  v128.store(dst, low);
  v128.store(dst, high, 16);
}

/** count binary16 values → float32 (8 at a time, then one by one the same way). */
export function decodeFloat16Row(src: usize, count: i32, dst: usize): void {
  let i = 0;
  for (; i + 8 <= count; i += 8) storeFloat16x8(v128.load(src + (<usize>i << 1)), dst + (<usize>i << 2));
  for (; i < count; i++) {
    const h = <u32>load<u16>(src + (<usize>i << 1));
    let bits = reinterpret<u32>(reinterpret<f32>(<u32>(<i32>(h << 16) >> 3) & 0x8fffffff) * reinterpret<f32>(REBIAS));
    if ((h & 0x7c00) == 0x7c00) bits |= 0x7f800000;
    store<u32>(dst + (<usize>i << 2), bits);
  }
}

/** Test entry (test/wasm-float16.test.ts): count binary16 values at src → float32 at dst. */
export function decodeFloat16Array(src: usize, dst: usize, count: i32): void {
  decodeFloat16Row(src, count, dst);
}
