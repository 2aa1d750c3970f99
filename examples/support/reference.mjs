// Plain-JS float64 references for the examples' checks: the textbook formulas, one query row at a
// time, slow and obviously right. They share no code with attnpool.

/** softmax(q·kᵀ / √D, causal bottom-right) · v for q [B, H, Sq, D], k [B, Hkv, Sk, D], v [B, Hkv, Sk, Dv].
 *  Returns out [B, H, Sq, Dv], lse [B, H, Sq] and the probabilities [B, H, Sq, Sk]. */
export function attention(q, k, v, { causal = false } = {}) {
  const [B, H, Sq, D] = q.shape;
  const [, Hkv, Sk] = k.shape;
  const Dv = v.shape[3];
  const out = new Float64Array(B * H * Sq * Dv);
  const lse = new Float64Array(B * H * Sq);
  const probs = new Float64Array(B * H * Sq * Sk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvHead = Math.floor(h / (H / Hkv)); // grouped-query: H / Hkv query heads share a kv head
      const kBase = (b * Hkv + kvHead) * Sk;
      for (let i = 0; i < Sq; i++) {
        const row = (b * H + h) * Sq + i;
        const seen = causal ? Math.min(Sk, i + (Sk - Sq) + 1) : Sk; // keys 0 … seen − 1
        const scores = [];
        for (let j = 0; j < seen; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q.data[row * D + d] * k.data[(kBase + j) * D + d];
          scores.push(dot / Math.sqrt(D));
        }
        const max = Math.max(...scores);
        lse[row] = max + Math.log(scores.reduce((sum, s) => sum + Math.exp(s - max), 0));
        scores.forEach((s, j) => {
          const p = Math.exp(s - lse[row]);
          probs[row * Sk + j] = p;
          for (let d = 0; d < Dv; d++) out[row * Dv + d] += p * v.data[(kBase + j) * Dv + d];
        });
      }
    }
  }
  return { out, lse, probs };
}

/** y = x·Wᵀ + b (PyTorch's layout, W [out, in]) on rows [rowOffset, rowOffset + outFeatures) of W,
 *  split into heads: [B, S, E] → [B, H, S, E / H]. */
function projectHeads(x, w, bias, rowOffset, numHeads) {
  const [B, S, E] = x.shape;
  const hd = E / numHeads;
  const data = new Float64Array(B * S * E);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      for (let o = 0; o < E; o++) {
        let y = bias.data[rowOffset + o];
        for (let e = 0; e < E; e++) y += x.data[(b * S + s) * E + e] * w.data[(rowOffset + o) * E + e];
        const [h, d] = [Math.floor(o / hd), o % hd];
        data[((b * numHeads + h) * S + s) * hd + d] = y;
      }
    }
  }
  return { data, shape: [B, numHeads, S, hd] };
}

/** torch.nn.MultiheadAttention (batch_first): output [B, Sq, E] and the head-averaged weights [B, Sq, Sk]. */
export function multiHeadAttention(query, key, value, weights, { numHeads, causal = false }) {
  const [B, Sq, E] = query.shape;
  const Sk = key.shape[1];
  const hd = E / numHeads;
  const q = projectHeads(query, weights.inProjWeight, weights.inProjBias, 0, numHeads);
  const k = projectHeads(key, weights.inProjWeight, weights.inProjBias, E, numHeads);
  const v = projectHeads(value, weights.inProjWeight, weights.inProjBias, 2 * E, numHeads);
  const heads = attention(q, k, v, { causal });
  const output = new Float64Array(B * Sq * E);
  const attnWeights = new Float64Array(B * Sq * Sk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Sq; i++) {
      for (let o = 0; o < E; o++) {
        let y = weights.outProjBias.data[o];
        for (let h = 0; h < numHeads; h++) {
          for (let d = 0; d < hd; d++) y += heads.out[((b * numHeads + h) * Sq + i) * hd + d] * weights.outProjWeight.data[o * E + h * hd + d];
        }
        output[(b * Sq + i) * E + o] = y;
      }
      for (let j = 0; j < Sk; j++) {
        for (let h = 0; h < numHeads; h++) attnWeights[(b * Sq + i) * Sk + j] += heads.probs[((b * numHeads + h) * Sq + i) * Sk + j] / numHeads;
      }
    }
  }
  return { output, attnWeights };
}
