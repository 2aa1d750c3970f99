// The calling thread's side of the board (workers/board/layout.ts): opening a phase in a free slot,
// ringing the doorbell, waiting for its parts' tiles to finish, and giving the slot back once no
// thread is inside. No message per phase and no buffer per phase: the phase's descriptor, its parts'
// states and its pause slots lie in buffers the slot reuses (registered with the threads once), so
// handing a phase to the threads costs the same whatever their number.
//
// A phase holds one or more parts (workers/board/phase.ts), each a job of some call: one call's
// phase, or several calls' coalesced (dispatch.ts). Each part settles on its own — when its last tile
// is done, or, once its call has stopped, when no thread runs its tiles any more — and the slot is
// given back when every part has settled and no thread is inside.

import { WorkerFailedError } from '../errors.js';
import type { Job, KernelName } from '../../workers/kernels/jobs.js';
import { tileCount } from '../../workers/kernels/jobs.js';
import { suspensionSlotLength } from '../../workers/kernels/suspended-tile.js';
import { encodeDescriptor } from '../../workers/board/descriptor.js';
import { ring } from '../../workers/board/doorbell.js';
import {
  DRAINING, HOLDING, OPEN, THREADS, WAITING, SLOT_DESC_ID, SLOT_DESC_LENGTH, SLOT_EVENTS, SLOT_GEN, SLOT_INSIDE, SLOT_NEXT,
  SLOT_PAUSED, SLOT_STATE, SLOT_TILES, STATE_FREE, STATE_OPEN, boardInts, cellAt, partCellAt, slotAt, type BoardShape,
} from '../../workers/board/layout.js';
import {
  PART_ABORT, PART_INTS, PART_REMAINING, PAUSE_EMPTY, type PauseSlots, type PhaseDescriptor,
} from '../../workers/board/phase.js';
import type { BufferRegistry } from './buffer-registry.js';
import type { CallContext } from './call-context.js';
import type { ScratchPool } from './scratch-pool.js';
import { SlotArrays } from './slot-arrays.js';

const MIN_DESCRIPTOR_LENGTH = 2048;

/** A job of some call, to run as part of a phase; `settle` is called once the part has settled. */
export interface BoardPart {
  readonly ctx: CallContext;
  readonly job: Job;
  readonly settle: () => void;
}

export class Board {
  readonly ints: Int32Array;
  readonly shape: BoardShape;
  readonly #free: number[];
  readonly #slotWaiters: ((slot: number) => void)[] = [];
  /** The parts of the phase in each slot, for the failure of a thread inside it. */
  readonly #parts: (readonly BoardPart[] | undefined)[];
  readonly #descriptors: SlotArrays<Float64Array>;
  readonly #partStates: SlotArrays<Int32Array>;
  /** The parts' tile lists, copied here so that the descriptor names them rather than spells out
   *  each number (a decode step's 32 tiles were 190 numbers to write and parse per phase). */
  readonly #tileLists: SlotArrays<Int32Array>;
  /** Per slot: whether its phase is one of small calls that later ones may wait to join (dispatch.ts),
   *  and who waits for its tiles to be all taken. */
  readonly #small: boolean[];
  readonly #takenWaiters: (() => void)[][];
  /** Pause slots are the large ones (a tile's rows of state per thread): taken from the scratch pool
   *  per phase and given back with the slot, so that they are bounded by the phases open at once. */
  readonly #pauseBuffers: SharedArrayBuffer[][];

