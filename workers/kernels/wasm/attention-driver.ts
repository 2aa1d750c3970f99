// Runs attention tiles on the wasm kernel: streams each tile's inputs into the instance's memory,
// calls asm/attention.ts (its arguments in a block of that memory, span-args.ts), and copies the
// results out. This file is the chunk and step loop; where things live in memory, and why, is
// attention-layout.ts, where a span's packed K/V come from kv-span-source.ts (for a paged store's
// pages, read in place: paged-spans.ts on an instance over the store's memory), and the mask and bias
// slices of a step score-inputs.ts; chunk-output.ts copies a chunk's results out.
//
// A tile's rows (tile-rows.ts) may be those of several query heads sharing its kv head: a chunk is a
// run of tile rows, each Q row copied from its own head and each result written back to it, so the
// kv head's spans are read — and float16/int8 blocks decoded — once for all of them.
//
// A chunk computes only the keys its rows can see — from the window start of its first row (rounded
// down to a 64-key block) to the causal end of its last row, within the tile's split — as sub-spans
// of the fixed spans, so whole blocks outside that range cost nothing. Split jobs (split-KV) use spans
// of the split's length, so a split tile packs just its own keys, and write the rows' partial state
// (m, l, acc) to job.split instead of out and lse.
//
// A chunk's keys go through the kernel in steps (keysPerStep, block-aligned, so the same blocks in the
// same order); between steps the tile's control may stop it or pause it, saving the chunk's state
// (tile-control.ts). A resumed chunk packs its current span again if this instance no longer holds it.
//
// The kernel's softmax works in base 2 (asm/exp.ts): it gets the score scale times log2 e (over a power
// of two `shift` for huge scales, score-scaling.ts) and keeps the row maxima in those units, which
// this driver turns back into natural units (× shift × ln 2, in float64) for lse and for the split
// partials the merge reads.

import { ATTENTION_TILE, type AttentionJob, type FloatArray } from '../jobs.js';
import { finishChunk, writePartials, type ChunkRows, type ChunkState } from './chunk-output.js';
import { keyEnd, keyStart } from '../key-range.js';
import type { WasmArena } from './arena.js';
import { PACKED_KV_BYTES, attentionLayout, maxSpanKeys, paddedDv, type AttentionLayout, type KernelGeometry } from './attention-layout.js';
import { KeptPieceSpans } from './kept-piece-spans.js';
import type { KernelExports } from './kernel-exports.js';
import { kvFormatFor, kvFormatOf, type KvFormat } from './kv-format.js';
import { KvPieces } from './kv-pieces.js';
import type { KvRun, KvSpanSource } from './kv-span-source.js';
import { PagedSpans } from './paged-spans.js';
import { PerCallSpans } from './per-call-spans.js';
import { requireFloat32, requireStored } from './require-float32.js';
import { ScoreInputs, scoreTerms, sinkState } from './score-inputs.js';
import { scoreScaling } from './score-scaling.js';
import { writeChunkArgs, writeStepArgs } from './span-args.js';
import type { RowState } from '../suspended-tile.js';
import { keysPerStep, type TileControl, type TileOutcome } from '../tile-control.js';
import { headOfRow, headRuns, queryRowOf, tileRowCount } from '../tile-rows.js';
import { copyRows, rowStart } from './strided-copy.js';

interface PreparedJob {
  readonly epoch: number;
  /** The kernel's score scale: job.scale × log2 e / shift, as float32 (the kernel's softmax is base 2). */
  readonly scoreScale: number;
  /** A power of two, 1 but for huge scales (score-scaling.ts); row maxima are in units of 1 / shift. */
  readonly shift: number;
  readonly layout: AttentionLayout;
  /** How the span sources hold K/V: packed float32, or as stored (float16, int8). */
  readonly format: KvFormat;
  readonly kv: KvSpanSource;
  readonly scoreInputs: ScoreInputs;
  readonly output: ChunkState;
}

/** A chunk of tile `tile`: its rows, reading kv head kvHead, over the keys [splitStart, splitEnd) of the
 *  tile's split. */
interface Chunk extends ChunkRows {
  readonly tile: number;
  readonly b: number;
  readonly kvHead: number;
  readonly splitEnd: number;
}

/** Keys [from, from + keys) of a span: their K panels and V rows at these byte offsets in the instance's
 *  memory; vFinite as in KvSpan (whether the span's V holds no Inf/NaN). */
