// The GEMM job: several independent matrix products in one phase, one tile per (part, block of
// output rows, block of output columns).

import type { FloatArray } from '../../../src/tensor.js';
import { tileLayout, type RecordOf } from './tile-record.js';

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

/** Output rows [rowStart, rowEnd) × columns [colStart, colEnd) of parts[part]. */
export const GEMM_TILE = tileLayout(['part', 'rowStart', 'rowEnd', 'colStart', 'colEnd']);
export type GemmTile = RecordOf<typeof GEMM_TILE>;

/** Several independent products in one phase (e.g. the Q, K and V projections of cross-attention). */
export interface GemmJob {
  readonly kind: 'gemm';
  readonly parts: readonly GemmPart[];
  /** GEMM_TILE records. */
  readonly tiles: Int32Array;
}
