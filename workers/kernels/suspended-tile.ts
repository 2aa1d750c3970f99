// A paused attention tile (tile-control.ts): which tile, where it stopped, and its rows' running
// state — maximum m, sum l and unnormalised accumulator acc — in one of a phase's shared pause slots
// (workers/board/phase.ts). A slot is held by one thread at a time; the next thread to enter the
// phase resumes the tile from it.
//
// Layout (float64, exact for the float32 state of the wasm kernel too):
//   [0] tile + 1 (0: empty)  [1] first tile row of the paused chunk (tile-rows.ts)  [2] next key  [3] rows
//   then m [rows], l [rows], acc [rows][cols].

import type { FloatArray } from '../../src/tensor.js';
import { ATTENTION_TILE, type AttentionJob } from './jobs.js';
import { tileRowCount } from './tile-rows.js';

const HEADER = 4;

/** The state of the rows being resumed: each array with the offset of the first row. */
export interface RowState {
  readonly max: FloatArray;
  readonly maxAt: number;
  readonly sum: FloatArray;
  readonly sumAt: number;
  readonly acc: FloatArray;
  readonly accAt: number;
  /** Elements between rows of acc; the first `cols` of each row are kept. */
  readonly accStride: number;
  readonly cols: number;
}

export interface ResumePoint {
  /** The first tile row of the paused chunk (a tile's rows, tile-rows.ts, run in one or more chunks). */
  readonly rowStart: number;
  readonly nextKey: number;
}

/** A slot large enough for any tile of `job`: its most rows (row block × heads), accumulators rounded
 *  up to 4 columns (the wasm kernel's dvPad). */
export function suspensionSlot(job: AttentionJob): Float64Array {
  return new Float64Array(new SharedArrayBuffer(suspensionSlotLength(job) * 8));
}

/** The float64 elements of suspensionSlot(job). */
export function suspensionSlotLength(job: AttentionJob): number {
  let rows = 0;
  const { tiles } = job, { ints, offsets } = ATTENTION_TILE;
  for (let at = 0; at < tiles.length; at += ints) {
    rows = Math.max(rows, tileRowCount({ heads: tiles[at + offsets.heads], rowStart: tiles[at + offsets.rowStart], rowEnd: tiles[at + offsets.rowEnd] }));
  }
  const cols = Math.ceil(job.Dv / 4) * 4;
  return HEADER + rows * (2 + cols);
}

export class SuspendedTile {
  constructor(private readonly slot: Float64Array) {}

  /** The paused tile, or -1. */
  get tile(): number {
    return this.slot[0] - 1;
  }

  /** Where `tile` stopped, emptying the slot; undefined when the slot does not hold it. Read the
   *  rows with restore() before the tile can pause again. */
  take(tile: number): ResumePoint | undefined {
    if (this.tile !== tile) return undefined;
    this.slot[0] = 0;
    return { rowStart: this.slot[1], nextKey: this.slot[2] };
  }

  save(tile: number, rowStart: number, nextKey: number, rows: number, state: RowState): void {
    const { slot } = this;
    slot[1] = rowStart;
    slot[2] = nextKey;
    slot[3] = rows;
    for (let r = 0; r < rows; r++) {
      slot[HEADER + r] = state.max[state.maxAt + r];
      slot[HEADER + rows + r] = state.sum[state.sumAt + r];
      const from = state.accAt + r * state.accStride, to = HEADER + 2 * rows + r * state.cols;
      for (let c = 0; c < state.cols; c++) slot[to + c] = state.acc[from + c];
    }
    slot[0] = tile + 1;
  }

  /** Writes the saved rows into `state` (the same shape they were saved from). */
  restore(state: RowState): void {
    const { slot } = this;
    const rows = slot[3];
    for (let r = 0; r < rows; r++) {
      state.max[state.maxAt + r] = slot[HEADER + r];
      state.sum[state.sumAt + r] = slot[HEADER + rows + r];
      const from = HEADER + 2 * rows + r * state.cols, to = state.accAt + r * state.accStride;
      for (let c = 0; c < state.cols; c++) state.acc[to + c] = slot[from + c];
    }
  }
}