interface KernelStep {
  /** Keys [from, from + keys), inside `run`. */
  readonly from: number;
  readonly keys: number;
  readonly run: KvRun;
  readonly vFinite: boolean;
}

export class WasmAttention {
  // A weak reference: the prepared job must not keep a finished job's tensors alive.
  private lastJob: WeakRef<AttentionJob> | undefined;
  private prepared: PreparedJob | undefined;
  /** Pieces kept from earlier jobs; valid while the arena's layout epoch is still theirs. */
  private pieces: { readonly pieces: KvPieces; epoch: number } | undefined;
  private readonly geometry: KernelGeometry;

  constructor(private readonly kernels: KernelExports, private readonly arena: WasmArena) {
    this.geometry = {
      keyBlock: kernels.keyBlock(), panelWidth: kernels.panelWidth(), rowGroup: kernels.rowGroup(),
      scratchBytes: kernels.attentionScratchBytes(),
    };
  }

  tile(job: AttentionJob, tile: number, control?: TileControl): TileOutcome {
    const prepared = this.prepareFor(job);
    const tileRows = ATTENTION_TILE.read(job.tiles, tile);
    const { b, h, split: s } = tileRows;
    // The kernel takes one ALiBi slope per call and a chunk's rows as consecutive positions: the
    // planner never groups heads of an ALiBi job (tileHeads, src/plan/attention-plan.ts).
    if (tileRows.heads > 1 && job.alibiSlopes) throw new Error('wasm attention: a tile of an ALiBi job holds one head');
    const kvHead = Math.floor(h / (job.H / job.Hkv));
    const split = job.split;
    const splitStart = split ? s * split.keysPerSplit : 0;
    const splitEnd = split ? Math.min(job.Sk, splitStart + split.keysPerSplit) : job.Sk;
    const { chunkRows } = prepared.layout, { rowGroup } = this.geometry;
    const resumed = control?.suspended?.take(tile);
    let resumeKey = resumed?.nextKey; // for the first chunk only
    const total = tileRowCount(tileRows);
    for (let from = resumed ? resumed.rowStart : 0; from < total; from += chunkRows) {
      const rows = Math.min(total, from + chunkRows) - from;
      const chunk: Chunk = { tile, b, tileRows, kvHead, from, rows, groupRows: Math.ceil(rows / rowGroup) * rowGroup, splitStart, splitEnd };
      const outcome = this.chunk(job, prepared, chunk, control, resumeKey);
      if (outcome !== 'done') return outcome;
      resumeKey = undefined;
    }
    return 'done';
  }

