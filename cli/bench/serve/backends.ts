// The serving benchmark's ways of keeping many streams' K/V, by their --store name.

import { nameList } from '../../options.js';
import { kvCacheBackend } from './kv-cache-backend.js';
import { pagedBackend } from './paged-backend.js';
import type { StreamBackend } from './stream-backend.js';

export const STREAM_BACKENDS = { cache: kvCacheBackend, paged: pagedBackend } as const satisfies Record<string, StreamBackend>;

export type StoreName = keyof typeof STREAM_BACKENDS;
export const STORE_NAMES = Object.keys(STREAM_BACKENDS) as StoreName[];

/** "cache,paged" → ['cache', 'paged'] (duplicates dropped, order kept). */
export function storeList(option: string): (value: unknown) => StoreName[] {
  return nameList(option, STORE_NAMES);
}
