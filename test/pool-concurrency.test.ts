// Many calls in flight on one pool: whatever the thread count and however the calls interleave, each
// result is bit for bit the one a 1-thread pool gives running the calls one at a time (and that one
// matches the float64 reference). And the scheduling is fair: a short call admitted next to a long
// one finishes in about its own time, not after the long one.

import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool } from '../dist/src/index.js';
import { attentionCall, expectSameResult, mixedCalls, runOneByOne, type WorkloadResult } from './support/faults-workload.js';

const TIMEOUT_MS = 90_000;
const THREAD_MATRIX = [...new Set([1, 2, 4, 2 * availableParallelism(), 32])];
const CONCURRENCY = 64;
const calls = mixedCalls(5, CONCURRENCY);

describe('thread-count matrix: concurrent mixed calls give the 1-thread bits', () => {
  let baseline: WorkloadResult[];
  beforeAll(async () => {
    const single = new AttentionPool({ threads: 1, kernel: 'js' });
    try {
      baseline = await runOneByOne(single, calls);
    } finally {
      await single.close();
    }
  }, TIMEOUT_MS);

  it('the baseline matches the float64 reference, call by call', () => {
    calls.forEach((call, n) => call.expectMatchesReference(baseline[n]));
  }, TIMEOUT_MS);

  it.each(THREAD_MATRIX)('%i threads', async (threads) => {
    const pool = new AttentionPool({ threads, kernel: 'js' });
    try {
      expect(pool.threads).toBe(threads);
      // Two waves at different concurrency: all 64 at once, then 8 at a time.
      const all = await Promise.all(calls.map((call) => call.run(pool)));
      all.forEach((result, n) => expectSameResult(result, baseline[n], `${threads} threads, 64 at once: ${calls[n].label}`));
      for (let start = 0; start < calls.length; start += 8) {
        const wave = calls.slice(start, start + 8);
        const results = await Promise.all(wave.map((call) => call.run(pool)));
        results.forEach((result, n) => expectSameResult(result, baseline[start + n], `${threads} threads, 8 at once: ${wave[n].label}`));
      }
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);
});

describe('fairness: a long call does not starve a short one', () => {
  // Scheduling policy (src/pool/dispatch.ts, call-gate.ts): up to 2 calls per thread run at once;
  // each phase posts one task per thread, and while more tasks want threads than there are threads a
  // task gives its thread back after a 20 ms slice and is re-posted at the back of the pool's FIFO
  // queue. A short call therefore waits for at most one slice per thread queued ahead of it, however
  // long the other calls are — also when a single long call held every thread before it arrived.
  const long = attentionCall({ seed: 71, B: 1, H: 8, Hkv: 8, Sq: 640, Sk: 640, D: 64, Dv: 64, causal: false, withLse: false });
  const short = attentionCall({ seed: 72, B: 1, H: 2, Hkv: 2, Sq: 96, Sk: 96, D: 32, Dv: 32, causal: false, withLse: false });
  let pool: AttentionPool;
  beforeAll(async () => {
    pool = new AttentionPool({ threads: 2, kernel: 'js' });
    await short.run(pool); // threads started and code warm before anything is timed
  }, TIMEOUT_MS);
  afterAll(async () => {
    await pool?.close();
  });

  it.each([1, 2])('a short call started while %i long call(s) hold both threads finishes long before them', async (longCalls) => {
    const alone = performance.now();
    await short.run(pool);
    const shortAlone = performance.now() - alone;

    const start = performance.now();
    let longsDone = 0;
    const longs = Array.from({ length: longCalls }, () => long.run(pool).then((r) => { longsDone++; return r; }));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the long calls hold both threads
    const shortStart = performance.now();
    const shortResult = await short.run(pool);
    const shortLatency = performance.now() - shortStart;
    const longsBefore = longsDone;
    await Promise.all(longs);
    const longTotal = performance.now() - start;

    short.expectMatchesReference(shortResult);
    expect(longsBefore, 'the short call finished while every long call was still running').toBe(0);
    // The long calls take seconds; the short one alone tens of milliseconds. Sharing the threads it
    // waits a slice or two per phase (~100 ms here), far below the long calls' time. The bound is a
    // ratio so that other processes slowing the machine down slow both sides alike.
    expect(shortLatency, `short call: ${shortLatency.toFixed(0)} ms while long calls ran (alone ${shortAlone.toFixed(0)} ms; long calls ${longTotal.toFixed(0)} ms)`)
      .toBeLessThan(longTotal / 4);
  }, TIMEOUT_MS);
});

describe('the event loop keeps turning while small calls run on the calling thread', () => {
  // Calls below the inline threshold run on the calling thread; callers that issue them in a loop
  // chain only promises, so without a macrotask hop per call timers and I/O would wait for the loop.
  const tiny = attentionCall({ seed: 73, B: 1, H: 2, Hkv: 2, Sq: 16, Sk: 16, D: 16, Dv: 16, causal: false, withLse: false });

  it('a 10 ms timer fires while 8 loops of tiny calls keep the pool busy for 600 ms', async () => {
    const pool = new AttentionPool({ threads: 2, kernel: 'js' });
    try {
      const start = performance.now();
      const deadline = start + 600;
      let timerFiredAt = Infinity;
      setTimeout(() => { timerFiredAt = performance.now(); }, 10);
      let calls = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (performance.now() < deadline) {
          tiny.expectMatchesReference(await tiny.run(pool));
          calls++;
        }
      }));
      expect(calls, 'tiny calls completed').toBeGreaterThan(8);
      expect(timerFiredAt - start, 'the timer fired long before the calls stopped').toBeLessThan(300);
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);
});
