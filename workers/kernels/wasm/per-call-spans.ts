// Spans packed for one job: each (batch, kv head, span) is copied and packed the first time a tile of
// this thread needs it, and kept in an LRU of slots (packed-slots.ts) for the job's other tiles. A new
// job gets a new source, since the same buffers may hold new values in the next call.

import type { AttentionJob } from '../jobs.js';
import type { WasmArena } from './arena.js';
import type { SpanSlots } from './attention-layout.js';
import type { KernelExports } from './kernel-exports.js';
import { copyStoredKeys, storedVFinite, type KvFormat } from './kv-format.js';
import type { KvSpan, KvSpanSource } from './kv-span-source.js';
import { PackedSlots } from './packed-slots.js';
import { copyKeyRows } from './strided-copy.js';

export class PerCallSpans implements KvSpanSource {
  private readonly packed: PackedSlots;
  private readonly vFinite = new Map<string, boolean>();
  private readonly panelWidth: number;

  /** `staging`: scratch for a span's raw K rows. */
  constructor(private readonly kernels: KernelExports, private readonly arena: WasmArena, private readonly slots: SpanSlots,
    private readonly staging: number, private readonly dvPad: number, private readonly format: KvFormat) {
    this.packed = new PackedSlots(slots.base, slots.slotBytes, slots.count);
    this.panelWidth = kernels.panelWidth();
  }

  span(job: AttentionJob, b: number, kvHead: number, spanStart: number, spanKeys: number): KvSpan {
    const { dvPad } = this;
    const key = `${b}:${kvHead}:${spanStart}`;
    const { offset, hit } = this.packed.acquire(key);
    const { parts } = this.slots;
    const kPanels = offset, vRows = offset + parts.v;
    const scales = this.format.kScaleBytes > 0;
    const run = { start: spanStart, end: spanStart + spanKeys, kPanels, vRows,
      kScales: scales ? offset + parts.kScales : 0, vScales: scales ? offset + parts.vScales : 0 };
    if (!hit && job.kvStorage) {
      // Stored K/V: copied as stored; the kernel decodes (and pads) each block itself.
      copyStoredKeys(this.arena, job, parts, offset, b, kvHead, spanStart, 0, spanKeys);
      this.vFinite.set(key, storedVFinite(this.arena, job, parts, offset, 0, spanKeys));
    } else if (!hit) {
      const { f32 } = this.arena;
      const { k, v, D, Dv } = job;
      copyKeyRows(f32, this.staging / 4, D, k, job.kvRing, b, kvHead, spanStart, spanKeys, D);
      this.kernels.packPanels(this.staging, D, spanKeys, D, kPanels);
      const paddedKeys = Math.ceil(spanKeys / this.panelWidth) * this.panelWidth;
      // Pad rows and columns of V must be finite zeros: padded keys get p = 0, and 0·NaN would poison.
      // Without pad columns only the pad rows need it (the copy below writes every real row whole):
      // a decode step's last span is partial on every call, and zeroing all of it cost a second pass.
      const padFrom = dvPad === Dv ? spanKeys * dvPad : 0;
      f32.fill(0, vRows / 4 + padFrom, vRows / 4 + paddedKeys * dvPad);
      copyKeyRows(f32, vRows / 4, dvPad, v, job.kvRing, b, kvHead, spanStart, spanKeys, Dv);
      this.vFinite.set(key, this.kernels.allFinite(vRows, paddedKeys * dvPad) === 1);
    }
    return { runs: [run], vFinite: this.vFinite.get(key)! };
  }
}
