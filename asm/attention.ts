// Attention for a chunk of query rows over one span of keys, FlashAttention-2 style: the span loop.
// Per key block (KEY_BLOCK keys at fixed positions 0, 64, 128, …) and row group (4 rows), three
// stages, each in its own file with the reasons for its blocking:
//   1. scores.ts   s = scale · q·kᵀ (softcapped, + bias, + ALiBi), masked, in base 2;
//   2. softmax.ts  the online softmax: block maximum, α = 2^(m - m'), p = 2^(s - m'), l = α·l + Σp;
//   3. pv.ts       acc = α·acc + p·V.
// The driver divides acc by l once at the end (finish.ts, stage 4). Over a paged store's pages, each
// block's K and V are first read ahead into cache (read-ahead.ts), which changes no value.
//
// Every row goes through the same sequence of float32 operations whichever path and whichever rows
// share its group or chunk, so the bits of a row do not depend on the tile decomposition, and a
// decode step reproduces the same row of a causal prefill. The one divergence — the careful P·V that
// skips p = 0 keys, used when V holds Inf/NaN so that a masked key's Inf·0 cannot poison a row — is
// chosen per span of V, never per tile.
//
// Blocking, for lscpu "Intel(R) Xeon(R) Processor" (48 KiB L1d, 2 MiB L2 a core). Key block outer,
// row group inner: a block's K panels and V rows (64 keys × 64 floats × 2 = 2 × 16 KiB at head dim
// 64) stay in L1 with the 1 KiB scratch while the chunk's row groups pass over them; the chunk's Q
// rows and accumulators (2 × 32 KiB for the driver's 128 rows at D = Dv = 64) stay in L2. Why 64 keys
// and 4 rows: asm/layout.ts and scores.ts. Whole blocks are skipped for a group that sees none of
// their keys (causal limit, window, mask), which is what makes causal attention cost half.

import * as SpanArg from '../workers/kernels/wasm/span-args-layout';
import { decodeKBlock, decodeVBlock, stagedPanels, stagedV, storedV } from './kv-decode';
import { KEY_BLOCK, PANEL_WIDTH, ROW_GROUP, int8ScaleRowBytes } from './layout';
import { pv1, pv4 } from './pv';
import { pv1Float16, pv1Int8 } from './pv-stored';
import { readBlockAhead } from './read-ahead';
import { ALPHA_OFFSET, SCORE_ROW_BYTES } from './scratch';
import { groupScores } from './scores';
import { softmax4, softmaxStep } from './softmax';

/**
 * args: the address of an argument block (workers/kernels/wasm/span-args-layout.ts) holding:
 * rows: a multiple of 4; rows past the chunk's real rows must have key limit 0.
 * scale: the score scale times log2 e, divided by shift; rowMax is kept in the same base-2 units over
 *   shift (the driver turns it into natural units for lse and split partials).
 * shift: a power of two in [1, 2^126]. Every difference of scores (s − m, m_old − m_new) is multiplied
 *   by it before 2^x. For ordinary scales it is 1 (no bit changes); for huge ones it keeps the scores
 *   finite: s·scale·log2 e itself would overflow float32 (scale·log2 e does beyond scale ≈ 2.36e38,
 *   scores of unit-range data far below that), giving ±Infinity scores and then ∞ − ∞ = NaN rows or
 *   rows that look fully masked. Scaling by a power of two commutes with float32 rounding, so
 *   (s/shift − m/shift)·shift is bit for bit s − m wherever that was finite; where it would overflow
 *   it is −Infinity (p = 0, the limit), and exactly 0 for the row's maximum (p = 1).
 * q: [rows][depth]. keyLimit: i32 per row, keys j >= limit are masked. keyFloor: i32 per row, keys
 *   j < floor are masked (the sliding window; 0 without one). Rows past the chunk's real rows must
 *   have key limit 0.
 * kPanels: the span's keys packed in panels ([panel][depth][8]); vRows: [keys][dvPad]; or, with kvFormat
 *   not KV_FLOAT32, both as stored rows that kv-decode.ts decodes a block at a time.
 * mask: u8 per key (0 = masked), rows maskStride bytes apart (0: one row for all), 0 = none.
 * bias: f32 per key in natural units, rows biasStride floats apart (0: one row for all), 0 = none.
 * softcap, ALiBi: the SOFTCAP_* and ALIBI_SLOPE fields with the positions QUERY_POSITION, GAP_* (0: none).
 * mask and bias rows start at the span's first key and cover its keys rounded up to 8.
 * rowMax, rowSum: f32 per row; acc: [rows][dvPad]; all carried from span to span.
 * scores: 0, or [rows][scoresStride] floats receiving the masked scores at their global key index
 *   (for the attention weights; finishWeights turns them into probabilities).
 */
