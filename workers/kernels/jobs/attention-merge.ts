// The merge phase of a split attention job: its partials combined into the output, one tile per
// block of flat rows.

import type { SplitKv } from './attention.js';
import { tileLayout, type RecordOf } from './tile-record.js';
import type { View4 } from './views.js';

/** Flat rows [rowStart, rowEnd), row = (b·H + h)·Sq + i. */
export const MERGE_TILE = tileLayout(['rowStart', 'rowEnd']);
export type MergeTile = RecordOf<typeof MERGE_TILE>;

/** The merge of a split attention job's partials into its output (log-sum-exp rule, splits in order). */
export interface AttentionMergeJob {
  readonly kind: 'attention-merge';
  readonly B: number;
  readonly H: number;
  readonly Sq: number;
  readonly Dv: number;
  readonly split: SplitKv;
  readonly out: View4;
  readonly lse?: View4;
  /** The attention job's sinks ([H]), which its split partials leave out. */
  readonly sinks?: Float64Array;
  /** MERGE_TILE records. */
  readonly tiles: Int32Array;
}
