// Float64 references for rotary position embedding and the log-sum-exp merge, written the way the
// model code they stand for writes them (not the way attnpool computes them):
//   rotate_half (GPT-NeoX, Hugging Face):  y = x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁],
//     cos/sin of the r/2 frequencies repeated twice ([θ, θ]);
//   interleaved (GPT-J):                   y = x·cos + rotate_every_two(x)·sin, rotate_every_two(x) =
//     [−x₁, x₀, −x₃, x₂, …], cos/sin repeated per pair ([θ₀, θ₀, θ₁, θ₁, …]);
// with inv_freq = 1 / base^(arange(0, r, 2) / r), the Hugging Face formula.

import type { TensorLike } from './random.js';

export interface RotaryReferenceOptions {
  readonly base?: number;
  readonly interleaved?: boolean;
  readonly rotaryDim?: number;
  readonly offset?: number;
  /** [B, S] */
  readonly positions?: TensorLike<Int32Array> | { readonly data: Int32Array; readonly shape: readonly number[] };
}

/** x [B, H, S, D] → float64 [B, H, S, D]. */
export function referenceRotary(x: { readonly data: ArrayLike<number>; readonly shape: readonly number[] }, o: RotaryReferenceOptions = {}): Float64Array {
  const [B, H, S, D] = x.shape;
  const base = o.base ?? 10000, r = o.rotaryDim ?? D, half = r / 2;
  const invFreq = Array.from({ length: half }, (_, i) => 1 / base ** ((2 * i) / r));
  const y = new Float64Array(B * H * S * D);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const pos = o.positions ? o.positions.data[b * S + s] : (o.offset ?? 0) + s;
      // The frequency of dimension d and its rotated partner with sign.
      const freqOf = (d: number) => (o.interleaved ? invFreq[Math.floor(d / 2)] : invFreq[d % half]);
      for (let h = 0; h < H; h++) {
        const row = ((b * H + h) * S + s) * D;
        for (let d = 0; d < D; d++) {
          const xd = x.data[row + d];
          if (d >= r) {
            y[row + d] = xd;
            continue;
          }
          let rotated: number;
          if (o.interleaved) rotated = d % 2 === 0 ? -x.data[row + d + 1] : x.data[row + d - 1];
          else rotated = d < half ? -x.data[row + d + half] : x.data[row + d - half];
          const angle = pos * freqOf(d);
          y[row + d] = xd * Math.cos(angle) + rotated * Math.sin(angle);
        }
      }
    }
  }
  return y;
}

export interface PartLike {
  readonly out: { readonly data: ArrayLike<number> };
  readonly lse: { readonly data: ArrayLike<number> };
}

/** lse = logaddexp over the parts; out = Σ exp(lse_n − lse)·out_n (0 / −∞ where no part saw a key). */
export function referenceMerge(parts: readonly PartLike[], Dv: number): { out: Float64Array; lse: Float64Array } {
  const rows = parts[0].lse.data.length;
  const out = new Float64Array(rows * Dv), lse = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let acc = -Infinity;
    for (const p of parts) {
      const l = p.lse.data[i];
      const hi = Math.max(acc, l), lo = Math.min(acc, l);
      acc = hi === -Infinity ? -Infinity : hi + Math.log1p(Math.exp(lo - hi)); // logaddexp
    }
    lse[i] = acc;
    if (acc === -Infinity) continue;
    for (const p of parts) {
      const w = Math.exp(p.lse.data[i] - acc);
      for (let d = 0; d < Dv; d++) out[i * Dv + d] += w * p.out.data[i * Dv + d];
    }
  }
  return { out, lse };
}
