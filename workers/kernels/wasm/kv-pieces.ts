// Packed K/V that outlive a job, for jobs reading a KvCache (job.kvSource): a decode step appends one
// position and reads them all, so repacking every head's whole K/V per call (the per-job PackedSlots)
// cost 25–35× the step's arithmetic. While a source's (id, epoch) stays the same, its positions below
// a job's Sk never change (src/kv-cache.ts), so a piece packed for one job stays valid for the next
// and only the positions past what it holds need packing.
//
// Pieces are fixed runs of `pieceKeys` keys (a multiple of the kernel's 64-key block) of one (batch,
// kv head), starting at multiples of pieceKeys, so they stay put as the cache grows, whatever a job's
// span or split length. Each remembers how many keys it holds packed and which of its 64-key blocks
// have a non-finite V row, from which the driver derives the vFinite flag of any block-aligned span
// exactly as packing that span afresh would (the flag picks the kernel's P·V variant, so it must not
// depend on the pieces).
//
// The slots live at the bottom of the arena, where the driver's layouts put them first; a layout made
// by anyone else in between (a GEMM job, a job without kvSource, another D) may have overwritten them,
// and the driver then starts a new, empty KvPieces. An LRU of at most PACKED_KV_BYTES of slots.

import type { AttentionJob, KvSource } from '../jobs.js';
import type { WasmArena } from './arena.js';
import type { KernelExports } from './kernel-exports.js';
import { copyStoredKeys, regionParts, storedVFinite, type KvFormat, type KvRegionParts } from './kv-format.js';
import { copyKeyRows } from './strided-copy.js';

/** Keys per piece when the span budget allows: 512 KiB of K + V at D = Dv = 64, so the 64 MiB budget
 *  holds 16384 positions of 8 heads. Its 16 key blocks fit KvPiece.nonFinite, a 32-bit mask. */
const PIECE_KEYS = 1024;

export interface KvPiece {
  /** Byte offset of the K panels ([panel][D][8]); V rows ([key][dvPad]) are at offset + parts.v (or
   *  K/V rows as stored and their scales, kv-format.ts). */
  readonly offset: number;
  /** Keys [0, packed) of the piece are packed; pad rows up to the next panel hold zeros. */
  packed: number;
  /** Bit i set: some V row of block i (keys 64i … 64i + 63 of the piece) is not finite. */
  nonFinite: number;
}

export class KvPieces {
  readonly pieceKeys: number;
  readonly parts: KvRegionParts;
  readonly slotBytes: number;
  private readonly maxSlots: number;
  private slots = 0;
  private readonly lru = new Map<string, KvPiece>(); // insertion order = recency
  private readonly free: number[] = [];

  constructor(private readonly kernels: KernelExports, private readonly arena: WasmArena, readonly base: number,
    readonly D: number, readonly dvPad: number, readonly format: KvFormat, maxSpanKeys: number, budgetBytes: number) {
    this.pieceKeys = Math.min(PIECE_KEYS, maxSpanKeys);
    this.parts = regionParts(format, this.pieceKeys);
    this.slotBytes = this.parts.bytes;
    this.maxSlots = Math.max(1, Math.floor(budgetBytes / this.slotBytes));
  }

  /** Bytes of the slots, which the layout must reserve at `base`. */
  get bytes(): number {
    return this.slots * this.slotBytes;
  }

  /** Grows the slots (capped by the budget) so that a job of `source` needing `wanted` pieces does not
   *  evict the pieces other sources hold (two caches decoding in turn); existing slots keep their
   *  offsets. Pieces of the source's earlier epochs are dropped. */
  reserve(source: KvSource, wanted: number): void {
    const own = `${source.id}:${source.epoch}:`, ownEarlier = `${source.id}:`;
    let others = 0;
    for (const [key, piece] of this.lru) {
      if (key.startsWith(own)) continue;
      if (key.startsWith(ownEarlier)) {
        // An earlier epoch of this source: no job reads it again (src/kv-cache.ts bumps the epoch only
        // when no call reads the buffers), so its slots are free — a window cache's ring bumps it on
        // every append that overwrites positions.
        this.lru.delete(key);
        this.free.push((piece.offset - this.base) / this.slotBytes);
      } else {
        others++;
      }
    }
    const target = Math.min(this.maxSlots, Math.max(this.slots, others + wanted));
    for (let s = this.slots; s < target; s++) this.free.push(s);
    this.slots = target;
  }