  /** The chunk's rows over their keys, in steps between which `control` may stop or pause the tile;
   *  `resumeKey`: the chunk was paused there, its state is in control.suspended. */
  private chunk(job: AttentionJob, prepared: PreparedJob, chunk: Chunk, control: TileControl | undefined,
    resumeKey: number | undefined): TileOutcome {
    const { at, dvPad, scoresStride, spanKeys: fullSpanKeys } = prepared.layout;
    const { D, Dv, Sk } = job;
    const { f32, i32 } = this.arena;
    const { b, tileRows, from: rowFrom, rows, groupRows } = chunk;
    const { heads } = tileRows;

    for (const run of headRuns(tileRows, rowFrom, rows)) {
      copyRows(f32, at.q / 4 + run.first * D, heads * D, job.q.data as Float32Array, rowStart(job.q, b, run.head, run.queryRow),
        job.q.strideRow, run.count, D);
    }
    for (let r = 0; r < groupRows; r++) i32[at.keyLimit / 4 + r] = r < rows ? keyEnd(job, queryRowOf(tileRows, rowFrom + r)) : 0;
    // Padding rows get the largest floor, so they never hold back the kernel's skip of a row group.
    for (let r = 0; r < groupRows; r++) i32[at.keyFloor / 4 + r] = r < rows ? keyStart(job, queryRowOf(tileRows, rowFrom + r)) : 0x7fffffff;
    for (let r = 0; r < groupRows; r++) {
      const initial = r < rows ? sinkState(job, prepared.shift, headOfRow(tileRows, rowFrom + r)) : { max: -Infinity, sum: 0 };
      f32[at.rowMax / 4 + r] = initial.max;
      f32[at.rowSum / 4 + r] = initial.sum;
    }
    f32.fill(0, at.acc / 4, at.acc / 4 + groupRows * dvPad);
    if (job.weights) f32.fill(-Infinity, at.scores / 4, at.scores / 4 + groupRows * scoresStride);
    const state: RowState = {
      max: f32, maxAt: at.rowMax / 4, sum: f32, sumAt: at.rowSum / 4, acc: f32, accAt: at.acc / 4, accStride: dvPad, cols: dvPad,
    };
    if (resumeKey !== undefined) control!.suspended!.restore(state);

    // The keys some row of the chunk can see; the start rounded down to a block, so blocks keep their
    // global positions (split starts are multiples of the block already). Steps start at multiples of
    // the block too, so cutting the keys into steps changes no block.
    this.writeChunkArgs(job, prepared, chunk);
    const { keyBlock } = this.geometry;
    const firstRow = queryRowOf(tileRows, rowFrom), lastRow = queryRowOf(tileRows, rowFrom + rows - 1);
    const chunkStart = Math.max(chunk.splitStart, Math.floor(keyStart(job, firstRow) / keyBlock) * keyBlock);
    const chunkEnd = Math.min(chunk.splitEnd, keyEnd(job, lastRow));
    const firstKey = resumeKey ?? chunkStart;
    const stepKeys = keysPerStep(rows, D, Dv, keyBlock);
    for (let spanStart = Math.floor(firstKey / fullSpanKeys) * fullSpanKeys; spanStart < chunkEnd; spanStart += fullSpanKeys) {
      const span = prepared.kv.span(job, b, chunk.kvHead, spanStart, Math.min(fullSpanKeys, Sk - spanStart));
      for (const run of span.runs) {
        const end = Math.min(run.end, chunkEnd);
        for (let from = Math.max(run.start, firstKey); from < end;) {
          const keys = Math.min(stepKeys, end - from);
          this.runKernel(job, prepared, chunk, { from, keys, run, vFinite: span.vFinite });
          from += keys;
          if (from >= chunkEnd) break; // nothing left to give back for
          const verdict = control?.check() ?? 'go';
          if (verdict === 'stop') return 'stopped';
          // A chunk recording the weights keeps all its scores in this instance's memory: it never
          // pauses (it is stopped all the same).
          if (verdict === 'pause' && !job.weights) {
            control!.suspended!.save(chunk.tile, rowFrom, from, rows, state);
            return 'paused';
          }
        }
      }
    }

    if (job.split) writePartials(job, prepared.output, chunk);
    else finishChunk(job, prepared.output, chunk);
    return 'done';
  }

  /** The argument block's fields that stay for the chunk's steps (span-args.ts). */
  private writeChunkArgs(job: AttentionJob, prepared: PreparedJob, chunk: Chunk): void {
    const { at, dvPad, scoresStride } = prepared.layout;
    writeChunkArgs(this.arena, at.spanArgs, {
      rows: chunk.groupRows, depth: job.D, dvPad, scale: prepared.scoreScale, shift: prepared.shift,
      q: at.q, keyLimit: at.keyLimit, keyFloor: at.keyFloor, kvFormat: prepared.format.code, dv: job.Dv, kvStaging: at.kvBlock,
      rowMax: at.rowMax, rowSum: at.rowSum, acc: at.acc, scratch: at.scratch, scores: job.weights ? at.scores : 0, scoresStride,
      // A paged store's pages come from main memory on every call (asm/read-ahead.ts).
      readAhead: prepared.kv instanceof PagedSpans,
      ...scoreTerms(job, prepared.shift, headOfRow(chunk.tileRows, chunk.from), queryRowOf(chunk.tileRows, chunk.from)),
    });
  }

  /** One step's keys through the kernel for the chunk's rows (whose fields writeChunkArgs wrote), with the
   *  chunk's score inputs for them. */
  private runKernel(job: AttentionJob, prepared: PreparedJob, chunk: Chunk, { from, keys, run, vFinite }: KernelStep): void {
    const { format } = prepared;
    const skipped = from - run.start; // a multiple of the block, hence of the panel width
    const scaled = format.kScaleBytes > 0;
    const slices = prepared.scoreInputs.prepare(job, { tileRows: chunk.tileRows, rowFrom: chunk.from, rows: chunk.rows, from, keys });
    const { spanArgs } = prepared.layout.at;
    writeStepArgs(this.arena, spanArgs, {
      spanStart: from, spanKeys: keys, vFinite,
      kPanels: run.kPanels + skipped * format.kKeyBytes, vRows: run.vRows + skipped * format.vKeyBytes,
      kScales: scaled ? run.kScales + skipped * format.kScaleBytes : 0, vScales: scaled ? run.vScales + skipped * format.vScaleBytes : 0,
      mask: slices.mask, maskStride: slices.maskStride, bias: slices.bias, biasStride: slices.biasStride,
    });
    this.kernels.attentionSpan(spanArgs);
  }

