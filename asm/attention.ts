// Attention for a chunk of query rows over one span of keys, FlashAttention-2 style.
//
// Per key block (KEY_BLOCK keys at fixed positions 0, 64, 128, …) and row group (4 rows):
//   1. s = scale · q·kᵀ (+ bias), in base-2 units (scale carries log2 e, see exp.ts), -Infinity where
//      the key is masked, past the row's key limit (causal limit, or Sk for the zero padding of the
//      last panel) or before its key floor (sliding window) — dot4x8 on packed K panels, or
//      dot1Panels when only the group's first row sees the block (a decode step's single query);
//   2. per row: block maximum; a row with no allowed key in the block is left untouched (no rescale,
//      no 0·v), so a tile-mate that needs the block changes nothing in it. Otherwise
//      m' = max(m, block max), α = 2^(m - m'), p = 2^(s - m'), l = α·l + Σp — for the four rows
//      together (softmax4) when each sees the whole block unmasked, else row by row (softmaxStep);
//   3. acc = α·acc + p·V, with lanes along Dv, four rows at a time when all four are active (pv4),
//      else row by row (pv1).
// The driver divides acc by l once at the end (finishRows).
//
// Every row goes through the same sequence of float32 operations whichever path and whichever rows
// share its group or chunk, so the bits of a row do not depend on the tile decomposition, and a
// decode step reproduces the same row of a causal prefill. The one divergence — the careful P·V that
// skips p = 0 keys, used when V holds Inf/NaN so that a masked key's Inf·0 cannot poison a row — is
// chosen per span of V, never per tile.
//
// Loop order: key block outer, row group inner: the block's K panels and V rows (2 × 16 KiB at head
// dim 64) stay in L1 while the chunk's row groups pass over them; the chunk's accumulators (rows × Dv)
// live in L2.

import { constant, exp2Vec, LOG2E_CONSTANT } from './exp';
import { madd } from './madd';
import { KEY_BLOCK, PANEL_WIDTH, ROW_GROUP } from './layout';
import { dot1Panels, dot4x8 } from './panel-dot';

const SCORE_ROW_BYTES: usize = KEY_BLOCK * 4;
/** scratch: scores [ROW_GROUP][KEY_BLOCK], then the rescale factors α [ROW_GROUP]. */
const ALPHA_OFFSET: usize = <usize>ROW_GROUP * SCORE_ROW_BYTES;
export const ATTENTION_SCRATCH_BYTES: i32 = <i32>ALPHA_OFFSET + ROW_GROUP * 4;

/**
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
 * kPanels: the span's keys packed in panels ([panel][depth][8]); vRows: [keys][dvPad].
 * mask: u8 per key (0 = masked), rows maskStride bytes apart (0: one row for all), 0 = none.
 * bias: f32 per key in natural units, rows biasStride floats apart (0: one row for all), 0 = none.
 * mask and bias rows start at the span's first key and cover its keys rounded up to 8.
 * rowMax, rowSum: f32 per row; acc: [rows][dvPad]; all carried from span to span.
 * scores: 0, or [rows][scoresStride] floats receiving the masked scores at their global key index
 *   (for the attention weights; finishWeights turns them into probabilities).
 */
