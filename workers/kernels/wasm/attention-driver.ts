// Runs attention tiles on the wasm kernel: streams each tile's inputs into the instance's memory,
// calls asm/attention.ts (its arguments in a block of that memory, span-args.ts), and copies the
// results out.
//
// Memory model (issue 3, item 2). Tensors stay in the caller's SharedArrayBuffers, which may exceed
// the 4 GiB a wasm32 memory can address, so each instance copies what a tile needs into its own
// memory: Q rows and mask/bias slices per chunk of rows, and K/V per span of keys, which it packs
// (K transposed into 8-key panels for dot4x8) and keeps in an LRU cache for the rest of the job.
// Measured here (1 thread, B1 H8 D64 S4096, the 128-row tiles of the planner; bench/kernel.bench.ts):
//   - copying + packing one head's K and V: about 0.3 ms (dense [B, H, S, D]) or 0.7 ms (a [B, S, E]
//     projection read with row stride E: one TypedArray.set per row), against ~6 ms of arithmetic
//     per 128-row tile: streaming K/V afresh for every tile ("K/V per tile") ran 3–14% slower;
//   - with the cache a thread packs each head once per job (0.2% of the head's ~190 ms), and the
//     bench's "K/V already packed" run — the bound that tensors living in wasm memory could reach —
//     is within run-to-run noise (±7%) of it.
// A shared WebAssembly.Memory holding the tensors is therefore not worth its costs: it would cap all
// tensors of a call at 4 GiB together, user tensors are ordinary SharedArrayBuffers that would have to
// be copied into it anyway, and K would still need repacking into panels.
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
// Jobs over a KvCache (job.kvSource) take their K/V from KvPieces instead, which outlive the job, so a
// decode step packs only the positions appended since the last step (kv-pieces.ts). The spans stay
// the same; each span's keys are computed piece by piece. Same bits: pieces start at multiples of the
// 64-key block, so every block keeps its global start and keys (the one partial block is still the
// span's last), and the span's vFinite flag is the AND of its blocks' flags, as packing it whole gives.
//
// The kernel's softmax works in base 2 (asm/exp.ts): it gets the score scale times log2 e (over a power
// of two `shift` for huge scales, score-scaling.ts) and keeps the row maxima in those units, which
// this driver turns back into natural units (× shift × ln 2, in float64) for lse and for the split
// partials the merge reads.

import { ATTENTION_TILE, type AttentionJob, type KvSource } from '../jobs.js';
import { keyEnd, keyStart } from '../key-range.js';
import type { WasmArena } from './arena.js';
import { KV_CACHE_BYTES, attentionLayout, maxSpanKeys, paddedDv, type KernelGeometry, type Regions, type SpanSlots } from './attention-layout.js';
import type { KernelExports } from './kernel-exports.js';
import { requireFloat32 } from './require-float32.js';
import { scoreScaling } from './score-scaling.js';
import { KvPieces, piecePartFinite, type KvPiece } from './kv-pieces.js';
import { SlotCache } from './slot-cache.js';
import { writeSpanArgs } from './span-args.js';
import type { RowState } from '../suspended-tile.js';
import { keysPerStep, type TileControl, type TileOutcome } from '../tile-control.js';
import { copyRows, copyStridedRow, rowStart } from './strided-copy.js';

interface AttentionPlan {
  readonly epoch: number;
  /** The kernel's score scale: job.scale × log2 e / shift, as float32 (the kernel's softmax is base 2). */
  readonly scoreScale: number;
  /** A power of two, 1 but for huge scales (score-scaling.ts); row maxima are in units of 1 / shift. */
  readonly shift: number;
  /** shift × ln 2: a row maximum of the kernel's in natural units (exact in float64 but for ln 2). */
  readonly maxToNatural: number;
  readonly dvPad: number;
  readonly spanKeys: number;
  /** spanKeys rounded up to a whole panel: row stride of mask and bias slices, rows of a K/V slot. */
  readonly spanStride: number;
  readonly scoresStride: number;
  readonly chunkRows: number;
  /** Where the per-call spans' slots are (jobs without kvSource). */
  readonly spanSlots: SpanSlots | undefined;
  /** Per-job packed spans; for jobs with kvSource, `pieces` instead. */
  readonly cache: SlotCache | undefined;
  readonly pieces: { readonly pieces: KvPieces; readonly source: KvSource } | undefined;
  readonly vFinite: Map<string, boolean>;
  readonly at: Regions;
}

