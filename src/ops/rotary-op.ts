// pool.rotary: one phase of rotary tiles over x; and the pieces the multi-head layer uses to rotate its
// Q and K projections in place (mha-op.ts).

import type { RotaryJob, RotaryPart, RotaryPositions } from '../../workers/kernels/jobs.js';
import { planRotaryTiles } from '../plan/rotary-plan.js';
import type { FloatArray, Tensor } from '../tensor.js';
import type { RotaryArgs, RotaryRule } from '../validate/rotary-args.js';
import type { AttentionRun } from './attention-phases.js';
import { contiguous4, outputBuffer } from './views.js';

/** theta_d = base^(-2d / rotaryDim), d < rotaryDim / 2, in float64 (V8's Math.pow), once per call on
 *  the calling thread: every tile then multiplies by the same values. */
export function inverseFrequencies(base: number, rotaryDim: number): Float64Array {
  const theta = new Float64Array(new SharedArrayBuffer((rotaryDim / 2) * 8));
  for (let d = 0; d < rotaryDim / 2; d++) theta[d] = Math.pow(base, (-2 * d) / rotaryDim);
  return theta;
}

/** Cost in flop-equivalents, for the inline threshold: 6 flops per pair, and ~20 per cos/sin pair of
 *  the table (one per position and frequency). */
export function rotaryFlops(a: Pick<RotaryArgs, 'B' | 'H' | 'S' | 'rule'>): number {
  const pairs = a.rule.rotaryDim / 2;
  return a.B * a.S * pairs * (6 * a.H + 20);
}

/** Row s of batch b sits at `shift + s` of the rule's positions (a window of them for the layer's
 *  queries), or at position offset + shift + s without them. */
export function rotaryPositions(rule: RotaryRule, shift: number): RotaryPositions {
  const p = rule.positions;
  return p ? { data: p.data, offset: shift, strideB: p.shape[1], first: 0 } : { offset: 0, strideB: 0, first: rule.offset + shift };
}

export function rotaryJob(rule: RotaryRule, B: number, D: number, parts: readonly RotaryPart[], threads: number): RotaryJob {
  return {
    kind: 'rotary', B, D, rotaryDim: rule.rotaryDim, interleaved: rule.interleaved,
    inverseFrequencies: inverseFrequencies(rule.base, rule.rotaryDim), parts, tiles: planRotaryTiles(parts, B, D, threads),
  };
}

/** `args`' inputs are on shared memory (shared-inputs.ts). */
export async function runRotary(args: RotaryArgs, run: AttentionRun): Promise<Tensor<FloatArray>> {
  const { B, H, S, D, x } = args;
  const out = outputBuffer(args.out, x.data, x.shape, x.data.length);
  const part: RotaryPart = {
    H, S, src: contiguous4(x.data, H, S, D), dst: contiguous4(out.data, H, S, D), positions: rotaryPositions(args.rule, 0),
  };
  await run.dispatcher.runPhase(run.ctx, rotaryJob(args.rule, B, D, [part], run.threads), run.kernel);
  const result = out.finish();
  return args.outGiven ?? result;
}
