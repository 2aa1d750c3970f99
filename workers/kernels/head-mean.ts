// Mean of the per-head attention weights (needWeights: 'average', as PyTorch's
// average_attn_weights=True): a sum over heads in head order, then one division — the same for every
// kernel, since it is memory-bound and trivial.

import { HEAD_MEAN_TILE, type HeadMeanJob } from './jobs.js';
import type { TileOutcome } from './tile-control.js';

export function headMeanTile(job: HeadMeanJob, tile: number): TileOutcome {
  const { H, Sq, Sk, src, dst } = job;
  const { b, rowStart: i0, rowEnd: i1 } = HEAD_MEAN_TILE.read(job.tiles, tile);
  const headStride = Sq * Sk;
  for (let i = i0; i < i1; i++) {
    const d = (b * Sq + i) * Sk;
    const s = b * H * headStride + i * Sk;
    for (let j = 0; j < Sk; j++) {
      let sum = 0;
      for (let h = 0; h < H; h++) sum += src[s + h * headStride + j];
      dst[d + j] = sum / H;
    }
  }
  return 'done';
}
