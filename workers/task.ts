// The message a worker receives: one phase's job plus the call's shared counter and abort flag.

import type { Job, KernelName } from './kernels/jobs.js';

export interface PhaseTask {
  readonly job: Job;
  readonly kernel: KernelName;
  readonly counter: Int32Array;
  readonly abort: Int32Array;
  readonly budgetMs: number;
}

/** What the pool passes every worker at start-up (piscina's workerData). */
export interface WorkerSetup {
  /** The compiled WebAssembly kernels, compiled once on the main thread; null when unavailable. */
  readonly wasmModule: WebAssembly.Module | null;
}
