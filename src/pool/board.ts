// The calling thread's side of the board (workers/board/layout.ts): opening a phase in a free slot,
// ringing the doorbell, waiting for its tiles to finish, and giving the slot back once no thread is
// inside. No message per phase and no buffer per phase: the phase's descriptor goes into a buffer the
// slot keeps from phase to phase (registered with the threads once), so handing a phase to the
// threads costs the same whatever their number.

import { WorkerFailedError } from '../errors.js';
import {
  DOORBELL, OPEN, SLOT_ABORT, SLOT_DESC_BYTES, SLOT_DESC_ID, SLOT_DESC_OFFSET, SLOT_GEN, SLOT_INSIDE, SLOT_NEXT, SLOT_REMAINING,
  SLOT_STATE, SLOT_TILES, STATE_FREE, STATE_OPEN, boardInts, cellAt, slotAt, type BoardShape,
} from '../../workers/board/layout.js';
import type { BufferRegistry } from './buffer-registry.js';
import type { CallContext } from './call-context.js';

const encoder = new TextEncoder();
const MIN_DESCRIPTOR_BYTES = 16 << 10;

export class Board {
  readonly ints: Int32Array;
  readonly shape: BoardShape;
  readonly #free: number[];
  readonly #slotWaiters: ((slot: number) => void)[] = [];
  /** The call whose phase holds each slot, for the failure of a thread inside it. */
  readonly #owners: (CallContext | undefined)[];
  readonly #descriptors: Uint8Array[];

  constructor(shape: BoardShape, private readonly registry: BufferRegistry) {
    this.shape = shape;
    this.ints = new Int32Array(new SharedArrayBuffer(boardInts(shape) * 4));
    this.#free = Array.from({ length: shape.slots }, (_, i) => shape.slots - 1 - i);
    this.#owners = new Array<CallContext | undefined>(shape.slots);
    this.#descriptors = new Array<Uint8Array>(shape.slots);
  }

  /** Runs a phase of `tiles` tiles described by `descriptor` (workers/board/descriptor.ts) on the
   *  threads. Resolves when every tile is done, or — once the call has stopped — when no thread works
   *  for it any more. One thread is woken here; each thread that enters a phase with tiles left wakes
   *  the next (serve.ts), so waking n threads costs this thread one futex wake, not n. */
  async runPhase(ctx: CallContext, descriptor: string, tiles: number): Promise<void> {
    const slot = this.#free.pop() ?? await new Promise<number>((resolve) => this.#slotWaiters.push(resolve));
    const ints = this.ints;
    const at = (field: number) => slotAt(this.shape, slot, field);
    this.#writeDescriptor(slot, descriptor);
    Atomics.store(ints, at(SLOT_NEXT), 0);
    Atomics.store(ints, at(SLOT_TILES), tiles);
    Atomics.store(ints, at(SLOT_REMAINING), tiles);
    Atomics.store(ints, at(SLOT_ABORT), 0);
    Atomics.add(ints, at(SLOT_GEN), 1);
    this.#owners[slot] = ctx;
    this.registry.flush(); // buffers first: a thread may enter the moment the slot opens
    Atomics.store(ints, at(SLOT_STATE), STATE_OPEN);
    Atomics.add(ints, OPEN, 1);
    Atomics.add(ints, DOORBELL, 1);
    Atomics.notify(ints, DOORBELL, 1);
    const stopListener = ctx.onStop(() => {
      Atomics.store(ints, at(SLOT_ABORT), 1);
      Atomics.notify(ints, at(SLOT_REMAINING)); // ends the wait below
    });
    try {
      await untilZero(ints, at(SLOT_REMAINING), ctx);
    } finally {
      stopListener();
      Atomics.store(ints, at(SLOT_STATE), STATE_FREE);
      Atomics.sub(ints, OPEN, 1);
      // A stopped call's buffers may be in use until its threads leave; a finished one's are not (a
      // thread still inside finds no tile to take), so the call need not wait for the slot.
      const drained = this.#drain(slot).then(() => this.#release(slot));
      if (ctx.stopped) await drained;
    }
  }

  /** Thread `worker` failed (its tile threw, or it died): the call it was working for fails. */
  failWorker(worker: number, err: unknown): void {
    const ints = this.ints;
    const slot = Atomics.load(ints, cellAt(worker)) - 1;
    if (slot < 0) return;
    Atomics.sub(ints, slotAt(this.shape, slot, SLOT_INSIDE), 1);
    const owner = this.#owners[slot];
    owner?.stop(new WorkerFailedError(owner.op, err));
    Atomics.store(ints, cellAt(worker), 0);
    Atomics.notify(ints, cellAt(worker));
  }

  #writeDescriptor(slot: number, text: string): void {
    const most = text.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    let bytes = this.#descriptors[slot];
    if (!bytes || bytes.length < most) {
      bytes = new Uint8Array(new SharedArrayBuffer(Math.max(MIN_DESCRIPTOR_BYTES, 2 ** Math.ceil(Math.log2(most)))));
      this.#descriptors[slot] = bytes;
    }
    const { written } = encoder.encodeInto(text, bytes);
    const ints = this.ints;
    Atomics.store(ints, slotAt(this.shape, slot, SLOT_DESC_ID), this.registry.idOf(bytes.buffer as SharedArrayBuffer));
    Atomics.store(ints, slotAt(this.shape, slot, SLOT_DESC_OFFSET), 0);
    Atomics.store(ints, slotAt(this.shape, slot, SLOT_DESC_BYTES), written);
  }

  /** Until no thread's cell names the slot (threads set their cell before they read STATE). */
  async #drain(slot: number): Promise<void> {
    const ints = this.ints;
    for (let worker = 0; worker < this.shape.threads; worker++) {
      while (Atomics.load(ints, cellAt(worker)) === slot + 1) {
        const waited = Atomics.waitAsync(ints, cellAt(worker), slot + 1);
        if (!waited.async) break; // not-equal: the thread is elsewhere
        await waited.value;
      }
    }
  }

  #release(slot: number): void {
    this.#owners[slot] = undefined;
    const waiter = this.#slotWaiters.shift();
    if (waiter) waiter(slot);
    else this.#free.push(slot);
  }
}

/** Until ints[index] is 0 or the call stops (whose listener notifies the index). */
async function untilZero(ints: Int32Array, index: number, ctx: CallContext): Promise<void> {
  for (;;) {
    const value = Atomics.load(ints, index);
    if (value <= 0 || ctx.stopped) return;
    const waited = Atomics.waitAsync(ints, index, value);
    if (waited.async) await waited.value;
  }
}
