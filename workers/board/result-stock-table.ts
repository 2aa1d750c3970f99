// The table through which the pool tells its filler thread which result sizes to keep in stock
// (src/pool/result-stock.ts, ./result-filler.ts): STOCK_SIZES entries of (bytes, stocked) in shared
// memory. The pool writes an entry's bytes (0: unused) and takes stocked down as it hands buffers out;
// the filler raises stocked as it posts them. Both only ever steer how many buffers get made: a buffer
// is used only if its byteLength is exactly what a result needs, so a stale entry costs a spare
// buffer at most, never a wrong one.

/** Result sizes kept in stock at once: a loop of calls uses one or two. */
export const STOCK_SIZES = 4;
/** Buffers kept per size: one for the next call, one being made. */
export const STOCK_TARGET = 2;
/** Below this a fresh buffer costs the calling thread a few µs: not worth a message. */
export const MIN_STOCK_BYTES = 64 << 10;
/** Above this the call's kernels run far longer than the buffer's page faults; and the stock stays
 *  within STOCK_SIZES · STOCK_TARGET · MAX_STOCK_BYTES = 8 MiB. */
export const MAX_STOCK_BYTES = 1 << 20;

export const STOCK_TABLE_INTS = 2 * STOCK_SIZES;

/** Index of entry `entry`'s size in bytes. */
export function stockBytesAt(entry: number): number {
  return 2 * entry;
}

/** Index of entry `entry`'s count of buffers posted and not yet taken. */
export function stockedAt(entry: number): number {
  return 2 * entry + 1;
}
