// The functions dist/wasm/kernels.wasm exports (sources in asm/), typed for the driver. Pointers are
// byte offsets into the instance's own memory; see asm/attention.ts and asm/gemm.ts for the layouts.

export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  keyBlock(): number;
  rowGroup(): number;
  panelWidth(): number;
  attentionScratchBytes(): number;
  exp2Array(src: number, dst: number, count: number): void;
  tanhArray(src: number, dst: number, count: number): void;
  allFinite(ptr: number, count: number): number;
  /** Test entry: count binary16 values at src → float32 at dst (asm/float16.ts). */
  decodeFloat16Array(src: number, dst: number, count: number): void;
  /** Test entries: full panels of stored K rows → float32 panels (asm/stored-panels.ts). */
  float16Panels(rows: number, depth: number, panels: number, dst: number): void;
  int8Panels(rows: number, scales: number, depth: number, panels: number, dst: number): void;
  packPanels(src: number, ld: number, cols: number, depth: number, dst: number): void;
  /** args: the address of an argument block (span-args.ts). */
  attentionSpan(args: number): void;
  /** args: the address of an argument block holding the chunk's state (span-args.ts, FinishArgs). */
  finishRows(args: number): void;
  finishWeights(args: number): void;
  gemmRows(rows: number, depth: number, x: number, wPanels: number, panels: number, bias: number, out: number, ldo: number): void;
}

/** A fresh instance of the kernel module, with its own memory (the module imports nothing). */
export function instantiateKernels(module: WebAssembly.Module): KernelExports {
  return new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
}
