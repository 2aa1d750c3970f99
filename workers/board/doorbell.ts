// The doorbell (./layout.ts): how the pool and its threads wake idle threads. Ringing bumps DOORBELL
// and wakes one idle thread — the lowest-numbered one, not the one idle longest: V8 wakes the waiters
// of one address in the order they came (FIFO), which at 64 threads cycled every call through all 64
// threads' heaps and stacks, and the calling thread paid for the caches they evicted (decode step at
// 64 threads, 64 active vs 4 active threads: ~185 vs ~170 µs of calling-thread CPU). So each thread
// waits on its own wake word, with its bit set in the idle mask, and a ring takes the lowest bit.
//
// No wake-up is lost: a thread sets its bit before it reads DOORBELL a last time, and a ring bumps
// DOORBELL before it reads the mask (all sequentially consistent), so either the thread sees the new
// DOORBELL and does not wait, or the ring sees its bit and bumps its wake word. A ring that takes the
// bit of a thread that did not wait only wakes an awake thread, which looks for work anyway.

import { DOORBELL, THREADS, WAITING, idleMaskAt, wakeAt } from './layout.js';

/** Bumps DOORBELL and wakes the lowest idle thread, if any. */
export function ring(ints: Int32Array, threads: number): void {
  Atomics.add(ints, DOORBELL, 1);
  if (Atomics.load(ints, WAITING) === 0) return; // notify takes V8's process-wide futex lock
  for (let word = 0; word * 32 < threads; word++) {
    const at = idleMaskAt(threads, word);
    for (let mask = Atomics.load(ints, at); mask !== 0; mask = Atomics.load(ints, at)) {
      const bit = mask & -mask;
      if ((Atomics.and(ints, at, ~bit) & bit) === 0) continue; // another ring took it
      const worker = word * 32 + 31 - Math.clz32(bit);
      Atomics.add(ints, wakeAt(threads, worker), 1);
      Atomics.notify(ints, wakeAt(threads, worker), 1);
      return;
    }
  }
}

/** Bumps DOORBELL and wakes every thread (closing, parking). */
export function ringAll(ints: Int32Array): void {
  Atomics.add(ints, DOORBELL, 1);
  const threads = Atomics.load(ints, THREADS);
  for (let worker = 0; worker < threads; worker++) {
    Atomics.add(ints, wakeAt(threads, worker), 1);
    Atomics.notify(ints, wakeAt(threads, worker));
  }
}

/** Thread `worker` waits until a ring after it read DOORBELL as `bell`, or `timeoutMs`. */
export function waitForRing(ints: Int32Array, threads: number, worker: number, bell: number, timeoutMs: number): void {
  const mask = idleMaskAt(threads, worker >> 5), bit = 1 << (worker & 31), wake = wakeAt(threads, worker);
  const seen = Atomics.load(ints, wake);
  Atomics.add(ints, WAITING, 1);
  Atomics.or(ints, mask, bit);
  if (Atomics.load(ints, DOORBELL) === bell) Atomics.wait(ints, wake, seen, timeoutMs);
  Atomics.and(ints, mask, ~bit);
  Atomics.sub(ints, WAITING, 1);
}
