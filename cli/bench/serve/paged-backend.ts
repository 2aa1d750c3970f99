// The serving benchmark's attnpool side as issue #15's server does it: one paged store for every stream
// (pool.createPagedKvCache), a sequence per stream, each step's decode calls reading the pages in place.
// The store holds exactly what the streams reach by the last step, each stream's positions rounded up to
// whole pages (a stream's pages are its own), so its pages' bytes are the run's K/V memory.

import type { PagedSequence } from '../../../src/index.js';
import { STEP_OPTIONS, stepHeld, type StreamBackend } from './stream-backend.js';

/** The store's page size: the default of pool.createPagedKvCache. */
export const SERVE_PAGE_TOKENS = 256;

/** Positions a store of SERVE_PAGE_TOKENS pages needs for streams of these final lengths. */
export function pagedCapacity(capacities: readonly number[]): number {
  return capacities.reduce((sum, c) => sum + Math.ceil(c / SERVE_PAGE_TOKENS) * SERVE_PAGE_TOKENS, 0);
}

export const pagedBackend: StreamBackend = {
  name: 'paged',
  open(pool, { kvHeads, headDim, dtype, batched }, capacities, initial) {
    const store = pool.createPagedKvCache({
      kvHeads, headDim, dtype, pageTokens: SERVE_PAGE_TOKENS, capacityTokens: pagedCapacity(capacities),
    });
    const sequences: PagedSequence[] = capacities.map((_, i) => {
      const { k, v } = initial(i);
      const sequence = store.sequence();
      sequence.append(k, v);
      return sequence;
    });
    return {
      step: (rows) => stepHeld(pool, batched, sequences, rows, (q, kv) => pool.attention(q, kv, STEP_OPTIONS)),
      release() {
        for (const sequence of sequences) sequence.release();
        sequences.length = 0;
      },
    };
  },
};
