// int8 storage of float32 rows in blocks: each row of D values (one position of one kv head) is cut
// into blocks of INT8_BLOCK along D (the last may be shorter), each with one float32 scale:
//   scale = max|x| / 127 (float32),  q = clamp(roundHalfEven(x / scale), −127, 127) (division in
//   float32),  value = float32(q · scale);  a block whose scale is 0 (all zeros) stores q = 0.
// Shared by every store of reduced-precision K/V (the KvCache today, a paged store later) and by the
// js kernel, which decodes element by element with int8Value.

export const INT8_BLOCK = 32;

/** Scales per row of `cols` values. */
export function int8BlocksPerRow(cols: number): number {
  return Math.ceil(cols / INT8_BLOCK);
}

/** The value a stored q and its block's scale decode to: float32(q · scale) (q · scale is exact in
 *  float64: 8 by 24 significant bits). */
export function int8Value(q: number, scale: number): number {
  return Math.fround(q * scale);
}

/** `rows` rows of `cols` values from src[srcAt…] (contiguous) into q[qAt…] and their scales into
 *  scales[scalesAt…] (int8BlocksPerRow(cols) per row). The values must be finite (the caller checks:
 *  a block's scale cannot stand for Infinity or NaN). */
export function encodeInt8Rows(q: Int8Array, qAt: number, scales: Float32Array, scalesAt: number,
  src: ArrayLike<number>, srcAt: number, rows: number, cols: number): void {
  const blocks = int8BlocksPerRow(cols);
  for (let r = 0; r < rows; r++) {
    for (let blk = 0; blk < blocks; blk++) {
      const from = r * cols + blk * INT8_BLOCK, to = r * cols + Math.min(cols, (blk + 1) * INT8_BLOCK);
      let max = 0;
      for (let i = from; i < to; i++) max = Math.max(max, Math.abs(src[srcAt + i]));
      const scale = Math.fround(max / 127);
      scales[scalesAt + r * blocks + blk] = scale;
      for (let i = from; i < to; i++) {
        // float64 division of two float32 values rounded to float32 is the float32 division.
        q[qAt + i] = scale === 0 ? 0 : Math.max(-127, Math.min(127, roundHalfEven(Math.fround(src[srcAt + i] / scale))));
      }
    }
  }
}

export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor; // exact for any float32 value
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
