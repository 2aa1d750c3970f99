// A thread's registry of shared buffers (workers/board/worker-buffers.ts): buffers are found by id,
// forgotten on the pool's word, and once 64 MiB have been forgotten the thread runs a full garbage
// collection — a thread that only runs tiles allocates so little that, without one, it held every
// forgotten buffer's memory for minutes (1.3 GiB after 30 s of `attnpool stress`).

import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BufferRegistry } from '../dist/src/pool/buffer-registry.js';
import { WorkerBuffers } from '../dist/workers/board/worker-buffers.js';

/** Resolves with whether `collected()` became true within `ms`. */
async function within(ms: number, collected: () => boolean): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!collected() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  return collected();
}

/** Whether a collection has run since: a WeakRef's target is cleared by the collection itself, where a
 *  FinalizationRegistry's callback runs in a later task that a loaded machine may delay past the
 *  deadline (seen once in a full CI run). */
function garbageWatch(): () => boolean {
  const ref = (() => new WeakRef({ payload: new Array(16).fill(0) }))(); // unreachable at once
  return () => ref.deref() === undefined;
}

describe('WorkerBuffers', () => {
  it('looks buffers up by id, forgets them, and collects once 64 MiB are forgotten', async () => {
    const small = new SharedArrayBuffer(1 << 20), large = new SharedArrayBuffer(64 << 20);
    const { port1, port2 } = new MessageChannel();
    const buffers = new WorkerBuffers(port2, { add: [[1, small], [2, large]] });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      expect(buffers.lookup(1)).toBe(small);
      expect(buffers.lookup(2)).toBe(large);
      const afterSmall = garbageWatch();
      port1.postMessage({ forget: [1] });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(() => buffers.lookup(1), 'a forgotten id').toThrow(/buffer 1 was never registered/);
      expect(await within(30, afterSmall), '1 MiB forgotten: no collection yet').toBe(false);
      const afterLarge = garbageWatch();
      port1.postMessage({ forget: [2] });
      expect(await within(500, afterLarge), '65 MiB forgotten: a full collection ran').toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(warnings, 'warnings the collection emitted (v8.queryObjects is experimental)').toEqual([]);
    } finally {
      process.off('warning', onWarning);
      buffers.close();
      port1.close();
    }
  });

  it('hears of names and buffers registered after it connected before it is asked for them, and knows them all when it connects late', () => {
    const registry = new BufferRegistry();
    const early = registry.connect(0);
    const earlyThread = new WorkerBuffers(early.port, early.initial);
    const buffer = new SharedArrayBuffer(64);
    const ids = { kind: registry.nameOf('kind'), attention: registry.nameOf('attention'), buffer: registry.idOf(buffer) };
    expect(registry.nameOf('kind'), 'the same name, the same id').toBe(ids.kind);
    expect(ids.attention).not.toBe(ids.kind);
    expect(() => earlyThread.name(ids.kind), 'not flushed yet').toThrow(/name 0 was never registered/);
    registry.flush();
    // Read at once from the port (receiveMessageOnPort), not in a later turn of the event loop.
    expect([earlyThread.name(ids.kind), earlyThread.name(ids.attention), earlyThread.lookup(ids.buffer)]).toEqual(['kind', 'attention', buffer]);
    const late = registry.connect(1);
    const lateThread = new WorkerBuffers(late.port, late.initial);
    expect([lateThread.name(ids.kind), lateThread.name(ids.attention), lateThread.lookup(ids.buffer)]).toEqual(['kind', 'attention', buffer]);
    for (const thread of [earlyThread, lateThread]) thread.close();
    registry.disconnect(0);
    registry.disconnect(1);
  });
});
