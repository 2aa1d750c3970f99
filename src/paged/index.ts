// The paged K/V store (issue #15): the store, its sequences, and what the kernels need to read it.
export { PagedKvCache, createPagedKvCache, pagedLayoutOf, type PagedLayout } from './paged-kv-cache.js';
export { PagedSequence, type PagedSnapshot } from './paged-sequence.js';
export { PAGES_BASE, type PageGeometry, type PagedDType } from './page-layout.js';
export type { PagedKvCacheOptions } from '../validate/paged-kv-args.js';
