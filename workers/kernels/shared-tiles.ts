// Tile functions every kernel shares: the mean over heads and rotary position embedding are
// memory-bound, so one float64 routine serves all kernels (as split-merge.ts does for split-KV).

import type { Kernel } from './jobs.js';
import { headMeanTile } from './head-mean.js';
import { rotaryTile } from './rotary-tile.js';

export const SHARED_TILES = {
  'head-mean': headMeanTile,
  rotary: rotaryTile,
} satisfies Pick<Kernel['tiles'], 'head-mean' | 'rotary'>;
