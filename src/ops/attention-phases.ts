// Runs one attention job, for pool.attention and the multi-head layer alike: one phase of (batch, head,
// row block) tiles; or, when split-KV applies (src/plan/split-kv-plan.ts), of (batch, head, row block,
// key split) tiles writing partial states, which the last tile of each row group merges
// (workers/kernels/split-merge.ts).

import { ATTENTION_TILE, type AttentionJob, type KernelName, type SplitKv } from '../../workers/kernels/jobs.js';
import { planAttentionTiles, splitRange, type AttentionShape, type SplitRange } from '../plan/attention-plan.js';
import { splitKeysFor, type SplitKvSetting } from '../plan/split-kv-setting.js';
import type { CallContext } from '../pool/call-context.js';
import type { Dispatcher } from '../pool/dispatch.js';
import { scratchArray, type CallScratch } from '../pool/scratch-pool.js';

export type AttentionJobBody = Omit<AttentionJob, 'tiles' | 'split'>;

export interface AttentionRun {
  readonly ctx: CallContext;
  readonly dispatcher: Dispatcher;
  readonly threads: number;
  readonly kernel: KernelName;
  /** The pool's, fixed when it was built. */
  readonly splitKv: SplitKvSetting;
}

/** The key splits a job of this shape runs with (split-kv-setting.ts), or undefined when it is not split. */
export function splitOf(shape: AttentionShape, weights: boolean, setting: SplitKvSetting): SplitRange | undefined {
  const splitKeys = splitKeysFor({ ...shape, weights }, setting);
  return splitKeys === 0 ? undefined : splitRange(shape, splitKeys);
}

/** The shape of allocSplitKv's partial states: per split and row, m and l and Dv accumulators, float64. */
export function splitKvShape(range: SplitRange, rows: number, Dv: number): readonly number[] {
  return [range.count, rows, Dv + 2];
}

/** Not an async function: the phase's own promise is returned, without a hop of its own. */
export function runAttentionJob(body: AttentionJobBody, run: AttentionRun): Promise<void> {
  const { ctx, dispatcher, threads, kernel } = run;
  const { B, H, Hkv, Sq, Sk, D, Dv, causal, topLeft, window, gap } = body;
  const flopsPerKey = 2 * (D + Dv);
  const shape: AttentionShape = { B, H, Hkv, alibi: body.alibiSlopes !== undefined, Sq, Sk, causal, topLeft, window, gap };
  const range = splitOf(shape, body.weights !== undefined, run.splitKv);
  if (!range) return dispatcher.runPhase(ctx, { ...body, tiles: planAttentionTiles(shape, threads, flopsPerKey) }, kernel);
  const tiles = planAttentionTiles(shape, threads, flopsPerKey, range);
  return dispatcher.runPhase(ctx, { ...body, split: allocSplitKv(range, B * H * Sq, Dv, tiles, ctx.scratch), tiles }, kernel);
}

/** Partial states in the initial "empty split" state — m = −Infinity — and each row group's count of
 *  tiles, all on one scratch buffer (one take from the pool, one buffer id on the board, rather than
 *  four). l and acc are left as the buffer held them: a tile writes a pair's l and acc with its m, and
 *  the merge reads them only where m is not −Infinity (split-merge.ts), so neither another call's
 *  values nor zeros ever reach a result — and a long prefill's accumulators (rows · splits · Dv floats)
 *  are not cleared for nothing. */
function allocSplitKv(range: SplitRange, rows: number, Dv: number, tiles: Int32Array, scratch: CallScratch | undefined): SplitKv {
  const n = range.count * rows;
  const { ints, offsets } = ATTENTION_TILE;
  let groups = 0;
  for (let at = offsets.group; at < tiles.length; at += ints) groups = Math.max(groups, tiles[at] + 1);
  const floats = n * (Dv + 2);
  const { buffer } = scratchArray(scratch, Float64Array, floats + Math.ceil(groups / 2), false);
  const pending = new Int32Array(buffer, floats * 8, groups).fill(0);
  for (let at = offsets.group; at < tiles.length; at += ints) pending[tiles[at]]++;
  return {
    keysPerSplit: range.keysPerSplit, first: range.first, count: range.count, pending,
    max: new Float64Array(buffer, 0, n).fill(-Infinity), sum: new Float64Array(buffer, n * 8, n), acc: new Float64Array(buffer, 2 * n * 8, n * Dv),
  };
}
