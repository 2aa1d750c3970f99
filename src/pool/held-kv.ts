// What a call over held K/V — a KvCache, or a sequence of a paged store — takes synchronously with the
// call and keeps until it settles: a snapshot of the positions it reads (later appends are not read,
// and a paged sequence's pages are not reused under it), what its validation checks it against, and
// where its job reads K and V. pool.attention and each request of pool.attentionBatch hold alike, so
// request i of a batch reads exactly what attention() over the same K/V would.

import { KvCache, snapshotKvCache, type KvSnapshot } from '../kv-cache.js';
import { PagedSequence, pagedLayoutOf, type PagedKvCache } from '../paged/index.js';
import type { AttentionKv } from '../ops/attention-op.js';
import { pagedKvOf, pagedValidation } from '../ops/paged-call.js';
import type { FloatArray } from '../tensor.js';
import { cacheBuffersOf, type KvCacheLayout, type KvHolder } from '../validate/kv-cache-args.js';
import type { HeldKvSource } from '../validate/batch-args.js';
import type { NamedData } from '../validate/overlap.js';

/** What a call over held keys reads, as validation sees it: the sides' buffers and the snapshot's length. */
export type CachedKv = Pick<KvSnapshot, 'keys' | 'values' | 'length' | 'gap'>;

export interface HeldKv {
  /** The holder's shape and dtype, as a cache's. */
  readonly layout: KvCacheLayout;
  readonly kv: CachedKv;
  /** How messages name the holder, and the buffers outputs must stay clear of; undefined: a KvCache's. */
  readonly holder: KvHolder | undefined;
  /** Where the job reads K and V. */
  readonly job: AttentionKv;
  /** The buffers the call reads in place, each named after `owner` (a batch's "requests[3].kv's"). */
  buffersAs(owner: string): NamedData[];
  /** Ends the hold (idempotent). */
  release(): void;
}

/** Whether pool.attention or a batch's request holds `value` for the call. */
export function isHeldKvSource(value: unknown): value is HeldKvSource {
  return value instanceof KvCache || value instanceof PagedSequence;
}

/** Holds `kv` for a call of `op`: pool.attention's second argument, or with `request` ('requests[3].kv')
 *  a batch's request. A sequence must be of a store in `stores` (the pool's own): a TypeError else; a
 *  released sequence throws as its other uses do, the request named. */
export function holdKv(kv: HeldKvSource, stores: WeakSet<PagedKvCache>, op: string, request?: string): HeldKv {
  if (kv instanceof KvCache) return holdCache(kv);
  if (!stores.has(kv.store)) {
    throw new TypeError(`${op}: ${request ?? 'the second argument'} must be a sequence of a paged store this pool created ` +
      '(pool.createPagedKvCache), got a sequence of a store made by another pool or by createPagedKvCache() alone');
  }
  return holdSequence(kv, request ? `${op}: ${request}` : op);
}

/** A KvCache held for a call, with the snapshot it holds (what a remote engine sends its host). */
export interface HeldCache extends HeldKv {
  readonly cache: KvCache<FloatArray>;
  readonly snapshot: KvSnapshot;
}

export function holdCache(cache: KvCache<FloatArray>): HeldCache {
  const snapshot = snapshotKvCache(cache);
  return {
    cache, snapshot, layout: cache, kv: snapshot, holder: undefined, job: snapshot,
    buffersAs: (owner) => cacheBuffersOf(snapshot.keys, snapshot.values, owner),
    release: snapshot.release,
  };
}

/** `op`: what a released sequence's error names. */
function holdSequence(sequence: PagedSequence, op: string): HeldKv {
  const snapshot = sequence.snapshot(op);
  const store = pagedLayoutOf(sequence.store);
  const { layout, keys, values, holder } = pagedValidation(store);
  return {
    layout, kv: { keys, values, length: snapshot.length, gap: undefined }, holder, job: pagedKvOf(store, snapshot),
    buffersAs: (owner) => [{ name: `${owner} paged store memory`, data: keys.data }],
    release: snapshot.release,
  };
}

/** Holds every request's K/V in order; when one throws, those held already are released first. */
export function holdAll<T, H extends HeldKv>(items: readonly T[], hold: (item: T, index: number) => H | undefined): (H | undefined)[] {
  const held: (H | undefined)[] = [];
  try {
    items.forEach((item, i) => held.push(hold(item, i)));
  } catch (err) {
    for (const h of held) h?.release();
    throw err;
  }
  return held;
}
