// Reads a paged store's pages back from its layout definition (src/paged/page-layout.ts), written
// here from that definition and not through the store's packer: float32 K panels [D][8] per 8 keys,
// V rows [key][dvPad]; float16/int8 K and V rows as stored, int8 scales per row.

import type { PagedLayout } from '../../dist/src/paged/index.js';

export interface StoredHead {
  /** float32: the values; float16: binary16 bits; int8: q values. Rows [length][D] / [length][Dv]. */
  readonly k: Float32Array | Uint16Array | Int8Array;
  readonly v: Float32Array | Uint16Array | Int8Array;
  readonly kScales?: Float32Array;
  readonly vScales?: Float32Array;
}

export function headRegion(layout: PagedLayout, page: number, h: number): number {
  return layout.pagesBase + page * layout.pageBytes + h * layout.headRegionBytes;
}

/** Head h's positions [0, length) of a page list, as stored. */
export function gatherHead(layout: PagedLayout, pages: ArrayLike<number>, length: number, h: number): StoredHead {
  const { D, Dv, dvPad, dtype, pageTokens, parts } = layout;
  const buffer = layout.memory.buffer;
  const f32 = new Float32Array(buffer);
  const blocksK = Math.ceil(D / 32), blocksV = Math.ceil(Dv / 32);
  const Rows = dtype === 'float32' ? Float32Array : dtype === 'float16' ? Uint16Array : Int8Array;
  const k = new Rows(length * D), v = new Rows(length * Dv);
  const kScales = new Float32Array(length * blocksK), vScales = new Float32Array(length * blocksV);
  const stored = dtype === 'float16' ? new Uint16Array(buffer) : new Int8Array(buffer);
  for (let t = 0; t < length; t++) {
    const region = headRegion(layout, pages[Math.floor(t / pageTokens)], h), r = t % pageTokens;
    for (let d = 0; d < D; d++) {
      k[t * D + d] = dtype === 'float32' ? f32[region / 4 + Math.floor(r / 8) * D * 8 + d * 8 + (r % 8)] : stored[region / (dtype === 'float16' ? 2 : 1) + r * D + d];
    }
    for (let d = 0; d < Dv; d++) {
      v[t * Dv + d] = dtype === 'float32' ? f32[(region + parts.v) / 4 + r * dvPad + d] : stored[(region + parts.v) / (dtype === 'float16' ? 2 : 1) + r * Dv + d];
    }
    if (dtype === 'int8') {
      for (let b = 0; b < blocksK; b++) kScales[t * blocksK + b] = f32[(region + parts.kScales) / 4 + r * blocksK + b];
      for (let b = 0; b < blocksV; b++) vScales[t * blocksV + b] = f32[(region + parts.vScales) / 4 + r * blocksV + b];
    }
  }
  return dtype === 'int8' ? { k, v, kScales, vScales } : { k, v };
}

/** Count of nonzero float32 elements in the panels and V rows of a page's head region past `rows` keys
 *  (K columns of keys ≥ rows, V pad columns of every row, V rows ≥ rows): the kernel needs them zero. */
export function nonzeroPadding(layout: PagedLayout, page: number, h: number, rows: number): number {
  const { D, Dv, dvPad, pageTokens, parts } = layout;
  const f32 = new Float32Array(layout.memory.buffer);
  const region = headRegion(layout, page, h);
  let count = 0;
  for (let key = 0; key < pageTokens; key++) {
    for (let d = 0; d < D; d++) if (key >= rows && f32[region / 4 + Math.floor(key / 8) * D * 8 + d * 8 + (key % 8)] !== 0) count++;
    for (let d = 0; d < dvPad; d++) if ((key >= rows || d >= Dv) && f32[(region + parts.v) / 4 + key * dvPad + d] !== 0) count++;
  }
  return count;
}
