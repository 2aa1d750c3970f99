// Test-only piscina worker entry: workers/worker.ts with the kernel wrapped by fault-plan.ts. The pool
// loads this file instead of workers/worker.js only when constructed with the TestHooks of ./test-hooks.ts.

import { workerData } from 'piscina';
import type { PhaseTask } from '../workers/task.js';
import { unpackViews, type Packed } from '../workers/packed-views.js';
import { runTiles, type TilesOutcome } from '../workers/run-tiles.js';
import { kernelsFrom } from '../workers/kernels/select.js';
import { withFaults, type FaultWorkerSetup } from './fault-plan.js';

const setup = workerData as FaultWorkerSetup;
const kernels = kernelsFrom(setup.wasmModule);

export default function runPhaseTaskWithFaults(message: Packed<PhaseTask>): TilesOutcome {
  const task = unpackViews(message);
  return runTiles(withFaults(kernels[task.kernel](), setup.faultState), task);
}