  private prepareFor(job: AttentionJob): PreparedJob {
    if (this.prepared && this.arena.isCurrent(this.prepared.epoch) && this.lastJob?.deref() === job) return this.prepared;
    requireFloat32(job.q.data, 'job.q.data');
    if (job.paged) {
      if (job.weights) throw new Error('attnpool internal error: a job over a paged store with weights (pool.attention takes none)');
    } else if (job.kvStorage) {
      requireStored(job.k.data, job.kvStorage.dtype, 'job.k.data');
      requireStored(job.v.data, job.kvStorage.dtype, 'job.v.data');
    } else {
      requireFloat32(job.k.data as FloatArray, 'job.k.data');
      requireFloat32(job.v.data as FloatArray, 'job.v.data');
    }
    requireFloat32(job.out.data, 'job.out.data');
    if (job.lse) requireFloat32(job.lse.data, 'job.lse.data');
    if (job.bias) requireFloat32(job.bias.data, 'job.bias.data');
    if (job.weights) requireFloat32(job.weights.data, 'job.weights.data');

    const { paged } = job;
    const source = paged ? undefined : job.kvSource;
    const format = paged ? kvFormatFor(paged.dtype, job.D, job.Dv, paddedDv(job.Dv)) : kvFormatOf(job, paddedDv(job.Dv));
    const pieces = source ? this.keptPieces(job.D, paddedDv(job.Dv), format) : undefined;
    // Grown before the layout, which puts the pieces' slots first.
    if (source && pieces) pieces.reserve(source, job.B * job.Hkv * Math.ceil(job.Sk / pieces.pieceKeys));
    const layout = attentionLayout(this.arena.base, job, this.geometry,
      paged ? { kept: 'paged' } : pieces ? { kept: true, bytes: pieces.bytes, pieceKeys: pieces.pieceKeys } : { kept: false }, format);
    const epoch = this.arena.newEpoch();
    if (pieces) this.pieces = { pieces, epoch };
    this.arena.ensure(layout.end);
    const { at, dvPad } = layout;
    const { keyBlock, panelWidth } = this.geometry;
    const kv: KvSpanSource = paged
      ? new PagedSpans(this.arena, paged, format, at.staging, keyBlock, panelWidth, dvPad)
      : source && pieces
        ? new KeptPieceSpans(pieces, source, at.staging, keyBlock)
        : new PerCallSpans(this.kernels, this.arena, layout.spanSlots!, at.staging, dvPad, format);
    this.lastJob = new WeakRef(job);
    const { scoreScale, shift } = scoreScaling(job.scale);
    this.prepared = {
      epoch, scoreScale, shift, layout, format, kv,
      scoreInputs: new ScoreInputs(this.arena, at.mask, at.bias, layout.spanStride),
      // shift × ln 2 turns a row maximum of the kernel's into natural units (exact in float64 but for ln 2).
      output: { kernels: this.kernels, arena: this.arena, layout, shift, maxToNatural: shift * Math.LN2 },
    };
    return this.prepared;
  }

  /** The pieces of earlier jobs when nothing can have overwritten them — no other layout since theirs
   *  (a GEMM job, a job without kvSource) and the same slot shape — else new, empty ones. */
  private keptPieces(D: number, dvPad: number, format: KvFormat): KvPieces {
    const kept = this.pieces;
    if (kept && this.arena.isCurrent(kept.epoch) && kept.pieces.D === D && kept.pieces.dvPad === dvPad &&
      kept.pieces.format.code === format.code) return kept.pieces;
    return new KvPieces(this.kernels, this.arena, this.arena.base, D, dvPad, format, maxSpanKeys(D, dvPad, this.geometry.keyBlock), PACKED_KV_BYTES);
  }
}
