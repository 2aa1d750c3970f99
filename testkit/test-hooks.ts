// Test-only pool hooks (the PoolHooks of src/pool/pool-hooks.ts): fault injection (./fault-plan.ts)
// and a view of the pool's threads. Compiled into dist/testkit/ but not shipped in the package.

import type { Piscina } from 'piscina';
import type { PiscinaOverride, PoolHooks } from '../src/pool/pool-hooks.js';
import { PARK, cellAt, type BoardShape } from '../workers/board/layout.js';
import type { WorkerSetup } from '../workers/task.js';
import { FAULT_KINDS, FAULT_SLOTS, FAULT_STATE_INTS, type FaultKind, type FaultWorkerSetup } from './fault-plan.js';

export { FAULT_EXIT_CODE, FAULT_KINDS, type FaultKind } from './fault-plan.js';

const FAULT_WORKER_URL = new URL('./fault-worker.js', import.meta.url).href;

/** Heap limit of a hooked pool's threads: a worker needs under 10 MB, and a small limit makes an
 *  injected out-of-memory end its thread in a fraction of a second. */
const HOOKED_HEAP_LIMIT_MB = 32;

export class TestHooks implements PoolHooks {
  readonly #faultState = new Int32Array(new SharedArrayBuffer(FAULT_STATE_INTS * 4));
  #threadsReady = 0;
  /** Threads that became ready and have not ended. */
  readonly #live = new Set<unknown>();

  /** Arms one fault: the next attention tile of a job with `targetSq` query rows triggers it. */
  arm(kind: FaultKind, targetSq: number): void {
    Atomics.store(this.#faultState, FAULT_SLOTS.targetSq, targetSq);
    Atomics.store(this.#faultState, FAULT_SLOTS.armed, FAULT_KINDS.indexOf(kind) + 1);
  }

  #board: { readonly ints: Int32Array; readonly shape: BoardShape } | undefined;

  attachBoard(ints: Int32Array, shape: BoardShape): void {
    this.#board = { ints, shape };
  }

  /** Threads inside a phase right now: those whose board cell names a slot. */
  get threadsInside(): number {
    if (!this.#board) throw new Error('TestHooks: the pool has not attached its board');
    const { ints, shape } = this.#board;
    let inside = 0;
    for (let worker = 0; worker < shape.threads; worker++) if (Atomics.load(ints, cellAt(worker)) !== 0) inside++;
    return inside;
  }

  /** Whether the pool has parked its threads (idle long enough: src/pool/serve-tasks.ts). */
  get parked(): boolean {
    if (!this.#board) throw new Error('TestHooks: the pool has not attached its board');
    return Atomics.load(this.#board.ints, PARK) !== 0;
  }

  /** The number of calls' jobs in each phase opened on the threads, in order (PoolHooks.onPhase). */
  readonly phases: number[] = [];

  onPhase(parts: number): void {
    this.phases.push(parts);
  }

  get faultsFired(): number {
    return Atomics.load(this.#faultState, FAULT_SLOTS.fired);
  }

  /** Threads that have started and not ended: the pool's working thread count. */
  get liveThreads(): number {
    return this.#live.size;
  }

  /** Threads started since the pool was built, replacements included. */
  get threadsStarted(): number {
    return this.#threadsReady;
  }

  /** The fault-injecting worker, with a small heap. */
  piscinaOptions(setup: WorkerSetup): PiscinaOverride {
    const workerData: FaultWorkerSetup = { ...setup, faultState: this.#faultState };
    return {
      filename: FAULT_WORKER_URL,
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: HOOKED_HEAP_LIMIT_MB },
    };
  }

  /** piscina announces a thread when it is ready to take tasks and again when it is gone (exited,
   *  crashed or terminated by close) — also one that close() terminated before it was ready, which
   *  was never announced: threads are told apart by piscina's record of each. */
  attach(piscina: Piscina<unknown, unknown>): void {
    piscina.on('workerCreate', (worker: object) => {
      this.#threadsReady++;
      this.#live.add(threadOf(worker));
    });
    piscina.on('workerDestroy', (worker: object) => this.#live.delete(threadOf(worker)));
  }
}

/** piscina hands each event a new interface object; the record behind it (its one symbol-keyed
 *  property) is the same for a thread's whole life, unlike its threadId (-1 once it has exited). */
function threadOf(worker: object): unknown {
  const [record] = Object.getOwnPropertySymbols(worker);
  return record === undefined ? worker : (worker as Record<symbol, unknown>)[record];
}
