// The serving benchmark's attnpool side as a server does it today: one KvCache per stream.

import type { KvCache } from '../../../src/index.js';
import type { StreamBackend } from './stream-backend.js';

export const kvCacheBackend: StreamBackend = {
  name: 'KvCache',
  open(pool, { kvHeads, headDim, dtype, batched }, capacities, initial) {
    const caches: KvCache[] = capacities.map((capacity, i) => {
      const { k, v } = initial(i);
      const cache = pool.createKvCache({ batch: 1, kvHeads, headDim, capacity, dtype: dtype as 'float32' });
      cache.append(k, v);
      return cache;
    });
    const options = { causal: true } as const;
    return {
      async step({ q, k, v }) {
        const outs = batched
          ? await pool.attentionBatch(caches.map((cache, i) => ({ q: q[i]!, kv: cache, options })))
          : await Promise.all(caches.map((cache, i) => pool.attention(q[i]!, cache, options)));
        caches.forEach((cache, i) => cache.append(k[i]!, v[i]!));
        return outs;
      },
      release() {
        caches.length = 0; // a KvCache has no release: its shared buffers go with the last reference
      },
    };
  },
};
