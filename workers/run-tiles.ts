// The loop the calling thread runs for a phase it keeps (a small call, or a small merge): take every
// tile in order until none are left or the call is aborted. The pool's threads run the board's serve
// loop instead (workers/board/serve.ts).

import type { Job, Kernel, KernelName } from './kernels/jobs.js';
import { tileCount } from './kernels/jobs.js';
import { runTile } from './kernels/run-tile.js';
import type { TileControl } from './kernels/tile-control.js';

export interface InlinePhase {
  readonly job: Job;
  readonly kernel: KernelName;
  /** abort[0] != 0: the call was cancelled or failed; stop between tiles and steps. */
  readonly abort: Int32Array;
}

export function runTiles(kernel: Kernel, { job, abort }: InlinePhase): 'done' | 'aborted' {
  const control: TileControl = { suspended: undefined, check: () => (Atomics.load(abort, 0) !== 0 ? 'stop' : 'go') };
  const n = tileCount(job);
  for (let tile = 0; tile < n; tile++) {
    if (Atomics.load(abort, 0) !== 0 || runTile(kernel, job, tile, control) === 'stopped') return 'aborted';
  }
  return 'done';
}
