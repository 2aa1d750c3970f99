// The cancellation suite, written once and run against both engines (test/pool-abort.test.ts and
// test/remote-abort.test.ts): abort before dispatch, while queued, mid-phase at random moments, and
// after completion. Each must give a prompt AbortError (or, for an abort that comes too late, the
// right result), leave every other call's bits untouched, and lose no thread.

import { getEventListeners, setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameBits } from './compare.js';
import { attentionCall, expectSameResult, mixedCalls, runOneByOne, type AttentionEngine, type WorkloadResult } from './faults-workload.js';
import { attentionInputs, filledTensor, Rng } from './random.js';

export interface EngineUnderTest {
  readonly engine: AttentionEngine & { close(): Promise<void> };
  readonly threads: number;
  /** Live thread count, where the engine lets the test see it. */
  readonly liveThreads?: () => number;
}

const TIMEOUT_MS = 60_000;
/** An abort rejects the call synchronously (in-thread) or after one message to the host (remote); the
 *  slack is for a loaded 2-core machine running other test files alongside. */
const PROMPT_MS = 150;
/** B1 H8 S512 D64, ~270 MFLOP: long enough that it is certainly mid-phase 50 ms after it starts. */
const LONG = { B: 1, H: 8, Hkv: 8, Sq: 512, Sk: 512, D: 64, Dv: 64 } as const;

