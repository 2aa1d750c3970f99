// Rotary position embedding, one tile: positions [rowStart, rowEnd) of one batch of one part, every
// head. The same TypeScript for every kernel (shared-tiles.ts): the work is a table of cos/sin plus
// four multiplies per pair — memory-bound, and WebAssembly has no cos/sin of its own to gain from.
//
// Angles and rounding (the same bits whatever the thread count, the tile cut or the kernel):
//   theta_d   = inverseFrequencies[d] = Math.pow(base, -2d/r), once per call on the calling thread
//   angle     = position · theta_d                      one float64 multiply, position an exact integer
//   c, s      = Math.cos(angle), Math.sin(angle)         float64, V8's own routines: the same binary in
//                                                        every thread of the process (test/rotary.test.ts
//                                                        checks workers against the calling thread)
//   (a, b)    → (a·c − b·s, b·c + a·s)                   in float64, rounded once to the tensor's type
// Each element is a function of its own inputs and (b, position, d) only, so no cut of the work into
// tiles changes a bit. Against a float64 reference: float32 results are within one float32 ulp of it
// (the float64 error before the rounding, ~1e-16 relative plus the angle's, is far below float32's half
// ulp; on the golden cases they equal numpy's float32 rounding bit for bit); float64 results within
// ~2^-50 · max(|a|, |b|) · (|position| + 4) — the angle's own rounding grows with the position (about
// 1e-11 relative at position 10^5), as any float64 implementation's does.

import { ROTARY_TILE, type RotaryJob, type RotaryPart } from './jobs.js';
import type { TileOutcome } from './tile-control.js';

/** This thread's cos and sin table, grown as needed (tiles are bounded: rotary-plan.ts). */
let table = new Float64Array(0);

export function rotaryTile(job: RotaryJob, tile: number): TileOutcome {
  const { D, rotaryDim, interleaved, inverseFrequencies: theta } = job;
  const { part: index, b, rowStart, rowEnd } = ROTARY_TILE.read(job.tiles, tile);
  const part = job.parts[index];
  const half = rotaryDim / 2;
  const rows = rowEnd - rowStart;
  if (table.length < 2 * rows * half) table = new Float64Array(2 * rows * half);
  fillTable(part, b, rowStart, rowEnd, theta, half);

  // Pair p is (p, p + half) for rotate_half, (2p, 2p + 1) interleaved: first element and partner step.
  const step = interleaved ? 1 : half;
  const stride = interleaved ? 2 : 1;
  const { src, dst } = part;
  for (let h = 0; h < part.H; h++) {
    for (let s = rowStart; s < rowEnd; s++) {
      const x = src.offset + b * src.strideB + h * src.strideH + s * src.strideRow;
      const y = dst.offset + b * dst.strideB + h * dst.strideH + s * dst.strideRow;
      const t = (s - rowStart) * 2 * half;
      for (let p = 0; p < half; p++) {
        const i = p * stride;
        const c = table[t + p], sn = table[t + half + p];
        const a = src.data[x + i], bb = src.data[x + i + step];
        // Both read before either is written: dst may be src (in place).
        dst.data[y + i] = a * c - bb * sn;
        dst.data[y + i + step] = bb * c + a * sn;
      }
      for (let d = rotaryDim; d < D; d++) dst.data[y + d] = src.data[x + d];
    }
  }
  return 'done';
}

/** Row s of the table: cos of the half angles, then their sin. */
function fillTable(part: RotaryPart, b: number, rowStart: number, rowEnd: number, theta: Float64Array, half: number): void {
  const { data, offset, strideB, first } = part.positions;
  for (let s = rowStart; s < rowEnd; s++) {
    const position = data ? data[offset + b * strideB + s] : first + s;
    const t = (s - rowStart) * 2 * half;
    for (let p = 0; p < half; p++) {
      const angle = position * theta[p];
      table[t + p] = Math.cos(angle);
      table[t + half + p] = Math.sin(angle);
    }
  }
}
