// mergeAttention: attention over a union of disjoint key sets from attention over each set — shards
// of the keys on other pools or processes, or a prefix shared by many sequences and each one's own
// suffix. Softmax over the union is the parts' softmaxes reweighted by the log-sum-exp rule:
//   lse = log Σ_n exp(lse_n),   out = Σ_n exp(lse_n − lse) · out_n
// per row, parts summed in the order given (that order fixes the bits), in float64 and rounded once to
// the parts' element type. It runs on the calling thread: one pass over the parts' outputs, memory-bound
// (~1 ns per element read), so a worker round trip would cost more than it saves for all but huge rows.

import { allocLike, type FloatArray } from './tensor.js';
import { validateMergeArgs, type AttentionPart } from './validate/merge-args.js';

export type { AttentionPart } from './validate/merge-args.js';

/** Combines `parts` (each { out [B, H, Sq, Dv], lse [B, H, Sq] } of the same shapes and element type,
 *  over disjoint sets of keys) into attention over all their keys: a new { out, lse } on shared memory.
 *  A row no part saw (every lse −Infinity) gives out 0 and lse −Infinity. */
export function mergeAttention<A extends FloatArray = Float32Array>(parts: readonly AttentionPart<A>[]): AttentionPart<A> {
  const { parts: checked, shape, rows, Dv } = validateMergeArgs(parts);
  const like = checked[0].out.data;
  // allocLike keeps parts[0]'s element type, which validation made every part's: A.
  const out = allocLike(like, rows * Dv) as A;
  const lse = allocLike(like, rows) as A;
  const weights = new Float64Array(checked.length);
  const acc = new Float64Array(Dv);
  for (let row = 0; row < rows; row++) {
    let max = -Infinity;
    for (const part of checked) max = Math.max(max, part.lse.data[row]);
    if (max === -Infinity) { // no part saw a key: out stays 0
      lse[row] = -Infinity;
      continue;
    }
    let sum = 0;
    checked.forEach((part, n) => {
      weights[n] = Math.exp(part.lse.data[row] - max); // exp(−∞) = 0 for a part that saw nothing
      sum += weights[n];
    });
    acc.fill(0);
    checked.forEach((part, n) => {
      const w = weights[n] / sum;
      if (w === 0) return; // also skips a part's row that saw nothing (its out row is 0 by contract)
      const o = part.out.data, at = row * Dv;
      for (let d = 0; d < Dv; d++) acc[d] += w * o[at + d];
    });
    out.set(acc, row * Dv);
    lse[row] = max + Math.log(sum);
  }
  return { out: { data: out, shape: [...shape] }, lse: { data: lse, shape: shape.slice(0, -1) } };
}
