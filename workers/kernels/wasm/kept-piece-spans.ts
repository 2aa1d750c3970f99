// Spans of a job over a KvCache (job.kvSource), made of pieces kept across calls (kv-pieces.ts), so a
// decode step packs only the positions appended since the last step. The spans stay those of a per-call
// job; each span's keys are computed piece by piece. Same bits: pieces start at multiples of the 64-key
// block, so every block keeps its global start and keys (the one partial block is still the span's
// last), and the span's vFinite flag is the AND of its blocks' flags, as packing it whole gives.

import type { AttentionJob, KvSource } from '../jobs.js';
import { KvPieces, piecePartFinite } from './kv-pieces.js';
import type { KvRun, KvSpan, KvSpanSource } from './kv-span-source.js';

export class KeptPieceSpans implements KvSpanSource {
  /** `staging`: scratch for a piece's raw K rows. */
  constructor(private readonly pieces: KvPieces, private readonly source: KvSource, private readonly staging: number,
    private readonly keyBlock: number) {}

  span(job: AttentionJob, b: number, kvHead: number, spanStart: number, spanKeys: number): KvSpan {
    const { pieces } = this;
    const P = pieces.pieceKeys;
    const spanEnd = spanStart + spanKeys;
    // The span's flag covers all its keys, as a per-call span's does, not just those the chunk sees.
    // The span's pieces stay in their slots until the span is done: the job reserved at least as many
    // slots as its pieces (a span holds at most a quarter of the budget), and these are the most
    // recently used.
    const runs: KvRun[] = [];
    let vFinite = true;
    for (let p0 = Math.floor(spanStart / P) * P; p0 < spanEnd; p0 += P) {
      const piece = pieces.acquire(job, this.source, b, kvHead, p0, this.staging);
      const start = Math.max(spanStart, p0), end = Math.min(spanEnd, p0 + P);
      vFinite &&= piecePartFinite(piece, start - p0, end - p0, this.keyBlock);
      const skipped = start - p0; // a multiple of the block, hence of the panel width
      const { format, parts } = pieces;
      const scales = format.kScaleBytes > 0;
      runs.push({
        start, end,
        kPanels: piece.offset + skipped * format.kKeyBytes,
        vRows: piece.offset + parts.v + skipped * format.vKeyBytes,
        kScales: scales ? piece.offset + parts.kScales + skipped * format.kScaleBytes : 0,
        vScales: scales ? piece.offset + parts.vScales + skipped * format.vScaleBytes : 0,
      });
    }
    return { runs, vFinite };
  }
}
