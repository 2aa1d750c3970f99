// A chunk's results out of the instance's memory once its keys are done: output rows, lse and weights
// for a whole job, or the rows' partial state (m, l, acc) for the merge of a split job. A chunk's rows
// may belong to several heads (tile-rows.ts): each head's rows are every `heads`-th row of the chunk,
// copied to that head's rows of the outputs.

import type { AttentionJob } from '../jobs.js';
import { headOfRow, headRuns, queryRowOf, type TileRows } from '../tile-rows.js';
import type { WasmArena } from './arena.js';
import type { AttentionLayout } from './attention-layout.js';
import type { KernelExports } from './kernel-exports.js';
import { writeFinishArgs } from './span-args.js';
import { copyRows, rowStart } from './strided-copy.js';

/** Tile rows [from, from + rows) of `tileRows`, in the split starting at key splitStart (0 unsplit);
 *  groupRows is rows rounded up to the kernel's row group. Chunk row r is tile row from + r. */
export interface ChunkRows {
  readonly tileRows: TileRows;
  readonly from: number;
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
export function finishChunk(job: AttentionJob, state: ChunkState, { tileRows, from, rows, groupRows }: ChunkRows): void {
  const { kernels, arena, layout: { at, dvPad, scoresStride } } = state;
  const { f32 } = arena;
  const { b, heads } = tileRows;
  writeFinishArgs(arena, at.spanArgs, {
    rows: groupRows, dvPad, shift: state.shift, rowMax: at.rowMax, rowSum: at.rowSum, acc: at.acc,
    scores: job.weights ? at.scores : 0, scoresStride,
  });
  kernels.finishRows(at.spanArgs);
  const runs = headRuns(tileRows, from, rows);
  const out = job.out;
  for (const run of runs) {
    copyRows(out.data as Float32Array, rowStart(out, b, run.head, run.queryRow), out.strideRow,
      f32, at.acc / 4 + run.first * dvPad, heads * dvPad, run.count, job.Dv);
  }
  if (job.lse) {
    const lse = job.lse.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      const l = f32[at.rowSum / 4 + r];
      const to = rowStart(job.lse, b, headOfRow(tileRows, from + r), queryRowOf(tileRows, from + r));
      lse[to] = l === 0 ? -Infinity : f32[at.rowMax / 4 + r] * state.maxToNatural + Math.log(l);
    }
  }
  if (job.weights) {
    kernels.finishWeights(at.spanArgs);
    const w = job.weights;
    for (const run of runs) {
      copyRows(w.data as Float32Array, rowStart(w, b, run.head, run.queryRow), w.strideRow,
        f32, at.scores / 4 + run.first * scoresStride, heads * scoresStride, run.count, job.Sk);
    }
  }
}

/** The chunk's rows' state after their split's keys (float32, exact in float64), for the merge. */
export function writePartials(job: AttentionJob, state: ChunkState, { tileRows, from, rows, splitStart }: ChunkRows): void {
  const split = job.split!;
  const { arena: { f32 }, layout: { dvPad, at: { rowMax, rowSum, acc } } } = state;
  const splitFirst = (splitStart / split.keysPerSplit - split.first) * job.B * job.H * job.Sq;
  for (let r = 0; r < rows; r++) {
    const row = splitFirst + (tileRows.b * job.H + headOfRow(tileRows, from + r)) * job.Sq + queryRowOf(tileRows, from + r);
    split.max[row] = f32[rowMax / 4 + r] * state.maxToNatural;
    split.sum[row] = f32[rowSum / 4 + r];
    const src = acc / 4 + r * dvPad, to = row * job.Dv;
    for (let d = 0; d < job.Dv; d++) split.acc[to + d] = f32[src + d];
  }
}
