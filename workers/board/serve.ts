// A thread's serve task: the one piscina task each pool thread runs for as long as the pool lives.
// It waits on the board's doorbell (./layout.ts), enters an open phase, pulls tiles from the phase's
// counter until none are left, and waits again — no message per phase, so handing a phase to 64
// threads costs the calling thread one Atomics.notify.
//
// Fairness. A thread stays in its phase until the phase runs out of tiles, except when another open
// phase has work and no thread inside (it is starving): then, once the thread has spent
// TIME_SLICE_MS in its phase, it leaves at the next step of its tile — pausing the tile into one of the
// phase's shared pause slots (./phase.ts), where the next thread to enter picks it up — and goes on
// round-robin to the next phase with work. A call alone on the pool is never sliced. A phase of small
// calls (src/pool/call-admission.ts COALESCE_MAX_FLOPS) has no pause slots: a tile of one is at most
// that much work (~6 ms on the wasm kernel), and a thread whose slice is up leaves at the end of one.
//
// A pool idle for a while parks its threads (PARK in ./layout.ts): a task with nothing to do returns.
//
// A phase may hold several calls' jobs (its parts, ./phase.ts): a stopped call's tiles are skipped,
// the others' run on.
//
// A tile that throws ends the serve task with its error: the pool fails the call whose part this
// thread's part cell names and starts a new serve task. A thread that dies is handled the same way.

import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Kernel, KernelName } from '../kernels/jobs.js';
import { runTile } from '../kernels/run-tile.js';
import { SuspendedTile } from '../kernels/suspended-tile.js';
import type { TileControl, TileOutcome } from '../kernels/tile-control.js';
import { decodeDescriptor } from './descriptor.js';
import { ring, waitForRing } from './doorbell.js';
import {
  CLOSING, DOORBELL, DRAINING, HOLDING, OPEN, PARK, SLOT_DESC_ID, SLOT_DESC_LENGTH, SLOT_EVENTS, SLOT_GEN, SLOT_INSIDE, SLOT_NEXT,
  SLOT_PAUSED, SLOT_STATE, SLOT_TILES, STATE_OPEN, cellAt, partCellAt, slotAt, type BoardShape,
} from './layout.js';
import {
  PART_ABORT, PART_INTS, PART_REMAINING, PAUSE_EMPTY, PAUSE_HELD, PAUSE_PAUSED, type PhaseDescriptor, type PhasePart, type ServeTask,
} from './phase.js';
import { ResultFiller } from './result-filler.js';
import { WorkerBuffers } from './worker-buffers.js';

/** A slice long enough that a pause and resume (~0.5 ms with the wasm kernel repacking K/V) costs
 *  < 3 %, short enough that a call waiting beside a long one starts within tens of milliseconds. */
export const TIME_SLICE_MS = 20;

/** An idle thread wakes this often to read its port (buffers to forget) and end its current job, so
 *  that V8 lets go of what the last phase's WeakRefs held. */
const IDLE_WAIT_MS = 500;
/** A busy thread returns to its event loop this often, for the same reasons (~10 µs each time). */
const BUSY_YIELD_MS = 50;

export function serveWith(kernelOf: (name: KernelName) => Kernel): (task: ServeTask) => Promise<void> {
  return (task) => new Server(task, kernelOf).serve();
}

class Server {
  readonly #ints: Int32Array;
  readonly #shape: BoardShape;
  readonly #index: number;
  readonly #cell: number;
  readonly #partCell: number;
  readonly #buffers: WorkerBuffers;
  /** On the thread that fills the pool's result stock. */
  readonly #filler: ResultFiller | undefined;
  readonly #spinMs: number;
  /** The descriptor decoded per slot, for the GEN it was decoded for. */
  readonly #decoded = new Map<number, { readonly gen: number; readonly phase: PhaseDescriptor }>();
  #cursor = 0;

  constructor(task: ServeTask, private readonly kernelOf: (name: KernelName) => Kernel) {
    this.#ints = task.board;
    this.#shape = { threads: task.threads, slots: task.slots };
    this.#index = task.index;
    this.#cell = cellAt(task.index);
    this.#partCell = partCellAt(this.#shape, task.index);
    this.#buffers = new WorkerBuffers(task.port, task.initial);
    this.#filler = task.results && new ResultFiller(task.results.port, task.results.table);
    this.#spinMs = task.spinMs;
  }

