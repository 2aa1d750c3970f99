// The loop every thread runs for a phase: pull the next tile index from the shared counter, compute
// it, repeat. Workers that start late or run slower simply take fewer tiles (ggml's chunk counter).
//
// While other work waits for a thread, a task also gives its thread back after `budgetMs`, so a long
// call cannot hold a worker while other calls wait: the coordinator re-posts the task at the back of
// the pool's queue (see dispatch.ts). Without contention it runs its phase to the end.
//
// A single attention tile can be seconds of work (all the keys of its rows), so the kernel also asks
// between steps of a tile (kernels/tile-control.ts): on abort it abandons the tile, and when the
// budget is used up under contention it pauses the tile into the lane's `suspended` slot, which the
// lane's next task — on whichever thread — resumes first.

import type { Kernel } from './kernels/jobs.js';
import { tileCount, tileFunction } from './kernels/jobs.js';
import { SuspendedTile } from './kernels/suspended-tile.js';
import type { TileControl } from './kernels/tile-control.js';
import type { PhaseTask } from './task.js';

export type TilesOutcome = 'done' | 'more' | 'aborted';

export function runTiles(kernel: Kernel, task: PhaseTask): TilesOutcome {
  const { job, counter, abort, contended, budgetMs } = task;
  const suspended = task.suspended ? new SuspendedTile(task.suspended) : undefined;
  const runTile = tileFunction(kernel, job.kind);
  const n = tileCount(job);
  const start = performance.now();
  const sliceUsed = () => performance.now() - start >= budgetMs && Atomics.load(contended, 0) !== 0;
  const control: TileControl = {
    suspended,
    check: () => Atomics.load(abort, 0) !== 0 ? 'stop' : suspended && sliceUsed() ? 'pause' : 'go',
  };
  for (;;) {
    if (Atomics.load(abort, 0) !== 0) return 'aborted';
    const paused = suspended ? suspended.tile : -1;
    const tile = paused >= 0 ? paused : Atomics.add(counter, 0, 1);
    if (tile >= n) return 'done';
    const outcome = runTile(job, tile, control);
    if (outcome === 'stopped') return 'aborted';
    if (outcome === 'paused' || sliceUsed()) return 'more';
  }
}
