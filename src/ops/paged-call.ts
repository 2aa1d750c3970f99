// pool.attention(q, sequence, options) over a paged store's sequence: what the call's validation and
// job are given in place of k and v. The call reads the sequence's snapshot (its pages and length as of
// the call, src/paged/paged-sequence.ts), held until the call settles; the kernels read the pages in
// place (workers/kernels/wasm/paged-spans.ts, workers/kernels/js/paged-readers.ts).

import type { PagedKv, View4 } from '../../workers/kernels/jobs.js';
import type { KvSide } from '../kv-storage.js';
import type { PagedLayout } from '../paged/paged-kv-cache.js';
import type { PagedSnapshot } from '../paged/paged-sequence.js';
import type { KvCacheLayout, KvHolder } from '../validate/kv-cache-args.js';
import { contiguous4 } from './views.js';

/** What the validation of a call over a sequence gets: the store's layout as a one-row cache's, sides
 *  over the store's memory in place of the keys and values (the validator reads none of it), and the
 *  store's memory as the buffer out and lse must stay clear of. */
export interface PagedValidation {
  readonly layout: KvCacheLayout;
  readonly keys: KvSide;
  readonly values: KvSide;
  readonly holder: KvHolder;
}

export function pagedValidation(store: PagedLayout): PagedValidation {
  const memory = new Float32Array(store.memory.buffer);
  return {
    layout: { batch: 1, kvHeads: store.kvHeads, headDim: store.D, valueDim: store.Dv, dtype: store.dtype },
    keys: { data: memory, scales: undefined, cols: store.D },
    values: { data: memory, scales: undefined, cols: store.Dv },
    holder: {
      name: 'store',
      form: 'with a paged sequence, the sequence stands in for both k and v: attention(q, sequence, options)',
      batch: "a sequence's batch",
      buffers: [{ name: "the paged store's memory", data: memory }],
    },
  };
}

const EMPTY = new Float32Array(0);

/** The job's K/V: empty k and v views, and the pages of the snapshot. */
export function pagedKvOf(store: PagedLayout, snapshot: PagedSnapshot): { readonly k: View4; readonly v: View4; readonly paged: PagedKv } {
  return {
    k: contiguous4(EMPTY, store.kvHeads, 0, store.D),
    v: contiguous4(EMPTY, store.kvHeads, 0, store.Dv),
    paged: {
      memory: store.memory, pages: snapshot.pages, flags: snapshot.flags, dtype: store.dtype, pageTokens: store.pageTokens,
      pagesBase: store.pagesBase, pageBytes: store.pageBytes, headRegionBytes: store.headRegionBytes, dvPad: store.dvPad, parts: store.parts,
    },
  };
}
