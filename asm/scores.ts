// Stage 1 of a span's key block: the scores s = scale · q·kᵀ (softcapped, + bias, + ALiBi) of one row group, in base-2
// units (scale carries log2 e, see exp.ts), -Infinity where the key is masked, past the row's key
// limit (causal limit, or Sk for the zero padding of the last panel) or before its key floor (sliding
// window). Figures for the CPU these kernels were tuned on: lscpu "Intel(R) Xeon(R) Processor", 48 KiB
// L1d and 2 MiB L2 a core; V8 gives wasm SIMD the 16 xmm registers (not AVX-512's 32).
//
// Blocking. Q·Kᵀ is dot4x8 (panel-dot.ts): 4 rows × 8 keys, 8 f32x4 accumulators plus 2 K loads and
// a broadcast = 11 of the 16 registers; 4 × 12 or 6 × 8 spill. So a row group is 4 rows (ROW_GROUP),
// and a key block's 64 keys are 8 panels. Lanes run along keys, so each score is one float32 sum in d
// order whatever rows share the group. A group where only its first row sees the block (a decode
// step's single query) takes dot1Panels instead: a quarter of the work, the same sums.
//
// Masking pass: per row, 64 scores are 16 vectors scaled (and biased and masked) in place while the
// row's block maximum is taken. One running maximum made the pass a chain of 16 dependent maxps, each
// waiting for the one before (the softmax's critical path); two (even and odd vectors) halve it. Blocks with no bias, mask, limit or floor inside
// them (most) take a loop without the per-vector tests.
//
// The variants' terms (golden-variants README order): the softcap tanh(s·capIn)·capOut on the scaled
// score, then the bias, then ALiBi's slope × (key position − row position), then the mask. They are
// per-key arithmetic only: no block is skipped or kept because of them.

import * as SpanArg from '../workers/kernels/wasm/span-args-layout';
import { constant, LOG2E_CONSTANT } from './exp';
import { PANEL_WIDTH } from './layout';
import { tanhVec } from './tanh';
import { dot1Panels, dot4x8 } from './panel-dot';
import { SCORE_ROW_BYTES } from './scratch';

/** Raw dot products of the group's rows (q: 4 rows `depth` floats long) with the block's `panels`
 *  packed K panels, into the scratch's score rows. With onlyFirstRow, only row 0's are written: the
 *  softmax returns before it reads a row that does not see the block. Inlined: it is the span loop's
 *  own code, here for its stage. */
// @ts-ignore: decorator
@inline
export function groupScores(q: usize, depth: i32, kBlock: usize, panels: i32, onlyFirstRow: bool, scratch: usize): void {
  if (onlyFirstRow) {
    dot1Panels(q, kBlock, depth, panels, scratch);
  } else {
    const qRowBytes = <usize>depth << 2;
    for (let p = 0; p < panels; p++) {
      dot4x8(q, qRowBytes, kBlock + <usize>p * qRowBytes * PANEL_WIDTH, depth,
        scratch + (<usize>p * PANEL_WIDTH << 2), SCORE_ROW_BYTES);
    }
  }
}

/** s·scale in place for one vector of scores; returns it. */
// @ts-ignore: decorator
@inline
export function scaleInPlace(at: usize, scaleV: v128): v128 {
  const x = f32x4.mul(v128.load(at), scaleV);
  v128.store(at, x);
  return x;
}

/**
 * s = scale·dot (softcapped, + bias·log2 e / shift, + ALiBi), -Infinity where the mask is 0, the key is at or
 * past the row's limit or before its floor; returns the block's maximum, or NaN when every allowed score
 * is NaN. terms: the span's argument block, for the softcap and ALiBi fields (0 in them: none); rowPos:
 * the row's position, for ALiBi.
 * The maximum uses pmax (one maxps), which passes over NaN: a NaN score among finite ones still makes
 * the row NaN, through p = 2^(NaN - m) in its sum and accumulator. Only a block whose allowed scores
 * are all NaN would look empty (maximum -Infinity), so that rare case is told apart by a second look
 * (NaN in q or in a visible key must make the row NaN, as the arithmetic of the definition does).
 * The splats are hoisted by hand (V8 does not move them out of the loop) and the limit and floor are
 * only checked in the one block that crosses each.
 */
