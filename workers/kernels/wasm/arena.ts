// One kernel instance's WebAssembly memory, laid out per job by the driver: a bump layout of regions
// (64-byte aligned, one cache line) above the module's static data, grown on demand and never shrunk,
// so a worker that has seen a large job keeps its memory for the next one. The attention and GEMM
// drivers share it: each new layout bumps `epoch`, which invalidates the other driver's
// arena layout (where its job's regions sit).

import type { KernelExports } from './kernel-exports.js';

/** Bytes per WebAssembly memory page (what Memory.grow counts in). */
export const WASM_PAGE_BYTES = 65536;
const ALIGN = 64;

export class WasmArena {
  f32!: Float32Array;
  i32!: Int32Array;
  u8!: Uint8Array;
  /** Views for K/V stored in reduced precision (binary16 bits, int8 values), copied in as they are. */
  u16!: Uint16Array;
  i8!: Int8Array;
  readonly base: number;
  private epoch = 0;

  /** `base`: where layouts start, by default just above the module's static data. */
  constructor(protected readonly kernels: KernelExports, base = alignUp(kernels.heapBase())) {
    this.base = base;
    this.refreshViews();
  }

  /** Starts a new layout of the memory; layouts made under earlier epochs are no longer current. */
  newLayout(): { layout: RegionLayout; epoch: number } {
    return { layout: new RegionLayout(this.base), epoch: this.newEpoch() };
  }

  /** As newLayout, for a layout its driver computes itself from `base` (attention-layout.ts). */
  newEpoch(): number {
    return ++this.epoch;
  }

  isCurrent(epoch: number): boolean {
    return epoch === this.epoch;
  }

  /** Makes bytes [0, end) addressable. */
  ensure(end: number): void {
    const have = this.kernels.memory.buffer.byteLength;
    if (end <= have) return;
    this.kernels.memory.grow(Math.ceil((end - have) / WASM_PAGE_BYTES));
    this.refreshViews(); // growing detaches the old ArrayBuffer
  }

  protected refreshViews(): void {
    const buffer = this.kernels.memory.buffer;
    this.f32 = new Float32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.i8 = new Int8Array(buffer);
  }
}

/** Hands out aligned byte offsets for the regions of one job's layout. */
export class RegionLayout {
  private next: number;

  constructor(start: number) {
    this.next = alignUp(start);
  }

  take(bytes: number): number {
    const at = this.next;
    this.next = alignUp(at + bytes);
    return at;
  }

  get end(): number {
    return this.next;
  }
}

export function alignUp(n: number, to = ALIGN): number {
  return Math.ceil(n / to) * to;
}
