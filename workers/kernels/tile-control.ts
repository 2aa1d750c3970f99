// How a long attention tile lets go of its thread. A tile spans all the keys its rows see — seconds of
// work at Sk = 2^20 — so the checks between tiles (run-tiles.ts) come far too late for an abort, a
// close() or a call waiting for a thread. Kernels therefore walk a tile's keys in steps of about
// STEP_MULTIPLY_ADDS and ask between steps whether to go on:
//   'stop'  — the call was stopped (aborted, closed, failed): abandon the tile; the call's output is
//             unspecified after that anyway;
//   'pause' — the time slice is used up while other work waits: save the tile's online-softmax state
//             (suspended-tile.ts) and return; the lane's next task resumes it on whichever thread.
// Step boundaries are multiples of the kernels' 64-key block, and a row's state crosses a pause
// exactly (float32 or float64 values copied as they are), so neither changes a bit of the result.

import type { SuspendedTile } from './suspended-tile.js';

export type StepVerdict = 'go' | 'stop' | 'pause';

/** How a tile ended: all keys done, abandoned on 'stop', or saved on 'pause'. */
export type TileOutcome = 'done' | 'stopped' | 'paused';

export interface TileControl {
  /** Asked between steps; never 'pause' without a `suspended` slot. */
  check(): StepVerdict;
  /** Where a paused tile's state goes, and where a resumed one's comes from. */
  readonly suspended: SuspendedTile | undefined;
}

/** Work per step: ~0.6 ms on the wasm kernel here, a few ms on js — well inside the 20 ms slice —
 *  while the check (one Atomics.load, one performance.now) costs well under a microsecond. */
const STEP_MULTIPLY_ADDS = 1 << 21;

/** Keys per step for `rows` query rows: a whole number of key blocks, at least one. */
export function keysPerStep(rows: number, D: number, Dv: number, keyBlock: number): number {
  const keys = Math.floor(STEP_MULTIPLY_ADDS / (Math.max(rows, 1) * (D + Dv)));
  return Math.max(1, Math.floor(keys / keyBlock)) * keyBlock;
}
