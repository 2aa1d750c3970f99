// The loop every thread runs for a phase: pull the next tile index from the shared counter, compute
// it, repeat. Workers that start late or run slower simply take fewer tiles (ggml's chunk counter).
//
// While other work waits for a thread, a task also gives its thread back after `budgetMs`, so a long
// call cannot hold a worker while other calls wait: the coordinator re-posts the task at the back of
// the pool's queue (see dispatch.ts). Without contention it runs its phase to the end.

import type { Job, Kernel } from './kernels/jobs.js';
import { tileCount } from './kernels/jobs.js';
import { headMeanTile } from './kernels/head-mean.js';
import { mergeSplitTile } from './kernels/split-merge.js';
import type { PhaseTask } from './task.js';

export type TilesOutcome = 'done' | 'more' | 'aborted';

export function runTile(kernel: Kernel, job: Job, tile: number): void {
  switch (job.kind) {
    case 'attention': return kernel.attentionTile(job, tile);
    case 'attention-merge': return mergeSplitTile(job, tile);
    case 'gemm': return kernel.gemmTile(job, tile);
    case 'head-mean': return headMeanTile(job, tile);
  }
}

export function runTiles(kernel: Kernel, task: PhaseTask): TilesOutcome {
  const { job, counter, abort, contended, budgetMs } = task;
  const n = tileCount(job);
  const start = performance.now();
  for (;;) {
    if (Atomics.load(abort, 0) !== 0) return 'aborted';
    const tile = Atomics.add(counter, 0, 1);
    if (tile >= n) return 'done';
    runTile(kernel, job, tile);
    if (performance.now() - start >= budgetMs && Atomics.load(contended, 0) !== 0) return 'more';
  }
}