export function attentionSpan(
  rows: i32, depth: i32, dvPad: i32, scale: f32, shift: f32, spanStart: i32, spanKeys: i32,
  q: usize, keyLimit: usize, keyFloor: usize, kPanels: usize, vRows: usize, vFinite: bool,
  mask: usize, maskStride: i32, bias: usize, biasStride: i32,
  rowMax: usize, rowSum: usize, acc: usize, scratch: usize, scores: usize, scoresStride: i32,
): void {
  const spanEnd = spanStart + spanKeys;
  const qRowBytes = <usize>depth << 2;
  const accRowBytes = <usize>dvPad << 2;
  for (let j0 = spanStart; j0 < spanEnd; j0 += KEY_BLOCK) {
    const local = j0 - spanStart;
    const panels = (min(KEY_BLOCK, spanEnd - j0) + PANEL_WIDTH - 1) / PANEL_WIDTH;
    const kBlock = kPanels + <usize>local * qRowBytes; // 8 keys × depth floats per panel
    const vBlock = vRows + <usize>local * accRowBytes;
    for (let g = 0; g < rows; g += ROW_GROUP) {
      const limits = keyLimit + (<usize>g << 2);
      const floors = keyFloor + (<usize>g << 2);
      const visible = blockVisibility(limits, floors, j0, j0 + panels * PANEL_WIDTH);
      // Causal limit or window: no row of the group sees a key of this block (each would be inactive).
      if ((visible & 0xf) == 0) continue;
      if (mask != 0 && !anyAllowed(mask + <usize>(g * maskStride + local), maskStride, panels)) continue;

      const qGroup = q + <usize>g * qRowBytes;
      if ((visible & 0xf) == 1) {
        // The other rows' scores stay unwritten: softmaxStep returns before it reads a row that does
        // not see the block.
        dot1Panels(qGroup, kBlock, depth, panels, scratch);
      } else {
        for (let p = 0; p < panels; p++) {
          dot4x8(qGroup, qRowBytes, kBlock + <usize>p * qRowBytes * PANEL_WIDTH, depth,
            scratch + (<usize>p * PANEL_WIDTH << 2), SCORE_ROW_BYTES);
        }
      }
      let active = 0;
      if (mask == 0 && bias == 0 && scores == 0 && visible >> 4 == 0xf) {
        active = softmax4(scratch, panels * (PANEL_WIDTH / 4), scale, shift, rowMax + (<usize>g << 2), rowSum + (<usize>g << 2),
          scratch + ALPHA_OFFSET);
      } else {
        for (let r = 0; r < ROW_GROUP; r++) {
          const row = g + r;
          const rowMask = mask == 0 ? <usize>0 : mask + <usize>(row * maskStride + local);
          const rowBias = bias == 0 ? <usize>0 : bias + (<usize>(row * biasStride + local) << 2);
          const rowScores = scores == 0 ? <usize>0 : scores + (<usize>(row * scoresStride + j0) << 2);
          const isActive = softmaxStep(scratch + <usize>r * SCORE_ROW_BYTES, panels, scale, shift, j0,
            load<i32>(limits + (<usize>r << 2)), load<i32>(floors + (<usize>r << 2)), rowMask, rowBias, rowScores,
            rowMax + (<usize>row << 2), rowSum + (<usize>row << 2), scratch + ALPHA_OFFSET + (<usize>r << 2));
          active |= i32(isActive) << r;
        }
      }
      const accGroup = acc + <usize>g * accRowBytes;
      if (active == 0xf && vFinite) {
        pv4(accGroup, dvPad, scratch, scratch + ALPHA_OFFSET, vBlock, panels * PANEL_WIDTH);
      } else {
        for (let r = 0; r < ROW_GROUP; r++) {
          if ((active >> r & 1) == 0) continue;
          pv1(accGroup + <usize>r * accRowBytes, dvPad, scratch + <usize>r * SCORE_ROW_BYTES,
            load<f32>(scratch + ALPHA_OFFSET + (<usize>r << 2)), vBlock, panels * PANEL_WIDTH, !vFinite);
        }
      }
    }
  }
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

/**
 * softmaxStep for the 4 rows of a group at once, when each sees every key of the block and nothing is
 * masked, biased or recorded (most blocks). The rows' maxima, rescale factors and sums are computed in
 * the lanes of single vectors — one 2^x for the four α, one transpose for the four horizontal maxima
 * and one for the sums — and the four rows' exponentials are independent work the CPU overlaps, where
 * row-by-row calls serialised on each row's maximum. Every row still gets softmaxStep's float32
 * operations in its order (test: an all-true mask, which takes the row path, gives the same bits).
 * Returns the active rows as a 4-bit mask.
 */
function softmax4(s: usize, vectors: i32, scale: f32, shift: f32, rowMax: usize, rowSum: usize, alphaOut: usize): i32 {
  const scaleV = f32x4.splat(scale);
  const shiftV = f32x4.splat(shift);
  const negInf = f32x4.splat(-Infinity);
  const bytes = <usize>vectors << 4;
  let a0 = negInf, b0 = negInf, a1 = negInf, b1 = negInf, a2 = negInf, b2 = negInf, a3 = negInf, b3 = negInf;
  for (let at = s; at < s + bytes; at += 32) {
    a0 = f32x4.pmax(a0, scaleInPlace(at, scaleV));
    b0 = f32x4.pmax(b0, scaleInPlace(at + 16, scaleV));
    a1 = f32x4.pmax(a1, scaleInPlace(at + SCORE_ROW_BYTES, scaleV));
    b1 = f32x4.pmax(b1, scaleInPlace(at + SCORE_ROW_BYTES + 16, scaleV));
    a2 = f32x4.pmax(a2, scaleInPlace(at + 2 * SCORE_ROW_BYTES, scaleV));
    b2 = f32x4.pmax(b2, scaleInPlace(at + 2 * SCORE_ROW_BYTES + 16, scaleV));
    a3 = f32x4.pmax(a3, scaleInPlace(at + 3 * SCORE_ROW_BYTES, scaleV));
    b3 = f32x4.pmax(b3, scaleInPlace(at + 3 * SCORE_ROW_BYTES + 16, scaleV));
  }
  let blockMax = acrossLanes(f32x4.pmax(a0, b0), f32x4.pmax(a1, b1), f32x4.pmax(a2, b2), f32x4.pmax(a3, b3), true);
  if (v128.any_true(f32x4.eq(blockMax, negInf))) blockMax = allNaNRows(blockMax, s, vectors);
  const active = f32x4.ne(blockMax, negInf); // NaN counts as active, as in softmaxStep

  const mOld = v128.load(rowMax);
  const mNew = f32x4.max(mOld, blockMax); // NaN stays NaN, as max<f32> does
  const alpha = v128.bitselect(f32x4.splat(1), exp2Vec(f32x4.mul(f32x4.sub(mOld, mNew), shiftV)), f32x4.eq(mNew, mOld));
  const sums = acrossLanes(
    expRow(s, bytes, f32x4.splat(f32x4.extract_lane(mNew, 0)), shiftV),
    expRow(s + SCORE_ROW_BYTES, bytes, f32x4.splat(f32x4.extract_lane(mNew, 1)), shiftV),
    expRow(s + 2 * SCORE_ROW_BYTES, bytes, f32x4.splat(f32x4.extract_lane(mNew, 2)), shiftV),
    expRow(s + 3 * SCORE_ROW_BYTES, bytes, f32x4.splat(f32x4.extract_lane(mNew, 3)), shiftV), false);
  const lOld = v128.load(rowSum);
  v128.store(rowSum, v128.bitselect(f32x4.add(f32x4.mul(lOld, alpha), sums), lOld, active));
  v128.store(rowMax, v128.bitselect(mNew, mOld, active));
  v128.store(alphaOut, alpha);
  return i32x4.bitmask(active);
}

/** s·scale in place for one vector of scores; returns it. */
// @ts-ignore: decorator
@inline
function scaleInPlace(at: usize, scaleV: v128): v128 {
  const x = f32x4.mul(v128.load(at), scaleV);
  v128.store(at, x);
  return x;
}

/** p = 2^((s - m)·shift) in place over one row's scores; returns the row's partial sums (even vectors
 *  plus odd vectors, as in softmaxStep). */
// @ts-ignore: decorator
@inline
function expRow(s: usize, bytes: usize, mV: v128, shiftV: v128): v128 {
  let sum0 = f32x4.splat(0), sum1 = f32x4.splat(0);
  for (let at = s; at < s + bytes; at += 32) {
    const p0 = exp2Vec(f32x4.mul(f32x4.sub(v128.load(at), mV), shiftV));
    const p1 = exp2Vec(f32x4.mul(f32x4.sub(v128.load(at, 16), mV), shiftV));
    v128.store(at, p0);
    v128.store(at, p1, 16);
    sum0 = f32x4.add(sum0, p0);
    sum1 = f32x4.add(sum1, p1);
  }
  return f32x4.add(sum0, sum1);
}

/**
 * Lane r: the maximum (isMax) or sum of the four lanes of v_r, combined in softmaxStep's order,
 * (e0 ∘ e2) ∘ (e1 ∘ e3). A transpose puts element k of every v_r into c_k.
 */
// @ts-ignore: decorator
@inline
function acrossLanes(v0: v128, v1: v128, v2: v128, v3: v128, isMax: bool): v128 {
  const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
  const c0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), c1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
  const c2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), c3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
  return isMax
    ? f32x4.pmax(f32x4.pmax(c0, c2), f32x4.pmax(c1, c3))
    : f32x4.add(f32x4.add(c0, c2), f32x4.add(c1, c3));
}

