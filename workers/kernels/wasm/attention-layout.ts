// Where an attention job's data lives in a kernel instance's memory: a pure function of the job's
// shape, the kernel's geometry and what holds the packed K/V. The driver (attention-driver.ts) calls
// it once per job and streams each tile's inputs into these regions.
//
// Memory model (issue 3, item 2). Tensors stay in the caller's SharedArrayBuffers, which may exceed
// the 4 GiB a wasm32 memory can address, so each instance copies what a tile needs into its own
// memory: Q rows and mask/bias slices per chunk of rows, and K/V per span of keys, which it packs
// (K transposed into 8-key panels for dot4x8) and keeps for the rest of the job, or across jobs for a
// KvCache. Measured here (1 thread, B1 H8 D64 S4096, the 128-row tiles of the planner; bench/kernel.bench.ts):
//   - copying + packing one head's K and V: about 0.3 ms (dense [B, H, S, D]) or 0.7 ms (a [B, S, E]
//     projection read with row stride E: one TypedArray.set per row), against ~6 ms of arithmetic
//     per 128-row tile: streaming K/V afresh for every tile ("K/V per tile") ran 3–14% slower;
//   - keeping packed spans, a thread packs each head once per job (0.2% of the head's ~190 ms), and the
//     bench's "K/V already packed" run — the bound that tensors living in wasm memory could reach —
//     is within run-to-run noise (±7%) of it.
// A shared WebAssembly.Memory holding the tensors is therefore not worth its costs: it would cap all
// tensors of a call at 4 GiB together, user tensors are ordinary SharedArrayBuffers that would have to
// be copied into it anyway, and K would still need repacking into panels.
//
// The arena during an attention job, from the arena's base up (every region 64-byte aligned, one
// cache line; sizes in bytes; "rows" is chunkRows, the query rows of one kernel call):
//
//   region    size                               holds
//   kv        ≤ PACKED_KV_BYTES                   packed K/V: per-call span slots (PackedSlots, sized here)
//                                                or pieces kept across calls (KvPieces, sized by them);
//                                                none for a paged job (the pages are in the same memory)
//   staging   max(spanKeys, pieceKeys)·D·4       raw K rows of one span or piece, before packing (float32 K/V);
//             paged: one block region (64 keys)  a float32 span's last partial block, copied (paged-spans.ts)
//   kvBlock   64·(2·D + dvPad)·4  (stored K/V)   one 64-key block of float16/int8 K/V decoded (kv-format.ts)
//   q         rows·D·4                           the chunk's Q rows
//   keyLimit  rows·4                             per row, the end of the keys it sees (causal)
//   keyFloor  rows·4                             per row, the start of the keys it sees (window)
//   mask      rows·spanStride        (mask)      the step's mask slice, one byte a key
//   bias      rows·spanStride·4      (bias)      the step's bias slice
//   rowMax    rows·4                             running row maxima (base 2, units of 1 / shift)
//   rowSum    rows·4                             running row sums
//   acc       rows·dvPad·4                       running P·V accumulators
//   scratch   attentionScratchBytes() (1040)     one row group's scores over a key block, and its α
//   scores    rows·scoresStride·4    (weights)   every score of the chunk, for the weights
//   spanArgs  ARGS_BYTES (144)                   the kernel's argument block (span-args.ts)
//
// Why these sizes, for the CPU the numbers were measured on (Intel(R) Xeon(R) Processor, 2 cores,
// 48 KiB L1d and 2 MiB L2 per core): at D = Dv = 64 a chunk of 128 rows keeps q and acc (32 KiB
// each) in L2 while the key blocks pass (a 64-key block is 16 KiB of K panels and 16 KiB of V), and
// 128 rows ran 1.02–1.05× faster than 64 (CHUNK_ROWS). The kv region holds every head of B1 H8 at
// S = 16384, D = 64 (8 MiB a head), so a thread packs each head once per job; a span is at most
// KV_SPAN_BYTES of K + V, so that any Sk fits in a wasm32 memory; mask, bias and weights slices grow
// with Sk, so chunkRows shrinks (in whole row groups) to keep them within SLICE_BYTES.
// Worked example, B1 H8 D64 S4096 without mask or bias: spanKeys = 4096, one 2 MiB slot per head,
// kv = 16 MiB, staging 1 MiB, q and acc 32 KiB each — 17.07 MiB above the base in all.

