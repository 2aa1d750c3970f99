// Where a paged K/V store keeps what: the numbers a kernel needs to read a page where it lies, as plain
// data. A page is `pageTokens` consecutive positions of one sequence for every kv head; head h's part
// of page p is a region laid out exactly as the wasm kernel's KvPiece of pageTokens keys
// (workers/kernels/wasm/kv-format.ts: kvFormatFor, regionParts):
//   float32: K panels [pageTokens / 8][D][8] (element (d, c) of panel q = K[key 8q + c][d]) at the
//            region's start, V rows [pageTokens][dvPad] at parts.v; zeros past the keys written, in
//            pad columns and pad rows (the kernel reads whole panels and padded rows).
//   float16: K rows [pageTokens][D] and V rows [pageTokens][Dv] of binary16 bits, at 0 and parts.v.
//   int8:    K rows [pageTokens][D] and V rows [pageTokens][Dv] of int8 values at 0 and parts.v, and
//            their block scales [pageTokens][⌈cols / 32⌉] float32 at parts.kScales and parts.vScales.

import { kvFormatFor, regionParts, type KvFormat, type KvRegionParts } from '../../workers/kernels/wasm/kv-format.js';
import { paddedDv } from '../../workers/kernels/wasm/attention-layout.js';
import { WASM_PAGE_BYTES } from '../../workers/kernels/wasm/arena.js';
import type { StoredDType } from '../../workers/dtypes.js';
import { SPLIT_ALIGN } from '../plan/split-kv-plan.js';

export type PagedDType = 'float32' | StoredDType;

/** Byte offset of page 0 in the store's memory. The low 4 MiB stay free for the wasm kernel module's
 *  static data and per-thread regions, so that a kernel instance can run on the store's memory itself
 *  and read the pages in place (no copy into a memory of its own). */
export const PAGES_BASE = 4 * 1024 * 1024;

/** The kernels' key block, which split-KV boundaries are aligned to as well (SPLIT_ALIGN): pages start at
 *  multiples of it, so a call over pages computes the same blocks as over a KvCache, and each page's
 *  flags have one bit per block. */
export const PAGE_KEY_BLOCK = SPLIT_ALIGN;

/** Keys per K panel (asm/layout.ts PANEL_WIDTH). */
export const PANEL_WIDTH = 8;

/** Most keys per page: the per-head flags are a 32-bit mask of the page's key blocks. */
export const MAX_PAGE_TOKENS = 32 * PAGE_KEY_BLOCK;

/** A wasm32 memory holds at most 65536 wasm pages of 64 KiB: 4 GiB, pages and PAGES_BASE included. */
export { WASM_PAGE_BYTES };
export const MAX_WASM_PAGES = 65536;

/** Everything a worker needs to read a store's pages, besides the memory and the flags' buffer. */
export interface PageGeometry {
  readonly kvHeads: number;
  readonly D: number;
  readonly Dv: number;
  /** V row stride of float32 pages, in floats (paddedDv(Dv)); float16/int8 V rows are Dv apart. */
  readonly dvPad: number;
  readonly dtype: PagedDType;
  /** SpanArg.KV_FLOAT32, KV_FLOAT16 or KV_INT8 (span-args-layout.ts), the kernel's code for dtype. */
  readonly formatCode: number;
  /** Bytes per key of each part of a region (kv-format.ts KvFormat; its code is formatCode). */
  readonly format: KvFormat;
  readonly pageTokens: number;
  readonly pageCount: number;
  readonly pagesBase: number;
  /** Bytes of one kv head's region; head h of page p starts at pagesBase + p·pageBytes + h·headRegionBytes. */
  readonly headRegionBytes: number;
  /** kvHeads · headRegionBytes, a multiple of 64. */
  readonly pageBytes: number;
  /** Offsets inside a head's region (kv-format.ts regionParts of pageTokens keys). */
  readonly parts: KvRegionParts;
  /** Bytes of the memory: PAGES_BASE + pageCount · pageBytes, in whole wasm pages. */
  readonly memoryBytes: number;
}

/** The geometry of a store; `capacityTokens` is rounded up to whole pages. */
export function pageGeometry(kvHeads: number, D: number, Dv: number, dtype: PagedDType, pageTokens: number, capacityTokens: number): PageGeometry {
  const dvPad = paddedDv(Dv);
  const format = kvFormatFor(dtype, D, Dv, dvPad);
  const parts = regionParts(format, pageTokens);
  const pageCount = Math.ceil(capacityTokens / pageTokens);
  const pageBytes = kvHeads * parts.bytes;
  const memoryBytes = Math.ceil((PAGES_BASE + pageCount * pageBytes) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
  return {
    kvHeads, D, Dv, dvPad, dtype, formatCode: format.code, format, pageTokens, pageCount, pagesBase: PAGES_BASE,
    headRegionBytes: parts.bytes, pageBytes, parts, memoryBytes,
  };
}

/** Byte offset of head h's region of page `page`. */
export function headRegionOffset(geometry: PageGeometry, page: number, h: number): number {
  return geometry.pagesBase + page * geometry.pageBytes + h * geometry.headRegionBytes;
}
