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

import type { KvSource, View4 } from '../workers/kernels/jobs.js';
import type { FloatArray, Tensor } from './tensor.js';
import { DTYPES, sharedArray } from '../workers/dtypes.js';
import {
  checkAppendArgs, checkCapacity, resolveKvCacheOptions, type KvCacheDType, type KvCacheLayout,
} from './validate/kv-cache-args.js';
import { checkTypedArrayLength } from './validate/typed-array-limit.js';

/** One allocation of the cache's buffers, and how many calls in flight read it. */
interface KvStore<A extends FloatArray> {
  readonly keys: A;
  readonly values: A;
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
export interface KvSnapshot<A extends FloatArray> {
  readonly keys: A;
  readonly values: A;
  readonly capacity: number;
  readonly length: number;
  readonly k: View4;
  readonly v: View4;
  /** The buffer generation read, for kernels that keep packed K/V across calls; undefined when the
   *  cache cannot vouch for its buffers (adopted ones). */
  readonly kvSource: KvSource | undefined;
  /** Ends the call's claim on the buffers (idempotent); called once its last tile has returned. */
  release(): void;
}

/** Lets the pool snapshot a cache without making snapshots part of the public surface. */
let snapshotOf: <A extends FloatArray>(cache: KvCache<A>) => KvSnapshot<A>;

/** A cache's buffers and length as they cross to the remote engine's host thread (shared, not copied). */
export interface KvCacheContents<A extends FloatArray = FloatArray> {
  readonly layout: KvCacheLayout;
  readonly keys: A;
  readonly values: A;
  readonly capacity: number;
  readonly length: number;
}

/** Set only while kvCacheOver() constructs a cache over existing buffers. */
let adopting: KvCacheContents | undefined;

export class KvCache<A extends FloatArray = Float32Array> {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly dtype: KvCacheDType;
  #store: KvStore<A>;
  #length = 0;

  /** Use pool.createKvCache(options). */
  constructor(options: unknown) {
    const { capacity, ...layout } = resolveKvCacheOptions(options);
    this.batch = layout.batch;
    this.kvHeads = layout.kvHeads;
    this.headDim = layout.headDim;
    this.valueDim = layout.valueDim;
    this.dtype = layout.dtype;
    const adopted = adopting;
    this.#store = adopted
      ? { keys: adopted.keys as A, values: adopted.values as A, capacity: adopted.capacity, readers: 0, id: undefined, epoch: 0 }
      : this.#allocate(capacity, 'createKvCache');
    this.#length = adopted ? adopted.length : 0;
  }

  /** Positions filled so far: [0, length) is what the next attention call reads. */
  get length(): number {
    return this.#length;
  }

  /** Positions the cache can hold without reserve(). */
  get capacity(): number {
    return this.#store.capacity;
  }

