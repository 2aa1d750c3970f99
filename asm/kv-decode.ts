// K/V stored in reduced precision (a float16 or int8 KvCache, workers/storage/): the span's keys sit in
// the instance's memory as they are stored — K rows [key][depth] and V rows [key][dv] of binary16 bits
// or int8 values, plus, for int8, one float32 scale per 32 values of a row (kv-format.ts) — and the
// span loop (attention.ts) decodes one 64-key block at a time into float32 staging that the unchanged
// inner loops (scores.ts, pv.ts) read: K straight into panels (stored-panels.ts), V into rows
// [key][dvPad] with zero pad rows and columns. K and V are decoded separately, each the first time a
// row group of the block needs it: a decode step's single row over finite V reads V as stored
// (pv-stored.ts), so its V is never staged.
//
// Why a block's staging and not decoding inside dot4x8 / pv4: wasm SIMD has no f16 loads, so a
// binary16 lane costs a few integer and float operations to decode (float16.ts); decoded inside the
// dot, every row group of a chunk would pay them again (32 groups for a 128-row chunk), while the
// staging is decoded once per block per chunk and stays in L1 (64 keys × 64 floats × 3 = 48 KiB at
// D = 64, the size of L1d on the CPU these kernels were tuned on). K must be staged even for one row:
// the dot's lanes run along keys, so row-stored K has to be transposed. Only blocks some row group
// sees are decoded. Since the inner loops read exactly the float32 values the storage decodes to, a
// stored cache gives the bits of a float32 cache holding the decoded values.

import * as SpanArg from '../workers/kernels/wasm/span-args-layout';
import { INT8_BLOCK, KEY_BLOCK, PANEL_WIDTH, int8ScaleRowBytes } from './layout';
import { decodeFloat16Row } from './float16';
import { packPanels } from './pack';
import { float16Panels, int8Panels } from './stored-panels';

/** Where the staging of one block keeps its decoded K panels and V rows ([KEY_BLOCK][dvPad]). */
// @ts-ignore: decorator
@inline
export function stagedPanels(args: usize): usize {
  return load<usize>(args, SpanArg.KV_STAGING) + <usize>KEY_BLOCK * (<usize>load<i32>(args, SpanArg.DEPTH) << 2);
}

// @ts-ignore: decorator
@inline
export function stagedV(args: usize): usize {
  return stagedPanels(args) + <usize>KEY_BLOCK * (<usize>load<i32>(args, SpanArg.DEPTH) << 2);
}

/** Decodes the K of keys [local, local + keys) of the span (keys ≤ KEY_BLOCK) into the staging's
 *  panels: full panels straight into panel order when the depth allows (stored-panels.ts); the rest (a
 *  last partial panel, or every panel at other depths) into rows, then packed. */
export function decodeKBlock(args: usize, local: i32, keys: i32): void {
  const format = load<i32>(args, SpanArg.KV_FORMAT), depth = load<i32>(args, SpanArg.DEPTH);
  const rowsF32 = load<usize>(args, SpanArg.KV_STAGING);
  const kRows = load<usize>(args, SpanArg.K_PANELS) + <usize>local * <usize>depth * storedValueBytes(args);
  const kScaleRow = int8ScaleRowBytes(depth);
  const kScales = load<usize>(args, SpanArg.K_SCALES) + <usize>local * kScaleRow;
  const fullPanels = depth % 8 == 0 ? keys / PANEL_WIDTH : 0;
  if (fullPanels > 0) {
    if (format == SpanArg.KV_FLOAT16) float16Panels(kRows, depth, fullPanels, stagedPanels(args));
    else int8Panels(kRows, kScales, depth, fullPanels, stagedPanels(args));
  }
  const first = fullPanels * PANEL_WIDTH;
  if (first == keys) return;
  for (let r = first; r < keys; r++) {
    const kDst = rowsF32 + (<usize>(r * depth) << 2);
    if (format == SpanArg.KV_FLOAT16) decodeFloat16Row(kRows + (<usize>(r * depth) << 1), depth, kDst);
    else decodeInt8Row(kRows + <usize>(r * depth), kScales + <usize>r * kScaleRow, depth, kDst);
  }
  packPanels(rowsF32 + (<usize>(first * depth) << 2), depth, keys - first, depth,
    stagedPanels(args) + (<usize>(first * depth) << 2));
}

/** Decodes the V of keys [local, local + keys) of the span into the staging's rows ([KEY_BLOCK][dvPad]),
 *  zero pad columns and pad rows up to the panel. */
export function decodeVBlock(args: usize, local: i32, keys: i32): void {
  const format = load<i32>(args, SpanArg.KV_FORMAT);
  const dv = load<i32>(args, SpanArg.DV), dvPad = load<i32>(args, SpanArg.DV_PAD);
  const vRows = storedV(args, local);
  const vScaleRow = int8ScaleRowBytes(dv);
  const vScales = load<usize>(args, SpanArg.V_SCALES) + <usize>local * vScaleRow;
  const vOut = stagedV(args);
  for (let r = 0; r < keys; r++) {
    const vDst = vOut + (<usize>(r * dvPad) << 2);
    if (format == SpanArg.KV_FLOAT16) decodeFloat16Row(vRows + (<usize>(r * dv) << 1), dv, vDst);
    else decodeInt8Row(vRows + <usize>(r * dv), vScales + <usize>r * vScaleRow, dv, vDst);
    for (let c = dv; c < dvPad; c++) store<f32>(vDst + (<usize>c << 2), 0);
  }
  // Pad rows up to the panel: finite zeros (their p is 0, and 0·NaN would poison the row).
  const padded = (keys + PANEL_WIDTH - 1) / PANEL_WIDTH * PANEL_WIDTH;
  memory.fill(vOut + (<usize>(keys * dvPad) << 2), 0, <usize>((padded - keys) * dvPad) << 2);
}

/** The stored V rows of the span from key `local` on. */
// @ts-ignore: decorator
@inline
export function storedV(args: usize, local: i32): usize {
  return load<usize>(args, SpanArg.V_ROWS) + <usize>local * <usize>load<i32>(args, SpanArg.DV) * storedValueBytes(args);
}

/** Bytes of one stored value: 2 (binary16) or 1 (int8). */
// @ts-ignore: decorator
@inline
export function storedValueBytes(args: usize): usize {
  return load<i32>(args, SpanArg.KV_FORMAT) == SpanArg.KV_FLOAT16 ? 2 : 1;
}

/** count int8 values → float32(q·scale), the scale one float32 per INT8_BLOCK values. */
function decodeInt8Row(src: usize, scales: usize, count: i32, dst: usize): void {
  for (let b0 = 0; b0 < count; b0 += INT8_BLOCK) {
    const scale = load<f32>(scales + (<usize>(b0 / INT8_BLOCK) << 2));
    const scaleV = f32x4.splat(scale);
    const end = min(count, b0 + INT8_BLOCK);
    let i = b0;
    for (; i + 8 <= end; i += 8) {
      const q = i16x8.extend_low_i8x16_s(v128.load64_zero(src + <usize>i));
      v128.store(dst + (<usize>i << 2), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q)), scaleV));
      v128.store(dst + (<usize>i << 2), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q)), scaleV), 16);
    }
    for (; i < end; i++) store<f32>(dst + (<usize>i << 2), <f32>load<i8>(src + <usize>i) * scale);
  }
}