  constructor(shape: BoardShape, private readonly registry: BufferRegistry, private readonly scratch: ScratchPool) {
    this.shape = shape;
    this.ints = new Int32Array(new SharedArrayBuffer(boardInts(shape) * 4));
    this.ints[THREADS] = shape.threads;
    this.#free = Array.from({ length: shape.slots }, (_, i) => shape.slots - 1 - i);
    this.#parts = new Array<readonly BoardPart[] | undefined>(shape.slots);
    this.#descriptors = new SlotArrays(Float64Array, shape.slots, MIN_DESCRIPTOR_LENGTH);
    this.#partStates = new SlotArrays(Int32Array, shape.slots, 64);
    this.#tileLists = new SlotArrays(Int32Array, shape.slots, 1024);
    this.#pauseBuffers = Array.from({ length: shape.slots }, () => []);
    this.#small = new Array<boolean>(shape.slots).fill(false);
    this.#takenWaiters = Array.from({ length: shape.slots }, () => []);
  }

  /** A free slot: at once when there is one, else a promise of the next one given back. */
  acquire(): number | Promise<number> {
    return this.#free.pop() ?? new Promise<number>((resolve) => this.#slotWaiters.push(resolve));
  }

  /** Opens the phase of `parts` (each with at least one tile) run by `kernel` in `slot` (from
   *  acquire()). One thread is woken here; each thread that enters a phase with tiles left wakes the
   *  next (serve.ts), so waking n threads costs this thread one futex wake, not n. Each part's settle()
   *  is called as the file's header says (a failure stops the part's call; it does not throw). */
  open(slot: number, kernel: KernelName, parts: readonly BoardPart[], small: boolean): void {
    const ints = this.ints;
    const at = (field: number) => slotAt(this.shape, slot, field);
    const partStates = this.#partStates.at(slot, parts.length * PART_INTS).subarray(0, parts.length * PART_INTS);
    let tiles = 0, tileInts = 0;
    for (const { job } of parts) tileInts += job.tiles.length;
    const tileList = this.#tileLists.at(slot, tileInts);
    tileInts = 0;
    const phaseParts = parts.map(({ job }, i) => {
      const firstTile = tiles;
      const count = tileCount(job);
      tiles += count;
      partStates[i * PART_INTS + PART_REMAINING] = count;
      partStates[i * PART_INTS + PART_ABORT] = 0;
      const shared = tileList.subarray(tileInts, tileInts += job.tiles.length);
      shared.set(job.tiles);
      return { job: { ...job, tiles: shared }, firstTile };
    });
    // A phase of small calls needs none: a tile of one is at most COALESCE_MAX_FLOPS of work (~6 ms on
    // the wasm kernel), so a thread whose slice is up leaves at the end of its tile (workers/board/serve.ts).
    const pauses = small ? undefined : this.#pauseSlots(slot, parts, Math.min(this.shape.threads, tiles));
    const phase: PhaseDescriptor = { kernel, parts: phaseParts, partStates, ...(pauses ? { pauses } : {}) };
    this.#writeDescriptor(slot, encodeDescriptor(phase, this.registry));
    Atomics.store(ints, at(SLOT_NEXT), 0);
    Atomics.store(ints, at(SLOT_TILES), tiles);
    Atomics.store(ints, at(SLOT_PAUSED), 0); // a stopped call's paused tiles stay behind in the last phase's count
    Atomics.add(ints, at(SLOT_GEN), 1);
    this.#parts[slot] = parts;
    this.#small[slot] = small;
    this.registry.flush(); // buffers first: a thread may enter the moment the slot opens
    Atomics.store(ints, at(SLOT_STATE), STATE_OPEN);
    Atomics.add(ints, OPEN, 1);
    ring(ints, this.shape.threads);
    void this.#watch(slot, parts, partStates);
  }

