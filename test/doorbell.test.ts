// workers/board/doorbell.ts across real threads: every ring wakes an idle thread, whether the thread
// is still spinning (its wake word changes under it, no notify) or already asleep in Atomics.wait (the
// ring sees its sleep word and notifies). Rings come at once and after the spin window, so that both
// paths are taken; a lost wake-up shows as posted work nobody takes.

import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { ring, ringAll } from '../dist/workers/board/doorbell.js';
import { CLOSING, DOORBELL, THREADS as THREADS_FIELD, boardInts, sleepAt } from '../dist/workers/board/layout.js';

const TAKEN = 0;
const POSTED = 1;
const THREADS = 3;

/** As a serve task does (workers/board/serve.ts): reads DOORBELL, takes posted work if there is any
 *  (work[POSTED] items posted, work[TAKEN] taken: one compare-exchange each, notifying TAKEN), else
 *  waits for a ring after that read. */
const SERVER = `
const { workerData } = require('node:worker_threads');
const { doorbell, layout, board, work, threads, index, spinMs } = workerData;
Promise.all([import(doorbell), import(layout)]).then(([{ waitForRing }, { CLOSING, DOORBELL }]) => {
  for (;;) {
    const bell = Atomics.load(board, DOORBELL);
    if (Atomics.load(board, CLOSING) !== 0) return;
    const taken = Atomics.load(work, ${TAKEN});
    if (taken < Atomics.load(work, ${POSTED})) {
      if (Atomics.compareExchange(work, ${TAKEN}, taken, taken + 1) === taken) Atomics.notify(work, ${TAKEN});
      continue;
    }
    waitForRing(board, threads, index, bell, 60000, spinMs);
  }
});`;

const ANSWER_TIMEOUT_MS = 5_000;

describe('doorbell', () => {
  let workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.terminate()));
    workers = [];
  });

  function start(spinMs: number): { board: Int32Array; work: Int32Array } {
    const board = new Int32Array(new SharedArrayBuffer(boardInts({ threads: THREADS, slots: 1 }) * 4));
    board[THREADS_FIELD] = THREADS; // as the pool's board does: ringAll reads it
    const work = new Int32Array(new SharedArrayBuffer(8));
    const doorbell = new URL('../dist/workers/board/doorbell.js', import.meta.url).href;
    const layout = new URL('../dist/workers/board/layout.js', import.meta.url).href;
    for (let index = 0; index < THREADS; index++) {
      workers.push(new Worker(SERVER, { eval: true, workerData: { doorbell, layout, board, work, threads: THREADS, index, spinMs } }));
    }
    return { board, work };
  }

  /** Posts one item of work and rings; whether a thread takes it within ANSWER_TIMEOUT_MS. */
  async function postAndRing(board: Int32Array, work: Int32Array): Promise<boolean> {
    const count = Atomics.add(work, POSTED, 1) + 1;
    ring(board, THREADS);
    const deadline = performance.now() + ANSWER_TIMEOUT_MS;
    for (let seen = Atomics.load(work, TAKEN); seen < count; seen = Atomics.load(work, TAKEN)) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const waited = Atomics.waitAsync(work, TAKEN, seen, left);
      if (waited.async) await waited.value;
    }
    return true;
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function allAsleep(board: Int32Array): Promise<boolean> {
    const deadline = performance.now() + ANSWER_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (Array.from({ length: THREADS }, (_, w) => Atomics.load(board, sleepAt(THREADS, w))).every((s) => s === 1)) return true;
      await sleep(5);
    }
    return false;
  }

  for (const spinMs of [0, 20]) {
    it(`answers every ring, spinning ${spinMs} ms first, rung at once and after the window`, async () => {
      const { board, work } = start(spinMs);
      expect(await allAsleep(board)).toBe(true); // every thread past its window: the notify path
      let ringsToSleepers = 0;
      const rings = 60;
      for (let i = 1; i <= rings; i++) {
        // The thread a ring wakes is the lowest idle one; rung while all three sleep, it must be notified.
        if ([0, 1, 2].every((w) => Atomics.load(board, sleepAt(THREADS, w)) === 1)) ringsToSleepers++;
        expect(await postAndRing(board, work), `ring ${i} answered`).toBe(true);
        if (i % 3 === 0) await sleep(2 * spinMs + 5); // past the spin window: the next ring finds sleepers
      }
      expect(Atomics.load(work, TAKEN)).toBe(rings);
      expect(ringsToSleepers).toBeGreaterThan(0);
      // With a window, most rings right after an answer find the answering thread still spinning.
      if (spinMs > 0) expect(ringsToSleepers).toBeLessThan(rings);
    });
  }

  it('ringAll wakes sleeping and spinning threads alike, and CLOSING ends them', async () => {
    const { board } = start(20);
    expect(await allAsleep(board)).toBe(true);
    Atomics.store(board, CLOSING, 1);
    ringAll(board);
    const exits = workers.map((w) => new Promise<number>((resolve) => w.once('exit', resolve)));
    const ended = await Promise.race([Promise.all(exits).then(() => true), sleep(ANSWER_TIMEOUT_MS).then(() => false)]);
    expect(ended).toBe(true);
    expect(Atomics.load(board, DOORBELL)).toBe(1);
  });
});
