// Bit-for-bit comparison of two results: attnpool promises the same bits whatever the thread count, so
// equality here is exact (NaN payloads and the sign of zero included), not a tolerance.

type Floats = Float32Array | Float64Array | Uint8Array;

export function bitIdentical(a: Floats, b: Floats): boolean {
  if (a.constructor !== b.constructor || a.length !== b.length) return false;
  return Buffer.compare(bytesOf(a), bytesOf(b)) === 0;
}

/** Every array of a call's result (output, lse, weights) the same bits as the reference's. */
export function allBitIdentical(result: readonly Floats[], reference: readonly Floats[]): boolean {
  return result.length === reference.length && result.every((r, i) => bitIdentical(r, reference[i]!));
}

function bytesOf(a: Floats): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function maxAbsDiff(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
