// Test-only hooks into an AttentionPool: fault injection (workers/fault-plan.ts), a view of its
// threads, and an override of the split-KV decision. Nothing public leads here: src/index.ts does not re-export this module, package.json's
// `exports` exposes only the entry point, and the pool option is keyed by a Symbol that only this
// module holds, so no options object can switch it on by accident. Tests import the built file
// directly (dist/src/pool/test-hooks.js).

import type { Piscina } from 'piscina';
import { FAULT_KINDS, FAULT_SLOTS, FAULT_STATE_INTS, type FaultKind, type FaultWorkerSetup } from '../../workers/fault-plan.js';
import type { WorkerSetup } from '../../workers/task.js';
import type { SplitOverride } from '../plan/split-kv-plan.js';

export { FAULT_EXIT_CODE, FAULT_KINDS, type FaultKind } from '../../workers/fault-plan.js';

/** The key of the pool option that takes a TestHooks: `new AttentionPool({ threads, [TEST_HOOKS]: hooks })`. */
export const TEST_HOOKS = Symbol('attnpool.testHooks');

const FAULT_WORKER_URL = new URL('../../workers/fault-worker.js', import.meta.url).href;

/** Heap limit of a hooked pool's threads: a worker needs under 10 MB, and a small limit makes an
 *  injected out-of-memory end its thread in a fraction of a second. */
const HOOKED_HEAP_LIMIT_MB = 32;

export class TestHooks {
  readonly #faultState = new Int32Array(new SharedArrayBuffer(FAULT_STATE_INTS * 4));
  #threadsReady = 0;
  #threadsEnded = 0;

  /** Arms one fault: the next attention tile of a job with `targetSq` query rows triggers it. */
  arm(kind: FaultKind, targetSq: number): void {
    Atomics.store(this.#faultState, FAULT_SLOTS.targetSq, targetSq);
    Atomics.store(this.#faultState, FAULT_SLOTS.armed, FAULT_KINDS.indexOf(kind) + 1);
  }

  get faultsFired(): number {
    return Atomics.load(this.#faultState, FAULT_SLOTS.fired);
  }

  /** Threads that have started and not ended: the pool's working thread count. */
  get liveThreads(): number {
    return this.#threadsReady - this.#threadsEnded;
  }

  /** Threads started since the pool was built, replacements included. */
  get threadsStarted(): number {
    return this.#threadsReady;
  }

  /** The pool's piscina options: the fault-injecting worker, with a small heap. */
  piscinaOptions(setup: WorkerSetup): { filename: string; workerData: FaultWorkerSetup; resourceLimits: { maxOldGenerationSizeMb: number } } {
    return {
      filename: FAULT_WORKER_URL,
      workerData: { ...setup, faultState: this.#faultState },
      resourceLimits: { maxOldGenerationSizeMb: HOOKED_HEAP_LIMIT_MB },
    };
  }

  /** Called by the pool once its piscina exists. piscina announces a thread when it is ready to take
   *  tasks and again when it is gone (exited, crashed or terminated by close). */
  attach(piscina: Piscina<unknown, unknown>): void {
    piscina.on('workerCreate', () => this.#threadsReady++);
    piscina.on('workerDestroy', () => this.#threadsEnded++);
  }
}

/** The key of the pool option that forces split-KV at a given split length (a multiple of 64), or
 *  forbids it, whatever the shape: `new AttentionPool({ threads, [SPLIT_KV]: { keysPerSplit: 128 } })`
 *  or `[SPLIT_KV]: 'never'`. Calls that ask for attention weights are never split either way. */
export const SPLIT_KV = Symbol('attnpool.splitKv');

/** The split-KV override an options object carries under SPLIT_KV, if any. */
export function splitOverrideOf(options: unknown): SplitOverride | undefined {
  if (options === null || typeof options !== 'object') return undefined;
  const override = (options as { [SPLIT_KV]?: unknown })[SPLIT_KV];
  if (override === 'never') return override;
  if (override !== null && typeof override === 'object' && typeof (override as { keysPerSplit?: unknown }).keysPerSplit === 'number') {
    return { keysPerSplit: (override as { keysPerSplit: number }).keysPerSplit };
  }
  return undefined;
}

/** The TestHooks an options object carries under TEST_HOOKS, if any. */
export function testHooksOf(options: unknown): TestHooks | undefined {
  if (options === null || typeof options !== 'object') return undefined;
  const hooks = (options as { [TEST_HOOKS]?: unknown })[TEST_HOOKS];
  return hooks instanceof TestHooks ? hooks : undefined;
}