/** Packed keys [start, end), contiguous in memory: K panels and V rows at these offsets hold key
 *  `start`. A span is one run (kvSpan) or one per KV piece (spanOfPieces). */
interface KvRun {
  readonly start: number;
  readonly end: number;
  readonly kPanels: number;
  readonly vRows: number;
}

interface KvSpan {
  readonly runs: readonly KvRun[];
  /** Every V value of the span is finite (the kernel's fast P·V path); one flag per span. */
  readonly vFinite: boolean;
}

export class WasmAttention {
  // A weak reference: the plan must not keep a finished job's tensors alive.
  private lastJob: WeakRef<AttentionJob> | undefined;
  private plan: AttentionPlan | undefined;
  /** Pieces kept from earlier jobs; valid while the arena's layout epoch is still theirs. */
  private pieces: { readonly pieces: KvPieces; epoch: number } | undefined;
  private readonly keyBlock: number;
  private readonly panelWidth: number;
  private readonly rowGroup: number;

  constructor(private readonly kernels: KernelExports, private readonly arena: WasmArena) {
    this.keyBlock = kernels.keyBlock();
    this.panelWidth = kernels.panelWidth();
    this.rowGroup = kernels.rowGroup();
  }

  tile(job: AttentionJob, tile: number, control?: TileControl): TileOutcome {
    const plan = this.planFor(job);
    const { b, h, rowStart: i0, rowEnd: i1, split: s } = ATTENTION_TILE.read(job.tiles, tile);
    const kvHead = Math.floor(h / (job.H / job.Hkv));
    const split = job.split;
    const splitStart = split ? s * split.keysPerSplit : 0;
    const splitEnd = split ? Math.min(job.Sk, splitStart + split.keysPerSplit) : job.Sk;
    const resumed = control?.suspended?.take(tile);
    let resumeKey = resumed?.nextKey; // for the first chunk only
    for (let r0 = resumed ? resumed.rowStart : i0; r0 < i1; r0 += plan.chunkRows) {
      const outcome = this.chunk(job, plan, tile, b, h, kvHead, r0, Math.min(i1, r0 + plan.chunkRows), splitStart, splitEnd,
        control, resumeKey);
      if (outcome !== 'done') return outcome;
      resumeKey = undefined;
    }
    return 'done';
  }

