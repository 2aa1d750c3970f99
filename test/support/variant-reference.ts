// A plain float64 reference for attention with the variants, written from the golden-variants README's
// definition, loop by loop and independent of the kernels: for batch b, head h (kv head h / (H / Hkv)),
// row i at position i', key j at position p_j:
//   seen(j) = mask AND [p_j <= i' if causal] AND [p_j > i' − window if window]
//   s_j = scale·q·k_j;  s_j = c·tanh(s_j / c);  s_j += bias + slope_h·(p_j − i')
//   lse = log(exp(sink_h) + Σ_seen exp(s_j));  out = Σ_seen exp(s_j − lse)·v_j;  weights_j = exp(s_j − lse).
// Key positions default to 0 … Sk − 1; a window cache passes the positions it holds.

import type { TensorLike } from './random.js';

export interface VariantReferenceOptions {
  readonly causal?: boolean | 'bottom-right' | 'top-left';
  readonly window?: number;
  readonly mask?: TensorLike<Uint8Array>;
  readonly bias?: TensorLike;
  readonly scale?: number;
  readonly softcap?: number;
  readonly alibiSlopes?: ArrayLike<number>;
  readonly sinks?: ArrayLike<number>;
  /** p_j per key; default j. */
  readonly keyPositions?: readonly number[];
  /** Bottom-right: the position of the last query row (default the last key position). */
  readonly lastPosition?: number;
}

export interface VariantReference {
  readonly out: Float64Array;
  readonly lse: Float64Array;
  /** [B, H, Sq, Sk]. */
  readonly weights: Float64Array;
}

/** Element [b, h, i, j] of a tensor broadcast to [B, H, Sq, Sk] (numpy rules: shapes aligned on the right). */
function broadcastAt(t: TensorLike<Float32Array | Float64Array | Uint8Array>, index: readonly number[]): number {
  const rank = t.shape.length;
  let flat = 0;
  for (let a = 0; a < rank; a++) {
    const size = t.shape[a];
    flat = flat * size + (size === 1 ? 0 : index[4 - rank + a]);
  }
  return t.data[flat];
}

export function variantReference(q: TensorLike, k: TensorLike, v: TensorLike, o: VariantReferenceOptions = {}): VariantReference {
  const [B, H, Sq, D] = q.shape;
  const [, Hkv, Sk] = k.shape;
  const Dv = v.shape[3];
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const keyPos = o.keyPositions ?? Array.from({ length: Sk }, (_, j) => j);
  const last = o.lastPosition ?? Sk - 1;
  const out = new Float64Array(B * H * Sq * Dv);
  const lse = new Float64Array(B * H * Sq);
  const weights = new Float64Array(B * H * Sq * Sk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv));
    for (let i = 0; i < Sq; i++) {
      const iPos = o.causal === 'top-left' ? i : last - (Sq - 1 - i);
      const s = new Float64Array(Sk).fill(-Infinity);
      for (let j = 0; j < Sk; j++) {
        const idx = [b, h, i, j];
        if (o.mask && broadcastAt(o.mask, idx) === 0) continue;
        if (o.causal && keyPos[j] > iPos) continue;
        if (o.window !== undefined && keyPos[j] <= iPos - o.window) continue;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q.data[((b * H + h) * Sq + i) * D + d] * k.data[((b * Hkv + g) * Sk + j) * D + d];
        let x = dot * scale;
        if (o.softcap !== undefined) x = o.softcap * Math.tanh(x / o.softcap);
        if (o.bias) x += broadcastAt(o.bias, idx);
        if (o.alibiSlopes) x += o.alibiSlopes[h] * (keyPos[j] - iPos);
        s[j] = x;
      }
      let m = o.sinks ? o.sinks[h] : -Infinity;
      for (const x of s) m = Math.max(m, x);
      const row = (b * H + h) * Sq + i;
      if (m === -Infinity) {
        lse[row] = -Infinity;
        continue;
      }
      let l = o.sinks ? Math.exp(o.sinks[h] - m) : 0;
      for (const x of s) l += Math.exp(x - m);
      const rowLse = m + Math.log(l);
      lse[row] = rowLse;
      for (let j = 0; j < Sk; j++) {
        const p = Math.exp(s[j] - rowLse);
        weights[row * Sk + j] = p;
        if (p === 0) continue;
        for (let d = 0; d < Dv; d++) out[row * Dv + d] += p * v.data[((b * Hkv + g) * Sk + j) * Dv + d];
      }
    }
  }
  return { out, lse, weights };
}
