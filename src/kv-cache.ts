// KvCache: keys [B, Hkv, capacity, D] and values [B, Hkv, capacity, Dv] in SharedArrayBuffers, filled
// position by position while a decoder generates, and read by pool.attention(q, cache, options) in
// place: the kernels get strided views over the cache's own buffers (strideH = capacity·D), no copy.
//
// Safety while calls are in flight. A call reads positions [0, length) as of the moment it was made
// (its snapshot). append() only writes positions at or past the current length, so it never touches
// what a call in flight reads. reserve() always moves the cache to larger buffers, copying [0, length).
// reset() rewinds and reuses the buffers, unless some call still reads them: then it moves the cache
// to fresh buffers and leaves the old ones to those calls, which keep them alive until they end (so
// for a moment the memory is twice the cache's). A call counts as reading until its last tile has
// returned, which for an aborted call is after its promise rejected — so the cache never rewrites
// memory that a worker may still be reading, and reset() never has to throw or wait.
//
// Identity for the kernels. So positions [0, length) of a buffer generation never change: each store
// gets a process-unique id, and reset() in place bumps the store's epoch. A call passes (id, epoch) to
// the kernels as the job's kvSource, which lets a wasm worker keep K/V packed from earlier calls and
// pack only the positions appended since (workers/kernels/wasm/kv-pieces.ts). A cache over another
// thread's buffers (kvCacheOver) has no identity: its owner's resets are invisible here.
//
// A window cache (options.window, sinkTokens; kv-window.ts) writes its ring in place. Once the ring
// holds positions, an append that overwrites some of them changes what keys [0, length) are: with
// no call reading the buffers it bumps the epoch, as reset() does; with calls reading them it first
// moves the cache to a copy of its buffers (once per such append, O(sinkTokens + window)), so that a
// call in flight still reads its snapshot.

import type { KvSource, KvStorage, View4 } from '../workers/kernels/jobs.js';
import type { FloatArray, Tensor } from './tensor.js';
import type { PositionGap } from '../workers/kernels/key-range.js';
import type { KvRing } from '../workers/kernels/kv-ring.js';
import { appendCopies, heldKeys, overwritesHeld, type WindowShape } from './kv-window.js';
import {
  allocateSide, copyStoredRows, kvStorageOf, sideBytes, sideView, writeRows, type KvElements, type KvSide,
} from './kv-storage.js';
import {
  checkAppendArgs, checkCapacity, checkStorable, resolveKvCacheOptions, type KvCacheDType, type KvCacheLayout,
} from './validate/kv-cache-args.js';
import { checkTypedArrayLength } from './validate/typed-array-limit.js';
import { describe } from './errors.js';

/** One allocation of the cache's buffers, and how many calls in flight read it. */
interface KvStore {
  readonly keys: KvSide;
  readonly values: KvSide;
  readonly capacity: number;
  readers: number;
  /** Process-unique; undefined for adopted buffers (kvCacheOver). */
  readonly id: number | undefined;
  /** Bumped by each reset() that reuses the buffers. */
  epoch: number;
}

/** Ids of KvStore allocations; per process, which is all the kernels compare (a worker only sees jobs
 *  from its own pool's process). */
let nextStoreId = 1;

/** What one attention call reads: the buffers and length as of the call, as kernel views. */
export interface KvSnapshot {
  readonly keys: KvSide;
  readonly values: KvSide;
  readonly capacity: number;
  /** Keys the call reads: the positions held. */
  readonly length: number;
  /** Positions appended (length, but for a window cache). */
  readonly position: number;
  readonly k: View4<KvElements>;
  readonly v: View4<KvElements>;
  /** How K and V are stored, for float16 and int8 caches. */
  readonly kvStorage: KvStorage | undefined;
  /** A window cache that dropped positions: where keys sit in the sequence and in the rows. */
  readonly gap?: PositionGap;
  readonly kvRing?: KvRing;
  /** The buffer generation read, for kernels that keep packed K/V across calls; undefined when the
   *  cache cannot vouch for its buffers (adopted ones). */
  readonly kvSource: KvSource | undefined;
  /** Ends the call's claim on the buffers (idempotent); called once its last tile has returned. */
  release(): void;
}

/** Lets the pool snapshot a cache without making snapshots part of the public surface. */
let snapshotOf: (cache: KvCache<FloatArray>) => KvSnapshot;

/** A cache's buffers and length as they cross to the remote engine's host thread (shared, not copied). */
export interface KvCacheContents {
  readonly layout: KvCacheLayout;
  readonly keys: KvSide;
  readonly values: KvSide;
  readonly capacity: number;
  /** Positions appended (length, but for a window cache). */
  readonly position: number;
  readonly window?: WindowShape;
}

