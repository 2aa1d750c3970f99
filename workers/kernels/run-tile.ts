// One tile of a job on a kernel, with what follows it: a split attention tile that finishes its row
// group merges the group (split-merge.ts). The pool's threads (workers/board/serve.ts) and the calling
// thread (workers/run-tiles.ts) both run tiles through here.

import { tileFunction, type Job, type Kernel } from './jobs.js';
import { mergeIfLast } from './split-merge.js';
import type { TileControl, TileOutcome } from './tile-control.js';

export function runTile(kernel: Kernel, job: Job, tile: number, control?: TileControl): TileOutcome {
  const outcome = tileFunction(kernel, job.kind)(job, tile, control);
  if (outcome === 'done' && job.kind === 'attention' && job.split) mergeIfLast(job, job.split, tile);
  return outcome;
}
