// The contract between the coordinator and the workers: the jobs a phase hands to a kernel, their
// tiles, and what a kernel is. One file per job kind in jobs/ defines the job's plain,
// structured-cloneable descriptor and its tile layout, whose records the planners (src/plan/) write
// and the kernels read; this file gathers them.
//
// A job is split into tiles; `tiles` lists them in the order workers pull them. How a tile is
// computed never depends on which thread runs it or how many threads there are, so the output is
// bit-for-bit the same for every thread count.
//
// A new job kind: its file in jobs/ (descriptor with `kind`, tile layout), an entry in JobsByKind and
// TILE_LAYOUTS below, and a tile function in every kernel's table (or in shared-tiles.ts).

import { ATTENTION_TILE, type AttentionJob } from './jobs/attention.js';
import { GEMM_TILE, type GemmJob } from './jobs/gemm.js';
import { HEAD_MEAN_TILE, type HeadMeanJob } from './jobs/head-mean.js';
import { ROTARY_TILE, type RotaryJob } from './jobs/rotary.js';
import type { TileLayout } from './jobs/tile-record.js';
import type { TileControl, TileOutcome } from './tile-control.js';
import type { FloatArray } from '../dtypes.js';

export * from './jobs/views.js';
export * from './jobs/attention.js';
export * from './jobs/gemm.js';
export * from './jobs/head-mean.js';
export * from './jobs/rotary.js';
export type { FloatArray };

export interface JobsByKind {
  readonly attention: AttentionJob;
  readonly gemm: GemmJob;
  readonly 'head-mean': HeadMeanJob;
  readonly rotary: RotaryJob;
}

export type JobKind = keyof JobsByKind;
export type Job = JobsByKind[JobKind];

export const TILE_LAYOUTS = {
  attention: ATTENTION_TILE,
  gemm: GEMM_TILE,
  'head-mean': HEAD_MEAN_TILE,
  rotary: ROTARY_TILE,
} satisfies { readonly [K in JobKind]: TileLayout<string> };

export function tileCount(job: Job): number {
  return job.tiles.length / TILE_LAYOUTS[job.kind].ints;
}

/** Computes tile `tile` of `job`, in place. Kernels are pure functions of the job and tile index (plus
 *  private scratch), which is what makes results independent of scheduling. `control`: asked between
 *  steps of a long (attention) tile, which it may abandon or pause (tile-control.ts); without it the
 *  tile runs to the end. Tiles of bounded size never ask and always end 'done'. */
export type TileFunction<K extends JobKind> = (job: JobsByKind[K], tile: number, control?: TileControl) => TileOutcome;

/** What a kernel implements: a tile function for every job kind. */
export interface Kernel {
  readonly name: KernelName;
  readonly tiles: { readonly [K in JobKind]: TileFunction<K> };
}

/** The kernel's tile function for jobs of `kind`. Called with a Job's own kind (K inferred as the
 *  union), it takes that Job: the kind and the job agree, which the types cannot say. */
export function tileFunction<K extends JobKind>(kernel: Kernel, kind: K): TileFunction<K> {
  return kernel.tiles[kind];
}

export type KernelName = 'js' | 'wasm';
