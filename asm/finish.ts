// Stage 4, once per chunk after its last span: the division by the softmax's sum l. The span loop
// keeps acc unnormalised, as FlashAttention-2 does, so each output is divided once rather than at
// every block. No blocking to speak of: one pass over [rows][dvPad] (or [rows][keys] for the
// weights), one divps per f32x4.

import * as SpanArg from '../workers/kernels/wasm/span-args-layout';
import { exp2Vec } from './exp';

/** out = acc / l per row (in place), zeros for a row that attended nothing (l = 0). args: the address of
 *  an argument block (span-args-layout.ts), of which this reads rows, dvPad, rowSum and acc. */
export function finishRows(args: usize): void {
  const rows = load<i32>(args, SpanArg.ROWS), dvPad = load<i32>(args, SpanArg.DV_PAD);
  const rowSum = load<usize>(args, SpanArg.ROW_SUM);
  let at = load<usize>(args, SpanArg.ACC);
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
 *  a row with l = 0 becomes zeros. args: the address of an argument block (span-args-layout.ts), of which
 *  this reads rows, shift, rowMax, rowSum, scores and scoresStride (a multiple of 4: every score of a
 *  row, padding included, is turned). */
export function finishWeights(args: usize): void {
  const rows = load<i32>(args, SpanArg.ROWS), shift = load<f32>(args, SpanArg.SHIFT);
  const rowMax = load<usize>(args, SpanArg.ROW_MAX), rowSum = load<usize>(args, SpanArg.ROW_SUM);
  const scores = load<usize>(args, SpanArg.SCORES), scoresStride = load<i32>(args, SpanArg.SCORES_STRIDE);
  const shiftV = f32x4.splat(shift);
  for (let r = 0; r < rows; r++) {
    const l = load<f32>(rowSum + (<usize>r << 2));
    const m = f32x4.splat(load<f32>(rowMax + (<usize>r << 2)));
    const lV = f32x4.splat(l);
    let at = scores + (<usize>(r * scoresStride) << 2);
    for (let j = 0; j < scoresStride; j += 4) {
      v128.store(at, l == 0 ? f32x4.splat(0) : f32x4.div(exp2Vec(f32x4.mul(f32x4.sub(v128.load(at), m), shiftV)), lV));
      at += 16;
    }
  }
}
