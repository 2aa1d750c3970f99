// Tile functions every kernel shares: the merge of split-KV partials and the mean over heads are
// memory-bound, so one float64 routine serves all kernels.

import type { Kernel } from './jobs.js';
import { headMeanTile } from './head-mean.js';
import { mergeSplitTile } from './split-merge.js';

export const SHARED_TILES = {
  'attention-merge': mergeSplitTile,
  'head-mean': headMeanTile,
} satisfies Pick<Kernel['tiles'], 'attention-merge' | 'head-mean'>;
