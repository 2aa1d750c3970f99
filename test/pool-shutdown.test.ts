// Shutdown: close() with calls in flight and waiting rejects them all at once with PoolClosedError,
// ends every thread, and leaves nothing that keeps the process alive — checked in a child process
// that must exit by itself right after close(), for the in-thread pool and for the remote engine.

import { afterAll, describe, expect, it } from 'vitest';
import { PoolClosedError } from '../dist/src/index.js';
import { hookedPool } from './support/faults.js';
import { runChildScript } from './support/faults-child.js';
import { attentionCall } from './support/faults-workload.js';

const TIMEOUT_MS = 60_000;
/** B1 H8 S512 D64: ~270 MFLOP, about a second per call here, so every call is still running at close. */
const long = attentionCall({ seed: 81, B: 1, H: 8, Hkv: 8, Sq: 512, Sk: 512, D: 64, Dv: 64, causal: false, withLse: true });
/** close() must reject every call within this: it rejects synchronously; the slack is for a loaded machine. */
const PROMPT_MS = 100;

describe('close() with calls in flight', () => {
  const { pool, hooks } = hookedPool({ threads: 2, kernel: 'js' });
  afterAll(async () => {
    await pool.close();
  });

  it('rejects running and waiting calls with PoolClosedError at once, and ends every thread', async () => {
    // 2 threads admit 4 running calls; the other 2 wait in the gate's queue.
    const settledAt: number[] = [];
    const calls = Array.from({ length: 6 }, (_, n) => long.run(pool).finally(() => { settledAt[n] = performance.now(); }));
    const outcomes = Promise.allSettled(calls);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closeAt = performance.now();
    const closed = pool.close();
    for (const outcome of await outcomes) {
      expect(outcome.status).toBe('rejected');
      const err = (outcome as PromiseRejectedResult).reason as Error;
      expect(err).toBeInstanceOf(PoolClosedError);
      expect(err.message).toBe('attention: the pool is closed');
    }
    for (const at of settledAt) expect(at - closeAt, 'rejected promptly after close()').toBeLessThan(PROMPT_MS);
    await closed;
    expect(hooks.liveThreads, 'threads alive after close()').toBe(0);

    const later = await long.run(pool).then(() => undefined, (e: unknown) => e);
    expect(later).toBeInstanceOf(PoolClosedError);
    await pool.close(); // again: resolves, nothing left to do
  }, TIMEOUT_MS);
});

/** The child's part: long calls in flight, close(), then report how each call ended and which
 *  handles are still open (process.getActiveResourcesInfo). It must then exit by itself, without
 *  process.exit, within EXIT_WITHIN_MS. */
const CHILD_BODY = `
  const calls = Array.from({ length: 6 }, () => engine.attention(q, q, q).then(() => 'resolved', (e) => e.name));
  await new Promise((resolve) => setTimeout(resolve, 150));
  await engine.close();
  const outcomes = await Promise.all(calls);
  const after = await engine.attention(q, q, q).then(() => 'resolved', (e) => e.name);
  console.log(JSON.stringify({ outcomes, after, handles: process.getActiveResourcesInfo() }));
`;
const EXIT_WITHIN_MS = 2_000;

describe('the process exits promptly after close()', () => {
  it.each([
    ['AttentionPool', `const { AttentionPool, zeros } = await import(attnpool);
      const engine = new AttentionPool({ threads: 2, kernel: 'js' });`],
    ['the remote engine', `const { createRemoteEngine, zeros } = await import(attnpool);
      const engine = await createRemoteEngine({ threads: 2, kernel: 'js' });`],
  ])('%s', async (_name, setup) => {
    const script = `${setup}
      const q = zeros([1, 8, 512, 64]);
      for (let i = 0; i < q.data.length; i++) q.data[i] = Math.sin(i);
      ${CHILD_BODY}`;
    const { reports: [report], exitCode, exitAfterFirstReportMs: exitAfterMs } = await runChildScript(script);
    expect(report).toMatchObject({ outcomes: new Array(6).fill('PoolClosedError'), after: 'PoolClosedError' });
    // Only the pipes to this process may remain (stdout/stderr), no worker, port or timer.
    const handles = (report as { handles: string[] }).handles;
    expect(handles.filter((h) => !['PipeWrap', 'TTYWrap'].includes(h)), `open handles: ${handles}`).toEqual([]);
    expect(exitCode).toBe(0);
    expect(exitAfterMs, 'exit after close()').toBeLessThan(EXIT_WITHIN_MS);
  }, TIMEOUT_MS);
});
