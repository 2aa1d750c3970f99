// Test-only fault injection, worker side: a kernel wrapper that, when the test has armed a fault,
// makes the kernel throw, exit its thread or run out of memory in the middle of a call. It is used
// only by fault-worker.ts, which the pool loads only when built with the TestHooks of ./test-hooks.ts;
// the production worker never imports it.
//
// The test and the workers share one Int32Array (FAULT_SLOTS below). The fault fires on the first
// attention tile of a job whose Sq equals the armed value, so a test aims it at one call among many
// by giving that call a distinctive query length. Arming is one-shot: the worker that wins the
// compare-exchange fires, every other tile runs normally.

import type { AttentionJob, Kernel } from '../workers/kernels/jobs.js';
import type { WorkerSetup } from '../workers/task.js';

export const FAULT_KINDS = ['throw', 'exit', 'oom'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Layout of the shared fault state. */
export const FAULT_SLOTS = {
  /** 0 = disarmed, else 1 + the index of the armed kind in FAULT_KINDS. */
  armed: 0,
  /** The Sq of the attention job the fault is aimed at. */
  targetSq: 1,
  /** How many faults have fired (tests wait on it with Atomics.waitAsync). */
  fired: 2,
} as const;
export const FAULT_STATE_INTS = 3;

/** The exit code of the 'exit' fault: distinctive, so the error message proves which fault it was. */
export const FAULT_EXIT_CODE = 86;

export interface FaultWorkerSetup extends WorkerSetup {
  readonly faultState: Int32Array;
}

function fire(kind: FaultKind): never {
  switch (kind) {
    case 'throw':
      throw new Error('injected fault: the kernel threw');
    case 'exit':
      process.exit(FAULT_EXIT_CODE);
    case 'oom': {
      // Small arrays kept alive until the heap limit (resourceLimits in test-hooks.ts) is reached;
      // Node then ends this thread with ERR_WORKER_OUT_OF_MEMORY instead of the process.
      const hoard: number[][] = [];
      for (;;) hoard.push(new Array<number>(4096).fill(hoard.length + 0.5));
    }
  }
}

function maybeFire(state: Int32Array, job: AttentionJob): void {
  const armed = Atomics.load(state, FAULT_SLOTS.armed);
  if (armed === 0 || job.Sq !== Atomics.load(state, FAULT_SLOTS.targetSq)) return;
  if (Atomics.compareExchange(state, FAULT_SLOTS.armed, armed, 0) !== armed) return; // another tile won
  Atomics.add(state, FAULT_SLOTS.fired, 1);
  Atomics.notify(state, FAULT_SLOTS.fired);
  fire(FAULT_KINDS[armed - 1]);
}

/** `kernel`, except that an armed fault fires inside its attention tile. */
export function withFaults(kernel: Kernel, state: Int32Array): Kernel {
  return {
    name: kernel.name,
    tiles: {
      ...kernel.tiles,
      attention: (job, tile, control) => {
        maybeFire(state, job);
        return kernel.tiles.attention(job, tile, control);
      },
    },
  };
}
