// Issue #12, item 3: inputs are read when the call is made. A call that has to wait for a turn (the
// pool is busy with long calls) must not read non-shared inputs when it is admitted: a server that
// reuses its scratch buffers right after pool.attention(...) returns would corrupt the waiting call.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool } from '../dist/src/index.js';
import { expectAttentionClose, expectRelativeToMax, FLOAT32_RTOL } from './support/compare.js';
import { attentionInputs, cloneTensor, mhaInputs } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';

const TIMEOUT_MS = 60_000;

describe('non-shared inputs are copied when the call is made', () => {
  let pool: AttentionPool;
  beforeAll(() => {
    // One thread runs two calls at once (the gate's minimum); a third waits in the queue.
    pool = new AttentionPool({ threads: 1, kernel: 'js' });
  });
  afterAll(async () => {
    await pool?.close();
  });

  /** Two long calls on shared inputs that hold both running slots (≈ 0.3 Gflop each on the js kernel). */
  function occupyPool(): { readonly done: Promise<unknown>; settled: () => boolean } {
    const long = attentionInputs({ seed: 1301, B: 1, H: 4, Hkv: 4, Sq: 512, Sk: 512, D: 64, Dv: 64 });
    let settled = 0;
    const calls = [0, 1].map(() => pool.attention(long.q, long.k, long.v).finally(() => settled++));
    return { done: Promise.all(calls), settled: () => settled > 0 };
  }

  it('attention: overwriting q, k, v and the mask right after the call does not change its result', async () => {
    const busy = occupyPool();
    const given = attentionInputs({ seed: 1302, B: 1, H: 2, Hkv: 1, Sq: 40, Sk: 50, D: 16, Dv: 8, maskShape: [40, 50], shared: false });
    const original = { q: cloneTensor(given.q), k: cloneTensor(given.k), v: cloneTensor(given.v), mask: cloneTensor(given.mask!) };
    const call = pool.attention(given.q, given.k, given.v, { mask: given.mask });
    expect(busy.settled(), 'the long calls still hold the pool: the call is queued').toBe(false);
    for (const t of [given.q, given.k, given.v]) t.data.fill(1000);
    given.mask!.data.fill(0);
    const out = await call;
    expectAttentionClose(out.data, undefined, referenceAttention(original.q, original.k, original.v, { mask: original.mask }), 'queued call');
    await busy.done;
  }, TIMEOUT_MS);

  it('multiHeadAttention: overwriting the inputs and weights right after the call does not change its result', async () => {
    const busy = occupyPool();
    const given = mhaInputs({ seed: 1303, B: 1, Sq: 24, Sk: 30, E: 16, selfAttention: false });
    // The same values off shared memory: the caller's own scratch buffers.
    const plain = {
      query: cloneTensor(given.query, { shared: false }), key: cloneTensor(given.key, { shared: false }), value: cloneTensor(given.value, { shared: false }),
      weights: {
        inProjWeight: cloneTensor(given.weights.inProjWeight, { shared: false }), inProjBias: cloneTensor(given.weights.inProjBias!, { shared: false }),
        outProjWeight: cloneTensor(given.weights.outProjWeight, { shared: false }), outProjBias: cloneTensor(given.weights.outProjBias!, { shared: false }),
      },
    };
    const call = pool.multiHeadAttention(plain.query, plain.key, plain.value, plain.weights, { numHeads: 2 });
    expect(busy.settled(), 'the call is queued').toBe(false);
    for (const t of [plain.query, plain.key, plain.value, ...Object.values(plain.weights)]) t.data.fill(-3);
    const { output } = await call;
    const expected = referenceMultiHeadAttention(given.query, given.key, given.value, given.weights, { numHeads: 2 });
    expectRelativeToMax(output.data, expected.output, FLOAT32_RTOL, 'queued layer');
    await busy.done;
  }, TIMEOUT_MS);
});
