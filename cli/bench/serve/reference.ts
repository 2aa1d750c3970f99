// What a decode step must give, computed plainly in float64 (no kernel, no pool): the serving benchmark
// checks the first step of every stream of every side it times against it.

/** One query row per head, q [H·D] (heads in order), over keys and values [Hkv, L, D] of one stream;
 *  head h reads kv head ⌊h / (H / Hkv)⌋; scale 1/√D. Returns [H·D]. */
export function decodeReference(q: Float32Array, k: Float32Array, v: Float32Array, heads: number, kvHeads: number, headDim: number): Float64Array {
  const L = k.length / (kvHeads * headDim);
  const out = new Float64Array(heads * headDim);
  const scores = new Float64Array(L);
  const scale = 1 / Math.sqrt(headDim);
  for (let h = 0; h < heads; h++) {
    const kvBase = Math.floor(h / (heads / kvHeads)) * L * headDim;
    let max = -Infinity;
    for (let j = 0; j < L; j++) {
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += q[h * headDim + d]! * k[kvBase + j * headDim + d]!;
      scores[j] = dot * scale;
      if (scores[j]! > max) max = scores[j]!;
    }
    let sum = 0;
    for (let j = 0; j < L; j++) sum += (scores[j] = Math.exp(scores[j]! - max));
    for (let j = 0; j < L; j++) {
      const p = scores[j]! / sum;
      for (let d = 0; d < headDim; d++) out[h * headDim + d]! += p * v[kvBase + j * headDim + d]!;
    }
  }
  return out;
}
