// Runs GEMM tiles (out = x·Wᵀ + b) on the wasm kernel. W's rows for a tile's column block are packed
// into 8-column panels once per thread and job and kept in LRU slots (packed-slots.ts; the planner lists the row
// blocks of one column block in turn, so a thread's consecutive tiles mostly hit it); x rows are copied
// per chunk of rows, the results copied back into the strided output.

import { GEMM_TILE, tileCount, type GemmJob, type GemmPart } from '../jobs.js';
import { WasmArena, alignUp } from './arena.js';
import type { KernelExports } from './kernel-exports.js';
import { requireFloat32 } from './require-float32.js';
import { PackedSlots } from './packed-slots.js';
import type { TileOutcome } from '../tile-control.js';
import { copyRows } from './strided-copy.js';

const MiB = 1 << 20;
/** Packed W kept per instance: all of an E = 1024 in-projection (3E × E floats, 12 MiB) fits. */
const PACKED_W_BYTES = 64 * MiB;
/** x rows per kernel call: about 256 KiB, so the chunk stays in L2 while every W panel passes over it
 *  (128 rows at E = 512). */
const X_CHUNK_BYTES = 256 * 1024;
const MAX_CHUNK_ROWS = 256;
/** W rows per packed slot: a tile's columns are processed in blocks of at most this many (the planner's
 *  column blocks are at most 256 wide), so a slot stays bounded (1 MiB at K = 1024) whatever the tile. Each
 *  output element is one sum over k, so how columns are grouped never changes its bits. */
const SLOT_COLUMNS = 256;

/** Where one job's packed W, staging and row chunks sit in the arena. */
interface GemmArenaLayout {
  readonly epoch: number;
  readonly chunkRows: number;
  readonly packed: PackedSlots;
  readonly staging: number; // raw W rows of one column block, before packing
  readonly x: number;
  readonly out: number;
}

export class WasmGemm {
  // A weak reference: the layout must not keep a finished job's tensors alive.
  private lastJob: WeakRef<GemmJob> | undefined;
  private layout: GemmArenaLayout | undefined;
  private readonly panelWidth: number;
  private readonly rowGroup: number;

  constructor(private readonly kernels: KernelExports, private readonly arena: WasmArena) {
    this.panelWidth = kernels.panelWidth();
    this.rowGroup = kernels.rowGroup();
  }

  tile(job: GemmJob, tile: number): TileOutcome {
    const layout = this.layoutFor(job);
    const { part: partIndex, rowStart: m0, rowEnd: m1, colStart: n0, colEnd: n1 } = GEMM_TILE.read(job.tiles, tile);
    const part = job.parts[partIndex];
    for (let c0 = n0; c0 < n1; c0 += SLOT_COLUMNS) this.columns(layout, part, partIndex, m0, m1, c0, Math.min(n1, c0 + SLOT_COLUMNS));
    return 'done';
  }

  /** Rows m0 .. m1 of output columns n0 .. n1 (at most SLOT_COLUMNS). */
  private columns(layout: GemmArenaLayout, part: GemmPart, partIndex: number, m0: number, m1: number, n0: number, n1: number): void {
    const cols = n1 - n0;
    const paddedCols = Math.ceil(cols / this.panelWidth) * this.panelWidth;
    const { wPanels, bias } = this.packedColumns(layout, part, `${partIndex}:${n0}:${n1}`, n0, cols, paddedCols);
    const { f32 } = this.arena;
    const { K } = part;
    for (let r0 = m0; r0 < m1; r0 += layout.chunkRows) {
      const rows = Math.min(layout.chunkRows, m1 - r0);
      const groupRows = Math.ceil(rows / this.rowGroup) * this.rowGroup;
      copyRows(f32, layout.x / 4, K, part.x as Float32Array, part.xOffset + r0 * part.xRowStride, part.xRowStride, rows, K);
      this.kernels.gemmRows(groupRows, K, layout.x, wPanels, paddedCols / this.panelWidth, bias, layout.out, paddedCols);
      copyRows(part.out as Float32Array, part.outOffset + r0 * part.outRowStride + n0, part.outRowStride,
        f32, layout.out / 4, paddedCols, rows, cols);
    }
  }

  /** W rows n0 .. n0 + cols packed into panels, and the matching bias (0 when there is none). */
  private packedColumns(layout: GemmArenaLayout, part: GemmPart, key: string, n0: number, cols: number,
    paddedCols: number): { wPanels: number; bias: number } {
    const { offset, hit } = layout.packed.acquire(key);
    const K = part.K;
    const biasAt = offset + alignUp(paddedCols * K * 4);
    if (!hit) {
      const { f32 } = this.arena;
      copyRows(f32, layout.staging / 4, K, part.w as Float32Array, part.wOffset + n0 * part.wRowStride, part.wRowStride, cols, K);
      this.kernels.packPanels(layout.staging, K, cols, K, offset);
      if (part.bias) {
        f32.fill(0, biasAt / 4, biasAt / 4 + paddedCols);
        f32.set(part.bias.subarray(part.biasOffset + n0, part.biasOffset + n0 + cols), biasAt / 4);
      }
    }
    return { wPanels: offset, bias: part.bias ? biasAt : 0 };
  }

  private layoutFor(job: GemmJob): GemmArenaLayout {
    if (this.layout && this.arena.isCurrent(this.layout.epoch) && this.lastJob?.deref() === job) return this.layout;
    job.parts.forEach((part, i) => {
      requireFloat32(part.x, `job.parts[${i}].x`);
      requireFloat32(part.w, `job.parts[${i}].w`);
      requireFloat32(part.out, `job.parts[${i}].out`);
      if (part.bias) requireFloat32(part.bias, `job.parts[${i}].bias`);
    });
    // The widest column block and deepest K over the job's tiles size the slots and buffers.
    let slotBytes = 0, maxK = 0, maxCols = 0;
    for (const { part, colStart, colEnd } of GEMM_TILE.unpack(job.tiles)) {
      const K = job.parts[part].K;
      const cols = Math.min(SLOT_COLUMNS, colEnd - colStart);
      const paddedCols = Math.ceil(cols / this.panelWidth) * this.panelWidth;
      slotBytes = Math.max(slotBytes, alignUp(alignUp(paddedCols * K * 4) + paddedCols * 4));
      maxK = Math.max(maxK, K);
      maxCols = Math.max(maxCols, paddedCols);
    }
    const chunkRows = Math.min(MAX_CHUNK_ROWS,
      Math.max(this.rowGroup, Math.floor(X_CHUNK_BYTES / (Math.max(maxK, 1) * 4) / this.rowGroup) * this.rowGroup));
    const slots = Math.max(1, Math.min(Math.floor(PACKED_W_BYTES / Math.max(slotBytes, 1)), tileCount(job)));

    const { layout: regions, epoch } = this.arena.newLayout();
    const packed = new PackedSlots(regions.take(slotBytes * slots), slotBytes, slots);
    const staging = regions.take(maxCols * maxK * 4);
    const x = regions.take(chunkRows * maxK * 4);
    const out = regions.take(chunkRows * maxCols * 4);
    this.arena.ensure(regions.end);
    this.lastJob = new WeakRef(job);
    this.layout = { epoch, chunkRows, packed, staging, x, out };
    return this.layout;
  }
}
