/**
 * Converters between attnpool's pre-split heads and ORT's interleaved tokens.
 *
 * attnpool `attention` takes [B, H, S, D]: each head's rows are contiguous.
 * ORT `MultiHeadAttention` takes [B, S, E] with E = H·D: element (s, h, d) at s·E + h·D + d.
 */

/** Sizes of one side of the conversion. */
export interface HeadLayout {
  readonly batch: number;
  readonly heads: number;
  readonly seq: number;
  readonly headDim: number;
}

/** [B, H, S, D] → [B, S, H·D]. Writes into `out` when given (e.g. a tensor's SharedArrayBuffer). */
export function headsToTokens(split: Float32Array, layout: HeadLayout, out?: Float32Array): Float32Array {
  return permuteMiddle(split, layout, out, true);
}

/** [B, S, H·D] → [B, H, S, D]. Writes into `out` when given. */
export function tokensToHeads(interleaved: Float32Array, layout: HeadLayout, out?: Float32Array): Float32Array {
  return permuteMiddle(interleaved, layout, out, false);
}

/** Both directions swap the H and S axes; only which side is indexed as [B, H, S, D] changes. */
function permuteMiddle(
  from: Float32Array,
  { batch, heads, seq, headDim }: HeadLayout,
  out: Float32Array | undefined,
  fromHeads: boolean,
): Float32Array {
  const total = batch * heads * seq * headDim;
  if (from.length !== total) {
    throw new RangeError(`layout: input must hold B·H·S·D = ${total} values, got ${from.length}`);
  }
  const to = out ?? new Float32Array(total);
  if (to.length !== total) throw new RangeError(`layout: out must hold ${total} values, got ${to.length}`);
  const embed = heads * headDim;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let s = 0; s < seq; s++) {
        const headRow = ((b * heads + h) * seq + s) * headDim;
        const tokenRow = (b * seq + s) * embed + h * headDim;
        if (fromHeads) to.set(from.subarray(headRow, headRow + headDim), tokenRow);
        else to.set(from.subarray(tokenRow, tokenRow + headDim), headRow);
      }
    }
  }
  return to;
}
