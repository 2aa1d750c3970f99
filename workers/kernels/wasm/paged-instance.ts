// Kernel instances that run on a paged K/V store's own memory (src/paged/), so that a job over a
// sequence reads the pages where they lie: no per-call copy or repack of K/V, whatever the number of
// sequences, and no per-worker cache of packed pieces for 32 streams to thrash.
//
// Why an instance on the store's memory, not a copy into the thread's own one: the pages are already
// in the layout the span loop reads (page-layout.ts: a head's region of a page is a KvPiece of
// pageTokens keys), so the only thing between them and the kernel was the wasm sandbox — one memory
// per instance. The shared-memory twin of the pool's build (asm/build.mjs: the same code, the memory
// imported as env.memory) is instantiated once per (thread, store) over the store's
// WebAssembly.Memory, which the store creates shared with a 4 GiB maximum. Checked on Node 20 and 24:
// instantiating over an imported shared memory and growing it from a worker both work.
//
// Memory of such an instance:
//   [0, heapBase)          the module's static data (constant tables; every instantiation writes the
//                          same bytes), checked to lie below PAGES_BASE
//   [PAGES_BASE, …)        the store's pages, written by the coordinator, read by every instance
//   a region per instance  its Q rows, row state, scratch and argument block (attention-layout.ts with
//                          no kv region), claimed with memory.grow: growing a shared memory is atomic
//                          and returns the old size, so the grower owns [old, old + n) pages alone.
// The region is sized once for every paged job of the store's D, Dv and dtype (pagedLayoutBytes: a
// per-thread constant, ~4.1 MiB of address space at D = 64 of which only what a job touches becomes
// resident — ~70 KiB without a mask or bias), so peak RSS is the pages plus a constant per thread.
// The instance lives as long as the thread holds the memory (a WeakMap keyed by it).

import type { AttentionJob, PagedKv } from '../jobs.js';
import { WASM_PAGE_BYTES, WasmArena, alignUp } from './arena.js';
import { WasmAttention } from './attention-driver.js';
import { pagedLayoutBytes, paddedDv } from './attention-layout.js';
import type { KernelExports } from './kernel-exports.js';
import { kvFormatFor } from './kv-format.js';

/** The per-memory attention drivers of one thread. */
export class PagedInstances {
  readonly #drivers = new WeakMap<WebAssembly.Memory, WasmAttention>();

  /** `sharedModule`: the shared-memory twin of the build the thread's own kernel runs. */
  constructor(private readonly sharedModule: WebAssembly.Module | null) {}

  /** The attention driver on the memory of `paged` (job.paged), made on first use. */
  attentionOn(paged: PagedKv, job: AttentionJob): WasmAttention {
    let driver = this.#drivers.get(paged.memory);
    if (!driver) {
      driver = newDriver(this.sharedModule, paged, job);
      this.#drivers.set(paged.memory, driver);
    }
    return driver;
  }
}

function newDriver(module: WebAssembly.Module | null, paged: PagedKv, job: AttentionJob): WasmAttention {
  if (!module) throw new Error('attnpool internal error: a job over a paged store reached a wasm kernel without the shared-memory build');
  const { memory, pagesBase } = paged;
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
  if (kernels.heapBase() > pagesBase) {
    throw new Error(`attnpool internal error: the kernel module's static data ends at byte ${kernels.heapBase()}, ` +
      `past the paged store's first page at byte ${pagesBase}`);
  }
  const geometry = {
    keyBlock: kernels.keyBlock(), panelWidth: kernels.panelWidth(), rowGroup: kernels.rowGroup(), scratchBytes: kernels.attentionScratchBytes(),
  };
  const bytes = pagedLayoutBytes(job.D, job.Dv, geometry, kvFormatFor(paged.dtype, job.D, job.Dv, paddedDv(job.Dv)));
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  let first: number;
  try {
    first = memory.grow(pages);
  } catch (err) {
    throw new RangeError(`attention: a kernel thread needs ${pages * WASM_PAGE_BYTES} bytes of the paged store's memory for its own ` +
      `rows and state, beyond the pages, and the memory (at most 4 GiB) cannot grow that far; create a smaller store`, { cause: err });
  }
  const arena = new RegionArena(kernels, first * WASM_PAGE_BYTES, (first + pages) * WASM_PAGE_BYTES);
  return new WasmAttention(kernels, arena);
}

/** An arena over one region of a shared memory that other instances use too: never grown. */
class RegionArena extends WasmArena {
  constructor(kernels: KernelExports, start: number, private readonly end: number) {
    super(kernels, alignUp(start));
  }

  override ensure(end: number): void {
    if (end > this.end) {
      throw new Error(`attnpool internal error: a paged job's layout ends at byte ${end}, past its thread's region [${this.base}, ${this.end})`);
    }
  }
}
