// Which keys a query row may see: the one definition of causal (bottom-right aligned) and sliding-window
// masking that the planner and both kernels share, so that tiles, skipped key blocks and row limits agree.

export interface KeyRangeShape {
  readonly Sq: number;
  readonly Sk: number;
  readonly causal: boolean;
  /** With causal: row i sees keys j with i' − window < j ≤ i', i' = i + Sk − Sq. */
  readonly window?: number;
}

/** Keys j < keyEnd(i) may be seen by row i (causal: j ≤ i + Sk − Sq). */
export function keyEnd(shape: KeyRangeShape, i: number): number {
  return shape.causal ? Math.max(0, Math.min(shape.Sk, i + shape.Sk - shape.Sq + 1)) : shape.Sk;
}

/** Keys j ≥ keyStart(i) may be seen by row i (sliding window: j > i' − window). */
export function keyStart(shape: KeyRangeShape, i: number): number {
  return shape.window === undefined ? 0 : Math.max(0, Math.min(shape.Sk, i + shape.Sk - shape.Sq - shape.window + 1));
}
