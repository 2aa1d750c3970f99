// What the kernel adds to a step's scores besides q·k: the chunk's mask and bias rows for the step's
// keys, copied into their regions of the instance's memory (attention-layout.ts); the softcap and
// ALiBi factors in the kernel's units (scoreTerms); and a sink's initial row state (sinkState).
//
// The kernel's scores are base 2 over `shift` (score-scaling.ts): y = s·log2 e / shift for the natural
// score s. So softcap c, s' = c·tanh(s / c), is y' = tanh(y · shift·ln 2 / c) · c·log2 e / shift, and
// ALiBi's slope·(distance) is (slope·log2 e / shift)·(distance). A sink σ is the row state m = σ·log2 e
// / shift, l = 1: one key with that score and a zero value, rescaled like any other.

import type { FloatArray } from '../../../src/tensor.js';
import type { AttentionJob, Broadcast4 } from '../jobs.js';
import { queryPosition } from '../key-range.js';
import { headRuns, type TileRows } from '../tile-rows.js';
import type { WasmArena } from './arena.js';
import { copyStridedRow } from './strided-copy.js';

/** Byte offsets of the step's slices (0 when the job has none) and their row strides in elements
 *  (0 when broadcast over rows). */
export interface ScoreSlices {
  readonly mask: number;
  readonly maskStride: number;
  readonly bias: number;
  readonly biasStride: number;
}

/** Tile rows [rowFrom, rowFrom + rows) of `tileRows` (tile-rows.ts) and keys [from, from + keys): which
 *  the step computes. */
export interface StepKeys {
  readonly tileRows: TileRows;
  readonly rowFrom: number;
  readonly rows: number;
  readonly from: number;
  readonly keys: number;
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** The SpanArg fields of the variants (span-args-layout.ts), 0 where the job has none. */
export interface ScoreTerms {
  readonly softcapIn: number;
  readonly softcapOut: number;
  readonly alibiSlope: number;
  readonly queryPosition: number;
  readonly gapAfter: number;
  readonly gapSize: number;
}

/** The terms for a chunk of head h's rows starting at query row r0 (the kernel takes the rows as
 *  consecutive positions from there; only ALiBi reads them, and ALiBi tiles hold one head). */
export function scoreTerms(job: AttentionJob, shift: number, h: number, r0: number): ScoreTerms {
  const c = job.softcap, slope = job.alibiSlopes?.[h] ?? 0;
  return {
    // Capped at the largest float32: past it (a huge scale's shift over a small cap) a zero score must stay
    // tanh(0) = 0 rather than 0·Infinity = NaN, and every other one is ±1 either way.
    softcapIn: c === undefined ? 0 : Math.fround(Math.min(FLOAT32_MAX, shift * Math.LN2 / c)),
    softcapOut: c === undefined ? 0 : Math.fround(c * Math.LOG2E / shift),
    alibiSlope: Math.fround(slope * Math.LOG2E / shift),
    queryPosition: queryPosition(job, r0),
    gapAfter: job.gap?.after ?? 0,
    gapSize: job.gap?.size ?? 0,
  };
}

/** The initial m (in the kernel's units) and l of head h's rows: the sink's, or an empty row's. A split
 *  job's tiles start empty: the merge adds the sink (split-merge.ts). */
export function sinkState(job: AttentionJob, shift: number, h: number): { readonly max: number; readonly sum: number } {
  if (!job.sinks || job.split) return { max: -Infinity, sum: 0 };
  return { max: Math.fround(job.sinks[h] * Math.LOG2E / shift), sum: 1 };
}

export class ScoreInputs {
  /** `mask`, `bias`: byte offsets of the regions; `spanStride`: their row stride in elements. */
  constructor(private readonly arena: WasmArena, private readonly mask: number, private readonly bias: number,
    private readonly spanStride: number) {}

  /** Copies the step's slices of the job's mask and bias. */
  prepare(job: AttentionJob, step: StepKeys): ScoreSlices {
    const { mask, bias } = job;
    return {
      mask: mask ? this.mask : 0,
      maskStride: mask ? copySlice(this.arena.u8, this.mask, mask, mask.data, this.spanStride, step) : 0,
      bias: bias ? this.bias : 0,
      biasStride: bias ? copySlice(this.arena.f32, this.bias / 4, bias, bias.data as Float32Array, this.spanStride, step) : 0,
    };
  }
}

/** Copies the step's rows of a mask or bias to dst[dstAt …] (row stride `spanStride` elements), each
 *  chunk row from its own head's row; returns that stride, or 0 when every row of the step reads the
 *  same one (broadcast over rows, and over heads or a one-head tile: one row copied). */
function copySlice<A extends Float32Array | Uint8Array>(dst: A, dstAt: number, view: Broadcast4<FloatArray | Uint8Array>, data: A,
  spanStride: number, { tileRows, rowFrom, rows, from, keys }: StepKeys): number {
  const first = view.offset + tileRows.b * view.strideB + from * view.strideCol;
  const runs = headRuns(tileRows, rowFrom, rows);
  if (view.strideRow === 0 && (view.strideH === 0 || runs.length === 1)) {
    copyStridedRow(dst, dstAt, data, first + runs[0].head * view.strideH, view.strideCol, keys);
    return 0;
  }
  for (const { head, first: r, queryRow, count } of runs) {
    for (let k = 0; k < count; k++) {
      copyStridedRow(dst, dstAt + (r + k * tileRows.heads) * spanStride, data,
        first + head * view.strideH + (queryRow + k) * view.strideRow, view.strideCol, keys);
    }
  }
  return spanStride;
}