/** The block maxima with NaN in each lane whose maximum is -Infinity but whose row holds a NaN score
 *  (maskScores' rare case, lane by lane). */
function allNaNRows(blockMax: v128, s: usize, vectors: i32): v128 {
  let m = blockMax;
  if (f32x4.extract_lane(m, 0) == -Infinity && anyNaN(s, vectors)) m = f32x4.replace_lane(m, 0, NaN);
  if (f32x4.extract_lane(m, 1) == -Infinity && anyNaN(s + SCORE_ROW_BYTES, vectors)) m = f32x4.replace_lane(m, 1, NaN);
  if (f32x4.extract_lane(m, 2) == -Infinity && anyNaN(s + 2 * SCORE_ROW_BYTES, vectors)) m = f32x4.replace_lane(m, 2, NaN);
  if (f32x4.extract_lane(m, 3) == -Infinity && anyNaN(s + 3 * SCORE_ROW_BYTES, vectors)) m = f32x4.replace_lane(m, 3, NaN);
  return m;
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

/**
 * Scales and masks one row's scores of the block in place, then (if any key is allowed) turns them
 * into p = exp(s - m') and updates the row's running max and sum. Returns whether the row is active.
 */
function softmaxStep(s: usize, panels: i32, scale: f32, shift: f32, j0: i32, limit: i32, floor: i32, mask: usize,
  bias: usize, scoresOut: usize, rowMax: usize, rowSum: usize, alphaOut: usize): bool {
  if (j0 >= limit || j0 + panels * PANEL_WIDTH <= floor) return false;
  const vectors = panels * (PANEL_WIDTH / 4);
  const blockMax = maskScores(s, vectors, scale, shift, j0, limit, floor, mask, bias);
  if (blockMax == -Infinity) return false; // every key masked: the row keeps its state as it is

  if (scoresOut != 0) memory.copy(scoresOut, s, <usize>vectors << 4);
  const mOld = load<f32>(rowMax);
  const mNew = max<f32>(mOld, blockMax); // NaN stays NaN from here on
  // α = 2^(m - m'): 0 on the row's first active block (m = -Infinity), and exactly 1 when the maximum
  // stays — exp2Vec(0) is 1, so skipping it then changes no bit.
  const alpha: f32 = mNew == mOld ? 1 : f32x4.extract_lane(exp2Vec(f32x4.splat((mOld - mNew) * shift)), 0);
  const mV = f32x4.splat(mNew);
  // Two partial sums (even and odd vectors), for the same reason as the two maxima in maskScores.
  let sum = expRow(s, <usize>vectors << 4, mV, f32x4.splat(shift));
  sum = f32x4.add(sum, v128.shuffle<f32>(sum, sum, 2, 3, 0, 1));
  sum = f32x4.add(sum, v128.shuffle<f32>(sum, sum, 1, 0, 3, 2));
  store<f32>(rowSum, load<f32>(rowSum) * alpha + f32x4.extract_lane(sum, 0));
  store<f32>(rowMax, mNew);
  store<f32>(alphaOut, alpha);
  return true;
}

/**
 * s = scale·dot (+ bias·log2 e / shift), -Infinity where the mask is 0, the key is at or past the row's limit
 * or before its floor; returns the block's maximum, or NaN when every allowed score is NaN.
 * The maximum uses pmax (one maxps), which passes over NaN: a NaN score among finite ones still makes
 * the row NaN, through p = 2^(NaN - m) in its sum and accumulator. Only a block whose allowed scores
 * are all NaN would look empty (maximum -Infinity), so that rare case is told apart by a second look
 * (NaN in q or in a visible key must make the row NaN, as the arithmetic of the definition does).
 * The splats are hoisted by hand (V8 does not move them out of the loop) and the limit and floor are
 * only checked in the one block that crosses each.
 */
function maskScores(s: usize, vectors: i32, scale: f32, shift: f32, j0: i32, limit: i32, floor: i32, mask: usize, bias: usize): f32 {
  const scaleV = f32x4.splat(scale);
  // log2 e / shift is exact (shift ≤ 2^126 keeps it normal), so the bias term is fl(bias·log2 e)/shift.
  const log2e = f32x4.div(constant(LOG2E_CONSTANT), f32x4.splat(shift));
  const negInf = f32x4.splat(-Infinity);
  const crossesLimit = j0 + vectors * 4 > limit;
  const limitV = i32x4.splat(limit - j0);
  const crossesFloor = floor > j0;
  const floorV = i32x4.splat(floor - j0);
  // Two running maxima (even and odd vectors; vectors is even): one chain of dependent maxps per row
  // was the softmax's critical path.
  let best0 = negInf, best1 = negInf;
  if (bias == 0 && mask == 0 && !crossesLimit && !crossesFloor) {
    // Most blocks: the same loop without its four per-vector tests (compare-and-branch pairs, which
    // this CPU executes on the ports the vector arithmetic needs).
    for (let at = s; at < s + (<usize>vectors << 4); at += 32) {
      best0 = f32x4.pmax(best0, scaleInPlace(at, scaleV));
      best1 = f32x4.pmax(best1, scaleInPlace(at + 16, scaleV));
    }
  } else {
    for (let c = 0; c < vectors; c += 2) {
      best0 = f32x4.pmax(best0, maskVector(s, c, scaleV, log2e, negInf, crossesLimit, limitV, crossesFloor, floorV, mask, bias));
      best1 = f32x4.pmax(best1, maskVector(s, c + 1, scaleV, log2e, negInf, crossesLimit, limitV, crossesFloor, floorV, mask, bias));
    }
  }
  let best = f32x4.pmax(best0, best1);
  best = f32x4.pmax(best, v128.shuffle<f32>(best, best, 2, 3, 0, 1));
  best = f32x4.pmax(best, v128.shuffle<f32>(best, best, 1, 0, 3, 2));
  const blockMax = f32x4.extract_lane(best, 0);
  return blockMax == -Infinity && anyNaN(s, vectors) ? NaN : blockMax;
}

/** Scales, biases and masks the scores of vector c (keys 4c … 4c + 3 of the block) in place. */
// @ts-ignore: decorator
@inline
function maskVector(s: usize, c: i32, scaleV: v128, log2e: v128, negInf: v128, crossesLimit: bool, limitV: v128,
  crossesFloor: bool, floorV: v128, mask: usize, bias: usize): v128 {
  const at = s + (<usize>c << 4);
  let x = f32x4.mul(v128.load(at), scaleV);
  if (bias != 0) x = f32x4.add(x, f32x4.mul(v128.load(bias + (<usize>c << 4)), log2e));
  if (mask != 0) {
    const allowed = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(mask + (<usize>c << 2))));
    x = v128.bitselect(negInf, x, i32x4.eq(allowed, i32x4.splat(0)));
  }
  if (crossesLimit) x = v128.bitselect(negInf, x, i32x4.ge_s(i32x4.add(i32x4.splat(c * 4), i32x4(0, 1, 2, 3)), limitV));
  if (crossesFloor) x = v128.bitselect(negInf, x, i32x4.lt_s(i32x4.add(i32x4.splat(c * 4), i32x4(0, 1, 2, 3)), floorV));
  v128.store(at, x);
  return x;
}

