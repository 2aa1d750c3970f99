// Comparisons the suites share. They are NaN-safe: a NaN where a number was expected (or a number where
// NaN was expected) is a failure, never silently skipped, because `NaN > tol` is false.

import { expect } from 'vitest';

type Numbers = ArrayLike<number>;

export interface Worst {
  /** Largest |actual − expected| over the compared entries; NaN when some entry is NaN on one side only. */
  readonly diff: number;
  readonly index: number;
}

/** Largest |actual − expected|, over the entries `include` admits (all by default).
 *  Equal values (including equal infinities and NaN == NaN) count as 0. */
export function worstDiff(actual: Numbers, expected: Numbers, include: (index: number) => boolean = () => true): Worst {
  expect(actual.length, 'lengths differ').toBe(expected.length);
  let worst: Worst = { diff: 0, index: -1 };
  for (let n = 0; n < expected.length; n++) {
    if (!include(n)) continue;
    const a = actual[n];
    const e = expected[n];
    if (Object.is(a, e) || a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const diff = Math.abs(a - e);
    if (Number.isNaN(diff)) return { diff: NaN, index: n };
    if (diff > worst.diff) worst = { diff, index: n };
  }
  return worst;
}

export function maxAbs(values: Numbers, include: (index: number) => boolean = () => true): number {
  let m = 0;
  for (let n = 0; n < values.length; n++) if (include(n)) m = Math.max(m, Math.abs(values[n]));
  return m;
}

/** max |actual − expected| ≤ tol (NaN-safe), with the worst entry in the failure message. */
export function expectMaxAbsDiff(actual: Numbers, expected: Numbers, tol: number, label: string, include?: (index: number) => boolean): void {
  const { diff, index } = worstDiff(actual, expected, include);
  const where = index < 0 ? '' : ` (worst at [${index}]: got ${actual[index]}, expected ${expected[index]})`;
  expect(diff <= tol, `${label}: max |Δ| = ${diff} > ${tol}${where}`).toBe(true);
}

/** The golden README's bound: max |actual − expected| ≤ rtol · max |expected|. */
export function expectRelativeToMax(actual: Numbers, expected: Numbers, rtol: number, label: string, include?: (index: number) => boolean): void {
  expectMaxAbsDiff(actual, expected, rtol * maxAbs(expected, include), label, include);
}

/** Log-sum-exp: |Δ| ≤ 1e-5 · max(1, |expected|), and −Infinity exactly where expected. */
export function expectLseClose(actual: Numbers, expected: Numbers, label: string, include: (index: number) => boolean = () => true): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let n = 0; n < expected.length; n++) {
    if (!include(n)) continue;
    const a = actual[n];
    const e = expected[n];
    if (e === -Infinity) {
      expect(a, `${label}[${n}] must be -Infinity`).toBe(-Infinity);
      continue;
    }
    const ok = Math.abs(a - e) <= 1e-5 * Math.max(1, Math.abs(e));
    expect(ok, `${label}[${n}]: got ${a}, expected ${e}`).toBe(true);
  }
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Index of the first element whose bits differ, or -1 when the arrays are bit-for-bit identical. */
export function firstBitDifference(a: Float32Array | Float64Array | Uint8Array, b: Float32Array | Float64Array | Uint8Array): number {
  if (a.constructor !== b.constructor || a.length !== b.length) return 0;
  const x = bytes(a);
  const y = bytes(b);
  for (let n = 0; n < x.length; n++) if (x[n] !== y[n]) return Math.floor(n / a.BYTES_PER_ELEMENT);
  return -1;
}

export function expectSameBits(actual: Float32Array | Float64Array | Uint8Array, expected: Float32Array | Float64Array | Uint8Array, label: string): void {
  expect(actual.constructor.name, `${label}: element type`).toBe(expected.constructor.name);
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const at = firstBitDifference(actual, expected);
  expect(at, `${label}: first differing element [${at}]: ${actual[at]} vs ${expected[at]}`).toBe(-1);
}

/** Runs `call` (which may throw synchronously or reject) and returns what it threw. */
export async function caught(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

// Tolerances against the float64 reference, for float32 results. Inputs are exact float32 values, so
// the only error is attnpool's float32 arithmetic: each score q·k is a sum of D products rounded at
// about 6e-8 relative (|error| ≲ √D · 6e-8 · Σ|q_d k_d|, a few 1e-6 at most for D ≤ 64 and logits of
// order 1–10), which perturbs each softmax weight by about that relative amount; the weighted sum of
// v then adds a similar rounding. The golden README measured ≤ 1e-6 · max|out| for plain float32
// implementations on such sizes and suggests 1e-5 · max|out| for logits within |32| — the bound used
// here, ten times the expected error and far below any real mistake (a wrong mask or key is O(0.1)).
export const FLOAT32_RTOL = 1e-5;
/** Attention probabilities lie in [0, 1]: absolute, as in the golden README. */
export const WEIGHTS_ATOL = 1e-5;
// Float64 results: the same error analysis with 1.1e-16 rounding gives ~1e-14 · max|out|; 1e-12 leaves
// room for other summation orders and still catches any float32 rounding (1e-7) along the way.
export const FLOAT64_RTOL = 1e-12;

/** Result of attention (`out` [B, H, Sq, Dv] and optionally `lse` [B, H, Sq]) against the reference. */
export function expectAttentionClose(
  out: Float32Array | Float64Array,
  lse: Float32Array | Float64Array | undefined,
  reference: { readonly out: Float64Array; readonly lse: Float64Array },
  label: string,
): void {
  const rtol = out instanceof Float64Array ? FLOAT64_RTOL : FLOAT32_RTOL;
  expectRelativeToMax(out, reference.out, rtol, `${label} out`);
  if (lse) expectLseClose(lse, reference.lse, `${label} lse`);
}
