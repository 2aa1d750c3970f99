// Which keys a query row may see: the one definition of causal and sliding-window masking that the
// planner and both kernels share, so that tiles, skipped key blocks and row limits agree; and the
// positions ALiBi measures its distances on.
//
// Both are defined on sequence positions. Keys are the job's key indices; they are positions too, but
// for a window cache that has dropped positions (src/kv-cache.ts): then keys j ≥ gap.after sit at
// position j + gap.size. The queries are the last Sq positions, row i at P(i) = i + Sk + gap.size − Sq
// (bottom-right alignment, the KV-cache convention), or with topLeft the first ones, P(i) = i (causal
// 'top-left', torch's is_causal: tril(ones(Sq, Sk))). Row i sees the keys whose position p has
// P(i) − window < p ≤ P(i). Positions increase with j, so that is still one run of keys per row,
// [keyStart(i), keyEnd(i)), and both never decrease with i.

export interface KeyRangeShape {
  readonly Sq: number;
  readonly Sk: number;
  readonly causal: boolean;
  /** Query row i is at position i rather than among the last Sq positions (causal 'top-left'). */
  readonly topLeft?: boolean;
  /** With causal: row i sees keys j with i' − window < j ≤ i', i' = P(i) (positions, with a gap). */
  readonly window?: number;
  /** Positions a window cache dropped between its sink tokens and its window; absent: none. */
  readonly gap?: PositionGap;
}

/** Keys j ≥ after are at sequence position j + size; keys below `after` at position j. */
export interface PositionGap {
  readonly after: number;
  readonly size: number;
}

/** Keys j < keyEnd(i) may be seen by row i (causal: position ≤ P(i); without a gap, j ≤ i + Sk − Sq). */
export function keyEnd(shape: KeyRangeShape, i: number): number {
  return shape.causal ? keysAtOrBefore(shape, queryPosition(shape, i)) : shape.Sk;
}

/** Keys j ≥ keyStart(i) may be seen by row i (sliding window: position > P(i) − window). */
export function keyStart(shape: KeyRangeShape, i: number): number {
  return shape.window === undefined ? 0 : keysAtOrBefore(shape, queryPosition(shape, i) - shape.window);
}

/** P(i): the queries are the last Sq positions of the sequence, or with topLeft the first Sq. */
export function queryPosition(shape: KeyRangeShape, i: number): number {
  return shape.topLeft ? i : i + shape.Sk + (shape.gap?.size ?? 0) - shape.Sq;
}

/** The sequence position of key j. */
export function keyPosition(shape: KeyRangeShape, j: number): number {
  const { gap } = shape;
  return gap && j >= gap.after ? j + gap.size : j;
}

/** How many keys sit at positions ≤ p. */
function keysAtOrBefore(shape: KeyRangeShape, p: number): number {
  const { Sk, gap } = shape;
  if (gap && p >= gap.after) return Math.min(Sk, Math.max(gap.after, p + 1 - gap.size));
  return Math.max(0, Math.min(Sk, p + 1));
}
