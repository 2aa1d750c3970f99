// Job descriptors: the plain, structured-cloneable objects the coordinator hands to a kernel.
//
// Every array here is a typed-array view over a SharedArrayBuffer (on the worker path) or over any
// buffer (on the calling-thread path); a kernel reads its inputs and writes its block of the output in
// place. Tensors are described as strided views so the multi-head layer can read head h of a
// [B, S, E] projection (row stride E, head stride E / H) and write the attention output straight into
// the concatenated [B, Sq, E] layout, without any transpose.
//
// A job is split into tiles; `tiles` lists them (TILE_INTS int32 each) in the order workers pull them.
// How a tile is computed never depends on which thread runs it or how many threads there are, so the
// output is bit-for-bit the same for every thread count.

import type { TileControl, TileOutcome } from './tile-control.js';
import type { FloatArray } from '../dtypes.js';

export type { FloatArray };

/** A [B, H, rows, cols] float tensor with unit column stride. Element (b, h, r, c) is at
 *  `offset + b*strideB + h*strideH + r*strideRow + c`. */
export interface View4 {
  readonly data: FloatArray;
  readonly offset: number;
  readonly strideB: number;
  readonly strideH: number;
  readonly strideRow: number;
}

/** A [B, H, Sq, Sk] mask or bias, broadcast by zero strides (any of the four may be 0). */
export interface Broadcast4<A extends FloatArray | Uint8Array> {
  readonly data: A;
  readonly offset: number;
  readonly strideB: number;
  readonly strideH: number;
  readonly strideRow: number;
  readonly strideCol: number;
}

/** Split-KV (flash-decoding): the keys are cut at multiples of `keysPerSplit` (itself a multiple of the
 *  kernels' 64-key block), split s holding keys [s·keysPerSplit, (s+1)·keysPerSplit); each tile covers
 *  one split and writes the split's partial softmax state instead of the output, which an
 *  'attention-merge' phase combines. Only splits [first, first + count) — those some row can see —
 *  are held; every array is indexed by `(s − first) · rows + row`, row = (b·H + h)·Sq + i,
 *  rows = B·H·Sq (acc: that index × Dv + column). A (split, row) pair no tile wrote keeps its
 *  initial state (m = −Infinity, l = 0): an empty split. */
export interface SplitKv {
  readonly keysPerSplit: number;
  readonly first: number;
  readonly count: number;
  /** Running maximum m of the row's scores in the split; −Infinity where the row saw nothing. */
  readonly max: Float64Array;
  /** l = Σ exp(s − m) over the split's visible keys; 0 where the row saw nothing. */
  readonly sum: Float64Array;
  /** Σ exp(s − m)·v, not divided by l. */
  readonly acc: Float64Array;
}

/** The generation of KvCache buffers K and V are read from (src/kv-cache.ts): while id and epoch stay
 *  the same, the elements of k and v at positions below a job's Sk never change, so a kernel may keep
 *  them packed from an earlier job with the same source and read only the positions past it. */
export interface KvSource {
  readonly id: number;
  readonly epoch: number;
}

/** Scaled dot-product attention over pre-split heads.
 *  tiles: [b, h, rowStart, rowEnd, split] per tile (split 0 when the job has no `split`). */
export interface AttentionJob {
  readonly kind: 'attention';
  readonly B: number;
  readonly H: number;
  readonly Hkv: number;
  readonly Sq: number;
  readonly Sk: number;
  readonly D: number;
  readonly Dv: number;
  readonly scale: number;
  readonly causal: boolean;
  /** Sliding window (with causal): row i sees keys j with i' − window < j ≤ i', i' = i + Sk − Sq. */
  readonly window?: number;
  readonly q: View4;
  readonly k: View4;
  readonly v: View4;
  readonly out: View4;
  /** [B, H, Sq] log-sum-exp per row; strideRow is the element stride between rows. */
  readonly lse?: View4;
  /** 1 = may attend. */
  readonly mask?: Broadcast4<Uint8Array>;
  readonly bias?: Broadcast4<FloatArray>;
  /** When present, the softmax probabilities are written here ([B, H, Sq, Sk], unit column stride). */
  readonly weights?: View4;
  /** When present, tiles write partial results here instead of `out`, `lse` (never with `weights`). */
  readonly split?: SplitKv;
  /** Set only when k and v are views over a KvCache's buffers; see KvSource. */
  readonly kvSource?: KvSource;
  readonly tiles: Int32Array;
}

/** The merge of a split attention job's partials into its output (log-sum-exp rule, splits in order).
 *  tiles: [rowStart, rowEnd] per tile, over the flat rows (b·H + h)·Sq + i. */
export interface AttentionMergeJob {
  readonly kind: 'attention-merge';
  readonly B: number;
  readonly H: number;
  readonly Sq: number;
  readonly Dv: number;
  readonly split: SplitKv;
  readonly out: View4;
  readonly lse?: View4;
  readonly tiles: Int32Array;
}

/** One matrix product `out = x · wᵀ + bias` with x [M, K], w [N, K] (PyTorch's [out, in] layout),
 *  out [M, N]; each with its own row stride and offset. */
export interface GemmPart {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly x: FloatArray;
  readonly xOffset: number;
  readonly xRowStride: number;
  readonly w: FloatArray;
  readonly wOffset: number;
  readonly wRowStride: number;
  readonly bias?: FloatArray;
  readonly biasOffset: number;
  readonly out: FloatArray;
  readonly outOffset: number;
  readonly outRowStride: number;
}

/** Several independent products in one phase (e.g. the Q, K and V projections of cross-attention).
 *  tiles: [part, rowStart, rowEnd, colStart, colEnd] per tile. */
export interface GemmJob {
  readonly kind: 'gemm';
  readonly parts: readonly GemmPart[];
  readonly tiles: Int32Array;
}

/** Mean over heads of per-head attention weights: src [B, H, Sq, Sk] → dst [B, Sq, Sk].
 *  tiles: [b, rowStart, rowEnd] per tile. */
export interface HeadMeanJob {
  readonly kind: 'head-mean';
  readonly B: number;
  readonly H: number;
  readonly Sq: number;
  readonly Sk: number;
  readonly src: FloatArray;
  readonly dst: FloatArray;
  readonly tiles: Int32Array;
}

export type Job = AttentionJob | AttentionMergeJob | GemmJob | HeadMeanJob;

export const TILE_INTS = { attention: 5, 'attention-merge': 2, gemm: 5, 'head-mean': 3 } as const satisfies Record<Job['kind'], number>;

export function tileCount(job: Job): number {
  return job.tiles.length / TILE_INTS[job.kind];
}

/** What a kernel implements: compute one tile of a job, in place. Kernels are pure functions of the
 *  job and tile index (plus private scratch), which is what makes results independent of scheduling. */
export interface Kernel {
  readonly name: KernelName;
  /** `control`: asked between steps of the tile, which it may abandon or pause (tile-control.ts);
   *  without it the tile runs to the end. */
  attentionTile(job: AttentionJob, tile: number, control?: TileControl): TileOutcome;
  gemmTile(job: GemmJob, tile: number): void;
}

export type KernelName = 'js' | 'wasm';
