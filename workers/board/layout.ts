// The board: the Int32Array in shared memory through which the pool hands phases to its threads with
// no message per phase (src/pool/board.ts writes it, ./serve.ts reads it). ggml's CPU threadpool works
// the same way: threads wait on one shared word and pull chunks from an atomic counter.
//
//   [DOORBELL]   bumped (and notified) each time a phase opens or the pool closes; idle threads
//                Atomics.wait on it
//   [CLOSING]    1 once the pool closes: threads return from their serve task
//   [OPEN]       phases open now (a thread with nothing to do skips the scan when 0)
//   [PARK]       1 while the pool has been idle a while: a thread with nothing to do returns from its
//                serve task, so that an idle pool does not keep the process alive (piscina holds a
//                running task's port referenced); the next phase clears it and restarts the tasks
//   [WAITING]    threads waiting for the doorbell (./doorbell.ts); [DRAINING] the pool's waits on cells;
//   [HOLDING]    the pool's waits for a phase's last tile to be taken (src/pool/dispatch.ts). An
//                Atomics.notify nobody waits for is skipped: each takes V8's process-wide futex lock,
//                which 64 threads on 2 cores contend — the pool's one notify per phase cost 38 µs of
//                CPU at 64 threads against 4 at 1 while every thread also notified its cell. Each
//                counter is raised before its waiter checks the value it waits on, and read after the
//                value changes, so no wake-up is lost.
//   [THREADS]    the thread count, for ./doorbell.ts's ringAll (given the board alone)
//   idle mask    one bit per thread (32 a word) set while it waits for the doorbell, and one wake word
//                per thread, which it spins or waits on: ./doorbell.ts wakes the lowest idle thread
//   sleep words  one per thread: 1 while it is inside Atomics.wait, so that a ring notifies only a
//                thread that sleeps (a spinning one sees its wake word change by itself)
//   cells        one per thread (worker index): 1 + the phase slot it is inside, or 0. A slot is
//                reused only once no cell names it.
//   part cells   one per thread: 1 + the part of its phase (./phase.ts) whose tile it is running, or 0.
//                The part a thread dies in is the call that fails; a stopped part's call waits until
//                no part cell names it.
//   slots        one per phase that can be open at once (the pool's running calls), SLOT_INTS each:
//     GEN        bumped each time the slot opens: a thread decodes a slot's descriptor once per GEN
//     STATE      OPEN while threads may enter, else FREE
//     NEXT       the next tile index to take (Atomics.add)
//     TILES      the phase's tile count
//     REMAINING  tiles not finished; the thread that takes it to 0 notifies it (the caller waits on it)
//     INSIDE     threads inside (a hint for the fairness rule of serve.ts, not for correctness)
//     EVENTS     bumped (and notified) when one of the phase's parts finishes or its call stops: the
//                pool's one waiter per phase wakes on it (each part's own state is in the descriptor)
//     PAUSED     tiles paused in the phase's pause slots (./phase.ts), raised before a slot shows one
//                and lowered after a thread takes it, so 0 means none: a thread looking for work
//                reads it rather than decode the descriptor to look
//     DESC_*     where the phase's descriptor (./descriptor.ts, a tape of float64 values) lies: a
//                registered buffer's id, and the tape's length from the buffer's start

export const DOORBELL = 0;
export const CLOSING = 1;
export const OPEN = 2;
export const PARK = 3;
export const WAITING = 4;
export const DRAINING = 5;
export const HOLDING = 6;
export const THREADS = 7;
const HEADER_INTS = 8;

export const SLOT_GEN = 0;
export const SLOT_STATE = 1;
export const SLOT_NEXT = 2;
export const SLOT_TILES = 3;
export const SLOT_REMAINING = 4;
export const SLOT_INSIDE = 5;
export const SLOT_EVENTS = 6;
export const SLOT_DESC_ID = 7;
export const SLOT_DESC_LENGTH = 8;
export const SLOT_PAUSED = 9;
export const SLOT_INTS = 16;

export const STATE_FREE = 0;
export const STATE_OPEN = 1;

export interface BoardShape {
  readonly threads: number;
  readonly slots: number;
}

/** Index of thread `worker`'s cell. */
export function cellAt(worker: number): number {
  return HEADER_INTS + worker;
}

/** Index of thread `worker`'s part cell. */
export function partCellAt(shape: BoardShape, worker: number): number {
  return HEADER_INTS + shape.threads + worker;
}

/** Index of word `word` of the idle mask (threads 32·word … 32·word + 31). */
export function idleMaskAt(threads: number, word: number): number {
  return HEADER_INTS + 2 * threads + word;
}

/** Index of thread `worker`'s wake word. */
export function wakeAt(threads: number, worker: number): number {
  return HEADER_INTS + 2 * threads + idleMaskWords(threads) + worker;
}

function idleMaskWords(threads: number): number {
  return Math.ceil(threads / 32);
}

/** Index of thread `worker`'s sleep word. */
export function sleepAt(threads: number, worker: number): number {
  return HEADER_INTS + 3 * threads + idleMaskWords(threads) + worker;
}

/** Index of field `field` of slot `slot`. */
export function slotAt(shape: BoardShape, slot: number, field: number): number {
  return HEADER_INTS + 4 * shape.threads + idleMaskWords(shape.threads) + slot * SLOT_INTS + field;
}

export function boardInts(shape: BoardShape): number {
  return slotAt(shape, shape.slots, 0);
}