export function attentionSpan(args: usize): void {
  const rows = load<i32>(args, SpanArg.ROWS), depth = load<i32>(args, SpanArg.DEPTH), dvPad = load<i32>(args, SpanArg.DV_PAD);
  const scale = load<f32>(args, SpanArg.SCALE), shift = load<f32>(args, SpanArg.SHIFT);
  const spanStart = load<i32>(args, SpanArg.START), spanKeys = load<i32>(args, SpanArg.KEYS);
  const q = load<usize>(args, SpanArg.Q), keyLimit = load<usize>(args, SpanArg.KEY_LIMIT), keyFloor = load<usize>(args, SpanArg.KEY_FLOOR);
  const kPanels = load<usize>(args, SpanArg.K_PANELS), vRows = load<usize>(args, SpanArg.V_ROWS);
  const vFinite = load<i32>(args, SpanArg.V_FINITE) != 0;
  const stored = load<i32>(args, SpanArg.KV_FORMAT) != SpanArg.KV_FLOAT32;
  const dv = load<i32>(args, SpanArg.DV);
  // Single rows read finite stored V as it is (pv-stored.ts), where its 8-value loads fit the rows.
  const rowsReadStoredV = stored && vFinite && dv == dvPad && dv % 8 == 0;
  const float16 = load<i32>(args, SpanArg.KV_FORMAT) == SpanArg.KV_FLOAT16;
  const vScaleRow = int8ScaleRowBytes(dv);
  const mask = load<usize>(args, SpanArg.MASK), maskStride = load<i32>(args, SpanArg.MASK_STRIDE);
  const bias = load<usize>(args, SpanArg.BIAS), biasStride = load<i32>(args, SpanArg.BIAS_STRIDE);
  const rowMax = load<usize>(args, SpanArg.ROW_MAX), rowSum = load<usize>(args, SpanArg.ROW_SUM), acc = load<usize>(args, SpanArg.ACC);
  const scratch = load<usize>(args, SpanArg.SCRATCH);
  const scores = load<usize>(args, SpanArg.SCORES), scoresStride = load<i32>(args, SpanArg.SCORES_STRIDE);
  // Softcap and ALiBi are terms of every score: rows take softmaxStep, which adds them (scores.ts).
  const termed = load<f32>(args, SpanArg.SOFTCAP_IN) != 0 || load<f32>(args, SpanArg.ALIBI_SLOPE) != 0;
  const queryPos = load<i32>(args, SpanArg.QUERY_POSITION);
  const spanEnd = spanStart + spanKeys;
  const qRowBytes = <usize>depth << 2;
  const accRowBytes = <usize>dvPad << 2;
  const readAhead = load<i32>(args, SpanArg.READ_AHEAD) != 0;
  let readSink: i32 = 0;
  for (let j0 = spanStart; j0 < spanEnd; j0 += KEY_BLOCK) {
    const local = j0 - spanStart;
    const panels = (min(KEY_BLOCK, spanEnd - j0) + PANEL_WIDTH - 1) / PANEL_WIDTH;
    let kBlock = kPanels + <usize>local * qRowBytes; // 8 keys × depth floats per panel
    let vBlock = vRows + <usize>local * accRowBytes;
    const blockKeys = min(KEY_BLOCK, spanEnd - j0);
    let kDecoded = !stored, vDecoded = !stored, readBlock = !readAhead;
    for (let g = 0; g < rows; g += ROW_GROUP) {
      const limits = keyLimit + (<usize>g << 2);
      const floors = keyFloor + (<usize>g << 2);
      const visible = blockVisibility(limits, floors, j0, j0 + panels * PANEL_WIDTH);
      // Causal limit or window: no row of the group sees a key of this block (each would be inactive).
      if ((visible & 0xf) == 0) continue;
      if (mask != 0 && !anyAllowed(mask + <usize>(g * maskStride + local), maskStride, panels)) continue;
      if (!readBlock) { // the first group that computes on the block: its K and V read ahead, once
        readSink |= readBlockAhead(args, local, blockKeys);
        readBlock = true;
      }
      if (!kDecoded) { // stored K: the block's panels in float32, once, for the first group that sees it
        decodeKBlock(args, local, blockKeys);
        kBlock = stagedPanels(args);
        kDecoded = true;
      }

      groupScores(q + <usize>g * qRowBytes, depth, kBlock, panels, (visible & 0xf) == 1, scratch);
      let active = 0;
      if (mask == 0 && bias == 0 && scores == 0 && !termed && visible >> 4 == 0xf) {
        active = softmax4(scratch, panels * (PANEL_WIDTH / 4), scale, shift, rowMax + (<usize>g << 2), rowSum + (<usize>g << 2),
          scratch + ALPHA_OFFSET);
      } else {
        for (let r = 0; r < ROW_GROUP; r++) {
          const row = g + r;
          const rowMask = mask == 0 ? <usize>0 : mask + <usize>(row * maskStride + local);
          const rowBias = bias == 0 ? <usize>0 : bias + (<usize>(row * biasStride + local) << 2);
          const rowScores = scores == 0 ? <usize>0 : scores + (<usize>(row * scoresStride + j0) << 2);
          const isActive = softmaxStep(scratch + <usize>r * SCORE_ROW_BYTES, panels, scale, shift, j0,
            load<i32>(limits + (<usize>r << 2)), load<i32>(floors + (<usize>r << 2)), rowMask, rowBias, args, queryPos + row, rowScores,
            rowMax + (<usize>row << 2), rowSum + (<usize>row << 2), scratch + ALPHA_OFFSET + (<usize>r << 2));
          active |= i32(isActive) << r;
        }
      }
      const accGroup = acc + <usize>g * accRowBytes;
      const fourRows = active == 0xf && vFinite;
      if (!vDecoded && (fourRows || !rowsReadStoredV)) { // stored V, staged as K above
        decodeVBlock(args, local, blockKeys);
        vBlock = stagedV(args);
        vDecoded = true;
      }
      if (fourRows) {
        pv4(accGroup, dvPad, scratch, scratch + ALPHA_OFFSET, vBlock, panels * PANEL_WIDTH);
      } else {
        for (let r = 0; r < ROW_GROUP; r++) {
          if ((active >> r & 1) == 0) continue;
          const rowAcc = accGroup + <usize>r * accRowBytes, p = scratch + <usize>r * SCORE_ROW_BYTES;
          const alpha = load<f32>(scratch + ALPHA_OFFSET + (<usize>r << 2));
          if (rowsReadStoredV && float16) pv1Float16(rowAcc, dv, p, alpha, storedV(args, local), blockKeys);
          else if (rowsReadStoredV) {
            pv1Int8(rowAcc, dv, p, alpha, storedV(args, local), load<usize>(args, SpanArg.V_SCALES) + <usize>local * vScaleRow, blockKeys);
          } else pv1(rowAcc, dvPad, p, alpha, vBlock, panels * PANEL_WIDTH, !vFinite);
        }
      }
    }
  }
  store<i32>(args, readSink, SpanArg.READ_AHEAD_SINK);
}

/**
 * Which rows of the group see the block [j0, end): bit r (r < 4) when row r sees some key of it
 * (j0 < limit and end > floor, softmaxStep's test), bit 4 + r when it sees every key (limit >= end
 * and floor <= j0). Padding rows (limit 0) see nothing.
 */
function blockVisibility(limits: usize, floors: usize, j0: i32, end: i32): i32 {
  const limit = v128.load(limits), floor = v128.load(floors);
  const start = i32x4.splat(j0), stop = i32x4.splat(end);
  const some = v128.and(i32x4.gt_s(limit, start), i32x4.lt_s(floor, stop));
  const every = v128.and(i32x4.ge_s(limit, stop), i32x4.le_s(floor, start));
  return i32x4.bitmask(some) | i32x4.bitmask(every) << 4;
}

/** Whether any of the 4 rows allows any key of the block (8·panels mask bytes per row). */
function anyAllowed(mask: usize, stride: i32, panels: i32): bool {
  let any = i32x4.splat(0);
  for (let r = 0; r < ROW_GROUP; r++) {
    const row = mask + <usize>(r * stride);
    for (let p = 0; p < panels; p++) any = v128.or(any, v128.load64_zero(row + (<usize>p << 3)));
  }
  return v128.any_true(any);
}