/** Whether any of `vectors` f32x4 at s holds a NaN. */
function anyNaN(s: usize, vectors: i32): bool {
  let nan = i32x4.splat(0);
  for (let c = 0; c < vectors; c++) {
    const x = v128.load(s + (<usize>c << 4));
    nan = v128.or(nan, f32x4.ne(x, x));
  }
  return v128.any_true(nan);
}

/**
 * acc[r] = α[r]·acc[r] + Σ_k p[r][k]·v[k] for the 4 rows of a group, 8 columns at a time (then a last
 * 4). Per element this is exactly pv1's sequence: one multiply by α, then multiply-adds in key order.
 */
function pv4(acc: usize, dvPad: i32, p: usize, alpha: usize, v: usize, keys: i32): void {
  const rowBytes = <usize>dvPad << 2;
  const a0 = v128.load32_splat(alpha), a1 = v128.load32_splat(alpha, 4);
  const a2 = v128.load32_splat(alpha, 8), a3 = v128.load32_splat(alpha, 12);
  let c = 0;
  for (; c + 8 <= dvPad; c += 8) {
    const at0 = acc + (<usize>c << 2), at1 = at0 + rowBytes, at2 = at1 + rowBytes, at3 = at2 + rowBytes;
    let c00 = f32x4.mul(v128.load(at0), a0), c01 = f32x4.mul(v128.load(at0, 16), a0);
    let c10 = f32x4.mul(v128.load(at1), a1), c11 = f32x4.mul(v128.load(at1, 16), a1);
    let c20 = f32x4.mul(v128.load(at2), a2), c21 = f32x4.mul(v128.load(at2, 16), a2);
    let c30 = f32x4.mul(v128.load(at3), a3), c31 = f32x4.mul(v128.load(at3, 16), a3);
    let vk = v + (<usize>c << 2);
    let pk = p;
    const pEnd = p + (<usize>keys << 2);
    // One key per iteration: unrolling by two measured no faster (V8 then spills an accumulator). The
    // p loads of rows 1–3 use immediate offsets of whole score rows.
    for (; pk < pEnd; pk += 4) {
      const v0 = v128.load(vk), v1 = v128.load(vk, 16);
      let x = v128.load32_splat(pk);
      c00 = madd(x, v0, c00); c01 = madd(x, v1, c01);
      x = v128.load32_splat(pk, SCORE_ROW_BYTES);
      c10 = madd(x, v0, c10); c11 = madd(x, v1, c11);
      x = v128.load32_splat(pk, 2 * SCORE_ROW_BYTES);
      c20 = madd(x, v0, c20); c21 = madd(x, v1, c21);
      x = v128.load32_splat(pk, 3 * SCORE_ROW_BYTES);
      c30 = madd(x, v0, c30); c31 = madd(x, v1, c31);
      vk += rowBytes;
    }
    v128.store(at0, c00); v128.store(at0, c01, 16);
    v128.store(at1, c10); v128.store(at1, c11, 16);
    v128.store(at2, c20); v128.store(at2, c21, 16);
    v128.store(at3, c30); v128.store(at3, c31, 16);
  }
  if (c < dvPad) {
    const at0 = acc + (<usize>c << 2), at1 = at0 + rowBytes, at2 = at1 + rowBytes, at3 = at2 + rowBytes;
    let c0 = f32x4.mul(v128.load(at0), a0), c1 = f32x4.mul(v128.load(at1), a1);
    let c2 = f32x4.mul(v128.load(at2), a2), c3 = f32x4.mul(v128.load(at3), a3);
    let vk = v + (<usize>c << 2);
    for (let k = 0; k < keys; k++) {
      const v0 = v128.load(vk);
      const pk = p + (<usize>k << 2);
      c0 = madd(v128.load32_splat(pk), v0, c0);
      c1 = madd(v128.load32_splat(pk, SCORE_ROW_BYTES), v0, c1);
      c2 = madd(v128.load32_splat(pk, 2 * SCORE_ROW_BYTES), v0, c2);
      c3 = madd(v128.load32_splat(pk, 3 * SCORE_ROW_BYTES), v0, c3);
      vk += rowBytes;
    }
    v128.store(at0, c0); v128.store(at1, c1); v128.store(at2, c2); v128.store(at3, c3);
  }
}

