// Stage 4, once per chunk after its last span: the division by the softmax's sum l. The span loop
// keeps acc unnormalised, as FlashAttention-2 does, so each output is divided once rather than at
// every block. No blocking to speak of: one pass over [rows][dvPad] (or [rows][keys] for the
// weights), one divps per f32x4.

import { exp2Vec } from './exp';

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
