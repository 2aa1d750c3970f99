// Who holds which page of a paged store. A page is held by the sequences whose page lists name it
// (`refs`: more than one after fork(), which is what copy-on-write asks) and by snapshots of calls in
// flight (`pins`, which never trigger a copy: appends write only past a snapshot's length). A page held
// by neither is free. Freed pages are cleared when taken again, so a page holds zeros past its rows.

import type { PageMemory } from './page-memory.js';

export class PageTable {
  /** Rows written in each page (positions from its start). */
  private readonly filled: Int32Array;
  private readonly refs: Int32Array;
  private readonly pins: Int32Array;
  /** Free pages; taken from the end, so a fresh store hands out page 0 first. */
  private readonly free: number[] = [];
  #heldTokens = 0;

  constructor(private readonly pages: PageMemory, pageCount: number) {
    this.filled = new Int32Array(pageCount);
    this.refs = new Int32Array(pageCount);
    this.pins = new Int32Array(pageCount);
    for (let p = pageCount - 1; p >= 0; p--) this.free.push(p);
  }

  get freePages(): number {
    return this.free.length;
  }

  /** Σ rows written over the pages not free (a page held by several sequences or snapshots counts once). */
  get heldTokens(): number {
    return this.#heldTokens;
  }

  rowsOf(page: number): number {
    return this.filled[page];
  }

  /** Whether more than one sequence holds the page (an append to it must copy it first). */
  isShared(page: number): boolean {
    return this.refs[page] > 1;
  }

  /** A free page, cleared, held once. The caller has checked freePages. */
  take(): number {
    const page = this.free.pop()!;
    if (this.filled[page] > 0) this.pages.clearRows(page, this.filled[page]);
    this.filled[page] = 0;
    this.refs[page] = 1;
    return page;
  }

  addRows(page: number, rows: number): void {
    this.filled[page] += rows;
    this.#heldTokens += rows;
  }

  hold(page: number): void {
    this.refs[page]++;
  }

  drop(page: number): void {
    this.refs[page]--;
    this.freeIfUnheld(page);
  }

  pin(page: number): void {
    this.pins[page]++;
  }

  unpin(page: number): void {
    this.pins[page]--;
    this.freeIfUnheld(page);
  }

  private freeIfUnheld(page: number): void {
    if (this.refs[page] > 0 || this.pins[page] > 0) return;
    this.#heldTokens -= this.filled[page];
    this.free.push(page);
  }
}
