// Thread counts far above the cores (issue 12, item 10): `threads` up to 1024 is accepted, but only
// as many threads as there are cores start with the pool; the others start when a phase first has
// tiles for them. Before, `threads: 256` on 2 cores started all 256 at construction (32 s, 1.3 GiB).
// Results stay those of a 1-thread pool, bit for bit, and close() ends every thread that started.

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { AttentionPool, INLINE_MAX_FLOPS } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { hookedPool, untilLiveThreads } from './support/faults.js';
import { attentionInputs } from './support/random.js';
import { referenceAttention } from './support/reference.js';

const TIMEOUT_MS = 60_000;
const THREADS = 256;

// B1 H2 Sq32 Sk1024 D64: 17 Mflop, so it runs in the workers; the planner cuts it into at most a few
// tiles per head (32 rows in blocks of at least 16, at most one 1024-key split), far fewer than 256.
const spec = { seed: 31, B: 1, H: 2, Hkv: 2, Sq: 32, Sk: 1024, D: 64, Dv: 64 };
const FEW_TILES = 16;

describe(`a pool of ${THREADS} threads on ${availableParallelism()} cores`, () => {
  it('starts only as many threads as there are cores, and a small call only those it has tiles for', async () => {
    expect(2 * spec.B * spec.H * spec.Sq * (spec.D + spec.Dv) * spec.Sk).toBeGreaterThan(INLINE_MAX_FLOPS);
    const eager = Math.min(THREADS, availableParallelism());
    const started = performance.now();
    const { pool, hooks } = hookedPool({ threads: THREADS });
    try {
      // Starting a thread takes 30–100 ms of a core here; 256 of them took 32 s.
      expect(performance.now() - started, 'construction time (ms)').toBeLessThan(1_000);
      expect(pool.threads).toBe(THREADS);
      await untilLiveThreads(hooks, eager);
      await new Promise((resolve) => setTimeout(resolve, 200)); // no more arrive
      expect(hooks.threadsStarted, 'threads started by the constructor').toBe(eager);

      const inputs = attentionInputs(spec);
      const single = new AttentionPool({ threads: 1 });
      try {
        const expected = await single.attention(inputs.q, inputs.k, inputs.v, { causal: true });
        expectAttentionClose(expected.data, undefined, referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true }), '1 thread');
        const result = await pool.attention(inputs.q, inputs.k, inputs.v, { causal: true });
        expectSameBits(result.data, expected.data, `${THREADS} threads`);
      } finally {
        await single.close();
      }
      expect(hooks.threadsStarted, 'threads started after a small call').toBeLessThanOrEqual(eager + FEW_TILES);
    } finally {
      await pool.close();
    }
    expect(hooks.liveThreads, 'threads alive after close()').toBe(0);
  }, TIMEOUT_MS);

  it('a call with a tile for every thread starts them all, and they stay for the next call', async () => {
    // 8 threads: more than the cores of a small machine, few enough to start quickly.
    const threads = 8;
    const { pool, hooks } = hookedPool({ threads });
    try {
      // B1 H8 Sq512: the planner gives every thread several tiles (TILES_PER_THREAD).
      const inputs = attentionInputs({ seed: 32, B: 1, H: 8, Hkv: 8, Sq: 512, Sk: 512, D: 32, Dv: 32 });
      const first = await pool.attention(inputs.q, inputs.k, inputs.v);
      await untilLiveThreads(hooks, threads);
      const startedAfterFirst = hooks.threadsStarted;
      expect(startedAfterFirst).toBe(threads);
      const second = await pool.attention(inputs.q, inputs.k, inputs.v);
      expectSameBits(second.data, first.data, 'second call');
      expect(hooks.threadsStarted, 'no thread started again').toBe(startedAfterFirst);
    } finally {
      await pool.close();
    }
    expect(hooks.liveThreads).toBe(0);
  }, TIMEOUT_MS);
});
