// The serving benchmark's attnpool side as issue #15's server does it: one paged store for every stream
// (pool.createPagedKvCache), a sequence per stream, each step's decode calls reading the pages in place.
// The store holds exactly what the streams reach by the last step, each stream's positions rounded up to
// whole pages (a stream's pages are its own), so its pages' bytes are the run's K/V memory.

import type { PagedSequence } from '../../../src/index.js';
import type { StreamBackend } from './stream-backend.js';

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
    const options = { causal: true } as const;
    return {
      async step({ q, k, v }) {
        const outs = batched
          ? await pool.attentionBatch(sequences.map((sequence, i) => ({ q: q[i]!, kv: sequence, options })))
          : await Promise.all(sequences.map((sequence, i) => pool.attention(q[i]!, sequence, options)));
        sequences.forEach((sequence, i) => sequence.append(k[i]!, v[i]!));
        return outs;
      },
      release() {
        for (const sequence of sequences) sequence.release();
        sequences.length = 0;
      },
    };
  },
};
