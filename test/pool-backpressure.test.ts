// Back-pressure: maxQueue bounds the calls waiting for a turn. With every running slot taken and the
// queue full, the next call rejects at once with QueueFullError, however fast callers push; a slot
// freed by an abort is taken by the next caller; nothing stays held by a refused call. Run on the
// in-thread pool and through the remote engine (whose host enforces the same bound).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine, QueueFullError } from '../dist/src/index.js';
import type { AttentionEngine } from './support/faults-workload.js';
import { attentionCall } from './support/faults-workload.js';
import { attentionInputs } from './support/random.js';

const TIMEOUT_MS = 60_000;
const MAX_QUEUE = 3;
/** One thread runs 2 calls at once (src/pool/attention-pool.ts: RUNNING_CALLS_PER_THREAD, at least 2). */
const RUNNING = 2;
const PROMPT_MS = 150;
// B1 H8 S512 D64: ~270 MFLOP, seconds on one thread: still running when the test is done with it.
const long = attentionInputs({ seed: 61, B: 1, H: 8, Hkv: 8, Sq: 512, Sk: 512, D: 64, Dv: 64 });

type Engine = AttentionEngine & { close(): Promise<void> };

const engines: readonly [string, (maxQueue: number) => Promise<Engine>][] = [
  ['AttentionPool', async (maxQueue) => new AttentionPool({ threads: 1, maxQueue, kernel: 'js' })],
  ['remote engine', (maxQueue) => createRemoteEngine({ threads: 1, maxQueue, kernel: 'js' })],
];

/** Tracks a call's outcome without leaving its rejection unhandled. */
function track(promise: Promise<unknown>) {
  const state = { settled: false, error: undefined as unknown, at: 0 };
  const done = promise.then(
    () => { state.settled = true; state.at = performance.now(); },
    (error: unknown) => { state.settled = true; state.error = error; state.at = performance.now(); },
  );
  return { state, done };
}

describe.each(engines)('%s: maxQueue', (_name, create) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await create(MAX_QUEUE);
  }, TIMEOUT_MS);
  afterAll(async () => {
    await engine?.close();
  });

  it('refuses the call after running + maxQueue at once, and any number of later ones', async () => {
    const runLong = (signal: AbortSignal) => track(engine.attention(long.q, long.k, long.v, { signal }));
    const runningController = new AbortController();
    const running = Array.from({ length: RUNNING }, () => runLong(runningController.signal));
    const waitingControllers = Array.from({ length: MAX_QUEUE }, () => new AbortController());
    const waiting = waitingControllers.map((c) => runLong(c.signal));
    const held = [...running, ...waiting];

    const overflowStart = performance.now();
    const overflow = await engine.attention(long.q, long.k, long.v).then(() => undefined, (e: unknown) => e);
    expect(overflow).toBeInstanceOf(QueueFullError);
    expect((overflow as Error).name).toBe('QueueFullError');
    expect((overflow as Error).message).toBe(`attention: the pool's queue is full (options.maxQueue = ${MAX_QUEUE} calls already waiting)`);
    expect(performance.now() - overflowStart, 'refused at once').toBeLessThan(PROMPT_MS);
    expect(held.every((h) => !h.state.settled), 'the held calls are all still running or waiting').toBe(true);

    // A burst as fast as a loop can push: every call is refused, none is held.
    const burst = Array.from({ length: 2000 }, () => track(engine.attention(long.q, long.k, long.v)));
    await Promise.all(burst.map((b) => b.done));
    expect(burst.filter((b) => !(b.state.error instanceof QueueFullError)).length, 'calls of the burst not refused').toBe(0);
    expect(held.every((h) => !h.state.settled)).toBe(true);

    // Aborting a waiting call frees its place: the next caller waits instead of being refused.
    waitingControllers[0].abort();
    await waiting[0].done;
    expect((waiting[0].state.error as Error).name).toBe('AbortError');
    const lateController = new AbortController();
    const late = runLong(lateController.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(late.state.settled, 'a call is accepted into the freed place').toBe(false);
    expect(await engine.attention(long.q, long.k, long.v).then(() => undefined, (e: unknown) => e)).toBeInstanceOf(QueueFullError);

    for (const c of [runningController, ...waitingControllers, lateController]) c.abort();
    await Promise.all([...held, late].map((h) => h.done));
    for (const h of [...held, late]) expect((h.state.error as Error).name).toBe('AbortError');
  }, TIMEOUT_MS);

  it('still computes right after all that', async () => {
    const call = attentionCall({ seed: 62, B: 1, H: 2, Hkv: 1, Sq: 100, Sk: 120, D: 16, Dv: 16, causal: true, withLse: true });
    call.expectMatchesReference(await call.run(engine));
  }, TIMEOUT_MS);
});

describe.each(engines)('%s: maxQueue 0', (_name, create) => {
  it('runs up to the running bound and refuses the rest at once', async () => {
    const engine = await create(0);
    try {
      const controller = new AbortController();
      const running = Array.from({ length: RUNNING }, () => track(engine.attention(long.q, long.k, long.v, { signal: controller.signal })));
      const refused = await engine.attention(long.q, long.k, long.v).then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(QueueFullError);
      expect(running.every((r) => !r.state.settled)).toBe(true);
      controller.abort();
      await Promise.all(running.map((r) => r.done));
    } finally {
      await engine.close();
    }
  }, TIMEOUT_MS);
});
