// The loop every thread runs for a phase: pull the next tile index from the shared counter, compute
// it, repeat. Workers that start late or run slower simply take fewer tiles (ggml's chunk counter).
//
// A task also gives the thread back after `budgetMs`, so a long call cannot hold a worker while other
// calls wait: the coordinator re-posts the task at the back of the pool's queue (see dispatch.ts).

import type { Job, Kernel } from './kernels/jobs.js';
import { tileCount } from './kernels/jobs.js';
import { headMeanTile } from './kernels/head-mean.js';

export type TilesOutcome = 'done' | 'more' | 'aborted';

export function runTile(kernel: Kernel, job: Job, tile: number): void {
  switch (job.kind) {
    case 'attention': return kernel.attentionTile(job, tile);
    case 'gemm': return kernel.gemmTile(job, tile);
    case 'head-mean': return headMeanTile(job, tile);
  }
}

/** counter[0]: next tile to take. abort[0] != 0: the call was cancelled or failed; stop between tiles. */
export function runTiles(kernel: Kernel, job: Job, counter: Int32Array, abort: Int32Array, budgetMs: number): TilesOutcome {
  const n = tileCount(job);
  const start = performance.now();
  for (;;) {
    if (Atomics.load(abort, 0) !== 0) return 'aborted';
    const tile = Atomics.add(counter, 0, 1);
    if (tile >= n) return 'done';
    runTile(kernel, job, tile);
    if (performance.now() - start >= budgetMs) return 'more';
  }
}
