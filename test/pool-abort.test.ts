// Cancellation on the in-thread pool: the shared suite of test/support/faults-abort.ts, on a pool
// whose thread count the test hooks let it watch.

import { hookedPool } from './support/faults.js';
import { describeAbortBehaviour } from './support/faults-abort.js';

describeAbortBehaviour('AttentionPool', async () => {
  const { pool, hooks } = hookedPool({ threads: 2, kernel: 'js' });
  return { engine: pool, threads: pool.threads, liveThreads: () => hooks.liveThreads };
});
