// Soak: 2,400 small calls on one pool — valid ones on both the calling-thread and the worker path,
// aborted ones, invalid ones and refused ones — in a child process started with --expose-gc, which
// samples memory after a forced GC every 200 calls. After a 400-call warm-up (JIT, piscina's and
// V8's lazily grown structures), memory must not trend upward and no handle, timer or listener may
// accumulate. The pool uses its default kernel (wasm where available), as a server would.
//
// The bounds, and why they catch a leak without catching noise:
//   * heapUsed: +2 MiB over the last 2,000 calls. Any per-call object kept alive (a CallContext with
//     its closures, a settled promise chain, a job descriptor) is ≥ 1 KB, i.e. ≥ 2 MB over 2,000
//     calls; after a full GC the heap of a steady loop moves by a few hundred KB.
//   * arrayBuffers (ArrayBuffer and SharedArrayBuffer backing stores): the floor may rise by 8 MiB
//     between the first and the second half of the run. A SharedArrayBuffer is freed only once every
//     thread that saw it has collected its view, and the worker threads collect rarely (their heaps
//     barely grow), so this figure is a sawtooth of ~15 MB here, not something a GC on the main
//     thread settles; its minimum is what a leak would lift. Keeping each worker-path call's 48 KB
//     output would lift it by ~20 MB per 1,000 calls; the wasm kernel's WeakRef to its last job,
//     never released by workers in piscina's 'sync' atomics mode, lifted it by ~16 MB (so the pool
//     now runs piscina in 'async' mode, see attention-pool.ts).
//   * rss: +48 MiB. RSS also holds the worker threads' heaps (which this GC does not collect) and
//     malloc's retained pages, so it moves by tens of MB; keeping the outputs alone would add ~48 MB
//     per 1,000 calls, ~96 MB over the run.
//   * and the least-squares slope of heapUsed over the post-warm-up samples: < 0.5 MiB per 1,000 calls.

import { describe, expect, it } from 'vitest';
import { runChildScript } from './support/faults-child.js';

const CALLS = 2400;
const WARMUP = 400;
const SAMPLE_EVERY = 200;
const MiB = 1024 * 1024;

const SOAK = `
  const { AttentionPool, zeros } = await import(attnpool);
  const { getEventListeners } = await import('node:events');
  const pool = new AttentionPool({ threads: 2, maxQueue: 2 });
  const fill = (t) => { for (let i = 0; i < t.data.length; i++) t.data[i] = Math.sin(i * 0.7); return t; };
  const tiny = fill(zeros([1, 2, 16, 16]));          // ~33 kFLOP: the calling-thread path
  const small = fill(zeros([1, 4, 96, 32]));         // ~4.7 MFLOP: the worker path
  const x = fill(zeros([1, 24, 32]));
  const weights = { inProjWeight: fill(zeros([96, 32])), outProjWeight: fill(zeros([32, 32])) };
  const shared = new AbortController();               // one signal for every call: its listeners must not pile up
  const kinds = [
    () => pool.attention(tiny, tiny, tiny, { causal: true, signal: shared.signal }),
    () => pool.attention(small, small, small, { signal: shared.signal }),
    () => pool.multiHeadAttention(x, x, x, weights, { numHeads: 4, needWeights: 'average', signal: shared.signal }),
    () => { const c = new AbortController(); const p = pool.attention(small, small, small, { signal: c.signal }); setTimeout(() => c.abort(), 1); return p; },
    () => pool.attention(tiny, small, small),      // invalid: D differs
  ];
  const outcomes = {};
  const samples = [];
  const sample = (calls) => {
    globalThis.gc(); globalThis.gc();
    const m = process.memoryUsage();
    const handles = {};
    for (const h of process.getActiveResourcesInfo()) handles[h] = (handles[h] ?? 0) + 1;
    samples.push({ calls, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss, handles, listeners: getEventListeners(shared.signal, 'abort').length });
  };
  // 8 calls at a time, all entering the pool's gate at once: 4 run, 2 wait (maxQueue 2) and the
  // valid rest is refused (QueueFullError), so every path is soaked.
  for (let done = 0; done < ${CALLS}; done += 8) {
    const batch = Array.from({ length: 8 }, (_, n) => kinds[(done + n) % kinds.length]().then(() => 'ok', (e) => e.name));
    for (const outcome of await Promise.all(batch)) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if ((done + 8) % ${SAMPLE_EVERY} === 0) {
      // An aborted call rejects at once, while its tasks finish their current tile in the workers; let
      // those drain (and the 1 ms abort timers fire) so the sample sees the pool at rest.
      await new Promise((resolve) => setTimeout(resolve, 50));
      sample(done + 8);
    }
  }
  await pool.close();
  console.log(JSON.stringify({ samples, outcomes }));
`;

interface Sample {
  readonly calls: number;
  readonly heapUsed: number;
  readonly arrayBuffers: number;
  readonly rss: number;
  readonly handles: Record<string, number>;
  readonly listeners: number;
}

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

describe('soak', () => {
  it(`${CALLS} small calls: no upward memory trend, nothing accumulates`, async () => {
    const { reports, exitCode } = await runChildScript(SOAK, { execArgv: ['--expose-gc'], killAfterMs: 120_000 });
    expect(exitCode).toBe(0);
    const { samples, outcomes } = reports[0] as { samples: Sample[]; outcomes: Record<string, number> };
    expect(samples.length).toBe(CALLS / SAMPLE_EVERY);
    // Every kind of ending happened, and only the expected ones.
    expect(Object.keys(outcomes).sort()).toEqual(['AbortError', 'QueueFullError', 'RangeError', 'ok']);
    expect(outcomes.ok).toBeGreaterThan(CALLS / 2);

    const steady = samples.filter((s) => s.calls >= WARMUP);
    const [first, last] = [steady[0], steady[steady.length - 1]];
    const report = steady.map((s) => `${s.calls}: heap ${(s.heapUsed / MiB).toFixed(2)} ab ${(s.arrayBuffers / MiB).toFixed(2)} rss ${(s.rss / MiB).toFixed(1)}`).join('; ');
    expect(last.heapUsed - first.heapUsed, `heapUsed growth (MiB ${report})`).toBeLessThan(2 * MiB);
    const floor = (part: readonly Sample[]) => Math.min(...part.map((s) => s.arrayBuffers));
    const half = Math.floor(steady.length / 2);
    expect(floor(steady.slice(half)) - floor(steady.slice(0, half)), `arrayBuffers floor growth (${report})`).toBeLessThan(8 * MiB);
    expect(last.rss - first.rss, `rss growth (${report})`).toBeLessThan(48 * MiB);
    const heapSlope = slope(steady.map((s) => [s.calls, s.heapUsed]));
    expect(heapSlope * 1000, `heapUsed slope per 1,000 calls (${report})`).toBeLessThan(0.5 * MiB);

    for (const s of steady) {
      expect(s.handles, `handles at ${s.calls} calls`).toEqual(first.handles);
      expect(s.listeners, `abort listeners on the shared signal at ${s.calls} calls`).toBe(0);
    }
  }, 150_000);
});
