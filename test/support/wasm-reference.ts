// Plain float64 references for the wasm kernel tests, written straight from the definitions in
// test/golden/README.md and API.md, on the logical tensors of wasm-jobs.ts: no blocking, no
// online softmax, no shared code with the kernels.

import { broadcastAt, type AttentionInputs, type AttentionResult } from './wasm-jobs.js';

export function referenceAttention(inputs: AttentionInputs): Required<AttentionResult> {
  const { spec, scale, q, k, v } = inputs;
  const { B, H, Hkv, Sq, Sk, D, Dv } = spec;
  const out = new Float64Array(B * H * Sq * Dv);
  const lse = new Float64Array(B * H * Sq);
  const weights = new Float64Array(B * H * Sq * Sk);
  const s = new Float64Array(Sk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv)); // query head h reads kv head floor(h / (H / Hkv))
    for (let i = 0; i < Sq; i++) {
      const row = (b * H + h) * Sq + i;
      let max = -Infinity;
      for (let j = 0; j < Sk; j++) {
        let allowed = !spec.causal || j <= i + (Sk - Sq);
        if (spec.mask && broadcastAt(spec.mask, b, h, i, j) === 0) allowed = false;
        if (!allowed) {
          s[j] = -Infinity;
          continue;
        }
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q.values[row * D + d] * k.values[((b * Hkv + g) * Sk + j) * D + d];
        s[j] = scale * dot + (spec.bias ? broadcastAt(spec.bias, b, h, i, j) : 0);
        if (s[j] > max) max = s[j];
      }
      if (max === -Infinity) {
        lse[row] = -Infinity; // every key masked: zeros, lse -Infinity, weights zero
        continue;
      }
      let sum = 0;
      for (let j = 0; j < Sk; j++) sum += Math.exp(s[j] - max);
      lse[row] = max + Math.log(sum);
      for (let j = 0; j < Sk; j++) {
        const p = Math.exp(s[j] - max) / sum;
        weights[row * Sk + j] = p;
        if (p === 0) continue;
        for (let c = 0; c < Dv; c++) out[row * Dv + c] += p * v.values[((b * Hkv + g) * Sk + j) * Dv + c];
      }
    }
  }
  return { out, lse, weights };
}

/** out[m, n] = Σ_k x[m, k]·w[n, k] + bias[n]. */
export function referenceGemm(M: number, N: number, K: number, x: Float64Array, w: Float64Array, bias?: Float64Array): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let sum = bias ? bias[n] : 0;
    for (let k = 0; k < K; k++) sum += x[m * K + k] * w[n * K + k];
    out[m * N + n] = sum;
  }
  return out;
}
