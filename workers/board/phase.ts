// What a phase's descriptor holds (./descriptor.ts): the kernel, the phase's parts and their states,
// and the shared slots its paused tiles wait in.
//
// Parts. A phase is one or more jobs — one call's, or several calls' coalesced into one dispatch
// (src/pool/dispatch.ts) — whose tiles are numbered one after another: part i owns the phase's tiles
// [firstTile, firstTile + its job's tile count). Threads pull tile numbers from the phase's one
// counter (NEXT in ./layout.ts); each part has its own REMAINING and ABORT in `partStates`, so that one
// call stopping or finishing never touches another's.
//
// Pause slots. One per thread that may work on the phase, with one state per slot: EMPTY, HELD (a
// thread is running the tile that may pause into it) or PAUSED (any thread entering the phase takes
// the tile up from there, before any new tile); `tiles` holds the phase tile number paused in each.
// A thread holds at most one, and a thread that finds none free runs its tile without pausing.

import type { MessagePort } from 'node:worker_threads';
import type { Job, KernelName } from '../kernels/jobs.js';
import type { RegistryMessage } from './registry-messages.js';

export interface PhaseDescriptor {
  readonly kernel: KernelName;
  /** In tile order: parts[i + 1].firstTile = parts[i].firstTile + parts[i]'s tile count. */
  readonly parts: readonly PhasePart[];
  /** PART_INTS per part. */
  readonly partStates: Int32Array;
  /** When some part is an attention job (the only kind whose tiles pause). */
  readonly pauses?: PauseSlots;
}

export interface PhasePart {
  readonly job: Job;
  readonly firstTile: number;
}

/** Tiles of the part not finished yet; the thread that takes it to 0 bumps the slot's EVENTS. */
export const PART_REMAINING = 0;
/** Non-zero: the part's call stopped; threads skip its tiles and leave its running ones between steps. */
export const PART_ABORT = 1;
export const PART_INTS = 2;

export interface PauseSlots {
  readonly states: Int32Array;
  /** The phase tile number paused in each slot. */
  readonly tiles: Int32Array;
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
  /** How long the thread spins before it sleeps when it runs out of work (./doorbell.ts); 0: never. */
  readonly spinMs: number;
  /** Where the buffer registry's messages arrive (workers/board/worker-buffers.ts). */
  readonly port: MessagePort;
  readonly initial: RegistryMessage;
  /** For the one thread that fills the pool's result stock (./result-filler.ts): where to post the
   *  buffers, and the table of sizes wanted (./result-stock-table.ts). */
  readonly results?: { readonly port: MessagePort; readonly table: Int32Array };
}
