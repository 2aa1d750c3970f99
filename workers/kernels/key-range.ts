// Which keys a query row may see: the one definition of causal (bottom-right aligned) and sliding-window
// masking that the planner and both kernels share, so that tiles, skipped key blocks and row limits agree.
//
// Both are defined on sequence positions. Keys are the job's key indices; they are positions too, but
// for a window cache that has dropped positions (src/kv-cache.ts): then keys j ≥ gap.after sit at
// position j + gap.size. The queries are the last Sq positions, row i at P(i) = i + Sk + gap.size − Sq,
// and row i sees the keys whose position p has P(i) − window < p ≤ P(i). Positions increase with j, so
// that is still one run of keys per row, [keyStart(i), keyEnd(i)), and both never decrease with i.

export interface KeyRangeShape {
  readonly Sq: number;
  readonly Sk: number;
  readonly causal: boolean;
  /** With causal: row i sees keys j with i' − window < j ≤ i', i' = i + Sk − Sq (positions, with a gap). */
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

/** P(i): the queries are the last Sq positions of the sequence. */
function queryPosition(shape: KeyRangeShape, i: number): number {
  return i + shape.Sk + (shape.gap?.size ?? 0) - shape.Sq;
}

/** How many keys sit at positions ≤ p. */
function keysAtOrBefore(shape: KeyRangeShape, p: number): number {
  const { Sk, gap } = shape;
  if (gap && p >= gap.after) return Math.min(Sk, Math.max(gap.after, p + 1 - gap.size));
  return Math.max(0, Math.min(Sk, p + 1));
}
