// Test-only piscina worker entry: worker.ts with the kernel wrapped by fault-plan.ts. The pool loads
// this file instead of worker.ts only when constructed with the test hooks (src/pool/test-hooks.ts).

import { workerData } from 'piscina';
import type { PhaseTask } from './task.js';
import { unpackViews, type Packed } from './packed-views.js';
import { runTiles, type TilesOutcome } from './run-tiles.js';
import { kernelsFrom } from './kernels/select.js';
import { withFaults, type FaultWorkerSetup } from './fault-plan.js';

const setup = workerData as FaultWorkerSetup;
const kernels = kernelsFrom(setup.wasmModule);

export default function runPhaseTaskWithFaults(message: Packed<PhaseTask>): TilesOutcome {
  const task = unpackViews(message);
  return runTiles(withFaults(kernels[task.kernel](), setup.faultState), task);
}
