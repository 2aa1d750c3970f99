// IEEE binary16 storage of float32 values: round to nearest, ties to even (what Math.f16round does;
// Node 20 lacks it, so the rounding is done here on the float32 bits), and the exact way back.
// Shared by every store of reduced-precision K/V (the KvCache today, a paged store later) and by the
// js kernel, which decodes element by element through FLOAT16_VALUES.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to float32(x), ties to even: overflow gives ±Infinity, NaN a quiet NaN
 *  keeping the top payload bits, ±0 and subnormals as IEEE 754 rounds them. */
export function float16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  const e = exponent - 127 + 15; // the binary16 biased exponent, if the value were normal there
  if (e >= 0x1f) return sign | 0x7c00;
  if (e >= 1) return sign | roundedShift((e << 23) | mantissa, 13); // a carry moves into the exponent, up to Infinity
  // Subnormal (or zero) in binary16: units of 2^-24. Below 2^-25 everything rounds to zero.
  if (e < -10) return sign;
  return sign | roundedShift(mantissa | 0x800000, 14 - e);
}

/** value >>> shift rounded to nearest, ties to even (shift in 1…24). */
function roundedShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** The value binary16 bits stand for (exact as a float32 and as a number). */
export function float16Value(bits: number): number {
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

let table: Float32Array | undefined;

/** Every binary16 bit pattern's value, for decoding one element at a time (256 KiB, made on first use). */
export function float16Values(): Float32Array {
  if (table === undefined) {
    table = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) table[bits] = float16Value(bits);
  }
  return table;
}

/** dst[dstAt + i] = float16Bits(src[srcAt + i]) for i < count. */
export function encodeFloat16(dst: Uint16Array, dstAt: number, src: ArrayLike<number>, srcAt: number, count: number): void {
  for (let i = 0; i < count; i++) dst[dstAt + i] = float16Bits(src[srcAt + i]);
}
