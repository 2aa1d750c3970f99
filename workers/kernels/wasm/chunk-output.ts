// A chunk's results out of the instance's memory once its keys are done: output rows, lse and weights
// for a whole job, or the rows' partial state (m, l, acc) for the merge of a split job.

import type { AttentionJob } from '../jobs.js';
import type { WasmArena } from './arena.js';
import type { AttentionLayout } from './attention-layout.js';
import type { KernelExports } from './kernel-exports.js';
import { writeFinishArgs } from './span-args.js';
import { copyRows, rowStart } from './strided-copy.js';

/** Rows [r0, r0 + rows) of head (b, h), in the split starting at key splitStart (0 unsplit);
 *  groupRows is rows rounded up to the kernel's row group. */
export interface ChunkRows {
  readonly b: number;
  readonly h: number;
  readonly r0: number;
  readonly rows: number;
  readonly groupRows: number;
  readonly splitStart: number;
}

/** Where the state lies and how to read it: `shift` and `maxToNatural` as in the driver's plan. */
export interface ChunkState {
  readonly kernels: KernelExports;
  readonly arena: WasmArena;
  readonly layout: AttentionLayout;
  readonly shift: number;
  readonly maxToNatural: number;
}

/** The chunk's output rows, lse and weights, from its final state. */
export function finishChunk(job: AttentionJob, state: ChunkState, { b, h, r0, rows, groupRows }: ChunkRows): void {
  const { kernels, arena, layout: { at, dvPad, scoresStride } } = state;
  const { f32 } = arena;
  writeFinishArgs(arena, at.spanArgs, {
    rows: groupRows, dvPad, shift: state.shift, rowMax: at.rowMax, rowSum: at.rowSum, acc: at.acc,
    scores: job.weights ? at.scores : 0, scoresStride,
  });
  kernels.finishRows(at.spanArgs);
  const out = job.out;
  copyRows(out.data as Float32Array, rowStart(out, b, h, r0), out.strideRow, f32, at.acc / 4, dvPad, rows, job.Dv);
  if (job.lse) {
    const lse = job.lse.data as Float32Array, first = rowStart(job.lse, b, h, r0);
    for (let r = 0; r < rows; r++) {
      const l = f32[at.rowSum / 4 + r];
      lse[first + r * job.lse.strideRow] = l === 0 ? -Infinity : f32[at.rowMax / 4 + r] * state.maxToNatural + Math.log(l);
    }
  }
  if (job.weights) {
    kernels.finishWeights(at.spanArgs);
    const w = job.weights;
    copyRows(w.data as Float32Array, rowStart(w, b, h, r0), w.strideRow, f32, at.scores / 4, scoresStride, rows, job.Sk);
  }
}

/** The chunk's rows' state after their split's keys (float32, exact in float64), for the merge. */
export function writePartials(job: AttentionJob, state: ChunkState, { b, h, r0, rows, splitStart }: ChunkRows): void {
  const split = job.split!;
  const { arena: { f32 }, layout: { dvPad, at: { rowMax, rowSum, acc } } } = state;
  const first = (splitStart / split.keysPerSplit - split.first) * job.B * job.H * job.Sq + (b * job.H + h) * job.Sq + r0;
  for (let r = 0; r < rows; r++) {
    split.max[first + r] = f32[rowMax / 4 + r] * state.maxToNatural;
    split.sum[first + r] = f32[rowSum / 4 + r];
    const from = acc / 4 + r * dvPad, to = (first + r) * job.Dv;
    for (let d = 0; d < job.Dv; d++) split.acc[to + d] = f32[from + d];
  }
}
