// A paged K/V store (issue #15): fixed-size pages in one shared wasm memory, for many sequences, kept
// in the layout the wasm kernel reads (page-layout.ts), so a call can read K/V where they lie.
//
// For the kernel hook (pool.attention(q, seq), attentionBatch): a worker gets, once per store,
// pagedLayoutOf(store) — the memory (its buffer is a SharedArrayBuffer: hand it to workers, or run a
// kernel instance on it: the low PAGES_BASE bytes are left for the module), the flags' buffer and the
// page geometry (PAGES_BASE, pageBytes, headRegionBytes, the regionParts offsets, pageTokens, dtype,
// formatCode, D, Dv, dvPad) — and per call a snapshot: sequence.snapshot() → { pages, length, flags,
// release() }, taken synchronously with the call and released when its last tile has returned.
// Position t of the sequence is row t mod pageTokens of page pages[⌊t / pageTokens⌋]; head h's region of
// page p starts at PAGES_BASE + p·pageBytes + h·headRegionBytes. Each page is a whole number of 64-key
// blocks, so the kernel computes the same blocks as over a KvCache of the same positions.
//
// Concurrency with calls in flight: a snapshot fixes (pages, length) and the flags of those pages.
// Appends never write positions < length of any holder of a page (a shared partial page is copied
// before writing), and a page a snapshot holds is not freed, cleared or reused until the snapshot is
// released, even after every sequence holding it was released. So a call in flight reads the same
// bytes whatever happens to the sequence meanwhile.
// Except past `length`: rows of the last partial page beyond a snapshot's length (and the rest of its last
// 8-key K panel) may be written by an append while the call runs, so a kernel reading pages in place must
// not let them reach the result — in particular a non-finite V row there times a zero weight would give
// NaN on the fast P·V path that the snapshot's flags (positions < length only) select. The per-call and
// kept-piece paths never see such rows: they copy exactly [0, Sk).

import { resolvePagedKvCacheOptions, type PagedKvCacheOptions } from '../validate/paged-kv-args.js';
import { PageMemory } from './page-memory.js';
import { PageTable } from './page-table.js';
import { PagedSequence, type PagedStoreParts } from './paged-sequence.js';
import type { PageGeometry, PagedDType } from './page-layout.js';

/** What a worker needs to read a store's pages, as plain data plus the shared memory and flags buffer. */
export interface PagedLayout extends PageGeometry {
  readonly memory: WebAssembly.Memory;
  /** Int32 flags, index page · kvHeads + h: bit b set when key block b of the head's region holds a
   *  non-finite V value. A snapshot's own flags are what a call must use (see PagedSnapshot). */
  readonly flagsBuffer: SharedArrayBuffer;
}

let layoutOf: (store: PagedKvCache) => PagedLayout;

export class PagedKvCache {
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly dtype: PagedDType;
  readonly pageTokens: number;
  /** Pages in the store. */
  readonly pageCount: number;
  readonly #memory: PageMemory;
  readonly #table: PageTable;
  readonly #parts: PagedStoreParts;

  static {
    layoutOf = (store) => ({ ...store.#memory.geometry, memory: store.#memory.memory, flagsBuffer: store.#memory.flags.buffer as SharedArrayBuffer });
  }

  /** Use createPagedKvCache(options). */
  constructor(options: PagedKvCacheOptions) {
    const geometry = resolvePagedKvCacheOptions(options);
    this.kvHeads = geometry.kvHeads;
    this.headDim = geometry.D;
    this.valueDim = geometry.Dv;
    this.dtype = geometry.dtype;
    this.pageTokens = geometry.pageTokens;
    this.pageCount = geometry.pageCount;
    this.#memory = new PageMemory(geometry);
    this.#table = new PageTable(this.#memory, geometry.pageCount);
    this.#parts = {
      store: this,
      memory: this.#memory,
      table: this.#table,
      fullError: (op, tokens, pages) => new RangeError(`${op}: the store is full: appending ${tokens} positions needs ${pages} free ` +
        `pages of ${this.pageTokens} positions, and ${this.freePages} are free (store.capacityTokens = ${this.capacityTokens}, ` +
        `store.usedTokens = ${this.usedTokens}); release sequences, or create a larger store`),
    };
  }

  /** Positions the store holds: options.capacityTokens rounded up to whole pages (pageCount · pageTokens). */
  get capacityTokens(): number {
    return this.pageCount * this.pageTokens;
  }

  /** Positions written in the pages that are not free — held by a sequence or by a snapshot of a call
   *  in flight — each page counted once however many sequences share it. A released sequence's
   *  positions leave it once no other sequence or snapshot holds their pages. */
  get usedTokens(): number {
    return this.#table.heldTokens;
  }

  /** Pages no sequence or snapshot holds. */
  get freePages(): number {
    return this.#table.freePages;
  }

  /** A new, empty sequence. */
  sequence(): PagedSequence {
    return new PagedSequence(this.#parts);
  }
}

/** A paged K/V store of options.capacityTokens positions (rounded up to whole pages of
 *  options.pageTokens, default 256) over options.kvHeads heads; see PagedKvCacheOptions. */
export function createPagedKvCache(options: PagedKvCacheOptions): PagedKvCache {
  return new PagedKvCache(options);
}

/** The store's memory, flags and page geometry, for the kernels. */
export function pagedLayoutOf(store: PagedKvCache): PagedLayout {
  return layoutOf(store);
}