export function maskScores(s: usize, vectors: i32, scale: f32, shift: f32, j0: i32, limit: i32, floor: i32, mask: usize, bias: usize,
  terms: usize, rowPos: i32): f32 {
  const scaleV = f32x4.splat(scale);
  const capIn = load<f32>(terms, SpanArg.SOFTCAP_IN), slope = load<f32>(terms, SpanArg.ALIBI_SLOPE);
  const capped = capIn != 0, alibi = slope != 0;
  const capInV = f32x4.splat(capIn), capOutV = f32x4.splat(load<f32>(terms, SpanArg.SOFTCAP_OUT)), slopeV = f32x4.splat(slope);
  // Lane k: key j0 + k's index less the row's position (vector c adds 4c; keys past the gap its size).
  const distanceV = i32x4.sub(i32x4.add(i32x4.splat(j0), i32x4(0, 1, 2, 3)), i32x4.splat(rowPos));
  const gapFromV = i32x4.splat(load<i32>(terms, SpanArg.GAP_AFTER) - j0), gapSizeV = i32x4.splat(load<i32>(terms, SpanArg.GAP_SIZE));
  // log2 e / shift is exact (shift ≤ 2^126 keeps it normal), so the bias term is fl(bias·log2 e)/shift.
  const log2e = f32x4.div(constant(LOG2E_CONSTANT), f32x4.splat(shift));
  const negInf = f32x4.splat(-Infinity);
  const crossesLimit = j0 + vectors * 4 > limit;
  const limitV = i32x4.splat(limit - j0);
  const crossesFloor = floor > j0;
  const floorV = i32x4.splat(floor - j0);
  // Two running maxima (even and odd vectors; vectors is even): see the header.
  let best0 = negInf, best1 = negInf;
  if (bias == 0 && mask == 0 && !crossesLimit && !crossesFloor && !capped && !alibi) {
    // Most blocks: the same loop without its four per-vector tests (compare-and-branch pairs, which
    // this CPU executes on the ports the vector arithmetic needs).
    for (let at = s; at < s + (<usize>vectors << 4); at += 32) {
      best0 = f32x4.pmax(best0, scaleInPlace(at, scaleV));
      best1 = f32x4.pmax(best1, scaleInPlace(at + 16, scaleV));
    }
  } else {
    for (let c = 0; c < vectors; c += 2) {
      best0 = f32x4.pmax(best0, maskVector(s, c, scaleV, log2e, negInf, crossesLimit, limitV, crossesFloor, floorV, mask, bias,
        capped, capInV, capOutV, alibi, slopeV, distanceV, gapFromV, gapSizeV));
      best1 = f32x4.pmax(best1, maskVector(s, c + 1, scaleV, log2e, negInf, crossesLimit, limitV, crossesFloor, floorV, mask, bias,
        capped, capInV, capOutV, alibi, slopeV, distanceV, gapFromV, gapSizeV));
    }
  }
  let best = f32x4.pmax(best0, best1);
  best = f32x4.pmax(best, v128.shuffle<f32>(best, best, 2, 3, 0, 1));
  best = f32x4.pmax(best, v128.shuffle<f32>(best, best, 1, 0, 3, 2));
  const blockMax = f32x4.extract_lane(best, 0);
  return blockMax == -Infinity && anyNaN(s, vectors) ? NaN : blockMax;
}

/** Scales, softcaps, biases, adds ALiBi to and masks the scores of vector c (keys 4c … 4c + 3 of the block)
 *  in place. */
// @ts-ignore: decorator
@inline
function maskVector(s: usize, c: i32, scaleV: v128, log2e: v128, negInf: v128, crossesLimit: bool, limitV: v128,
  crossesFloor: bool, floorV: v128, mask: usize, bias: usize,
  capped: bool, capIn: v128, capOut: v128, alibi: bool, slope: v128, distance0: v128, gapFrom: v128, gapSize: v128): v128 {
  const at = s + (<usize>c << 4);
  let x = f32x4.mul(v128.load(at), scaleV);
  if (capped) x = f32x4.mul(tanhVec(f32x4.mul(x, capIn)), capOut);
  if (bias != 0) x = f32x4.add(x, f32x4.mul(v128.load(bias + (<usize>c << 4)), log2e));
  if (alibi) {
    const key = i32x4.add(i32x4.splat(c * 4), i32x4(0, 1, 2, 3)); // the lanes' keys, from j0
    const pastGap = v128.and(i32x4.ge_s(key, gapFrom), gapSize);
    const distance = f32x4.convert_i32x4_s(i32x4.add(i32x4.add(distance0, i32x4.splat(c * 4)), pastGap));
    x = f32x4.add(x, f32x4.mul(slope, distance));
  }
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
export function anyNaN(s: usize, vectors: i32): bool {
  let nan = i32x4.splat(0);
  for (let c = 0; c < vectors; c++) {
    const x = v128.load(s + (<usize>c << 4));
    nan = v128.or(nan, f32x4.ne(x, x));
  }
  return v128.any_true(nan);
}
