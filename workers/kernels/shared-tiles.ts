// Tile functions every kernel shares: the merge of split-KV partials, the mean over heads and rotary
// position embedding are memory-bound, so one float64 routine serves all kernels.

import type { Kernel } from './jobs.js';
import { headMeanTile } from './head-mean.js';
import { mergeSplitTile } from './split-merge.js';
import { rotaryTile } from './rotary-tile.js';

export const SHARED_TILES = {
  'attention-merge': mergeSplitTile,
  'head-mean': headMeanTile,
  rotary: rotaryTile,
} satisfies Pick<Kernel['tiles'], 'attention-merge' | 'head-mean' | 'rotary'>;
