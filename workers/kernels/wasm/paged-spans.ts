// Spans of a job over a paged store (job.paged), read where the pages lie in this instance's memory
// (paged-instance.ts): a span is one run per page it crosses, each at the head's region of that page.
// Same bits as the KvCache's kept pieces: pages, like pieces, start at multiples of the 64-key block
// (pageTokens is a multiple of it), so every block keeps its global start and keys, the span's one
// partial block is still its last, and the span's vFinite flag is the AND of its blocks' flags over
// the job's keys (the snapshot's flags), as packing the span afresh gives.
//
// The one copy: rows of the last partial page past Sk may be written by an append while the job runs
// (src/paged/paged-kv-cache.ts). The float32 kernel reads its last 8-key panel whole — K columns and V
// rows past Sk up to the panel's end — and masks those keys by their limit, but on the fast P·V path a
// non-finite V there times p = 0 is NaN, and a KvCache piece holds zeros there. So when Sk is not a
// multiple of the panel, the job's last block (its first ⌊Sk / 64⌋·64 to Sk, < 64 keys) is copied
// into the thread's staging with zeros past Sk, exactly as a piece holds it, and given as its own run.
// float16 / int8 blocks are decoded row by row up to Sk (asm/kv-decode.ts), never past it: no copy.

import type { AttentionJob, PagedKv } from '../jobs.js';
import type { WasmArena } from './arena.js';
import { regionParts, type KvFormat } from './kv-format.js';
import type { KvRun, KvSpan, KvSpanSource } from './kv-span-source.js';
import * as SpanArg from './span-args-layout.js';

export class PagedSpans implements KvSpanSource {
  /** (b, kvHead) whose last block the staging holds, for this job. */
  #staged: number | undefined;

  /** `staging`: room for one 64-key region of float32 K panels and V rows (attention-layout.ts). */
  constructor(private readonly arena: WasmArena, private readonly paged: PagedKv, private readonly format: KvFormat,
    private readonly staging: number, private readonly keyBlock: number, private readonly panelWidth: number,
    private readonly dvPad: number) {}

  span(job: AttentionJob, b: number, kvHead: number, spanStart: number, spanKeys: number): KvSpan {
    const { pages, flags, pageTokens } = this.paged;
    const spanEnd = spanStart + spanKeys;
    const copiesTail = this.format.code === SpanArg.KV_FLOAT32 && job.Sk % this.panelWidth !== 0;
    const runs: KvRun[] = [];
    let vFinite = true;
    for (let p0 = Math.floor(spanStart / pageTokens) * pageTokens; p0 < spanEnd; p0 += pageTokens) {
      const index = p0 / pageTokens;
      const start = Math.max(spanStart, p0), end = Math.min(spanEnd, p0 + pageTokens);
      vFinite &&= blocksFinite(flags[index * job.Hkv + kvHead], start - p0, end - p0, this.keyBlock);
      const region = this.paged.pagesBase + pages[index] * this.paged.pageBytes + kvHead * this.paged.headRegionBytes;
      const tail = copiesTail && end === job.Sk ? Math.floor(end / this.keyBlock) * this.keyBlock : end;
      if (tail > start) runs.push(this.#run(region, this.paged.parts, start, tail, start - p0));
      if (tail < end) runs.push(this.#tailRun(job, b, kvHead, region, tail, end, tail - p0));
    }
    return { runs, vFinite };
  }

  /** Keys [start, end) at row `row` of a region whose parts are at `parts`. */
  #run(region: number, parts: PagedKv['parts'], start: number, end: number, row: number): KvRun {
    const { format } = this;
    const scales = format.kScaleBytes > 0;
    return {
      start, end,
      kPanels: region + row * format.kKeyBytes,
      vRows: region + parts.v + row * format.vKeyBytes,
      kScales: scales ? region + parts.kScales + row * format.kScaleBytes : 0,
      vScales: scales ? region + parts.vScales + row * format.vScaleBytes : 0,
    };
  }

  /** The float32 block [start, end) (end = Sk, not on a panel boundary), from row `row` of the page's
   *  region, copied into the staging with zeros past Sk in its last panel. */
  #tailRun(job: AttentionJob, b: number, kvHead: number, region: number, start: number, end: number, row: number): KvRun {
    const parts = regionParts(this.format, this.keyBlock);
    const held = b * job.Hkv + kvHead;
    if (this.#staged !== held) {
      const { f32 } = this.arena;
      const { D } = job, { dvPad, panelWidth } = this;
      const keys = end - start, padded = Math.ceil(keys / panelWidth) * panelWidth;
      const kFrom = (region + row * D * 4) / 4, kTo = this.staging / 4;
      f32.copyWithin(kTo, kFrom, kFrom + padded * D);
      // The last panel is [D][8]: its columns past Sk (keys appended meanwhile, or zeros) become zeros.
      const lastPanel = kTo + (padded - panelWidth) * D;
      for (let d = 0; d < D; d++) f32.fill(0, lastPanel + d * panelWidth + keys % panelWidth, lastPanel + (d + 1) * panelWidth);
      const vFrom = (region + this.paged.parts.v + row * dvPad * 4) / 4, vTo = (this.staging + parts.v) / 4;
      f32.copyWithin(vTo, vFrom, vFrom + keys * dvPad);
      f32.fill(0, vTo + keys * dvPad, vTo + padded * dvPad);
      this.#staged = held;
    }
    return this.#run(this.staging, parts, start, end, 0);
  }
}

/** Whether no block of keys [from, to) of a page (from block-aligned) has its non-finite bit set. */
function blocksFinite(flags: number, from: number, to: number, keyBlock: number): boolean {
  const first = Math.floor(from / keyBlock), count = Math.ceil(to / keyBlock) - first;
  const bits = count >= 32 ? -1 : ((1 << count) - 1) << first; // a page has at most 32 blocks
  return (flags & bits) === 0;
}