  /** The chunk's rows over their keys, in steps between which `control` may stop or pause the tile;
   *  `resumeKey`: the chunk was paused there, its state is in control.suspended. */
  private chunk(job: AttentionJob, plan: AttentionPlan, tile: number, b: number, h: number, kvHead: number,
    r0: number, r1: number, splitStart: number, splitEnd: number, control: TileControl | undefined,
    resumeKey: number | undefined): TileOutcome {
    const { at, dvPad } = plan;
    const { D, Dv, Sk } = job;
    const { f32, i32 } = this.arena;
    const rows = r1 - r0;
    const groupRows = Math.ceil(rows / this.rowGroup) * this.rowGroup;

    copyRows(f32, at.q / 4, D, job.q.data as Float32Array, rowStart(job.q, b, h, r0), job.q.strideRow, rows, D);
    for (let r = 0; r < groupRows; r++) i32[at.keyLimit / 4 + r] = r < rows ? keyEnd(job, r0 + r) : 0;
    // Padding rows get the largest floor, so they never hold back the kernel's skip of a row group.
    for (let r = 0; r < groupRows; r++) i32[at.keyFloor / 4 + r] = r < rows ? keyStart(job, r0 + r) : 0x7fffffff;
    f32.fill(-Infinity, at.rowMax / 4, at.rowMax / 4 + groupRows);
    f32.fill(0, at.rowSum / 4, at.rowSum / 4 + groupRows);
    f32.fill(0, at.acc / 4, at.acc / 4 + groupRows * dvPad);
    if (job.weights) f32.fill(-Infinity, at.scores / 4, at.scores / 4 + groupRows * plan.scoresStride);
    const state: RowState = {
      max: f32, maxAt: at.rowMax / 4, sum: f32, sumAt: at.rowSum / 4, acc: f32, accAt: at.acc / 4, accStride: dvPad, cols: dvPad,
    };
    if (resumeKey !== undefined) control!.suspended!.restore(state);

    // The keys some row of the chunk can see; the start rounded down to a block, so blocks keep their
    // global positions (split starts are multiples of the block already). Steps start at multiples of
    // the block too, so cutting the keys into steps changes no block.
    const keyBlock = this.keyBlock;
    const chunkStart = Math.max(splitStart, Math.floor(keyStart(job, r0) / keyBlock) * keyBlock);
    const chunkEnd = Math.min(splitEnd, keyEnd(job, r1 - 1));
    const firstKey = resumeKey ?? chunkStart;
    const stepKeys = keysPerStep(rows, D, Dv, keyBlock);
    for (let spanStart = Math.floor(firstKey / plan.spanKeys) * plan.spanKeys; spanStart < chunkEnd; spanStart += plan.spanKeys) {
      const spanKeys = Math.min(plan.spanKeys, Sk - spanStart);
      const span = plan.pieces
        ? this.spanOfPieces(job, plan, plan.pieces.pieces, plan.pieces.source, b, kvHead, spanStart, spanKeys)
        : this.kvSpan(job, plan, b, kvHead, spanStart, spanKeys);
      for (const run of span.runs) {
        const end = Math.min(run.end, chunkEnd);
        for (let from = Math.max(run.start, firstKey); from < end;) {
          const keys = Math.min(stepKeys, end - from);
          const skipped = from - run.start; // a multiple of the block, hence of the panel width
          this.runKernel(job, plan, b, h, r0, rows, groupRows, from, keys,
            run.kPanels + skipped * D * 4, run.vRows + skipped * dvPad * 4, span.vFinite);
          from += keys;
          if (from >= chunkEnd) break; // nothing left to give back for
          const verdict = control?.check() ?? 'go';
          if (verdict === 'stop') return 'stopped';
          // A chunk recording the weights keeps all its scores in this instance's memory: it never
          // pauses (it is stopped all the same).
          if (verdict === 'pause' && !job.weights) {
            control!.suspended!.save(tile, r0, from, rows, state);
            return 'paused';
          }
        }
      }
    }

    if (job.split) {
      this.writePartials(job, plan, b, h, r0, rows, splitStart / job.split.keysPerSplit);
      return 'done';
    }
    this.kernels.finishRows(groupRows, dvPad, at.rowSum, at.acc);
    const out = job.out;
    copyRows(out.data as Float32Array, rowStart(out, b, h, r0), out.strideRow, f32, at.acc / 4, dvPad, rows, Dv);
    if (job.lse) {
      const lse = job.lse.data as Float32Array, first = rowStart(job.lse, b, h, r0);
      for (let r = 0; r < rows; r++) {
        const l = f32[at.rowSum / 4 + r];
        lse[first + r * job.lse.strideRow] = l === 0 ? -Infinity : f32[at.rowMax / 4 + r] * plan.maxToNatural + Math.log(l);
      }
    }
    if (job.weights) {
      this.kernels.finishWeights(groupRows, plan.scoresStride, plan.shift, at.rowMax, at.rowSum, at.scores, plan.scoresStride);
      const w = job.weights;
      copyRows(w.data as Float32Array, rowStart(w, b, h, r0), w.strideRow, f32, at.scores / 4, plan.scoresStride, rows, Sk);
    }
    return 'done';
  }

  /** One span of a job with kvSource: a run per piece. */
  private spanOfPieces(job: AttentionJob, plan: AttentionPlan, pieces: KvPieces, source: KvSource, b: number,
    kvHead: number, spanStart: number, spanKeys: number): KvSpan {
    const { at } = plan;
    const P = pieces.pieceKeys, keyBlock = this.keyBlock;
    const spanEnd = spanStart + spanKeys;
    // The span's flag covers all its keys, as kvSpan's does, not just those the chunk sees. The span's
    // pieces stay in their slots until the span is done: the job reserved at least as many slots as
    // its pieces (a span holds at most a quarter of the budget), and these are the most recently used.
    const runs: KvRun[] = [];
    let vFinite = true;
    for (let p0 = Math.floor(spanStart / P) * P; p0 < spanEnd; p0 += P) {
      const piece: KvPiece = pieces.acquire(job, source, b, kvHead, p0, at.staging);
      const start = Math.max(spanStart, p0), end = Math.min(spanEnd, p0 + P);
      vFinite &&= piecePartFinite(piece, start - p0, end - p0, keyBlock);
      const skipped = start - p0; // a multiple of the block, hence of the panel width
      runs.push({ start, end, kPanels: piece.offset + skipped * job.D * 4, vRows: piece.offset + pieces.vOffset + skipped * plan.dvPad * 4 });
    }
    return { runs, vFinite };
  }