/** Set only while kvCacheOver() constructs a cache over existing buffers. */
let adopting: KvCacheContents | undefined;

export class KvCache<A extends FloatArray = Float32Array> {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly dtype: KvCacheDType;
  /** Set for a window cache: sinkTokens + window rows, which never grow. */
  readonly #window: WindowShape | undefined;
  #store: KvStore;
  /** Positions appended since creation or the last reset (N). */
  #position = 0;

  /** Use pool.createKvCache(options). */
  constructor(options: unknown) {
    const { capacity, window, ...layout } = resolveKvCacheOptions(options);
    this.batch = layout.batch;
    this.kvHeads = layout.kvHeads;
    this.headDim = layout.headDim;
    this.valueDim = layout.valueDim;
    this.dtype = layout.dtype;
    this.#window = window;
    const adopted = adopting;
    this.#store = adopted
      ? { keys: adopted.keys, values: adopted.values, capacity: adopted.capacity, readers: 0, id: undefined, epoch: 0 }
      : this.#allocate(capacity, 'createKvCache');
    this.#position = adopted ? adopted.position : 0;
  }

  /** Positions held: [0, length) is what the next attention call reads, the held positions in order.
   *  For a window cache min(N, sinkTokens + window) (N = position), else N. */
  get length(): number {
    return this.#window ? heldKeys(this.#window, this.#position).length : this.#position;
  }

  /** Positions appended since creation or the last reset; length, but for a window cache. */
  get position(): number {
    return this.#position;
  }

  /** Positions the cache can hold without reserve(); for a window cache, sinkTokens + window. */
  get capacity(): number {
    return this.#store.capacity;
  }

  /** The window of a window cache (undefined for a cache with a capacity). */
  get window(): number | undefined {
    return this.#window?.window;
  }

  /** Positions a window cache keeps from the start (0 for a cache with a capacity). */
  get sinkTokens(): number {
    return this.#window?.sinkTokens ?? 0;
  }

