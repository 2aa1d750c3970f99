// An idle pool parks its threads (src/pool/serve-tasks.ts) once PARK_AFTER_MS (500 ms) have passed
// since its last call ended — not 500 ms after it first went idle while calls kept coming and going:
// its one park timer, armed at the first idle moment, waits again for what is left when it fires
// after later calls. A call on a parked pool unparks it and runs.

import { afterEach, describe, expect, it } from 'vitest';
import { tensor } from '../dist/src/index.js';
import { hookedPool } from './support/faults.js';
import type { AttentionPool } from '../dist/src/index.js';

const PARK_AFTER_MS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function input(S: number) {
  const t = tensor([1, 4, S, 64]);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.sin(i * 0.37);
  return t;
}

describe('parking an idle pool', () => {
  let pool: AttentionPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('parks PARK_AFTER_MS after the last call, never while calls come more often, and runs a call after', async () => {
    const hooked = hookedPool({ threads: 2 });
    pool = hooked.pool;
    const { hooks } = hooked;
    const q = input(256); // on the threads, not the calling thread
    const expected = await pool.attention(q, q, q);
    expect(hooks.parked, 'just after a call').toBe(false);
    // Calls 150 ms apart for ~1.2 s: well past PARK_AFTER_MS since the pool first went idle. A gap a
    // loaded machine stretched past PARK_AFTER_MS may rightly park: only shorter gaps are checked, and
    // most must be.
    const start = performance.now();
    let lastCall = performance.now(), checked = 0;
    while (performance.now() - start < 1200) {
      await sleep(150);
      const parked = hooks.parked, gap = performance.now() - lastCall;
      if (gap < PARK_AFTER_MS) {
        expect(parked, `${Math.round(gap)} ms after a call, ${Math.round(performance.now() - start)} ms into calls 150 ms apart`).toBe(false);
        checked++;
      }
      await pool.attention(q, q, q);
      lastCall = performance.now();
    }
    expect(checked, 'gaps shorter than PARK_AFTER_MS checked').toBeGreaterThanOrEqual(4);
    await sleep(PARK_AFTER_MS * 0.6);
    const parkedSoon = hooks.parked, gap = performance.now() - lastCall;
    if (gap < PARK_AFTER_MS) expect(parkedSoon, `${Math.round(gap)} ms after the last call`).toBe(false);
    while (!hooks.parked && performance.now() - lastCall < PARK_AFTER_MS + 2000) await sleep(20);
    expect(hooks.parked, 'well past PARK_AFTER_MS after the last call').toBe(true);
    const again = await pool.attention(q, q, q);
    expect(hooks.parked, 'a call unparks').toBe(false);
    expect(Buffer.from(again.data.buffer).equals(Buffer.from(expected.data.buffer))).toBe(true);
  });
});
