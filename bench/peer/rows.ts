/**
 * The rows of the attnpool-vs-onnxruntime table: which computation, at which sequence length.
 * A row is named `<kind>-<S>` (e.g. `causal-8192`) so any length can be picked on the command line.
 */

/** B1 H8 D64 (E = 512): the shape the published onnxruntime comparisons (and issue 3's targets) use. */
export const BENCH_SHAPE = { batch: 1, heads: 8, headDim: 64 } as const;
export const BENCH_EMBED = BENCH_SHAPE.heads * BENCH_SHAPE.headDim;

export const ROW_KINDS = ['attention', 'causal', 'layer', 'layer-causal'] as const;
export type RowKind = (typeof ROW_KINDS)[number];

/** Issue 3's comparison: non-causal S ∈ {2048, 8192}, causal S ∈ {8192, 16384}, the layer at 8192. */
export const DEFAULT_ROWS = ['attention-2048', 'attention-8192', 'causal-8192', 'causal-16384', 'layer-8192'];

export interface BenchRow {
  readonly id: string;
  readonly kind: RowKind;
  readonly seq: number;
  readonly causal: boolean;
  /** Whole nn.MultiheadAttention layer (projections included) rather than the attention core. */
  readonly layer: boolean;
}

export function parseRow(id: string): BenchRow {
  const match = /^([a-z-]+)-(\d+)$/.exec(id);
  const kind = ROW_KINDS.find((k) => k === match?.[1]);
  const seq = Number(match?.[2]);
  if (!kind || !Number.isSafeInteger(seq) || seq < 1) {
    throw new RangeError(`row must be <kind>-<S> with kind one of ${ROW_KINDS.join(', ')} and S ≥ 1, got '${id}'`);
  }
  return { id, kind, seq, causal: kind.endsWith('causal'), layer: kind.startsWith('layer') };
}

/**
 * Work in one call: 4·B·H·S²·D for the attention core (Q·Kᵀ and P·V, 2 flops per multiply-add),
 * not halved for causal rows — the usual convention — so causal GFLOP/s read as "dense-equivalent".
 * Layer rows add the four E×E projections, 4 · 2·B·S·E².
 */
export function rowFlops(row: BenchRow): number {
  const { batch, heads, headDim } = BENCH_SHAPE;
  const core = 4 * batch * heads * row.seq * row.seq * headDim;
  return row.layer ? core + 8 * batch * row.seq * BENCH_EMBED * BENCH_EMBED : core;
}

/**
 * Rough peak bytes ORT needs. With a causal mask its MultiHeadAttention materialises every score,
 * twice (measured: 4.6 GiB at S=8192, 18.4 GiB at 16384 ≈ 2 · B·H·S² floats); without one it
 * runs a flash kernel whose memory grows linearly (0.27 GiB at S=8192).
 */
export function ortPeakBytesEstimate(row: BenchRow): number {
  const { batch, heads } = BENCH_SHAPE;
  const scores = row.causal ? 2 * batch * heads * row.seq * row.seq * 4 : 0;
  return scores + 64 * row.seq * BENCH_EMBED * 4;
}
