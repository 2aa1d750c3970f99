// The span kernel's scratch (one per instance, ATTENTION_SCRATCH_BYTES, laid out by the driver): the
// scores of one row group over one key block, then the group's rescale factors α. Q·Kᵀ writes the
// scores, the softmax turns them into p in place, P·V reads them.
//
//   [ROW_GROUP][KEY_BLOCK] f32 scores    4 × 64 × 4 = 1 KiB: stays in L1 beside the block's K and V
//   [ROW_GROUP] f32 α                    one per row, loaded as a vector by the four-row paths

import { KEY_BLOCK, ROW_GROUP } from './layout';

/** Bytes between two rows' scores. */
export const SCORE_ROW_BYTES: usize = KEY_BLOCK * 4;
export const ALPHA_OFFSET: usize = <usize>ROW_GROUP * SCORE_ROW_BYTES;
export const ATTENTION_SCRATCH_BYTES: i32 = <i32>ALPHA_OFFSET + ROW_GROUP * 4;
