// Crash recovery. A worker thread fails in the middle of a call — its kernel throws, the thread calls
// process.exit, or it runs out of memory — while other calls share the pool. The affected call must
// reject with a WorkerFailedError that says what happened, every other call must complete with the
// right bits, the pool must return to its full thread count, and the next call must succeed.
// Faults are injected through the test-only hooks (testkit/test-hooks.ts, testkit/fault-plan.ts).

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as attnpool from '../dist/src/index.js';
import { AttentionPool, WorkerFailedError } from '../dist/src/index.js';
import { FAULT_EXIT_CODE, hookedPool, untilLiveThreads, VICTIM_SQ, type FaultKind, type TestHooks } from './support/faults.js';
import { attentionCall, expectSameResult, mhaCall, mixedCalls, runOneByOne, type WorkloadCall, type WorkloadResult } from './support/faults-workload.js';

const TIMEOUT_MS = 60_000;
const THREADS = 2;
const bystanders = mixedCalls(9, 12);

interface FaultCase {
  readonly kind: FaultKind;
  readonly victim: WorkloadCall;
  /** What the rejection's message must say. */
  readonly says: RegExp;
  /** Whether the thread dies (and piscina starts a replacement) or survives the fault. */
  readonly threadDies: boolean;
}

const faultCases: readonly FaultCase[] = [
  {
    kind: 'throw', threadDies: false, says: /^attention: a worker thread failed: injected fault: the kernel threw$/,
    victim: attentionCall({ seed: 91, B: 1, H: 2, Hkv: 1, Sq: VICTIM_SQ, Sk: 128, D: 32, Dv: 32, causal: true, withLse: true }),
  },
  {
    kind: 'exit', threadDies: true, says: new RegExp(`^multiHeadAttention: a worker thread failed: .*exited with code:? ${FAULT_EXIT_CODE}`),
    victim: mhaCall({ seed: 92, B: 1, Sq: VICTIM_SQ, Sk: 64, E: 16, numHeads: 2, selfAttention: false, causal: false, needWeights: 'average' }),
  },
  {
    kind: 'oom', threadDies: true, says: /^attention: a worker thread failed: .*memory limit.*out of memory/i,
    victim: attentionCall({ seed: 93, B: 1, H: 2, Hkv: 2, Sq: VICTIM_SQ, Sk: 96, D: 16, Dv: 24, causal: false, withLse: false }),
  },
];

describe('fault injection: a failing thread costs only its own call', () => {
  let pool: AttentionPool;
  let hooks: TestHooks;
  let baseline: WorkloadResult[];
  beforeAll(async () => {
    ({ pool, hooks } = hookedPool({ threads: THREADS, kernel: 'js' }));
    baseline = await runOneByOne(pool, bystanders); // nothing armed yet
    await untilLiveThreads(hooks, THREADS);
  }, TIMEOUT_MS);
  afterAll(async () => {
    await pool?.close();
  });

  it.each(faultCases)('$kind', async ({ kind, victim, says, threadDies }) => {
    const firedBefore = hooks.faultsFired;
    const startedBefore = hooks.threadsStarted;
    hooks.arm(kind, VICTIM_SQ);
    // The victim goes in the middle of the bystanders, so calls are running on every thread when it fails.
    const half = bystanders.length / 2;
    const settled = await Promise.allSettled([
      ...bystanders.slice(0, half).map((call) => call.run(pool)),
      victim.run(pool),
      ...bystanders.slice(half).map((call) => call.run(pool)),
    ]);
    const victimOutcome = settled.splice(half, 1)[0];

    expect(hooks.faultsFired, 'the fault fired exactly once').toBe(firedBefore + 1);
    expect(victimOutcome.status).toBe('rejected');
    const err = (victimOutcome as PromiseRejectedResult).reason as Error;
    expect(err).toBeInstanceOf(WorkerFailedError);
    expect(err.name).toBe('WorkerFailedError');
    expect(err.message).toMatch(says);

    settled.forEach((outcome, n) => {
      if (outcome.status === 'rejected') throw new Error(`${bystanders[n].label} rejected: ${String(outcome.reason)}`);
      expectSameResult(outcome.value, baseline[n], bystanders[n].label);
    });

    await untilLiveThreads(hooks, THREADS);
    expect(hooks.threadsStarted - startedBefore, threadDies ? 'one replacement thread' : 'no thread lost, none replaced').toBe(threadDies ? 1 : 0);

    // Disarmed now: the same call succeeds and is right, and so is a full round of the others.
    victim.expectMatchesReference(await victim.run(pool));
    const again = await Promise.all(bystanders.map((call) => call.run(pool)));
    again.forEach((result, n) => expectSameResult(result, baseline[n], `after the ${kind} fault: ${bystanders[n].label}`));
  }, TIMEOUT_MS);
});

describe('the fault hooks are not reachable from the public API', () => {
  it.each([
    ['Symbol()', Symbol('attnpool.poolHooks')],
    ['Symbol.for()', Symbol.for('attnpool.poolHooks')],
  ])('the package entry exports nothing of them, and a look-alike %s option is ignored', async (_, lookalikeKey) => {
    const names = Object.keys(attnpool);
    expect(names.filter((n) => /hook|fault/i.test(n))).toEqual([]);
    // Hooks that would break every call if the pool took them: a worker file that does not exist and a
    // split length the planner refuses. Under another symbol than the pool's own, the pool runs normally.
    const breaking = {
      piscinaOptions: () => ({ filename: 'file:///nonexistent/worker.js', workerData: { wasmModule: null } }),
      splitKv: { keysPerSplit: 1 },
    };
    const pool = new AttentionPool({ threads: 1, kernel: 'js', [lookalikeKey]: breaking } as attnpool.AttentionPoolOptions);
    try {
      const call = attentionCall({ seed: 94, B: 1, H: 1, Hkv: 1, Sq: VICTIM_SQ, Sk: 40, D: 8, Dv: 8, causal: false, withLse: false });
      call.expectMatchesReference(await call.run(pool));
    } finally {
      await pool.close();
    }
  }, TIMEOUT_MS);

  it("package.json's exports refuse the hooks' key and the testkit to anyone importing attnpool by name", async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    // Node resolves a package's own name through its `exports` (self-reference), as it would for a user.
    // (The package does not ship dist/testkit at all: test/package.test.ts checks the tarball.)
    const probe = `
      const entry = await import('attnpool');
      const deep = {};
      for (const path of ['dist/src/pool/pool-hooks.js', 'dist/testkit/test-hooks.js', 'dist/testkit/hooks-option.js']) {
        try { await import('attnpool/' + path); deep[path] = 'imported'; } catch (err) { deep[path] = err.code; }
      }
      console.log(JSON.stringify({ entry: typeof entry.AttentionPool, deep }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe], { cwd: root });
    expect(JSON.parse(stdout)).toEqual({
      entry: 'function',
      deep: {
        'dist/src/pool/pool-hooks.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
        'dist/testkit/test-hooks.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
        'dist/testkit/hooks-option.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      },
    });
  }, TIMEOUT_MS);
});
