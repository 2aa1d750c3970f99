// A long call lets go of the threads within a slice (issue 12, item 9). q [1, 8, 128, 64] against
// 2^20 keys has tiles of seconds each (every tile spans all the keys its rows see); the kernels now
// check between steps of ~1 ms of work, so after an abort or beside such a call a small call finishes
// in about its own time plus one 20 ms slice (before: 4–6 s here), and close() returns at once.
// Pausing a tile for another call must change no bit: a long-key call gives the same bits for 1, 2 and
// 3 threads, alone or sharing the threads with other calls, and matches the float64 reference.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { KERNELS } from './support/kernels.js';
import { randomTensor, Rng } from './support/random.js';
import { referenceAttention } from './support/reference.js';

/** Generous for a loaded 2-core machine: the work itself is a few ms, the slice 20 ms. */
const PROMPT_MS = 1000;
/** Long enough that the long call is inside its first tiles on every thread. */
const RUN_BEFORE_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// k and v: 2^20 keys of one kv head, 256 MiB each (zeros: the cost is the same, filling them is not).
const long = { q: randomTensor(new Rng(1), [1, 8, 128, 64]), k: zeros([1, 1, 1 << 20, 64]), v: zeros([1, 1, 1 << 20, 64]) };
// Large enough to run on the workers, not on the calling thread.
const smallRng = new Rng(2);
const small = { q: randomTensor(smallRng, [1, 8, 64, 64]), k: randomTensor(smallRng, [1, 8, 256, 64]), v: randomTensor(smallRng, [1, 8, 256, 64]) };

async function msFor(call: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await call();
  return performance.now() - t0;
}

function startLong(pool: AttentionPool, signal?: AbortSignal): Promise<unknown> {
  return pool.attention(long.q, long.k, long.v, { signal }).then(() => 'resolved', (err: unknown) => err);
}

describe.each(KERNELS)('kernel %s', (kernel) => {
  describe('a long call and a small one', () => {
    let pool: AttentionPool;
    beforeAll(async () => {
      pool = new AttentionPool({ threads: 2, kernel });
      await pool.attention(small.q, small.k, small.v); // threads started and warm
    });
    afterAll(() => pool.close());

    it(`after an abort the threads are free: a small call finishes within ${PROMPT_MS} ms`, async () => {
      const controller = new AbortController();
      const done = startLong(pool, controller.signal);
      await sleep(RUN_BEFORE_MS);
      controller.abort();
      const ms = await msFor(() => pool.attention(small.q, small.k, small.v));
      expect(ms, 'small call after the abort (ms)').toBeLessThan(PROMPT_MS);
      expect((await done as Error).name).toBe('AbortError');
    });

    it(`beside a running long call, small calls each finish within ${PROMPT_MS} ms`, async () => {
      const controller = new AbortController();
      const done = startLong(pool, controller.signal);
      await sleep(RUN_BEFORE_MS);
      try {
        for (let n = 0; n < 3; n++) {
          expect(await msFor(() => pool.attention(small.q, small.k, small.v)), `small call ${n} (ms)`).toBeLessThan(PROMPT_MS);
        }
      } finally {
        controller.abort();
        await done;
      }
    });
  });

  it(`close() during a long call returns within ${PROMPT_MS} ms`, async () => {
    const pool = new AttentionPool({ threads: 2, kernel });
    await pool.attention(small.q, small.k, small.v);
    const done = startLong(pool);
    await sleep(RUN_BEFORE_MS);
    expect(await msFor(() => pool.close()), 'close (ms)').toBeLessThan(PROMPT_MS);
    expect((await done as Error).name).toBe('PoolClosedError');
  });
});

describe.each(KERNELS)('kernel %s: long-key calls give the same bits whatever the threads and whoever shares them', (kernel) => {
  // 64 row tiles (never split-KV), each over all Sk keys: tens (wasm) to hundreds (js) of ms per tile,
  // so tiles pause mid-way while other calls wait.
  const Sk = kernel === 'wasm' ? 24000 : 6144;
  const rng = new Rng(3);
  const q = randomTensor(rng, [1, 8, 128, 16]), k = randomTensor(rng, [1, 1, Sk, 16]), v = randomTensor(rng, [1, 1, Sk, 16]);
  const pools = [1, 2, 3].map((threads) => new AttentionPool({ threads, kernel }));
  afterAll(() => Promise.all(pools.map((p) => p.close())));

  async function call(pool: AttentionPool): Promise<{ out: Float32Array; lse: Float32Array }> {
    const lse = zeros([1, 8, 128]);
    const out = await pool.attention(q, k, v, { causal: true, lse });
    return { out: out.data as Float32Array, lse: lse.data };
  }

  it('1, 2 and 3 threads alone, and 1 and 2 threads shared with a stream of other calls; the reference', async () => {
    const alone = await call(pools[0]);
    expectAttentionClose(alone.out, alone.lse, referenceAttention(q, k, v, { causal: true }), '1 thread');
    for (const pool of pools.slice(1)) {
      const r = await call(pool);
      expectSameBits(r.out, alone.out, `${pool.threads} threads out`);
      expectSameBits(r.lse, alone.lse, `${pool.threads} threads lse`);
    }
    for (const pool of pools.slice(0, 2)) {
      let finished = false;
      const shared = call(pool).finally(() => { finished = true; });
      let others = 0;
      while (!finished) {
        await pool.attention(small.q, small.k, small.v);
        others++;
      }
      const r = await shared;
      expect(others, 'calls that shared the threads').toBeGreaterThan(1);
      expectSameBits(r.out, alone.out, `${pool.threads} threads, shared: out`);
      expectSameBits(r.lse, alone.lse, `${pool.threads} threads, shared: lse`);
    }
  });
});