  /** When the pool is busy — every thread inside a phase, and a phase of small calls has tiles left to
   *  take, so a new small phase would wait for a thread anyway — a promise that resolves once every
   *  tile of that phase has been taken (the thread taking the last one bumps EVENTS) or it has ended;
   *  else undefined. */
  whenBusy(): Promise<void> | undefined {
    const ints = this.ints;
    Atomics.add(ints, HOLDING, 1); // before NEXT is read: see HOLDING in layout.ts
    const slot = this.#busySmallPhase();
    if (slot < 0) {
      Atomics.sub(ints, HOLDING, 1);
      return undefined;
    }
    return new Promise<void>((resolve) => this.#takenWaiters[slot].push(resolve)).finally(() => Atomics.sub(ints, HOLDING, 1));
  }

  #busySmallPhase(): number {
    const ints = this.ints;
    if (Atomics.load(ints, WAITING) > 0) return -1; // a thread is idle: the common case, without a scan
    for (let worker = 0; worker < this.shape.threads; worker++) if (Atomics.load(ints, cellAt(worker)) === 0) return -1;
    for (let slot = 0; slot < this.shape.slots; slot++) {
      if (this.#small[slot] && Atomics.load(ints, slotAt(this.shape, slot, SLOT_STATE)) === STATE_OPEN &&
        Atomics.load(ints, slotAt(this.shape, slot, SLOT_NEXT)) < Atomics.load(ints, slotAt(this.shape, slot, SLOT_TILES))) return slot;
    }
    return -1;
  }

  /** Thread `worker` failed (its tile threw, or it died): the call whose part it was running fails
   *  (every call of its phase when it was between tiles). */
  failWorker(worker: number, err: unknown): void {
    const ints = this.ints;
    const slot = Atomics.load(ints, cellAt(worker)) - 1;
    if (slot < 0) return;
    const part = Atomics.load(ints, partCellAt(this.shape, worker)) - 1;
    Atomics.sub(ints, slotAt(this.shape, slot, SLOT_INSIDE), 1);
    const parts = this.#parts[slot] ?? [];
    for (const { ctx } of part >= 0 ? parts.slice(part, part + 1) : parts) ctx.stop(new WorkerFailedError(ctx.op, err));
    Atomics.store(ints, partCellAt(this.shape, worker), 0);
    Atomics.notify(ints, partCellAt(this.shape, worker));
    Atomics.store(ints, cellAt(worker), 0);
    Atomics.notify(ints, cellAt(worker));
  }

  /** Settles each part as its tiles finish or its call stops, then frees the slot. One waiter for the
   *  whole phase: threads and stopping calls bump EVENTS. */
  async #watch(slot: number, parts: readonly BoardPart[], partStates: Int32Array): Promise<void> {
    const ints = this.ints;
    const events = slotAt(this.shape, slot, SLOT_EVENTS);
    const wake = () => {
      Atomics.add(ints, events, 1);
      Atomics.notify(ints, events);
    };
    const stopListeners = parts.map(({ ctx }, i) => ctx.onStop(() => {
      Atomics.store(partStates, i * PART_INTS + PART_ABORT, 1);
      wake();
    }));
    const pending = new Set(parts.keys());
    const drains: Promise<void>[] = [];
    const taken = this.#takenWaiters[slot];
    for (;;) {
      const seen = Atomics.load(ints, events);
      if (taken.length > 0 && Atomics.load(ints, slotAt(this.shape, slot, SLOT_NEXT)) >= Atomics.load(ints, slotAt(this.shape, slot, SLOT_TILES))) {
        for (const resolve of taken.splice(0)) resolve();
      }
      for (const i of pending) {
        if (Atomics.load(partStates, i * PART_INTS + PART_REMAINING) <= 0) {
          parts[i].settle();
        } else if (parts[i].ctx.stopped) {
          // A stopped call's buffers may be in use until its threads leave its tiles.
          drains.push(this.#drainPart(slot, i).then(parts[i].settle));
        } else {
          continue;
        }
        pending.delete(i);
        stopListeners[i]();
      }
      if (pending.size === 0) break;
      const waited = Atomics.waitAsync(ints, events, seen);
      if (waited.async) await waited.value;
    }
    Atomics.store(ints, slotAt(this.shape, slot, SLOT_STATE), STATE_FREE);
    Atomics.sub(ints, OPEN, 1);
    this.#small[slot] = false;
    for (const resolve of taken.splice(0)) resolve();
    // Awaited only when there is something to wait for: most phases end with every thread gone.
    if (drains.length > 0) await Promise.all(drains);
    if (this.#inside(slot)) await this.#drain(slot);
    this.release(slot);
  }

  #pauseSlots(slot: number, parts: readonly BoardPart[], threads: number): PauseSlots | undefined {
    let slotLength = 0;
    for (const { job } of parts) if (job.kind === 'attention') slotLength = Math.max(slotLength, suspensionSlotLength(job));
    if (slotLength === 0) return undefined;
    const held = this.#pauseBuffers[slot];
    const ints = new Int32Array(this.#take(held, 2 * threads * 4), 0, 2 * threads);
    const states = ints.subarray(0, threads).fill(PAUSE_EMPTY);
    // Left as the scratch buffer was: a thread clears a slot's header when it takes it empty (serve.ts).
    const slots = new Float64Array(this.#take(held, threads * slotLength * 8), 0, threads * slotLength);
    return { states, tiles: ints.subarray(threads), slots, slotLength };
  }

  #take(held: SharedArrayBuffer[], bytes: number): SharedArrayBuffer {
    const buffer = this.scratch.take(bytes);
    held.push(buffer);
    return buffer;
  }

  #writeDescriptor(slot: number, tape: Float64Array): void {
    const held = this.#descriptors.at(slot, tape.length);
    held.set(tape);
    const ints = this.ints;
    Atomics.store(ints, slotAt(this.shape, slot, SLOT_DESC_ID), this.registry.idOf(held.buffer as SharedArrayBuffer));
    Atomics.store(ints, slotAt(this.shape, slot, SLOT_DESC_LENGTH), tape.length);
  }

