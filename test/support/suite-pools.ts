// Pools that live for one suite (a describe block, or the file at top level): built when the suite is
// collected or before its tests, closed after them. One helper instead of the same let / beforeAll /
// afterAll block in each file.

import { afterAll, beforeAll } from 'vitest';
import { AttentionPool, createRemoteEngine, type AttentionPoolOptions, type RemoteEngine } from '../../dist/src/index.js';

/** A pool built at once, so the suite can hold it in a const; closed after the suite's tests. */
export function suitePool(options?: AttentionPoolOptions): AttentionPool {
  const pool = new AttentionPool(options);
  afterAll(() => pool.close());
  return pool;
}

/** A remote engine started before the suite's tests (it starts asynchronously, hence the getter) and
 *  closed after them. */
export function suiteRemoteEngine(options: AttentionPoolOptions, timeoutMs: number): () => RemoteEngine {
  let engine: RemoteEngine | undefined;
  beforeAll(async () => {
    engine = await createRemoteEngine(options);
  }, timeoutMs);
  afterAll(async () => {
    await engine?.close();
  });
  return () => {
    if (!engine) throw new Error('the remote engine is used before the suite started it');
    return engine;
  };
}
