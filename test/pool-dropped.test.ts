// A pool or remote engine dropped without close() (issue 12, item 11): its threads end once it is
// garbage-collected — before, 20 dropped pools kept 40 worker threads (479 MiB) for the life of the
// process — but never while one of its calls is still running; and an idle pool never keeps the
// process alive. Checked in a child process run with --expose-gc, counting its OS threads in
// /proc/self/task (Linux).

import { describe, expect, it } from 'vitest';
import { runChildScript } from './support/faults-child.js';

const TIMEOUT_MS = 60_000;
const EXIT_WITHIN_MS = 2_000;

/** Shared by the child scripts: OS threads above the count at start, and a loop of full GCs that
 *  ends once the count is back to `target` (finalizers run between event-loop turns) or after 10 s. */
const HELPERS = `
  const { readdirSync } = await import('node:fs');
  const { AttentionPool: WarmUpPool, zeros } = await import(attnpool);
  const input = (S) => {
    const t = zeros([1, 4, S, 64]);
    for (let i = 0; i < t.data.length; i++) t.data[i] = Math.sin(i * 0.01);
    return t;
  };
  // The process's own threads that start on first use (libuv's pool for loading worker files, V8's
  // helpers) are counted in the base: one pool is used and closed first.
  const warmUp = new WarmUpPool({ threads: 2 });
  await warmUp.attention(input(256), input(256), input(256));
  await warmUp.close();
  const base = readdirSync('/proc/self/task').length;
  const extraThreads = () => readdirSync('/proc/self/task').length - base;
  const collectUntil = async (target) => {
    const deadline = performance.now() + 10_000;
    do {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (extraThreads() > target && performance.now() < deadline);
    return extraThreads();
  };
`;

interface DropReport {
  readonly whileHeld: number;
  readonly afterGc: number;
}

describe('dropped without close()', () => {
  it('20 AttentionPools: their threads end once collected, and the process exits by itself', async () => {
    const { reports, exitCode, exitAfterFirstReportMs } = await runChildScript(`${HELPERS}
      const { AttentionPool } = await import(attnpool);
      const q = input(256); // 67 Mflop: runs in the workers
      // In a function of its own: a finished async function's frame no longer holds the last pool.
      const whileHeld = await (async () => {
        const held = [];
        for (let n = 0; n < 20; n++) {
          const pool = new AttentionPool({ threads: 2 });
          await pool.attention(q, q, q);
          pool.createKvCache({ batch: 1, kvHeads: 4, headDim: 64, capacity: 8 });
          held.push(pool);
        }
        return extraThreads();
      })();
      console.log(JSON.stringify({ whileHeld, afterGc: await collectUntil(0) }));
    `, { execArgv: ['--expose-gc'] });
    const report = reports[0] as DropReport;
    expect(report.whileHeld, 'threads of 20 pools while referenced').toBeGreaterThanOrEqual(40);
    expect(report.afterGc, 'threads left after the pools were collected').toBe(0);
    expect(exitCode).toBe(0);
    expect(exitAfterFirstReportMs).toBeLessThan(EXIT_WITHIN_MS);
  }, TIMEOUT_MS);

  it('a pool dropped while its call runs finishes the call, with the bits of a pool kept alive', async () => {
    const { reports, exitCode } = await runChildScript(`${HELPERS}
      const { AttentionPool } = await import(attnpool);
      const q = input(1024); // ~1 Gflop: GCs run while it is in flight
      const kept = new AttentionPool({ threads: 1 });
      const expected = await kept.attention(q, q, q, { causal: true });
      await kept.close();
      const running = new AttentionPool({ threads: 2 }).attention(q, q, q, { causal: true });
      let collections = 0, settled = false;
      running.finally(() => { settled = true; });
      while (!settled) { globalThis.gc(); collections++; await new Promise((resolve) => setTimeout(resolve, 20)); }
      const result = await running;
      let differing = 0;
      for (let i = 0; i < result.data.length; i++) if (!Object.is(result.data[i], expected.data[i])) differing++;
      console.log(JSON.stringify({ collections, differing, length: result.data.length, afterGc: await collectUntil(0) }));
    `, { execArgv: ['--expose-gc'] });
    expect(reports[0]).toMatchObject({ differing: 0, length: 1024 * 4 * 64, afterGc: 0 });
    expect((reports[0] as { collections: number }).collections, 'GCs while the call ran').toBeGreaterThan(1);
    expect(exitCode).toBe(0);
  }, TIMEOUT_MS);

  it('3 remote engines: their host threads and pools end once collected', async () => {
    const { reports, exitCode, exitAfterFirstReportMs } = await runChildScript(`${HELPERS}
      const { createRemoteEngine } = await import(attnpool);
      const q = input(256);
      const whileHeld = await (async () => {
        const held = [];
        for (let n = 0; n < 3; n++) {
          const engine = await createRemoteEngine({ threads: 2 });
          await engine.attention(q, q, q);
          held.push(engine);
        }
        return extraThreads();
      })();
      console.log(JSON.stringify({ whileHeld, afterGc: await collectUntil(0) }));
    `, { execArgv: ['--expose-gc'] });
    const report = reports[0] as DropReport;
    expect(report.whileHeld, 'host and pool threads of 3 engines while referenced').toBeGreaterThanOrEqual(9);
    expect(report.afterGc, 'threads left after the engines were collected').toBe(0);
    expect(exitCode).toBe(0);
    expect(exitAfterFirstReportMs).toBeLessThan(EXIT_WITHIN_MS);
  }, TIMEOUT_MS);
});
