// How a job's K/V sit in the instance's memory (span slots and kept pieces), by how they are stored
// (job.kvStorage). float32 K/V are packed: K transposed into panels of 8 keys, V rows padded to dvPad.
// float16 and int8 K/V are copied in as they are stored — K rows [key][D], V rows [key][Dv] of
// binary16 bits or int8 values, and for int8 each row's block scales — and the kernel decodes one
// 64-key block at a time (asm/kv-decode.ts), so the instance holds 1/2 or about 1/4 of the float32
// bytes per key and nothing is converted ahead of the kernel.

import type { AttentionJob } from '../jobs.js';
import { alignUp, type WasmArena } from './arena.js';
import * as SpanArg from './span-args-layout.js';
import { copyKeyRows } from './strided-copy.js';
import { int8BlocksPerRow } from '../../storage/int8-blocks.js';
import type { StoredDType } from '../../dtypes.js';

export interface KvFormat {
  /** SpanArg.KV_FLOAT32, KV_FLOAT16 or KV_INT8. */
  readonly code: number;
  /** Bytes per key of K (panels: D·4 per key too), of V, and of their scales (int8 only, else 0). */
  readonly kKeyBytes: number;
  readonly vKeyBytes: number;
  readonly kScaleBytes: number;
  readonly vScaleBytes: number;
}

/** Byte offsets, from a region's start, of the parts of a region holding `keys` keys. */
export interface KvRegionParts {
  readonly kScales: number;
  readonly v: number;
  readonly vScales: number;
  readonly bytes: number;
}

export function kvFormatOf(job: Pick<AttentionJob, 'D' | 'Dv' | 'kvStorage'>, dvPad: number): KvFormat {
  return kvFormatFor(job.kvStorage?.dtype ?? 'float32', job.D, job.Dv, dvPad);
}

/** kvFormatOf for a store that knows its dtype but has no job (the paged K/V store, src/paged/). */
export function kvFormatFor(dtype: 'float32' | StoredDType, D: number, Dv: number, dvPad: number): KvFormat {
  switch (dtype) {
    case 'float32': return { code: SpanArg.KV_FLOAT32, kKeyBytes: D * 4, vKeyBytes: dvPad * 4, kScaleBytes: 0, vScaleBytes: 0 };
    case 'float16': return { code: SpanArg.KV_FLOAT16, kKeyBytes: D * 2, vKeyBytes: Dv * 2, kScaleBytes: 0, vScaleBytes: 0 };
    case 'int8': return { code: SpanArg.KV_INT8, kKeyBytes: D, vKeyBytes: Dv, kScaleBytes: int8BlocksPerRow(D) * 4, vScaleBytes: int8BlocksPerRow(Dv) * 4 };
  }
}

export function regionParts(format: KvFormat, keys: number): KvRegionParts {
  const kScales = alignUp(keys * format.kKeyBytes);
  const v = alignUp(kScales + keys * format.kScaleBytes);
  const vScales = alignUp(v + keys * format.vKeyBytes);
  return { kScales, v, vScales, bytes: alignUp(vScales + keys * format.vScaleBytes) };
}

/** Bytes of the block staging the kernel decodes stored K/V into (span-args-layout.ts, KV_STAGING). */
export function blockStagingBytes(format: KvFormat, D: number, dvPad: number, keyBlock: number): number {
  return format.code === SpanArg.KV_FLOAT32 ? 0 : keyBlock * (2 * D + dvPad) * 4;
}

/** Copies stored keys [from, to) of (b, kvHead), counted from `first`, the region's first key, into
 *  the region at byte offset `region`: K rows, V rows and (int8) their scales, as stored, wherever a
 *  window cache's ring keeps them. */
export function copyStoredKeys(arena: WasmArena, job: AttentionJob, parts: KvRegionParts, region: number,
  b: number, kvHead: number, first: number, from: number, to: number): void {
  const { D, Dv, k, v, kvStorage, kvRing } = job;
  const n = to - from;
  const elements = kvStorage!.dtype === 'float16' ? arena.u16 : arena.i8;
  const bytes = kvStorage!.dtype === 'float16' ? 2 : 1;
  copyKeyRows(elements, region / bytes + from * D, D, k, kvRing, b, kvHead, first + from, n, D);
  copyKeyRows(elements, (region + parts.v) / bytes + from * Dv, Dv, v, kvRing, b, kvHead, first + from, n, Dv);
  if (kvStorage!.dtype === 'int8') {
    const { kScales, vScales } = kvStorage!;
    const kb = int8BlocksPerRow(D), vb = int8BlocksPerRow(Dv);
    copyKeyRows(arena.f32, (region + parts.kScales) / 4 + from * kb, kb, kScales, kvRing, b, kvHead, first + from, n, kb);
    copyKeyRows(arena.f32, (region + parts.vScales) / 4 + from * vb, vb, vScales, kvRing, b, kvHead, first + from, n, vb);
  }
}

/** Whether stored V rows [from, to) of the region decode to finite values: no binary16 with the
 *  all-ones exponent; for int8, no scale with 127·scale beyond float32 (|q| ≤ 127, and each block's
 *  largest value has |q| = 127). */
export function storedVFinite(arena: WasmArena, job: AttentionJob, parts: KvRegionParts, region: number, from: number, to: number): boolean {
  return storedRowsFinite(arena, job.kvStorage!.dtype, job.Dv, parts, region, from, to);
}

/** storedVFinite over any memory's views, for a store that knows its dtype but has no job (src/paged/). */
export function storedRowsFinite(views: Pick<WasmArena, 'u16' | 'f32'>, dtype: StoredDType, Dv: number, parts: KvRegionParts,
  region: number, from: number, to: number): boolean {
  if (dtype === 'float16') {
    const { u16 } = views;
    const end = (region + parts.v) / 2 + to * Dv;
    for (let i = (region + parts.v) / 2 + from * Dv; i < end; i++) if ((u16[i] & 0x7c00) === 0x7c00) return false;
    return true;
  }
  const { f32 } = views;
  const vb = int8BlocksPerRow(Dv);
  const end = (region + parts.vScales) / 4 + to * vb;
  for (let i = (region + parts.vScales) / 4 + from * vb; i < end; i++) if (!Number.isFinite(Math.fround(127 * f32[i]))) return false;
  return true;
}
