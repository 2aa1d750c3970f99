// Where the driver finds a span's packed K and V in the instance's memory. Two sources, chosen once per
// job: per-call spans packed for this job alone (per-call-spans.ts), or pieces kept across calls for
// jobs over a KvCache (kept-piece-spans.ts). Both give the kernel the same keys in the same blocks
// with the same vFinite flag, so which one a job uses never changes its bits.

import type { AttentionJob } from '../jobs.js';

/** Packed keys [start, end), contiguous in memory: K panels ([panel][D][8]) and V rows ([key][dvPad])
 *  at these byte offsets hold key `start` — or, for stored K/V (kv-format.ts), K and V rows as stored
 *  and, for int8, their scales at kScales and vScales (0 otherwise). */
export interface KvRun {
  readonly start: number;
  readonly end: number;
  readonly kPanels: number;
  readonly vRows: number;
  readonly kScales: number;
  readonly vScales: number;
}

/** One span of keys as runs, in key order: one run for a per-call span, one per piece for kept ones. */
export interface KvSpan {
  readonly runs: readonly KvRun[];
  /** Every V value of the span is finite (the kernel's fast P·V path); one flag per span. */
  readonly vFinite: boolean;
}

export interface KvSpanSource {
  /** Keys [spanStart, spanStart + spanKeys) of kv head (b, kvHead), packed now if not held already;
   *  the offsets stay valid until the next call. */
  span(job: AttentionJob, b: number, kvHead: number, spanStart: number, spanKeys: number): KvSpan;
}
