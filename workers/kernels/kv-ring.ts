// Where the keys of a job over a window cache (src/kv-cache.ts) sit in the cache's buffers. A window
// cache keeps its sink tokens in rows [0, sinkRows) and the latest positions in a ring of ringRows rows
// after them, written in place: position p ≥ sinkRows lives in row sinkRows + (p − sinkRows) mod
// ringRows. A job's keys are the held positions in order, so once the ring has wrapped its keys
// [sinkRows, Sk) start mid-ring: key j ≥ sinkRows is row sinkRows + (j − sinkRows + offset) mod ringRows.
// Every reader of K/V rows (both kernels' copies and loads) goes through ringRow or forEachRowRun.

/** The ring of a window cache as one job reads it; absent for every other job (key j is row j). */
export interface KvRing {
  readonly sinkRows: number;
  readonly ringRows: number;
  /** Ring slot of the job's first ring key (the oldest held position past the sinks), in [0, ringRows). */
  readonly offset: number;
}

/** Row of key j (0 ≤ j < Sk). */
export function ringRow(ring: KvRing, j: number): number {
  if (j < ring.sinkRows) return j;
  const slot = j - ring.sinkRows + ring.offset; // below 2 · ringRows: j − sinkRows and offset are below ringRows
  return ring.sinkRows + (slot < ring.ringRows ? slot : slot - ring.ringRows);
}

/** Keys [from, from + count) as runs of consecutive rows, in key order: each(key, row, keys). At most
 *  three runs: the sinks, the ring up to its last row, the ring from its first row. */
export function forEachRowRun(ring: KvRing | undefined, from: number, count: number,
  each: (key: number, row: number, keys: number) => void): void {
  const end = from + count;
  if (!ring) {
    if (count > 0) each(from, from, count);
    return;
  }
  for (let j = from; j < end;) {
    const row = ringRow(ring, j);
    const runEnd = Math.min(end, j < ring.sinkRows ? ring.sinkRows : j + ring.sinkRows + ring.ringRows - row);
    each(j, row, runEnd - j);
    j = runEnd;
  }
}
