// Fresh result buffers made in advance by a pool thread (workers/board/result-filler.ts). A call's
// result is a new SharedArrayBuffer of its own (API.md: results are always SharedArrayBuffer-backed,
// and no result shares memory with another), and making one costs the thread that first touches its
// pages their faults: for 128 KiB on a 2-vCPU VM, ~45 µs of the calling thread's CPU when it copied
// the staged result in — a third of what a call of self-attention at S = 64 cost it. So the pool
// keeps a few buffers of the sizes its calls' results had, each made and touched by the filler thread
// while it had nothing to do, and takes one with receiveMessageOnPort (~1.5 µs).
//
// Every buffer is new — made for this, posted once, handed to one result — so no result ever sees
// another's memory. Sizes from MIN_STOCK_BYTES to MAX_STOCK_BYTES only, once asked for again soon after,
// STOCK_TARGET per size for STOCK_SIZES sizes (the least recently used size gives way): at most 8 MiB
// waits in stock, and all of it goes when the pool parks (trim).

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import {
  MAX_STOCK_BYTES, MIN_STOCK_BYTES, STOCK_SIZES, STOCK_TABLE_INTS, stockBytesAt, stockedAt,
} from '../../workers/board/result-stock-table.js';

export class ResultStock {
  /** Shared with the filler thread (workers/board/result-stock-table.ts). */
  readonly table = new Int32Array(new SharedArrayBuffer(STOCK_TABLE_INTS * 4));
  /** Buffers received, by byte length. */
  readonly #received = new Map<number, SharedArrayBuffer[]>();
  /** When each table entry's size was last asked for, for the least recently used to give way. */
  readonly #lastUse = new Array<number>(STOCK_SIZES).fill(0);
  #uses = 0;
  /** The last STOCK_SIZES sizes asked for that no entry held: a size gets an entry when asked for again
   *  among them, so that calls of ever new shapes (a stress run) do not keep the filler making buffers
   *  for nobody, while a loop alternating a few result sizes gets them all. */
  readonly #candidates: number[] = [];
  #port: MessagePort | undefined;

  /** The filler thread's port (its serve task's), replacing the last one. */
  connect(port: MessagePort): void {
    this.disconnect();
    port.unref();
    this.#port = port;
  }

  /** The filler's serve task ended: buffers it posted and this did not receive are dropped. */
  disconnect(): void {
    this.#port?.close();
    this.#port = undefined;
  }

  /** A new, zeroed buffer of exactly `bytes` made by the filler, or undefined (the caller makes one);
   *  a size asked for again soon after is asked of the filler from then on. */
  take(bytes: number): SharedArrayBuffer | undefined {
    if (bytes < MIN_STOCK_BYTES || bytes > MAX_STOCK_BYTES) return undefined;
    const entry = this.#entryFor(bytes);
    if (entry < 0) return undefined;
    this.#lastUse[entry] = ++this.#uses;
    if (Atomics.load(this.table, stockedAt(entry)) === 0) return undefined;
    let held = this.#received.get(bytes);
    if (!held?.length) {
      this.#receiveAll();
      held = this.#received.get(bytes);
    }
    const buffer = held?.pop();
    // None although the count said so: what was counted was of the size this entry asked for before
    // it was taken over, and was dropped. The count starts again from what is here.
    if (buffer) Atomics.sub(this.table, stockedAt(entry), 1);
    else Atomics.store(this.table, stockedAt(entry), 0);
    return buffer;
  }

  /** Lets go of every buffer in stock and stops asking for any size (the pool is idle). */
  trim(): void {
    this.#receiveAll();
    this.#received.clear();
    this.#candidates.length = 0;
    for (let entry = 0; entry < STOCK_SIZES; entry++) {
      Atomics.store(this.table, stockBytesAt(entry), 0);
      Atomics.store(this.table, stockedAt(entry), 0);
    }
  }

  /** The table entry asking for `bytes`: its own; else, for a size among the candidates, the least
   *  recently used one, taken over; else -1. */
  #entryFor(bytes: number): number {
    const own = this.#entryOf(bytes);
    if (own >= 0) return own;
    let oldest = 0;
    for (let entry = 1; entry < STOCK_SIZES; entry++) if (this.#lastUse[entry] < this.#lastUse[oldest]) oldest = entry;
    const seen = this.#candidates.indexOf(bytes);
    if (seen < 0) {
      if (this.#candidates.push(bytes) > STOCK_SIZES) this.#candidates.shift();
      return -1;
    }
    this.#candidates.splice(seen, 1);
    const replaced = Atomics.load(this.table, stockBytesAt(oldest));
    this.#received.delete(replaced);
    Atomics.store(this.table, stockBytesAt(oldest), bytes);
    Atomics.store(this.table, stockedAt(oldest), 0);
    return oldest;
  }

  /** Moves every buffer posted so far from the port into #received; one of a size no entry asks for
   *  any more (its entry was taken over) is dropped. */
  #receiveAll(): void {
    const port = this.#port;
    if (!port) return;
    for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) {
      const buffer = message.message as SharedArrayBuffer;
      if (this.#entryOf(buffer.byteLength) < 0) continue;
      let held = this.#received.get(buffer.byteLength);
      if (!held) this.#received.set(buffer.byteLength, (held = []));
      held.push(buffer);
    }
  }

  /** The table entry asking for `bytes`, or -1. */
  #entryOf(bytes: number): number {
    for (let entry = 0; entry < STOCK_SIZES; entry++) if (Atomics.load(this.table, stockBytesAt(entry)) === bytes) return entry;
    return -1;
  }
}
