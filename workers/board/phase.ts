// What a phase's descriptor holds (./descriptor.ts): the job, the kernel to run it with, and for
// attention jobs the shared slots its paused tiles wait in, with one state per slot: EMPTY, HELD (a
// thread is running the tile that may pause into it) or PAUSED (any thread entering the phase takes
// the tile up from there, before any new tile). One slot per thread is enough — a thread holds at most
// one — and a thread that finds none free runs its tile without pausing.

import type { MessagePort } from 'node:worker_threads';
import type { Job, KernelName } from '../kernels/jobs.js';
import type { RegistryMessage } from './registry-messages.js';

export interface PhaseDescriptor {
  readonly job: Job;
  readonly kernel: KernelName;
  readonly pauses?: PauseSlots;
}

export interface PauseSlots {
  readonly states: Int32Array;
  /** `states.length` slots of `slotLength` float64 each (workers/kernels/suspended-tile.ts). */
  readonly slots: Float64Array;
  readonly slotLength: number;
}

export const PAUSE_EMPTY = 0;
export const PAUSE_HELD = 1;
export const PAUSE_PAUSED = 2;

/** What the pool passes a thread's serve task (piscina.run, once per thread). */
export interface ServeTask {
  /** The thread's worker index: its cell on the board. */
  readonly index: number;
  readonly board: Int32Array;
  readonly threads: number;
  readonly slots: number;
  /** Where the buffer registry's messages arrive (workers/board/worker-buffers.ts). */
  readonly port: MessagePort;
  readonly initial: RegistryMessage;
}