  /** Keys [from, from + keys) through the kernel for the chunk's rows: K panels and V rows at the
   *  given offsets, with the chunk's mask and bias slices for those keys. */
  private runKernel(job: AttentionJob, plan: AttentionPlan, b: number, h: number, r0: number, rows: number,
    groupRows: number, from: number, keys: number, kPanels: number, vRows: number, vFinite: boolean): void {
    const { at } = plan;
    const maskStride = this.maskSlice(job, plan, b, h, r0, rows, from, keys);
    const biasStride = this.biasSlice(job, plan, b, h, r0, rows, from, keys);
    writeSpanArgs(this.arena, at.spanArgs, {
      rows: groupRows, depth: job.D, dvPad: plan.dvPad, scale: plan.scoreScale, shift: plan.shift, spanStart: from, spanKeys: keys,
      q: at.q, keyLimit: at.keyLimit, keyFloor: at.keyFloor, kPanels, vRows, vFinite,
      mask: job.mask ? at.mask : 0, maskStride, bias: job.bias ? at.bias : 0, biasStride,
      rowMax: at.rowMax, rowSum: at.rowSum, acc: at.acc, scratch: at.scratch, scores: job.weights ? at.scores : 0,
      scoresStride: plan.scoresStride,
    });
    this.kernels.attentionSpan(at.spanArgs);
  }

  /** The chunk's rows' state after their split's keys (float32, exact in float64), for the merge. */
  private writePartials(job: AttentionJob, plan: AttentionPlan, b: number, h: number, r0: number, rows: number, s: number): void {
    const split = job.split!;
    const { f32 } = this.arena;
    const { dvPad, maxToNatural, at: { rowMax, rowSum, acc } } = plan;
    const first = (s - split.first) * job.B * job.H * job.Sq + (b * job.H + h) * job.Sq + r0;
    for (let r = 0; r < rows; r++) {
      split.max[first + r] = f32[rowMax / 4 + r] * maxToNatural;
      split.sum[first + r] = f32[rowSum / 4 + r];
      const from = acc / 4 + r * dvPad, to = (first + r) * job.Dv;
      for (let d = 0; d < job.Dv; d++) split.acc[to + d] = f32[from + d];
    }
  }

  /** The packed K panels and V rows of one span of one kv head, from the cache or packed now. */
  private kvSpan(job: AttentionJob, plan: AttentionPlan, b: number, kvHead: number, spanStart: number,
    spanKeys: number): KvSpan {
    const { dvPad, at } = plan;
    const key = `${b}:${kvHead}:${spanStart}`;
    const { offset, hit } = plan.cache!.acquire(key);
    const kPanels = offset, vRows = offset + plan.spanSlots!.vOffset;
    if (!hit) {
      const { f32 } = this.arena;
      const { k, v, D, Dv } = job;
      copyRows(f32, at.staging / 4, D, k.data as Float32Array, rowStart(k, b, kvHead, spanStart), k.strideRow, spanKeys, D);
      this.kernels.packPanels(at.staging, D, spanKeys, D, kPanels);
      const paddedKeys = Math.ceil(spanKeys / this.panelWidth) * this.panelWidth;
      // Pad rows and columns of V must be finite zeros: padded keys get p = 0, and 0·NaN would poison.
      // Without pad columns only the pad rows need it (the copy below writes every real row whole):
      // a decode step's last span is partial on every call, and zeroing all of it cost a second pass.
      const padFrom = dvPad === Dv ? spanKeys * dvPad : 0;
      f32.fill(0, vRows / 4 + padFrom, vRows / 4 + paddedKeys * dvPad);
      copyRows(f32, vRows / 4, dvPad, v.data as Float32Array, rowStart(v, b, kvHead, spanStart), v.strideRow, spanKeys, Dv);
      plan.vFinite.set(key, this.kernels.allFinite(vRows, paddedKeys * dvPad) === 1);
    }
    return { runs: [{ start: spanStart, end: spanStart + spanKeys, kPanels, vRows }], vFinite: plan.vFinite.get(key)! };
  }

