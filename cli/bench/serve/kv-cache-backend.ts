// The serving benchmark's attnpool side as a server does it today: one KvCache per stream.

import type { KvCache } from '../../../src/index.js';
import { STEP_OPTIONS, stepHeld, type StreamBackend } from './stream-backend.js';

export const kvCacheBackend: StreamBackend = {
  name: 'KvCache',
  open(pool, { kvHeads, headDim, dtype, batched }, capacities, initial) {
    const caches: KvCache[] = capacities.map((capacity, i) => {
      const { k, v } = initial(i);
      const cache = pool.createKvCache({ batch: 1, kvHeads, headDim, capacity, dtype: dtype as 'float32' });
      cache.append(k, v);
      return cache;
    });
    return {
      step: (rows) => stepHeld(pool, batched, caches, rows, (q, kv) => pool.attention(q, kv, STEP_OPTIONS)),
      release() {
        caches.length = 0; // a KvCache has no release: its shared buffers go with the last reference
      },
    };
  },
};