function expectAbortError(err: unknown, label: string): void {
  expect(err, label).toBeInstanceOf(Error);
  expect((err as Error).name, `${label}: ${String(err)}`).toBe('AbortError');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeAbortBehaviour(name: string, start: () => Promise<EngineUnderTest>): void {
  describe(`${name}: cancellation`, () => {
    let under: EngineUnderTest;
    let engine: EngineUnderTest['engine'];
    const calls = mixedCalls(31, 16);
    let baseline: WorkloadResult[];
    beforeAll(async () => {
      under = await start();
      engine = under.engine;
      baseline = await runOneByOne(engine, calls);
    }, TIMEOUT_MS);
    afterAll(async () => {
      await engine?.close();
    });

    const long = attentionInputs({ seed: 32, ...LONG });
    /** A long call writing into a caller-provided `out` full of sentinels, so "never ran" is visible. */
    function longCall(signal?: AbortSignal) {
      const out = filledTensor([LONG.B, LONG.H, LONG.Sq, LONG.Dv], -7);
      return { out, done: engine.attention(long.q, long.k, long.v, { out, ...(signal && { signal }) }) };
    }

    it('an already-aborted signal rejects at once and writes nothing', async () => {
      const controller = new AbortController();
      controller.abort();
      const { out, done } = longCall(controller.signal);
      const err = await done.then(() => 'resolved', (e: unknown) => e);
      expectAbortError(err, 'pre-aborted call');
      expect(out.data.every((x) => x === -7), 'out untouched').toBe(true);
    }, TIMEOUT_MS);

    it('a call aborted while queued rejects promptly and never runs; the running ones abort mid-phase', async () => {
      // 2 calls per thread run at once; more wait in the queue.
      const running = Array.from({ length: 2 * under.threads }, () => new AbortController());
      const first = running.map((c) => longCall(c.signal));
      const queuedController = new AbortController();
      const queued = longCall(queuedController.signal);
      await sleep(50);
      const abortedAt = performance.now();
      queuedController.abort();
      const queuedErr = await queued.done.then(() => 'resolved', (e: unknown) => e);
      expect(performance.now() - abortedAt, 'queued call rejected promptly').toBeLessThan(PROMPT_MS);
      expectAbortError(queuedErr, 'queued call');
      expect(queued.out.data.every((x) => x === -7), 'the queued call never ran').toBe(true);

      const midAt = performance.now();
      for (const c of running) c.abort();
      for (const { done } of first) expectAbortError(await done.then(() => 'resolved', (e: unknown) => e), 'running call');
      expect(performance.now() - midAt, 'running calls rejected promptly').toBeLessThan(PROMPT_MS);
    }, TIMEOUT_MS);

    it('random abort times: every call ends aborted or right, and nothing else is disturbed', async () => {
      const rng = new Rng(33);
      const tally = { rejected: 0, lateAbortResolved: 0, resolved: 0 };
      for (let round = 0; round < 6; round++) {
        const controllers = calls.map(() => new AbortController());
        const abortedAt: number[] = [];
        const settledAt: number[] = [];
        // Each call: no abort (40%), abort right after the call (before any thread sees it), or at a
        // random moment in the first 40 ms — before, during or after it runs.
        const plans = calls.map(() => (rng.uniform() < 0.4 ? 'none' : rng.uniform() < 0.2 ? 'sync' : 'timed'));
        const delays = calls.map(() => rng.uniform() * 40);
        // Shares call 0's fate and keeps the threads busy; its own outcome is not checked here.
        const extra = longCall(controllers[0].signal).done.catch(() => undefined);
        const outcomes = calls.map((call, n) => call.run(engine, controllers[n].signal).then(
          (result) => { settledAt[n] = performance.now(); return { result }; },
          (error: unknown) => { settledAt[n] = performance.now(); return { error }; },
        ));
        plans.forEach((plan, n) => {
          const abort = () => { abortedAt[n] = performance.now(); controllers[n].abort(); };
          if (plan === 'sync') abort();
          else if (plan === 'timed') setTimeout(abort, delays[n]);
        });
        const settled = await Promise.all(outcomes);
        await extra;
        await sleep(45); // every timed abort has fired, some after their call completed

        settled.forEach((outcome, n) => {
          const label = `round ${round}, ${plans[n]} abort: ${calls[n].label}`;
          if ('result' in outcome) {
            // Not aborted, or aborted too late: the result must be exactly right, and stay so.
            if (plans[n] === 'sync') throw new Error(`${label}: resolved although aborted before it could start`);
            expectSameResult(outcome.result, baseline[n], label);
            tally[plans[n] === 'none' ? 'resolved' : 'lateAbortResolved']++;
          } else {
            tally.rejected++;
            expect(plans[n], `${label}: rejected without an abort: ${String(outcome.error)}`).not.toBe('none');
            expectAbortError(outcome.error, label);
            expect(settledAt[n] - abortedAt[n], `${label}: rejected promptly`).toBeLessThan(PROMPT_MS);
          }
        });
        for (const c of controllers) expect(getEventListeners(c.signal, 'abort'), 'no abort listener left behind').toHaveLength(0);
      }
      // The timings really produced both outcomes (the seed fixes the plans, not the interleaving).
      expect(tally.rejected, JSON.stringify(tally)).toBeGreaterThan(10);
      expect(tally.resolved + tally.lateAbortResolved, JSON.stringify(tally)).toBeGreaterThan(10);
    }, TIMEOUT_MS);

    it('an abort after completion changes nothing', async () => {
      const controller = new AbortController();
      setMaxListeners(calls.length, controller.signal); // one listener per call in flight is expected
      const results = await Promise.all(calls.map((call) => call.run(engine, controller.signal)));
      const copies = results.map((r) => r.map((a) => a.slice()));
      controller.abort();
      await sleep(20);
      results.forEach((r, n) => r.forEach((a, m) => expectSameBits(a, copies[n][m], `${calls[n].label} [${m}] after a late abort`)));
      results.forEach((r, n) => expectSameResult(r, baseline[n], calls[n].label));
      expect(getEventListeners(controller.signal, 'abort'), 'no listener left on a signal shared by 16 calls').toHaveLength(0);
    }, TIMEOUT_MS);

    it('no thread was lost: the full pool still computes every call right', async () => {
      if (under.liveThreads) expect(under.liveThreads()).toBe(under.threads);
      const again = await Promise.all(calls.map((call) => call.run(engine)));
      again.forEach((r, n) => expectSameResult(r, baseline[n], calls[n].label));
      const call = attentionCall({ seed: 34, B: 1, H: 4, Hkv: 2, Sq: 256, Sk: 256, D: 32, Dv: 32, causal: true, withLse: true });
      call.expectMatchesReference(await call.run(engine));
    }, TIMEOUT_MS);
  });
}
