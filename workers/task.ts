// The message a worker receives: one phase's job plus the call's shared counter and abort flag.

import type { Job, KernelName } from './kernels/jobs.js';

export interface PhaseTask {
  readonly job: Job;
  readonly kernel: KernelName;
  /** counter[0]: the next tile to take. */
  readonly counter: Int32Array;
  /** abort[0] != 0: the call was cancelled or failed; stop between tiles. */
  readonly abort: Int32Array;
  /** contended[0] != 0: other work is waiting for a thread (set by the dispatcher, shared by all calls). */
  readonly contended: Int32Array;
  /** After this many milliseconds a task gives its thread back, but only while `contended` is raised. */
  readonly budgetMs: number;
  /** The lane's slot for an attention tile paused mid-way (workers/kernels/suspended-tile.ts): a task
   *  resumes the tile held there before it takes a new one. Absent: tiles are never paused. */
  readonly suspended?: Float64Array;
}

/** What the pool passes every worker at start-up (piscina's workerData). */
export interface WorkerSetup {
  /** The build of the WebAssembly kernels the pool chose (options.wasmBuild), compiled once on the main
   *  thread; null when the pool runs the js kernel. */
  readonly wasmModule: WebAssembly.Module | null;
}