  /** The piece of (b, kvHead) starting at key `start`, packed up to the job's keys (at most
   *  pieceKeys). `staging` is scratch for pieceKeys raw K rows. */
  acquire(job: AttentionJob, source: KvSource, b: number, kvHead: number, start: number, staging: number): KvPiece {
    const key = `${source.id}:${source.epoch}:${b}:${kvHead}:${start}`;
    let piece = this.lru.get(key);
    if (piece) {
      this.lru.delete(key);
    } else {
      piece = { offset: this.base + this.takeSlot() * this.slotBytes, packed: 0, nonFinite: 0 };
    }
    this.lru.set(key, piece);
    this.fill(job, piece, b, kvHead, start, Math.min(this.pieceKeys, job.Sk - start), staging);
    return piece;
  }

  private takeSlot(): number {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    const [oldest, piece] = this.lru.entries().next().value as [string, KvPiece];
    this.lru.delete(oldest);
    return (piece.offset - this.base) / this.slotBytes;
  }

  /** Packs keys [piece.packed, keys) of the piece: K from the start of the last partial panel (panels
   *  are [D][8], so a partial one is rewritten whole), V row by row, then the finiteness of the blocks
   *  those rows fall in. A job that reads fewer keys than the piece holds (an older call's snapshot
   *  running late) gets the piece repacked to its length, so that a piece always holds what packing the
   *  job's keys afresh gives: zeros past Sk in the last panel, flags over the job's keys only. (Keys past
   *  Sk would be masked by the key limit anyway; this keeps the argument for equal bits simple.) */
  private fill(job: AttentionJob, piece: KvPiece, b: number, kvHead: number, start: number, keys: number, staging: number): void {
    if (piece.packed > keys) {
      piece.packed = 0;
      piece.nonFinite = 0;
    }
    const from = piece.packed;
    if (from === keys) return;
    const block = this.kernels.keyBlock();
    if (job.kvStorage) {
      // Stored K/V: copied as stored, no packing; the kernel decodes and pads each block itself.
      copyStoredKeys(this.arena, job, this.parts, piece.offset, b, kvHead, start, from, keys);
      for (let k0 = Math.floor(from / block) * block; k0 < keys; k0 += block) {
        const finite = storedVFinite(this.arena, job, this.parts, piece.offset, k0, Math.min(keys, k0 + block));
        piece.nonFinite = setBlockFlag(piece.nonFinite, k0 / block, !finite);
      }
      piece.packed = keys;
      return;
    }
    const { D, dvPad } = this;
    const { f32 } = this.arena;
    const width = this.kernels.panelWidth();
    const panelFrom = Math.floor(from / width) * width;
    copyKeyRows(f32, staging / 4, D, job.k, job.kvRing, b, kvHead, start + panelFrom, keys - panelFrom, D);
    this.kernels.packPanels(staging, D, keys - panelFrom, D, piece.offset + panelFrom * D * 4);
    // As the per-job path: pad rows (and pad columns, when Dv < dvPad) of V must be finite zeros.
    const vRows = piece.offset + this.parts.v;
    const paddedKeys = Math.ceil(keys / width) * width;
    f32.fill(0, vRows / 4 + (dvPad === job.Dv ? keys : from) * dvPad, vRows / 4 + paddedKeys * dvPad);
    copyKeyRows(f32, vRows / 4 + from * dvPad, dvPad, job.v, job.kvRing, b, kvHead, start + from, keys - from, job.Dv);
    for (let k0 = Math.floor(from / block) * block; k0 < keys; k0 += block) {
      const rows = Math.min(block, keys - k0);
      const finite = this.kernels.allFinite(vRows + k0 * dvPad * 4, rows * dvPad) === 1;
      piece.nonFinite = setBlockFlag(piece.nonFinite, k0 / block, !finite);
    }
    piece.packed = keys;
  }
}

function setBlockFlag(flags: number, block: number, nonFinite: boolean): number {
  return nonFinite ? flags | (1 << block) : flags & ~(1 << block);
}

/** Whether the V rows of keys [from, to) of a piece (local indices, `from` block-aligned) are all finite. */
export function piecePartFinite(piece: KvPiece, from: number, to: number, keyBlock: number): boolean {
  const first = Math.floor(from / keyBlock), end = Math.ceil(to / keyBlock);
  const bits = ((1 << (end - first)) - 1) << first; // pieces have at most 16 blocks (PIECE_KEYS)
  return (piece.nonFinite & bits) === 0;
}
