// Piscina worker entry: the thread's serve task (workers/board/serve.ts) over the kernels of this
// thread.

import { workerData } from 'piscina';
import type { WorkerSetup } from './task.js';
import { kernelsFrom } from './kernels/select.js';
import { serveWith } from './board/serve.js';

const setup = workerData as WorkerSetup;
const kernels = kernelsFrom(setup.wasmModule, setup.sharedWasmModule ?? null);

export default serveWith((name) => kernels[name]());