import type { AttentionJob } from '../jobs.js';
import { RegionLayout } from './arena.js';
import { blockStagingBytes, regionParts, type KvFormat, type KvRegionParts } from './kv-format.js';
import { ARGS_BYTES as SPAN_ARGS_BYTES } from './span-args-layout.js';

const MiB = 1 << 20;
/** Packed K/V kept per instance, per job or across jobs (KvPieces): every head of B1 H8 at S = 16384,
 *  D = 64 (8 MiB a head). */
export const PACKED_KV_BYTES = 64 * MiB;
/** At most this much K + V per span (32768 keys at D = 64), so that any Sk fits in wasm memory. */
export const KV_SPAN_BYTES = 16 * MiB;
/** Query rows per kernel call: a whole tile of the planner (MAX_ROW_BLOCK), so each tile streams its
 *  keys through the kernel once. Measured against 64 (kernel level, interleaved, B1 H8 D64):
 *  1.02–1.05× at S = 2048 and S = 8192. Any row count gives the same bits: rows never influence
 *  each other. */
const CHUNK_ROWS = 128;
/** Bound on the per-chunk mask, bias and weights rows, which grow with Sk. */
const SLICE_BYTES = 4 * MiB;

/** The kernel's constants the layout depends on (asm/). */
export interface KernelGeometry {
  readonly keyBlock: number;
  readonly panelWidth: number;
  readonly rowGroup: number;
  readonly scratchBytes: number;
}

/** The fields of a job its layout depends on. */
export type LayoutShape = Pick<AttentionJob, 'B' | 'Hkv' | 'D' | 'Dv' | 'Sk' | 'split' | 'mask' | 'bias' | 'weights' | 'kvStorage'>;

/** What holds the packed K/V at the arena's base: per-call span slots the layout sizes, pieces kept
 *  across calls, whose owner knows their bytes, or nothing: a paged job's K/V are the store's pages,
 *  which lie in the instance's memory already (paged-instance.ts). */
export type KvRegion =
  | { readonly kept: false }
  | { readonly kept: true; readonly bytes: number; readonly pieceKeys: number }
  | { readonly kept: 'paged' };

/** Byte offsets of the regions above the kv region (see the table above). */
export interface Regions {
  readonly staging: number;
  readonly kvBlock: number;
  readonly q: number;
  readonly keyLimit: number;
  readonly keyFloor: number;
  readonly mask: number;
  readonly bias: number;
  readonly rowMax: number;
  readonly rowSum: number;
  readonly acc: number;
  readonly scratch: number;
  readonly scores: number;
  readonly spanArgs: number;
}

/** Per-call span slots: `count` slots of `slotBytes` from `base`, K at the start of a slot and the
 *  other parts (V, scales) at `parts`. */
export interface SpanSlots {
  readonly base: number;
  readonly slotBytes: number;
  readonly count: number;
  readonly parts: KvRegionParts;
}

export interface AttentionLayout {
  /** Dv rounded up to whole 4-float vectors: the row stride of V and of the accumulators. */
  readonly dvPad: number;
  readonly spanKeys: number;
  /** spanKeys rounded up to a whole panel: row stride of mask and bias slices, rows of a K/V slot. */
  readonly spanStride: number;
  /** Sk rounded up to a whole panel: row stride of the weights' scores. */
  readonly scoresStride: number;
  readonly chunkRows: number;
  /** Only for a per-call kv region. */
  readonly spanSlots: SpanSlots | undefined;
  readonly at: Regions;
  /** The first byte past the layout: the memory the instance must have. */
  readonly end: number;
}

export function paddedDv(Dv: number): number {
  return Math.ceil(Dv / 4) * 4;
}

/** The most keys a span may hold: KV_SPAN_BYTES of K + V, in whole key blocks (at least one). */
export function maxSpanKeys(D: number, dvPad: number, keyBlock: number): number {
  return Math.max(keyBlock, Math.floor(KV_SPAN_BYTES / ((D + dvPad) * 4) / keyBlock) * keyBlock);
}