  /** Copies the chunk's mask rows for the span; returns the row stride (0 when broadcast over rows). */
  private maskSlice(job: AttentionJob, plan: AttentionPlan, b: number, h: number, r0: number, rows: number,
    spanStart: number, spanKeys: number): number {
    const mask = job.mask;
    if (!mask) return 0;
    const first = mask.offset + b * mask.strideB + h * mask.strideH + spanStart * mask.strideCol;
    const sharedRow = mask.strideRow === 0;
    for (let r = 0; r < (sharedRow ? 1 : rows); r++) {
      copyStridedRow(this.arena.u8, plan.at.mask + r * plan.spanStride, mask.data,
        first + (r0 + r) * mask.strideRow, mask.strideCol, spanKeys);
    }
    return sharedRow ? 0 : plan.spanStride;
  }

  /** As maskSlice, for the bias (strides in floats). */
  private biasSlice(job: AttentionJob, plan: AttentionPlan, b: number, h: number, r0: number, rows: number,
    spanStart: number, spanKeys: number): number {
    const bias = job.bias;
    if (!bias) return 0;
    const data = bias.data as Float32Array;
    const first = bias.offset + b * bias.strideB + h * bias.strideH + spanStart * bias.strideCol;
    const sharedRow = bias.strideRow === 0;
    for (let r = 0; r < (sharedRow ? 1 : rows); r++) {
      copyStridedRow(this.arena.f32, plan.at.bias / 4 + r * plan.spanStride, data,
        first + (r0 + r) * bias.strideRow, bias.strideCol, spanKeys);
    }
    return sharedRow ? 0 : plan.spanStride;
  }

  private planFor(job: AttentionJob): AttentionPlan {
    if (this.plan && this.arena.isCurrent(this.plan.epoch) && this.lastJob?.deref() === job) return this.plan;
    requireFloat32(job.q.data, 'job.q.data');
    requireFloat32(job.k.data, 'job.k.data');
    requireFloat32(job.v.data, 'job.v.data');
    requireFloat32(job.out.data, 'job.out.data');
    if (job.lse) requireFloat32(job.lse.data, 'job.lse.data');
    if (job.bias) requireFloat32(job.bias.data, 'job.bias.data');
    if (job.weights) requireFloat32(job.weights.data, 'job.weights.data');

    const source = job.kvSource;
    const pieces = source ? this.keptPieces(job.D, paddedDv(job.Dv)) : undefined;
    // Grown before the layout, which puts the pieces' slots first.
    if (source && pieces) pieces.reserve(source, job.B * job.Hkv * Math.ceil(job.Sk / pieces.pieceKeys));
    const layout = attentionLayout(this.arena.base, job, this.geometry(),
      pieces ? { kept: true, bytes: pieces.bytes, pieceKeys: pieces.pieceKeys } : { kept: false });
    const epoch = this.arena.newEpoch();
    if (pieces) this.pieces = { pieces, epoch };
    const { dvPad, spanKeys, spanStride, scoresStride, chunkRows, spanSlots, at } = layout;
    const cache = spanSlots && new SlotCache(spanSlots.base, spanSlots.slotBytes, spanSlots.count);
    this.arena.ensure(layout.end);
    this.lastJob = new WeakRef(job);
    const { scoreScale, shift } = scoreScaling(job.scale);
    this.plan = {
      epoch, scoreScale, shift, maxToNatural: shift * Math.LN2, dvPad, spanKeys, spanStride, scoresStride, chunkRows, spanSlots, cache,
      pieces: source && pieces ? { pieces, source } : undefined, vFinite: new Map(), at,
    };
    return this.plan;
  }

  /** The pieces of earlier jobs when nothing can have overwritten them — no other layout since theirs
   *  (a GEMM job, a job without kvSource) and the same slot shape — else new, empty ones. */
  private keptPieces(D: number, dvPad: number): KvPieces {
    const kept = this.pieces;
    if (kept && this.arena.isCurrent(kept.epoch) && kept.pieces.D === D && kept.pieces.dvPad === dvPad) return kept.pieces;
    return new KvPieces(this.kernels, this.arena, this.arena.base, D, dvPad, maxSpanKeys(D, dvPad, this.keyBlock), KV_CACHE_BYTES);
  }

  private geometry(): KernelGeometry {
    return { keyBlock: this.keyBlock, panelWidth: this.panelWidth, rowGroup: this.rowGroup, scratchBytes: this.kernels.attentionScratchBytes() };
  }
}
