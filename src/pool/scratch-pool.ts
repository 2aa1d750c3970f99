// Shared buffers the pool reuses from call to call for what a call's threads write and the caller never
// keeps: the staging of a small result (copied out when the call ends), split-KV's partial states, the
// slots of paused tiles. A fresh SharedArrayBuffer would cost a registration with every thread
// (buffer-registry.ts: one message per thread) plus its page faults; a reused one is registered once.
//
// Buffers come in power-of-two classes from 4 KiB to MAX_POOLED_BYTES; larger requests get a fresh
// buffer. Every buffer given back waits for reuse — under load the pool keeps what its busiest moment
// used at once, so that a steady stream of calls registers no new buffer (a cap of 8 per class churned
// 2,000 buffers in 6 s at 16 calls in flight, and the threads, which drop a forgotten buffer only at
// their own garbage collection, held 1.2 GiB more RSS) — and trim() lets all of it go once the pool
// is idle (the pool calls it when its threads park).

/** The largest class kept for reuse. */
const MAX_POOLED_BYTES = 4 << 20;
const MIN_CLASS_BYTES = 4096;

import type { ResultStock } from './result-stock.js';

export type ArrayType<A> = { new (buffer: SharedArrayBuffer, byteOffset: number, length: number): A; readonly BYTES_PER_ELEMENT: number };

export class ScratchPool {
  readonly #free = new Map<number, SharedArrayBuffer[]>();
  /** Caller buffers met before (firstSight). */
  readonly #seen = new WeakSet<ArrayBufferLike>();

  /** Whether `view` is small enough to stage and lies on a buffer no call of this pool has met before
   *  (which it now has). A caller's shared tensor met for the first time is copied into scratch rather
   *  than used in place: sending a buffer to the threads costs a message per thread, and a forgotten
   *  one lingers there until their next collection (workers/board/worker-buffers.ts) — for out/lse
   *  tensors made by zeros() for every call, a copy of a few KiB is the cheaper way. A buffer met
   *  again is used in place, and sent once. */
  firstSight(view: ArrayBufferView): boolean {
    if (view.byteLength > MAX_POOLED_BYTES || this.#seen.has(view.buffer)) return false;
    this.#seen.add(view.buffer);
    return true;
  }

  /** A buffer of at least `bytes`; with `zeroed`, its first `bytes` read 0 (a new buffer does already). */
  take(bytes: number, zeroed = false): SharedArrayBuffer {
    const size = classOf(bytes);
    if (size === undefined) return new SharedArrayBuffer(bytes);
    const reused = this.#free.get(size)?.pop();
    if (!reused) return new SharedArrayBuffer(size);
    if (zeroed) zeroShared(reused, bytes);
    return reused;
  }

  give(buffer: SharedArrayBuffer): void {
    const size = buffer.byteLength;
    if (classOf(size) !== size) return;
    let free = this.#free.get(size);
    if (!free) this.#free.set(size, (free = []));
    free.push(buffer);
  }

  /** Drops every buffer waiting for reuse (the registry then tells the threads to forget them). */
  trim(): void {
    this.#free.clear();
  }
}

/** Eight bytes a store: V8 fills a shared typed array one element at a time (a relaxed atomic store
 *  each), so clearing 16 KiB as a Uint8Array took 6.5 µs, as a Float64Array 0.7 µs (AMD EPYC Zen 3). */
function zeroShared(buffer: SharedArrayBuffer, bytes: number): void {
  const words = Math.floor(bytes / 8);
  new Float64Array(buffer, 0, words).fill(0);
  new Uint8Array(buffer, words * 8, bytes - words * 8).fill(0);
}

function classOf(bytes: number): number | undefined {
  if (bytes > MAX_POOLED_BYTES) return undefined;
  return Math.max(MIN_CLASS_BYTES, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1))));
}

/** One call's scratch: zeroed arrays from the pool, all given back by release() once no thread of the
 *  call touches them. */
export class CallScratch {
  readonly #taken: SharedArrayBuffer[] = [];

  /** `results`: where a result the caller keeps may come from (result-stock.ts). */
  constructor(private readonly pool: ScratchPool, private readonly results?: ResultStock) {}

  /** A new array for a result the caller keeps — never reused, never given back —: a buffer from the
   *  result stock when it holds one of this size, else a new one. */
  resultArray<A extends ArrayBufferView>(Type: ArrayType<A>, length: number): A {
    const bytes = length * Type.BYTES_PER_ELEMENT;
    return new Type(this.results?.take(bytes) ?? new SharedArrayBuffer(bytes), 0, length);
  }

  /** `zeroed` false: the caller clears what it reads before writing (an earlier call's values are in
   *  a reused buffer, and a call must never see another's). */
  array<A extends ArrayBufferView>(Type: ArrayType<A>, length: number, zeroed = true): A {
    const buffer = this.pool.take(length * Type.BYTES_PER_ELEMENT, zeroed);
    this.#taken.push(buffer);
    return new Type(buffer, 0, length);
  }

  release(): void {
    for (const buffer of this.#taken.splice(0)) this.pool.give(buffer);
  }

  /** ScratchPool.firstSight. */
  firstSight(view: ArrayBufferView): boolean {
    return this.pool.firstSight(view);
  }
}

/** A zeroed shared array: from the call's scratch when it has one, else on a new buffer. */
export function scratchArray<A extends ArrayBufferView>(scratch: CallScratch | undefined, Type: ArrayType<A>, length: number, zeroed = true): A {
  return scratch ? scratch.array(Type, length, zeroed) : new Type(new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT), 0, length);
}
