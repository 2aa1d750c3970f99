// Helpers for suites that use the pool's test-only hooks (testkit/test-hooks.ts): a pool built with
// them, waiting until its thread count is back, and until its threads are inside a phase.

import { AttentionPool, type AttentionPoolOptions } from '../../dist/src/index.js';
import { hooksOption } from '../../dist/testkit/hooks-option.js';
import { TestHooks } from '../../dist/testkit/test-hooks.js';

export { FAULT_EXIT_CODE, FAULT_KINDS, TestHooks, type FaultKind } from '../../dist/testkit/test-hooks.js';

/** A query length no workload call uses: a fault aimed at it hits only the call built for it. */
export const VICTIM_SQ = 997;

export function hookedPool(options: AttentionPoolOptions): { pool: AttentionPool; hooks: TestHooks } {
  const hooks = new TestHooks();
  const pool = new AttentionPool({ ...options, ...hooksOption(hooks) });
  return { pool, hooks };
}

/** Resolves once `threads` threads are inside a phase (their board cells name a slot); rejects after
 *  `timeoutMs`. Polls every macrotask turn: a phase this waits on lasts ~100 ms. */
export async function untilThreadsInside(hooks: TestHooks, threads: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (hooks.threadsInside !== threads) {
    if (performance.now() > deadline) throw new Error(`${hooks.threadsInside} threads inside a phase after ${timeoutMs} ms, expected ${threads}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves once `hooks` reports `threads` live threads; rejects after `timeoutMs`. */
export async function untilLiveThreads(hooks: TestHooks, threads: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (hooks.liveThreads !== threads) {
    if (performance.now() > deadline) throw new Error(`the pool has ${hooks.liveThreads} live threads after ${timeoutMs} ms, expected ${threads}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
