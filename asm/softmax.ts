// Stage 2 of a span's key block: the online softmax of one row group. Per row: the block maximum; a
// row with no allowed key in the block is left untouched (no rescale, no 0·v), so a tile-mate that
// needs the block changes nothing in it. Otherwise m' = max(m, block max), α = 2^(m - m'),
// p = 2^(s - m') in place of s, l = α·l + Σp.
//
// Two paths, one sequence of float32 operations per row (so a row's bits never depend on which path
// or which tile-mates it had):
//   softmax4     the four rows together, when each sees the whole block and nothing is masked, biased
//                or recorded (most blocks);
//   softmaxStep  row by row, with the masking pass of scores.ts.
// Why four rows in lanes. Figures for lscpu "Intel(R) Xeon(R) Processor" (multiplies and adds share
// two vector ports, see exp.ts): row by row, each row's 2^x waited on its own maximum, and its
// α, horizontal maximum and horizontal sum were each a scalar tail. softmax4 keeps the four rows'
// maxima, α and sums in the lanes of single vectors — one 2^x for the four α, one transpose for the
// four horizontal maxima and one for the sums — and the four rows' exponentials are independent work
// the CPU overlaps. Per row, the scores are read as two interleaved halves (even and odd vectors), two
// chains of maxps and of adds, as in maskScores; the horizontal steps combine lanes in one fixed
// order, (e0 ∘ e2) ∘ (e1 ∘ e3), in both paths.

import { exp2Vec } from './exp';
import { PANEL_WIDTH } from './layout';
import { anyNaN, maskScores, scaleInPlace } from './scores';
import { SCORE_ROW_BYTES } from './scratch';

/**
 * softmaxStep for the 4 rows of a group at once (see the header). Test: an all-true mask, which takes
 * the row path, gives the same bits. Returns the active rows as a 4-bit mask.
 */
export function softmax4(s: usize, vectors: i32, scale: f32, shift: f32, rowMax: usize, rowSum: usize, alphaOut: usize): i32 {
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

/**
 * Scales and masks one row's scores of the block in place, then (if any key is allowed) turns them
 * into p = exp(s - m') and updates the row's running max and sum. Returns whether the row is active.
 */
export function softmaxStep(s: usize, panels: i32, scale: f32, shift: f32, j0: i32, limit: i32, floor: i32, mask: usize,
  bias: usize, terms: usize, rowPos: i32, scoresOut: usize, rowMax: usize, rowSum: usize, alphaOut: usize): bool {
  if (j0 >= limit || j0 + panels * PANEL_WIDTH <= floor) return false;
  const vectors = panels * (PANEL_WIDTH / 4);
  const blockMax = maskScores(s, vectors, scale, shift, j0, limit, floor, mask, bias, terms, rowPos);
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
