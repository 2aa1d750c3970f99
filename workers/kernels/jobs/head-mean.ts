// The head-mean job (needWeights: 'average'): per-head attention weights averaged over heads, one
// tile per (batch, block of query rows).

import type { FloatArray } from '../../../src/tensor.js';
import { tileLayout, type RecordOf } from './tile-record.js';

/** Query rows [rowStart, rowEnd) of batch b. */
export const HEAD_MEAN_TILE = tileLayout(['b', 'rowStart', 'rowEnd']);
export type HeadMeanTile = RecordOf<typeof HEAD_MEAN_TILE>;

/** Mean over heads of per-head attention weights: src [B, H, Sq, Sk] → dst [B, Sq, Sk]. */
export interface HeadMeanJob {
  readonly kind: 'head-mean';
  readonly B: number;
  readonly H: number;
  readonly Sq: number;
  readonly Sk: number;
  readonly src: FloatArray;
  readonly dst: FloatArray;
  /** HEAD_MEAN_TILE records. */
  readonly tiles: Int32Array;
}
