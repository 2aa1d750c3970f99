// The two layouts of the layer's query, key, value and output: [B, S, E] (batch_first=True, the
// default) and PyTorch's default [S, B, E] (options.batchFirst = false). Here: which axis holds the
// batch and which the sequence, and the hint a shape error gives a torch user whose [S, B, E] tensors
// were read as [B, S, E] — torch's default layout fails attnpool's default only through such errors,
// or, when every shape happens to fit, not at all (so the README tells torch users about batchFirst).

export interface MhaLayout {
  readonly batchFirst: boolean;
  readonly batchAxis: 0 | 1;
  readonly seqAxis: 0 | 1;
}

export function mhaLayout(batchFirst: boolean): MhaLayout {
  return batchFirst ? { batchFirst, batchAxis: 0, seqAxis: 1 } : { batchFirst, batchAxis: 1, seqAxis: 0 };
}

/** The dimension names of a [B, S, E] or [S, B, E] tensor, for messages. */
export function layoutDimNames(layout: MhaLayout, seq: 'Sq' | 'Sk'): string[] {
  return layout.batchFirst ? ['B', seq, 'E'] : [seq, 'B', 'E'];
}

export const SEQ_FIRST_HINT = "(the layout is [B, S, E], batch_first=True; pass batchFirst: false for PyTorch's default [S, B, E])";

/** The hint for a failed shape check, when the layout is [B, S, E] and the tensors involved would fit
 *  together read as [S, B, E] (`fitsSeqFirst`). With batchFirst: false given, the layout is explicit. */
export function seqFirstHint(layout: MhaLayout, fitsSeqFirst: boolean): string | undefined {
  return layout.batchFirst && fitsSeqFirst ? SEQ_FIRST_HINT : undefined;
}