  /** Copies k [B, Hkv, n, D] and v [B, Hkv, n, Dv] (n ≥ 1, shared or not) into positions
   *  [position, position + n), converted to the cache's dtype (float16, int8: from float32). A
   *  RangeError, before anything is written, if n exceeds capacity − length or a value cannot be
   *  stored; a window cache never runs out of room and writes only the positions it keeps (kv-window.ts). */
  append(kIn: Tensor<A>, vIn: Tensor<A>): void {
    const win = this.#window;
    // A window cache has room for any n: checked against an unbounded capacity.
    const { k, v, n } = checkAppendArgs(this.#layout(), win ? 0 : this.#position, win ? Infinity : this.capacity, kIn, vIn); // read once, checked
    checkStorable('KvCache.append', 'cache', this.dtype, k, v);
    const copies = win ? appendCopies(win, this.#position, n) : [{ from: 0, row: this.#position, rows: n }];
    if (win && overwritesHeld(win, this.#position, n)) {
      if (this.#store.readers > 0) this.#store = this.#copyOfStore();
      else this.#store.epoch++; // keys [0, length) of these buffers now hold other positions
    }
    const { keys, values, capacity } = this.#store;
    for (let bh = 0; bh < this.batch * this.kvHeads; bh++) {
      for (const { from, row, rows } of copies) {
        writeRows(keys, this.dtype, bh * capacity + row, k.data, (bh * n + from) * this.headDim, rows);
        writeRows(values, this.dtype, bh * capacity + row, v.data, (bh * n + from) * this.valueDim, rows);
      }
    }
    this.#position += n;
  }

  /** Grows the cache to hold at least `capacity` positions, keeping its contents (a no-op when it
   *  already does). Growth is never implicit: append() past the capacity throws instead. */
  reserve(capacity: number): void {
    if (this.#window) {
      throw new RangeError(`KvCache.reserve: a window cache never grows (it holds sinkTokens + window = ${this.capacity} positions ` +
        `and appending never runs out of room), got reserve(${describe(capacity)})`);
    }
    const wanted = checkCapacity('KvCache.reserve', 'capacity', capacity);
    if (wanted <= this.capacity) return;
    const old = this.#store;
    const grown = this.#allocate(wanted, 'KvCache.reserve');
    for (let bh = 0; bh < this.batch * this.kvHeads; bh++) {
      copyStoredRows(grown.keys, bh * wanted, old.keys, bh * old.capacity, this.#position);
      copyStoredRows(grown.values, bh * wanted, old.values, bh * old.capacity, this.#position);
    }
    this.#store = grown; // calls in flight keep reading `old`, which nothing writes again
  }

  /** Empties the cache (length and position 0). Safe while calls read it: see the top of this file. */
  reset(): void {
    if (this.#store.readers > 0) this.#store = this.#allocate(this.capacity, 'KvCache.reset');
    else this.#store.epoch++; // the same buffers will hold new values at positions calls may have read
    this.#position = 0;
  }

  static {
    snapshotOf = (cache: KvCache<FloatArray>): KvSnapshot => cache.#snapshot();
  }

  #snapshot(): KvSnapshot {
    const store = this.#store;
    store.readers++;
    let released = false;
    const { keys, values, capacity } = store;
    const held = this.#window && heldKeys(this.#window, this.#position);
    // Every field written out (gap and kvRing undefined when not held): a spread of `held` here cost
    // more than the rest of the snapshot, on every call over the cache.
    return {
      keys, values, capacity, length: held ? held.length : this.#position, gap: held?.gap, kvRing: held?.kvRing, position: this.#position,
      k: sideView(keys.data, this.kvHeads, capacity, this.headDim), v: sideView(values.data, this.kvHeads, capacity, this.valueDim),
      kvStorage: kvStorageOf(this.dtype, keys, values, this.kvHeads, capacity),
      kvSource: store.id === undefined ? undefined : { id: store.id, epoch: store.epoch },
      release: () => {
        if (released) return;
        released = true;
        store.readers--;
      },
    };
  }

  #layout(): KvCacheLayout {
    return { batch: this.batch, kvHeads: this.kvHeads, headDim: this.headDim, valueDim: this.valueDim, dtype: this.dtype };
  }

  /** Fresh buffers holding what the current ones hold, for an append while calls read those. */
  #copyOfStore(): KvStore {
    const old = this.#store;
    const store = this.#allocate(old.capacity, 'KvCache.append');
    const rows = this.batch * this.kvHeads * old.capacity;
    copyStoredRows(store.keys, 0, old.keys, 0, rows);
    copyStoredRows(store.values, 0, old.values, 0, rows);
    return store;
  }

  #allocate(capacity: number, op: string): KvStore {
    const rows = this.batch * this.kvHeads * capacity;
    checkTypedArrayLength(op, `the keys of a cache of capacity ${capacity} (batch·kvHeads·capacity·headDim)`, rows * this.headDim);
    checkTypedArrayLength(op, `the values of a cache of capacity ${capacity} (batch·kvHeads·capacity·valueDim)`, rows * this.valueDim);
    try {
      const keys = allocateSide(this.dtype, rows, this.headDim), values = allocateSide(this.dtype, rows, this.valueDim);
      return { keys, values, capacity, readers: 0, id: nextStoreId++, epoch: 0 };
    } catch (err) {
      const bytes = sideBytes(this.dtype, rows, this.headDim) + sideBytes(this.dtype, rows, this.valueDim);
      throw new RangeError(`${op}: a cache of capacity ${capacity} needs ${bytes} bytes of shared memory ` +
        `(batch·kvHeads·capacity·(headDim + valueDim) elements of ${this.dtype}), which could not be allocated`, { cause: err });
    }
  }
}

/** A cache over buffers another thread filled (the remote engine's host): a read-only stand-in for
 *  the caller's cache in one call, which is why it needs no claim of its own on the buffers. */
export function kvCacheOver<A extends FloatArray>(contents: KvCacheContents): KvCache<A> {
  adopting = contents;
  try {
    return new KvCache<A>({ ...contents.layout, ...(contents.window ? contents.window : { capacity: contents.capacity }) });
  } finally {
    adopting = undefined;
  }
}

/** What crosses to the remote engine's host for a call over `cache`. */
export function kvCacheContents(cache: KvCache<FloatArray>, snapshot: KvSnapshot): KvCacheContents {
  const { batch, kvHeads, headDim, valueDim, dtype, window, sinkTokens } = cache;
  return {
    layout: { batch, kvHeads, headDim, valueDim, dtype }, keys: snapshot.keys, values: snapshot.values, capacity: snapshot.capacity,
    position: snapshot.position, ...(window === undefined ? {} : { window: { window, sinkTokens } }),
  };
}

/** The held positions, keys [0, cache.length), as of now, claimed until release(); for pool.attention. */
export function snapshotKvCache(cache: KvCache<FloatArray>): KvSnapshot {
  return snapshotOf(cache);
}
