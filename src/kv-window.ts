// The geometry of a window cache (StreamingLLM: Xiao et al. 2023, "Efficient Streaming Language Models
// with Attention Sinks"): it holds the first `sinkTokens` positions and the latest `window` ones, in
// sinkTokens + window rows per (batch, kv head) whatever the number of positions appended. Rows
// [0, sinkTokens) hold the sink tokens; rows [sinkTokens, sinkTokens + window) are a ring in which
// position p ≥ sinkTokens lives in row sinkTokens + (p − sinkTokens) mod window, written in place. Pure
// functions of (window, sinkTokens) and the positions appended so far, N; kv-cache.ts does the writing.

import type { PositionGap } from '../workers/kernels/key-range.js';
import type { KvRing } from '../workers/kernels/kv-ring.js';

export interface WindowShape {
  readonly window: number;
  readonly sinkTokens: number;
}

/** What a call over the cache after N appended positions reads: `length` keys, the held positions in
 *  order — [0, min(s, N)) then [max(s, N − w), N) — and, once positions were dropped, where they sit in
 *  the sequence (gap) and in the rows (kvRing). Before the ring first fills, key j is position j in row
 *  j, exactly as in a cache with a capacity. */
export interface HeldKeys {
  readonly length: number;
  readonly gap?: PositionGap;
  readonly kvRing?: KvRing;
}

export function heldKeys({ window: w, sinkTokens: s }: WindowShape, N: number): HeldKeys {
  if (N <= s + w) return { length: N };
  const first = N - w; // the oldest position the ring holds
  const offset = (first - s) % w;
  return {
    length: s + w,
    gap: { after: s, size: first - s },
    ...(offset === 0 ? {} : { kvRing: { sinkRows: s, ringRows: w, offset } }),
  };
}

/** Rows [row, row + rows) receive rows [from, from + rows) of an appended chunk. */
export interface RowCopy {
  readonly from: number;
  readonly row: number;
  readonly rows: number;
}

/** Where the rows of a chunk of n positions appended after N go: only the positions still held
 *  afterwards are written (of a chunk longer than the window, the sinks it fills and its last w). */
export function appendCopies({ window: w, sinkTokens: s }: WindowShape, N: number, n: number): RowCopy[] {
  const end = N + n;
  const copies: RowCopy[] = [];
  if (N < s) copies.push({ from: 0, row: N, rows: Math.min(s, end) - N });
  for (let p = Math.max(s, N, end - w); p < end;) {
    const slot = (p - s) % w;
    const rows = Math.min(end - p, w - slot); // up to the ring's last row, then on from its first
    copies.push({ from: p - N, row: s + slot, rows });
    p += rows;
  }
  return copies;
}

/** Whether appending n positions after N rewrites rows that hold positions a call may read now: once
 *  the ring holds anything, any append that takes the positions past s + w. */
export function overwritesHeld({ window: w, sinkTokens: s }: WindowShape, N: number, n: number): boolean {
  return N > s && N + n > s + w;
}