/** The layout of a job of `shape` on an arena whose regions start at `base`. */
export function attentionLayout(base: number, shape: LayoutShape, kernel: KernelGeometry, kv: KvRegion, format: KvFormat): AttentionLayout {
  const { D, Dv, Sk } = shape;
  const width = kernel.panelWidth;
  const dvPad = paddedDv(Dv);
  const spanLimit = maxSpanKeys(D, dvPad, kernel.keyBlock);
  const spanKeys = Math.max(1, Math.min(Sk, shape.split ? splitSpanKeys(shape.split.keysPerSplit, spanLimit, kernel.keyBlock) : spanLimit));
  const spanStride = Math.ceil(spanKeys / width) * width;
  const scoresStride = Math.ceil(Sk / width) * width;
  const sliceBytesPerRow = (shape.mask ? spanStride : 0) + (shape.bias ? spanStride * 4 : 0) + (shape.weights ? scoresStride * 4 : 0);
  const chunkRows = sliceBytesPerRow === 0 ? CHUNK_ROWS : Math.min(CHUNK_ROWS,
    Math.max(kernel.rowGroup, Math.floor(SLICE_BYTES / sliceBytesPerRow / kernel.rowGroup) * kernel.rowGroup));

  const layout = new RegionLayout(base);
  let spanSlots: SpanSlots | undefined;
  if (kv.kept === 'paged') {
    // No kv region: the pages are read where they lie.
  } else if (kv.kept) {
    // First in the layout, at the arena's base: where the pieces' slots have always been.
    layout.take(kv.bytes);
  } else {
    const parts = regionParts(format, spanStride);
    const slotBytes = parts.bytes;
    const count = Math.max(1, Math.min(Math.floor(PACKED_KV_BYTES / slotBytes), shape.B * shape.Hkv * Math.ceil(Sk / spanKeys)));
    spanSlots = { base: layout.take(slotBytes * count), slotBytes, count, parts };
  }
  const packsFloat32 = blockStagingBytes(format, D, dvPad, kernel.keyBlock) === 0;
  const at: Regions = {
    staging: layout.take(kv.kept === 'paged' ? (packsFloat32 ? regionParts(format, kernel.keyBlock).bytes : 0)
      : packsFloat32 ? Math.max(spanKeys, kv.kept ? kv.pieceKeys : 0) * D * 4 : 0),
    kvBlock: layout.take(blockStagingBytes(format, D, dvPad, kernel.keyBlock)),
    q: layout.take(chunkRows * D * 4),
    keyLimit: layout.take(chunkRows * 4),
    keyFloor: layout.take(chunkRows * 4),
    mask: layout.take(shape.mask ? chunkRows * spanStride : 0),
    bias: layout.take(shape.bias ? chunkRows * spanStride * 4 : 0),
    rowMax: layout.take(chunkRows * 4),
    rowSum: layout.take(chunkRows * 4),
    acc: layout.take(chunkRows * dvPad * 4),
    scratch: layout.take(kernel.scratchBytes),
    scores: layout.take(shape.weights ? chunkRows * scoresStride * 4 : 0),
    spanArgs: layout.take(SPAN_ARGS_BYTES),
  };
  return { dvPad, spanKeys, spanStride, scoresStride, chunkRows, spanSlots, at, end: layout.end };
}

/** Spans of a split job: the split itself when it fits a span, else the split cut into equal
 *  block-aligned parts, so a split tile packs only its own keys. */
function splitSpanKeys(keysPerSplit: number, spanLimit: number, keyBlock: number): number {
  if (keysPerSplit <= spanLimit) return keysPerSplit;
  const parts = Math.ceil(keysPerSplit / spanLimit);
  return Math.ceil(keysPerSplit / parts / keyBlock) * keyBlock;
}

/** Bytes of the layout of any paged job of this D, Dv and storage, from a 64-byte aligned base: a
 *  per-thread constant, which is what a kernel instance on a paged store's memory reserves once. Only
 *  the mask and bias slices depend on Sk, and those stay within SLICE_BYTES (chunkRows shrinks for
 *  them, which shrinks the other per-row regions too); a paged job has no weights (pool.attention
 *  takes none) and no kv region. So the layout without slices plus SLICE_BYTES and the two slices'
 *  alignment bounds every one. */
export function pagedLayoutBytes(D: number, Dv: number, kernel: KernelGeometry, format: KvFormat): number {
  const unsliced: LayoutShape = {
    B: 1, Hkv: 1, D, Dv, Sk: 1, split: undefined, mask: undefined, bias: undefined, weights: undefined, kvStorage: undefined,
  };
  return attentionLayout(0, unsliced, kernel, { kept: 'paged' }, format).end + SLICE_BYTES + 2 * 64;
}
