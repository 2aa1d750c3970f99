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
//
// Spinning. Waking a thread from Atomics.wait is the largest single cost of handing a phase over: a
// futex wake under V8's process-wide futex lock, ~20 µs of the ringing thread's CPU on a 2-vCPU VM,
// and as long again before the woken thread runs. A caller that awaits one call and then makes the
// next (a decoding loop) rings again within a few hundred µs of the last phase's end, so a thread
// given a spin window first watches its wake word for that long and only then sleeps; it raises its
// sleep word just before Atomics.wait, and a ring notifies only a thread whose sleep word is up. The
// ring bumps the wake word before it reads the sleep word, and the thread raises the sleep word
// before Atomics.wait compares the wake word, so a thread that the ring does not notify sees the bump.

import { DOORBELL, THREADS, WAITING, idleMaskAt, sleepAt, wakeAt } from './layout.js';

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
      if (Atomics.load(ints, sleepAt(threads, worker)) !== 0) Atomics.notify(ints, wakeAt(threads, worker), 1);
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

/** Thread `worker` waits until a ring after it read DOORBELL as `bell`, or `timeoutMs`: spinning for
 *  the first `spinMs` of it, then asleep. */
export function waitForRing(ints: Int32Array, threads: number, worker: number, bell: number, timeoutMs: number, spinMs: number): void {
  const mask = idleMaskAt(threads, worker >> 5), bit = 1 << (worker & 31), wake = wakeAt(threads, worker);
  const seen = Atomics.load(ints, wake);
  Atomics.add(ints, WAITING, 1);
  Atomics.or(ints, mask, bit);
  if (Atomics.load(ints, DOORBELL) === bell && !spinWhile(ints, wake, seen, spinMs)) {
    const sleep = sleepAt(threads, worker);
    Atomics.store(ints, sleep, 1);
    Atomics.wait(ints, wake, seen, Math.max(0, timeoutMs - spinMs));
    Atomics.store(ints, sleep, 0);
  }
  Atomics.and(ints, mask, ~bit);
  Atomics.sub(ints, WAITING, 1);
}

/** Whether ints[index] changed from `seen` within `ms` of watching it. */
function spinWhile(ints: Int32Array, index: number, seen: number, ms: number): boolean {
  if (ms <= 0) return false;
  const deadline = performance.now() + ms;
  for (let i = 1; ; i++) {
    if (Atomics.load(ints, index) !== seen) return true;
    if ((i & 63) === 0 && performance.now() >= deadline) return false;
  }
}
