// The factors the wasm kernel's scores are computed with (asm/attention.ts). Its softmax is base 2 in
// float32: a score is s = q·k · scale·log2 e. For a huge scale that overflows — the factor itself
// beyond |scale| ≈ 2.36e38, the scores of unit-range data from about 1e37, of larger data far below —
// and ±Infinity scores give ∞ − ∞ = NaN rows (or rows that look fully masked), where the js kernel,
// in float64, computes the limit the definition gives: the softmax concentrates on the row's maximum.
// So above SHIFT_FROM the kernel gets the factor divided by a power of two `shift` and multiplies every
// difference of scores by `shift` before 2^x: exactly the same arithmetic wherever it was finite
// (scaling by a power of two commutes with rounding), the limit where it overflowed.

export interface ScoreScaling {
  /** scale · log2 e / shift, as float32. */
  readonly scoreScale: number;
  /** A power of two in [1, 2^126]; the kernel's row maxima are in units of 1 / shift. */
  readonly shift: number;
}

/** Factors below this keep shift = 1: the computation is the one from before the shift existed. */
const SHIFT_FROM = 2 ** 64;
/** The largest shift: 1 / shift and log2 e / shift stay normal float32 numbers. */
const MAX_SHIFT_EXPONENT = 126;

export function scoreScaling(scale: number): ScoreScaling {
  const factor = scale * Math.LOG2E;
  if (!(Math.abs(factor) >= SHIFT_FROM)) return { scoreScale: Math.fround(factor), shift: 1 };
  const shift = 2 ** Math.min(MAX_SHIFT_EXPONENT, Math.floor(Math.log2(Math.abs(factor))));
  return { scoreScale: Math.fround(factor / shift), shift };
}
