// The bytes of a paged store: one shared wasm memory holding the pages (page-layout.ts), and one
// Int32Array of per-(page, kv head) flags, bit b set when some V value of key block b is not finite.
// Rows go in through the KvCache's own conversions (src/kv-storage.ts writeRows) for float16 and int8
// and the panel packer for float32; the finiteness rules are the wasm kernel's (kv-format.ts).

import type { FloatArray } from '../tensor.js';
import { writeRows, type KvSide } from '../kv-storage.js';
import { storedRowsFinite } from '../../workers/kernels/wasm/kv-format.js';
import { int8BlocksPerRow } from '../../workers/storage/int8-blocks.js';
import { packKeyPanels } from './panel-packer.js';
import { MAX_WASM_PAGES, PAGE_KEY_BLOCK, PANEL_WIDTH, WASM_PAGE_BYTES, headRegionOffset, type PageGeometry } from './page-layout.js';

export class PageMemory {
  readonly memory: WebAssembly.Memory;
  /** Index page · kvHeads + h. */
  readonly flags: Int32Array;
  private readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly f32: Float32Array;

  constructor(readonly geometry: PageGeometry) {
    // The store never grows it; kernel instances on it do, each by its own region past the pages
    // (workers/kernels/wasm/paged-instance.ts). A shared buffer is never detached, so the views below
    // keep covering the pages.
    this.memory = new WebAssembly.Memory({ initial: geometry.memoryBytes / WASM_PAGE_BYTES, maximum: MAX_WASM_PAGES, shared: true });
    const buffer = this.memory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.flags = new Int32Array(new SharedArrayBuffer(geometry.pageCount * geometry.kvHeads * 4));
  }

  /** Rows [row, row + n) of every kv head of `page` from k [1, Hkv, kn, D] / v [1, Hkv, kn, Dv] rows
   *  [at, at + n), and the flags of the key blocks they fall in. */
  writeRows(page: number, row: number, k: FloatArray, v: FloatArray, kn: number, at: number, n: number): void {
    const { kvHeads, D, Dv, dvPad, dtype, parts } = this.geometry;
    for (let h = 0; h < kvHeads; h++) {
      const region = headRegionOffset(this.geometry, page, h);
      const kAt = (h * kn + at) * D, vAt = (h * kn + at) * Dv;
      if (dtype === 'float32') {
        packKeyPanels(this.f32, region / 4, D, row, k, kAt, n);
        const vRows = (region + parts.v) / 4;
        for (let i = 0; i < n; i++) this.f32.set(v.subarray(vAt + i * Dv, vAt + (i + 1) * Dv), vRows + (row + i) * dvPad);
      } else {
        writeRows(this.side(region, 0, parts.kScales, D), dtype, row, k, kAt, n);
        writeRows(this.side(region, parts.v, parts.vScales, Dv), dtype, row, v, vAt, n);
      }
      for (let b0 = Math.floor(row / PAGE_KEY_BLOCK) * PAGE_KEY_BLOCK; b0 < row + n; b0 += PAGE_KEY_BLOCK) {
        const from = Math.max(row, b0), to = Math.min(row + n, b0 + PAGE_KEY_BLOCK);
        if (!this.rowsFinite(region, from, to)) this.flags[page * kvHeads + h] |= 1 << (b0 / PAGE_KEY_BLOCK);
      }
    }
  }

  /** Keys [0, keys) of every head of `from` into `to` (cleared), with their flags: copy-on-write. */
  copyRows(from: number, to: number, keys: number): void {
    this.forEachUsedRange(keys, (offset, bytes) => {
      const src = this.geometry.pagesBase + from * this.geometry.pageBytes + offset;
      this.u8.copyWithin(this.geometry.pagesBase + to * this.geometry.pageBytes + offset, src, src + bytes);
    });
    const { kvHeads } = this.geometry;
    this.flags.copyWithin(to * kvHeads, from * kvHeads, (from + 1) * kvHeads);
  }

  /** Zeros keys [0, keys) of every head of `page` (whole panels) and its flags, for reuse. */
  clearRows(page: number, keys: number): void {
    const start = this.geometry.pagesBase + page * this.geometry.pageBytes;
    this.forEachUsedRange(keys, (offset, bytes) => this.u8.fill(0, start + offset, start + offset + bytes));
    const { kvHeads } = this.geometry;
    this.flags.fill(0, page * kvHeads, (page + 1) * kvHeads);
  }

  /** The byte ranges, from a page's start, holding keys [0, keys) rounded up to whole panels, in every
   *  head's K, K scales, V and V scales. Past them a page holds zeros. */
  private forEachUsedRange(keys: number, visit: (offset: number, bytes: number) => void): void {
    const { kvHeads, headRegionBytes, parts, format } = this.geometry;
    const rows = Math.ceil(keys / PANEL_WIDTH) * PANEL_WIDTH;
    const ranges: [number, number][] = [
      [0, format.kKeyBytes], [parts.kScales, format.kScaleBytes], [parts.v, format.vKeyBytes], [parts.vScales, format.vScaleBytes],
    ];
    for (let h = 0; h < kvHeads; h++) {
      for (const [at, keyBytes] of ranges) if (keyBytes > 0) visit(h * headRegionBytes + at, rows * keyBytes);
    }
  }

  private rowsFinite(region: number, from: number, to: number): boolean {
    const { dtype, Dv, dvPad, parts } = this.geometry;
    if (dtype !== 'float32') return storedRowsFinite(this, dtype, Dv, parts, region, from, to);
    const vRows = (region + parts.v) / 4;
    for (let i = vRows + from * dvPad; i < vRows + to * dvPad; i++) if (!Number.isFinite(this.f32[i])) return false;
    return true;
  }

  /** A float16 or int8 side of one head region (KvSide of kv-storage.ts) over the page's own bytes. */
  private side(region: number, rowsAt: number, scalesAt: number, cols: number): KvSide {
    const { dtype, pageTokens } = this.geometry;
    const buffer = this.memory.buffer;
    return {
      data: dtype === 'float16' ? new Uint16Array(buffer, region + rowsAt, pageTokens * cols) : new Int8Array(buffer, region + rowsAt, pageTokens * cols),
      scales: dtype === 'int8' ? new Float32Array(buffer, region + scalesAt, pageTokens * int8BlocksPerRow(cols)) : undefined,
      cols,
    };
  }
}
