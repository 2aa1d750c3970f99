// One sequence of a paged store: its page list and length. Positions below `length` never change
// (an append writes past it, into the last partial page or into fresh pages; a shared last page is
// copied first), so a call's snapshot of (pages, length) stays valid while the sequence grows.

import type { Tensor } from '../tensor.js';
import { checkAppendTensors, checkStorable } from '../validate/kv-cache-args.js';
import type { PageMemory } from './page-memory.js';
import type { PageTable } from './page-table.js';
import type { PagedKvCache } from './paged-kv-cache.js';

/** What a call reads (for the kernel hook): the pages of positions [0, length), in order, and their
 *  flags as of the snapshot. Holds its pages until release(), so they are not reused under the call. */
export interface PagedSnapshot {
  /** Page indices; position t lies in pages[⌊t / pageTokens⌋], row t mod pageTokens. */
  readonly pages: Int32Array;
  readonly length: number;
  /** flags[i · kvHeads + h]: the non-finite V blocks of head h of pages[i], over positions < length
   *  only (the store's own flags of a last partial page can gain bits from later appends). */
  readonly flags: Int32Array;
  /** Ends the snapshot's hold on its pages (idempotent). */
  release(): void;
}

/** The store's parts a sequence works with (paged-kv-cache.ts). */
export interface PagedStoreParts {
  /** The store itself, for the pool to check it made it (a call over a sequence of another pool's store). */
  readonly store: PagedKvCache;
  readonly memory: PageMemory;
  readonly table: PageTable;
  /** The error for an append needing `pages` pages more than are free. */
  fullError(op: string, tokens: number, pages: number): RangeError;
}

export class PagedSequence {
  #pages: number[] = [];
  #length = 0;
  #released = false;

  /** Use store.sequence() or sequence.fork(). */
  constructor(private readonly parts: PagedStoreParts, pages: readonly number[] = [], length = 0) {
    this.#pages = [...pages];
    this.#length = length;
  }

  /** Positions held. */
  get length(): number {
    this.#check('length');
    return this.#length;
  }

  /** Appends k [1, Hkv, n, D] and v [1, Hkv, n, Dv] (float32, n ≥ 1) at positions [length, length + n).
   *  A RangeError before anything is written when the store's free pages cannot hold them (counting the
   *  copy of a shared last page) or, for int8, a value is not finite. */
  append(kIn: Tensor, vIn: Tensor): void {
    const op = 'PagedSequence.append';
    this.#check(op);
    const { memory, table } = this.parts;
    const { geometry } = memory;
    const layout = { batch: 1, kvHeads: geometry.kvHeads, headDim: geometry.D, valueDim: geometry.Dv, dtype: geometry.dtype };
    const { k, v, n } = checkAppendTensors(op, 'store', layout, kIn, vIn);
    checkStorable(op, 'store', geometry.dtype, k, v);
    const { pageTokens } = geometry;
    const tail = this.#length % pageTokens;
    const last = this.#pages[this.#pages.length - 1];
    const copy = tail > 0 && table.isShared(last);
    const needed = Math.ceil(Math.max(0, n - (tail > 0 ? pageTokens - tail : 0)) / pageTokens) + (copy ? 1 : 0);
    if (needed > table.freePages) throw this.parts.fullError(op, n, needed);
    if (copy) {
      const own = table.take();
      memory.copyRows(last, own, tail);
      table.addRows(own, tail);
      table.drop(last);
      this.#pages[this.#pages.length - 1] = own;
    }
    for (let at = 0, row = tail; at < n; row = 0) {
      const page = row === 0 ? this.#newPage() : this.#pages[this.#pages.length - 1];
      const rows = Math.min(pageTokens - row, n - at);
      memory.writeRows(page, row, k.data, v.data, n, at, rows);
      table.addRows(page, rows);
      at += rows;
    }
    this.#length += n;
  }

  /** A new sequence holding the same positions: it shares every page (full pages for good; the last
   *  partial one until either side appends to it, which then copies it). */
  fork(): PagedSequence {
    this.#check('PagedSequence.fork');
    for (const page of this.#pages) this.parts.table.hold(page);
    return new PagedSequence(this.parts, this.#pages, this.#length);
  }

  /** Gives the sequence's pages back (those no other sequence or snapshot holds become free). Every
   *  later use of the sequence throws; a second release() does nothing. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const page of this.#pages) this.parts.table.drop(page);
    this.#pages = [];
  }

  /** The store the sequence belongs to. */
  get store(): PagedKvCache {
    return this.parts.store;
  }

  /** (pages, length, flags) as of now, holding the pages until its release(): for the kernel hook.
   *  `op`: the operation a released sequence's error names. */
  snapshot(op = 'PagedSequence.snapshot'): PagedSnapshot {
    this.#check(op);
    const { table, memory } = this.parts;
    const { kvHeads } = memory.geometry;
    const pages = Int32Array.from(this.#pages);
    const flags = new Int32Array(pages.length * kvHeads);
    pages.forEach((page, i) => {
      table.pin(page);
      flags.set(memory.flags.subarray(page * kvHeads, (page + 1) * kvHeads), i * kvHeads);
    });
    let held = true;
    return {
      pages, length: this.#length, flags,
      release: () => {
        if (!held) return;
        held = false;
        for (const page of pages) table.unpin(page);
      },
    };
  }

  #newPage(): number {
    const page = this.parts.table.take();
    this.#pages.push(page);
    return page;
  }

  #check(op: string): void {
    if (this.#released) throw new Error(`${op}: the sequence was released (sequence.release()); take a new one with store.sequence()`);
  }
}
