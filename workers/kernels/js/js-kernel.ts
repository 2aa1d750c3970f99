// The scalar TypeScript kernel: always available, handles float32 and float64 jobs.

import type { Kernel } from '../jobs.js';
import { SHARED_TILES } from '../shared-tiles.js';
import { attentionTileJs } from './attention-tile.js';
import { gemmTileJs } from './gemm-tile.js';

export const jsKernel: Kernel = {
  name: 'js',
  tiles: { attention: attentionTileJs, gemm: gemmTileJs, ...SHARED_TILES },
};