  /** Until no thread runs a tile of part `part` of the phase in `slot` (a thread sets its part cell
   *  before it reads the part's ABORT, and notifies it after a tile of a stopped part). */
  async #drainPart(slot: number, part: number): Promise<void> {
    const ints = this.ints;
    for (let worker = 0; worker < this.shape.threads; worker++) {
      await whileHolds(ints, partCellAt(this.shape, worker), part + 1, () => Atomics.load(ints, cellAt(worker)) === slot + 1);
    }
  }

  /** Whether some thread's cell names the slot. */
  #inside(slot: number): boolean {
    for (let worker = 0; worker < this.shape.threads; worker++) if (Atomics.load(this.ints, cellAt(worker)) === slot + 1) return true;
    return false;
  }

  /** Until no thread's cell names the slot (threads set their cell before they read STATE). Threads
   *  notify their cell only while DRAINING says someone may wait on it. */
  async #drain(slot: number): Promise<void> {
    const ints = this.ints;
    for (let worker = 0; worker < this.shape.threads; worker++) {
      if (Atomics.load(ints, cellAt(worker)) !== slot + 1) continue;
      Atomics.add(ints, DRAINING, 1);
      try {
        await whileHolds(ints, cellAt(worker), slot + 1, () => true);
      } finally {
        Atomics.sub(ints, DRAINING, 1);
      }
    }
  }

  /** Gives back a slot from acquire() that was not opened, or one whose phase is over. */
  release(slot: number): void {
    this.#parts[slot] = undefined;
    for (const buffer of this.#pauseBuffers[slot].splice(0)) this.scratch.give(buffer);
    const waiter = this.#slotWaiters.shift();
    if (waiter) waiter(slot);
    else this.#free.push(slot);
  }
}

/** Until ints[index] is no longer `value` (waiting on it: its writer notifies) or `also()` is false. */
async function whileHolds(ints: Int32Array, index: number, value: number, also: () => boolean): Promise<void> {
  while (also() && Atomics.load(ints, index) === value) {
    const waited = Atomics.waitAsync(ints, index, value);
    if (!waited.async) return; // not-equal: it changed meanwhile
    await waited.value;
  }
}