/**
 * One row's acc = α·acc + Σ_k p[k]·v[k]; with skipZero, keys with p = 0 are left out entirely.
 * 32 columns (8 accumulators) per pass over the keys, then 4 at a time: with one accumulator the
 * pass waited on each multiply-add before the next (a decode step's single row runs here).
 * Per element the operations are pv4's: one multiply by α, then multiply-adds in key order.
 */
function pv1(acc: usize, dvPad: i32, p: usize, alpha: f32, v: usize, keys: i32, skipZero: bool): void {
  const rowBytes = <usize>dvPad << 2;
  const a = f32x4.splat(alpha);
  const pEnd = p + (<usize>keys << 2);
  let c = 0;
  for (; c + 32 <= dvPad; c += 32) {
    const at = acc + (<usize>c << 2);
    let s0 = f32x4.mul(v128.load(at), a), s1 = f32x4.mul(v128.load(at, 16), a);
    let s2 = f32x4.mul(v128.load(at, 32), a), s3 = f32x4.mul(v128.load(at, 48), a);
    let s4 = f32x4.mul(v128.load(at, 64), a), s5 = f32x4.mul(v128.load(at, 80), a);
    let s6 = f32x4.mul(v128.load(at, 96), a), s7 = f32x4.mul(v128.load(at, 112), a);
    let vk = v + (<usize>c << 2);
    for (let pk = p; pk < pEnd; pk += 4) {
      const x = load<f32>(pk);
      if (!skipZero || x != 0) {
        const xs = f32x4.splat(x);
        s0 = madd(xs, v128.load(vk), s0); s1 = madd(xs, v128.load(vk, 16), s1);
        s2 = madd(xs, v128.load(vk, 32), s2); s3 = madd(xs, v128.load(vk, 48), s3);
        s4 = madd(xs, v128.load(vk, 64), s4); s5 = madd(xs, v128.load(vk, 80), s5);
        s6 = madd(xs, v128.load(vk, 96), s6); s7 = madd(xs, v128.load(vk, 112), s7);
      }
      vk += rowBytes;
    }
    v128.store(at, s0); v128.store(at, s1, 16); v128.store(at, s2, 32); v128.store(at, s3, 48);
    v128.store(at, s4, 64); v128.store(at, s5, 80); v128.store(at, s6, 96); v128.store(at, s7, 112);
  }
  for (; c < dvPad; c += 4) {
    const at = acc + (<usize>c << 2);
    let sum = f32x4.mul(v128.load(at), a);
    let vk = v + (<usize>c << 2);
    for (let pk = p; pk < pEnd; pk += 4) {
      const x = load<f32>(pk);
      if (!skipZero || x != 0) sum = madd(f32x4.splat(x), v128.load(vk), sum);
      vk += rowBytes;
    }
    v128.store(at, sum);
  }
}