  /** Copies k [B, Hkv, n, D] and v [B, Hkv, n, Dv] (n ≥ 1, shared or not) into positions
   *  [length, length + n). A RangeError, before anything is written, if n exceeds capacity − length. */
  append(kIn: Tensor<A>, vIn: Tensor<A>): void {
    const { k, v, n } = checkAppendArgs(this.#layout(), this.#length, this.capacity, kIn, vIn); // read once, checked
    const { keys, values, capacity } = this.#store;
    for (let bh = 0; bh < this.batch * this.kvHeads; bh++) {
      copyPositions(keys, (bh * capacity + this.#length) * this.headDim, k.data, bh * n * this.headDim, n * this.headDim);
      copyPositions(values, (bh * capacity + this.#length) * this.valueDim, v.data, bh * n * this.valueDim, n * this.valueDim);
    }
    this.#length += n;
  }

  /** Grows the cache to hold at least `capacity` positions, keeping its contents (a no-op when it
   *  already does). Growth is never implicit: append() past the capacity throws instead. */
  reserve(capacity: number): void {
    const wanted = checkCapacity('KvCache.reserve', 'capacity', capacity);
    if (wanted <= this.capacity) return;
    const old = this.#store;
    const grown = this.#allocate(wanted, 'KvCache.reserve');
    for (let bh = 0; bh < this.batch * this.kvHeads; bh++) {
      copyPositions(grown.keys, bh * wanted * this.headDim, old.keys, bh * old.capacity * this.headDim, this.#length * this.headDim);
      copyPositions(grown.values, bh * wanted * this.valueDim, old.values, bh * old.capacity * this.valueDim, this.#length * this.valueDim);
    }
    this.#store = grown; // calls in flight keep reading `old`, which nothing writes again
  }

  /** Empties the cache (length 0). Safe while calls read it: see the top of this file. */
  reset(): void {
    if (this.#store.readers > 0) this.#store = this.#allocate(this.capacity, 'KvCache.reset');
    else this.#store.epoch++; // the same buffers will hold new values at positions calls may have read
    this.#length = 0;
  }

  static {
    snapshotOf = <B extends FloatArray>(cache: KvCache<B>): KvSnapshot<B> => cache.#snapshot();
  }

  #snapshot(): KvSnapshot<A> {
    const store = this.#store;
    store.readers++;
    let released = false;
    const view = (data: A, cols: number): View4 => ({
      data, offset: 0, strideB: this.kvHeads * store.capacity * cols, strideH: store.capacity * cols, strideRow: cols,
    });
    return {
      keys: store.keys, values: store.values, capacity: store.capacity, length: this.#length,
      k: view(store.keys, this.headDim), v: view(store.values, this.valueDim),
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

  #allocate(capacity: number, op: string): KvStore<A> {
    const bytesPer = DTYPES[this.dtype].bytes;
    const rows = this.batch * this.kvHeads * capacity;
    checkTypedArrayLength(op, `the keys of a cache of capacity ${capacity} (batch·kvHeads·capacity·headDim)`, rows * this.headDim);
    checkTypedArrayLength(op, `the values of a cache of capacity ${capacity} (batch·kvHeads·capacity·valueDim)`, rows * this.valueDim);
    try {
      const keys = sharedArray(this.dtype, rows * this.headDim) as A, values = sharedArray(this.dtype, rows * this.valueDim) as A;
      return { keys, values, capacity, readers: 0, id: nextStoreId++, epoch: 0 };
    } catch (err) {
      throw new RangeError(`${op}: a cache of capacity ${capacity} needs ${rows * (this.headDim + this.valueDim) * bytesPer} bytes ` +
        `of shared memory (batch·kvHeads·capacity·(headDim + valueDim)·${bytesPer}), which could not be allocated`, { cause: err });
    }
  }
}

/** A cache over buffers another thread filled (the remote engine's host): a read-only stand-in for
 *  the caller's cache in one call, which is why it needs no claim of its own on the buffers. */
export function kvCacheOver<A extends FloatArray>(contents: KvCacheContents<A>): KvCache<A> {
  adopting = contents;
  try {
    return new KvCache<A>({ ...contents.layout, capacity: contents.capacity });
  } finally {
    adopting = undefined;
  }
}

/** What crosses to the remote engine's host for a call over `cache`. */
export function kvCacheContents<A extends FloatArray>(cache: KvCache<A>, snapshot: KvSnapshot<A>): KvCacheContents<A> {
  const { batch, kvHeads, headDim, valueDim, dtype } = cache;
  return { layout: { batch, kvHeads, headDim, valueDim, dtype }, keys: snapshot.keys, values: snapshot.values, capacity: snapshot.capacity, length: snapshot.length };
}

/** The positions [0, cache.length) as of now, claimed until release(); for pool.attention. */
export function snapshotKvCache<A extends FloatArray>(cache: KvCache<A>): KvSnapshot<A> {
  return snapshotOf(cache);
}

function copyPositions(dst: FloatArray, dstOffset: number, src: FloatArray, srcOffset: number, count: number): void {
  dst.set(src.subarray(srcOffset, srcOffset + count), dstOffset);
}
