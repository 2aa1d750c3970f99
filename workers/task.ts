// What the pool passes every worker at start-up (piscina's workerData); the work itself arrives on
// the board (workers/board/).

export interface WorkerSetup {
  /** The build of the WebAssembly kernels the pool chose (options.wasmBuild), compiled once on the main
   *  thread; null when the pool runs the js kernel. */
  readonly wasmModule: WebAssembly.Module | null;
  /** Its shared-memory twin, for jobs over a paged K/V store (workers/kernels/wasm/paged-instance.ts). */
  readonly sharedWasmModule: WebAssembly.Module | null;
}