/** out = acc / l per row (in place), zeros for a row that attended nothing (l = 0). */
export function finishRows(rows: i32, dvPad: i32, rowSum: usize, acc: usize): void {
  let at = acc;
  for (let r = 0; r < rows; r++) {
    const l = load<f32>(rowSum + (<usize>r << 2));
    const lV = f32x4.splat(l);
    for (let c = 0; c < dvPad; c += 4) {
      v128.store(at, l == 0 ? f32x4.splat(0) : f32x4.div(v128.load(at), lV));
      at += 16;
    }
  }
}

/** Turns stored scores into probabilities 2^((s - m)·shift) / l, in place (shift as in attentionSpan);
 *  a row with l = 0 becomes zeros. keys: a multiple of 4. */
export function finishWeights(rows: i32, keys: i32, shift: f32, rowMax: usize, rowSum: usize, scores: usize,
  scoresStride: i32): void {
  const shiftV = f32x4.splat(shift);
  for (let r = 0; r < rows; r++) {
    const l = load<f32>(rowSum + (<usize>r << 2));
    const m = f32x4.splat(load<f32>(rowMax + (<usize>r << 2)));
    const lV = f32x4.splat(l);
    let at = scores + (<usize>(r * scoresStride) << 2);
    for (let j = 0; j < keys; j += 4) {
      v128.store(at, l == 0 ? f32x4.splat(0) : f32x4.div(exp2Vec(f32x4.mul(f32x4.sub(v128.load(at), m), shiftV)), lV));
      at += 16;
    }
  }
}
