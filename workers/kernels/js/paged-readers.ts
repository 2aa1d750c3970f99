// The js kernel's reader of one kv head of a paged store's sequence (job.paged): key j is row
// j mod pageTokens of the head's region of page pages[⌊j / pageTokens⌋] (workers/kernels/jobs/attention.ts
// PagedKv), read in the page layout — float32 K from its 8-key panels ([D][8] per panel), V from rows
// [key][dvPad]; float16 / int8 rows as stored with their block scales — with the sums of kv-readers.ts
// in the same order, so a paged call gives the bits of the same keys in a KvCache of that dtype. The
// kernel reads only keys j < Sk, never the rows an append may be writing.

import type { AttentionJob, PagedKv } from '../jobs.js';
import { float16Values } from '../../storage/float16.js';
import { INT8_BLOCK, int8BlocksPerRow } from '../../storage/int8-blocks.js';
import { PANEL_WIDTH } from '../../../src/paged/page-layout.js';
import { dot, dotFloat16, dotInt8 } from './kv-dots.js';
import type { KvReader } from './kv-readers.js';

export function pagedReader(job: AttentionJob, paged: PagedKv, kvHead: number): KvReader {
  const { D, Dv } = job;
  const { pages, pageTokens, pagesBase, pageBytes, headRegionBytes, dvPad, parts } = paged;
  const buffer = paged.memory.buffer;
  /** Byte offset of the head's region of key j's page (j is row j mod pageTokens of it). */
  const regionOf = (j: number) => pagesBase + pages[Math.floor(j / pageTokens)] * pageBytes + kvHead * headRegionBytes;
  if (paged.dtype === 'float32') {
    const f32 = new Float32Array(buffer);
    return {
      dotKey: (qData, qAt, j) => {
        const row = j % pageTokens;
        const panel = Math.floor(row / PANEL_WIDTH);
        return dot(qData, qAt, f32, regionOf(j) / 4 + panel * D * PANEL_WIDTH + (row % PANEL_WIDTH), PANEL_WIDTH, D);
      },
      addValue: (acc, a, p, j) => {
        const at = (regionOf(j) + parts.v) / 4 + (j % pageTokens) * dvPad;
        for (let d = 0; d < Dv; d++) acc[a + d] += p * f32[at + d];
      },
    };
  }
  if (paged.dtype === 'float16') {
    const u16 = new Uint16Array(buffer);
    const values = float16Values();
    return {
      dotKey: (qData, qAt, j) => dotFloat16(qData, qAt, u16, regionOf(j) / 2 + (j % pageTokens) * D, values, D),
      addValue: (acc, a, p, j) => {
        const at = (regionOf(j) + parts.v) / 2 + (j % pageTokens) * Dv;
        for (let d = 0; d < Dv; d++) acc[a + d] += p * values[u16[at + d]];
      },
    };
  }
  const i8 = new Int8Array(buffer), f32 = new Float32Array(buffer);
  const kb = int8BlocksPerRow(D), vb = int8BlocksPerRow(Dv);
  return {
    dotKey: (qData, qAt, j) => {
      const region = regionOf(j), row = j % pageTokens;
      return dotInt8(qData, qAt, i8, region + row * D, f32, (region + parts.kScales) / 4 + row * kb, D);
    },
    addValue: (acc, a, p, j) => {
      const region = regionOf(j), row = j % pageTokens;
      const at = region + parts.v + row * Dv, sAt = (region + parts.vScales) / 4 + row * vb;
      for (let d = 0; d < Dv; d++) acc[a + d] += p * Math.fround(i8[at + d] * f32[sAt + Math.floor(d / INT8_BLOCK)]);
    },
  };
}