  async serve(): Promise<void> {
    const ints = this.#ints;
    let lastYield = performance.now();
    try {
      for (;;) {
        if (Atomics.load(ints, CLOSING) !== 0) return;
        const bell = Atomics.load(ints, DOORBELL);
        const slot = this.#findWork(-1);
        if (slot >= 0) {
          this.#enter(slot);
          if (performance.now() - lastYield < BUSY_YIELD_MS) continue;
        }
        if (slot < 0 && Atomics.load(ints, PARK) !== 0) return;
        await nextMacrotask(); // port messages; the end of this job
        lastYield = performance.now();
        if (slot < 0) {
          // Nothing to do: result buffers for the stock first, while it is short and no ring came.
          while (this.#filler && Atomics.load(ints, DOORBELL) === bell && this.#filler.fillOne());
          if (Atomics.load(ints, DOORBELL) === bell) waitForRing(ints, this.#shape.threads, this.#index, bell, IDLE_WAIT_MS, this.#spinMs);
        }
      }
    } finally {
      this.#buffers.close();
      this.#filler?.close();
    }
  }

  #at(slot: number, field: number): number {
    return slotAt(this.#shape, slot, field);
  }

  /** An open slot other than `except` whose phase has a tile to take or resume, round-robin from the
   *  cursor; -1 when there is none. */
  #findWork(except: number): number {
    const ints = this.#ints;
    if (Atomics.load(ints, OPEN) === 0) return -1;
    const { slots } = this.#shape;
    for (let i = 1; i <= slots; i++) {
      const slot = (this.#cursor + i) % slots;
      if (slot !== except && this.#hasWork(slot)) return slot;
    }
    return -1;
  }

  #hasWork(slot: number): boolean {
    const ints = this.#ints;
    if (Atomics.load(ints, this.#at(slot, SLOT_STATE)) !== STATE_OPEN) return false;
    if (Atomics.load(ints, this.#at(slot, SLOT_NEXT)) < Atomics.load(ints, this.#at(slot, SLOT_TILES))) return true;
    // A phase whose tiles are all taken may still hold paused ones.
    return Atomics.load(ints, this.#at(slot, SLOT_PAUSED)) > 0;
  }

  /** Another open phase has work and no thread inside. */
  #othersStarving(slot: number): boolean {
    const { slots } = this.#shape;
    for (let other = 0; other < slots; other++) {
      if (other !== slot && Atomics.load(this.#ints, this.#at(other, SLOT_INSIDE)) === 0 && this.#hasWork(other)) return true;
    }
    return false;
  }

  #enter(slot: number): void {
    const ints = this.#ints;
    this.#cursor = slot;
    Atomics.store(ints, this.#cell, slot + 1);
    Atomics.add(ints, this.#at(slot, SLOT_INSIDE), 1);
    // Rechecked after the cell is set: the pool frees a slot only once no cell names it. A thread woken
    // late, once the tiles are all taken, leaves without decoding the descriptor (while it decoded,
    // its cell kept the pool from freeing the slot).
    if (this.#hasWork(slot)) {
      const phase = this.#phase(slot);
      // The chain of wake-ups (src/pool/board.ts): tiles are left for another thread.
      if (Atomics.load(ints, this.#at(slot, SLOT_NEXT)) + 1 < Atomics.load(ints, this.#at(slot, SLOT_TILES))) ring(ints, this.#shape.threads);
      // A tile that throws leaves the cell naming the slot and INSIDE counting this thread: the pool
      // reads the cell to fail that call and undoes both (src/pool/board.ts failWorker), as it does
      // for a thread that died.
      this.#runTiles(slot, phase);
    }
    Atomics.sub(ints, this.#at(slot, SLOT_INSIDE), 1);
    Atomics.store(ints, this.#cell, 0);
    if (Atomics.load(ints, DRAINING) !== 0) Atomics.notify(ints, this.#cell);
  }

  #phase(slot: number): PhaseDescriptor {
    const gen = Atomics.load(this.#ints, this.#at(slot, SLOT_GEN));
    const known = this.#decoded.get(slot);
    if (known?.gen === gen) return known.phase;
    const ints = this.#ints;
    const buffer = this.#buffers.lookup(Atomics.load(ints, this.#at(slot, SLOT_DESC_ID))) as SharedArrayBuffer; // descriptors lie in buffers
    const tape = new Float64Array(buffer, 0, Atomics.load(ints, this.#at(slot, SLOT_DESC_LENGTH)));
    const phase = decodeDescriptor<PhaseDescriptor>(tape, this.#buffers);
    this.#decoded.set(slot, { gen, phase });
    return phase;
  }

  /** Tiles of the phase until none are left or the slice is up while others starve. */
  #runTiles(slot: number, { parts, partStates, kernel, pauses }: PhaseDescriptor): void {
    const ints = this.#ints;
    const next = this.#at(slot, SLOT_NEXT), events = this.#at(slot, SLOT_EVENTS);
    const tiles = Atomics.load(ints, this.#at(slot, SLOT_TILES));
    const kernelTiles = this.kernelOf(kernel);
    const start = performance.now();
    const sliceUsed = () => performance.now() - start >= TIME_SLICE_MS && this.#othersStarving(slot);
    for (;;) {
      let pauseSlot = pauses ? claim(pauses.states, PAUSE_PAUSED) : -1;
      let tile: number;
      if (pauseSlot >= 0) {
        Atomics.sub(ints, this.#at(slot, SLOT_PAUSED), 1);
        tile = pauses!.tiles[pauseSlot];
      } else {
        tile = Atomics.add(ints, next, 1);
        if (tile >= tiles) return;
        // The last tile taken: small phases held back for this one may open now (src/pool/board.ts).
        if (tile === tiles - 1 && Atomics.load(ints, HOLDING) !== 0) {
          Atomics.add(ints, events, 1);
          Atomics.notify(ints, events);
        }
      }
      const p = partOf(parts, tile);
      const { job, firstTile } = parts[p];
      const abort = p * PART_INTS + PART_ABORT;
      // Set before ABORT is read: a stopped part's call waits until no part cell names it (board.ts).
      Atomics.store(ints, this.#partCell, p + 1);
      let outcome: TileOutcome = 'stopped';
      if (Atomics.load(partStates, abort) === 0) {
        if (pauseSlot < 0 && pauses && job.kind === 'attention') {
          pauseSlot = claim(pauses.states, PAUSE_EMPTY);
          // An empty slot holds what its scratch buffer last held (the pool does not clear 64 of them
          // per phase): its header is what says it holds no tile.
          if (pauseSlot >= 0) pauses.slots[pauseSlot * pauses.slotLength] = 0;
        }
        const suspended = pauseSlot >= 0
          ? new SuspendedTile(pauses!.slots.subarray(pauseSlot * pauses!.slotLength, (pauseSlot + 1) * pauses!.slotLength))
          : undefined;
        const control: TileControl = {
          suspended,
          check: () => Atomics.load(partStates, abort) !== 0 ? 'stop' : suspended && sliceUsed() ? 'pause' : 'go',
        };
        outcome = runTile(kernelTiles, job, tile - firstTile, control);
      }
      if (pauseSlot >= 0) {
        if (outcome === 'paused') {
          pauses!.tiles[pauseSlot] = tile;
          Atomics.add(ints, this.#at(slot, SLOT_PAUSED), 1); // before the state: never below the paused tiles
        }
        Atomics.store(pauses!.states, pauseSlot, outcome === 'paused' ? PAUSE_PAUSED : PAUSE_EMPTY);
      }
      Atomics.store(ints, this.#partCell, 0);
      if (Atomics.load(partStates, abort) !== 0) Atomics.notify(ints, this.#partCell);
      if (outcome === 'done' && Atomics.sub(partStates, p * PART_INTS + PART_REMAINING, 1) === 1) {
        Atomics.add(ints, events, 1);
        Atomics.notify(ints, events);
      }
      if (outcome === 'paused' || sliceUsed()) return;
    }
  }
}

/** The part that phase tile `tile` belongs to (parts in tile order). */
function partOf(parts: readonly PhasePart[], tile: number): number {
  let lo = 0, hi = parts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (parts[mid].firstTile <= tile) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Takes a slot in state `from` (HELD from then on), or -1. */
function claim(states: Int32Array, from: number): number {
  for (let i = 0; i < states.length; i++) {
    if (Atomics.load(states, i) === from && Atomics.compareExchange(states, i, from, PAUSE_HELD) === from) return i;
  }
  return -1;
}
