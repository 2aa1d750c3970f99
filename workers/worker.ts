// Piscina worker entry: one task = take tiles of one phase until none are left, the time budget is
// used up, or the call is aborted.

import { workerData } from 'piscina';
import type { PhaseTask, WorkerSetup } from './task.js';
import { unpackViews, type Packed } from './packed-views.js';
import { runTiles, type TilesOutcome } from './run-tiles.js';
import { kernelsFrom } from './kernels/select.js';

const kernels = kernelsFrom((workerData as WorkerSetup).wasmModule);

export default function runPhaseTask(message: Packed<PhaseTask>): TilesOutcome {
  const task = unpackViews(message);
  return runTiles(kernels[task.kernel](), task);
}
