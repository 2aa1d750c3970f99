// Test-only piscina worker entry: workers/worker.ts with the kernel wrapped by fault-plan.ts. The pool
// loads this file instead of workers/worker.js only when constructed with the TestHooks of ./test-hooks.ts.

import { workerData } from 'piscina';
import { kernelsFrom } from '../workers/kernels/select.js';
import { serveWith } from '../workers/board/serve.js';
import { withFaults, type FaultWorkerSetup } from './fault-plan.js';

const setup = workerData as FaultWorkerSetup;
const kernels = kernelsFrom(setup.wasmModule);

export default serveWith((name) => withFaults(kernels[name](), setup.faultState));
