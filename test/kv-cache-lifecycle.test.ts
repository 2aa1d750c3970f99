// The KV cache's life: capacity, reserve and reset, also while a call reads the cache (a call reads the
// positions as of the call), an aborted call over a cache, and an empty cache.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { caught, expectSameBits } from './support/compare.js';
import { expectError, positions, TIMEOUT_MS } from './support/kv-decode.js';
import { attentionInputs } from './support/random.js';

describe('KV cache: capacity, reserve, reset, calls in flight', () => {
  let pool: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  const seq = attentionInputs({ seed: 611, B: 1, H: 4, Hkv: 4, Sq: 1, Sk: 24, D: 8, Dv: 8 });

  it('append past the capacity throws a RangeError naming capacity, length and n, and writes nothing', async () => {
    const cache = pool.createKvCache({ batch: 1, kvHeads: 4, headDim: 8, capacity: 10 });
    cache.append(positions(seq.k, 0, 8), positions(seq.v, 0, 8));
    const before = await pool.attention(seq.q, cache);
    const err = await caught(() => cache.append(positions(seq.k, 8, 11), positions(seq.v, 8, 11)));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/KvCache\.append: k\.shape\[2\] \(n\).*10 − 8 = 2.*got 3.*reserve\(11\)/);
    expect(cache.length).toBe(8);
    expectSameBits((await pool.attention(seq.q, cache)).data, before.data, 'after the refused append');
    cache.append(positions(seq.k, 8, 10), positions(seq.v, 8, 10)); // exactly full is fine
    expect(cache.length).toBe(10);
  });

  it('reserve grows explicitly and keeps the contents; smaller requests change nothing', async () => {
    const cache = pool.createKvCache({ batch: 1, kvHeads: 4, headDim: 8, capacity: 6 });
    cache.append(positions(seq.k, 0, 6), positions(seq.v, 0, 6));
    cache.reserve(4);
    expect(cache.capacity).toBe(6);
    cache.reserve(24);
    expect([cache.capacity, cache.length]).toEqual([24, 6]);
    cache.append(positions(seq.k, 6, 24), positions(seq.v, 6, 24));
    expectSameBits((await pool.attention(seq.q, cache)).data, (await pool.attention(seq.q, seq.k, seq.v)).data, 'grown cache vs tensor form');
    await expectError(() => cache.reserve(0), RangeError, /KvCache\.reserve: capacity/);
    await expectError(() => cache.reserve('32' as never), TypeError, /KvCache\.reserve: capacity/);
  });

  it('reset empties the cache for a new sequence', async () => {
    const other = attentionInputs({ seed: 612, B: 1, H: 4, Hkv: 4, Sq: 1, Sk: 5, D: 8, Dv: 8 });
    const cache = pool.createKvCache({ batch: 1, kvHeads: 4, headDim: 8, capacity: 24 });
    cache.append(seq.k, seq.v);
    cache.reset();
    expect([cache.length, cache.capacity]).toEqual([0, 24]);
    cache.append(other.k, other.v);
    expectSameBits((await pool.attention(other.q, cache)).data, (await pool.attention(other.q, other.k, other.v)).data, 'after reset');
  });

  // Large enough to run in the workers, so the call is still reading when the test touches the cache.
  const big = attentionInputs({ seed: 613, B: 1, H: 8, Hkv: 8, Sq: 4, Sk: 2048, D: 64, Dv: 64 });
  const junk = attentionInputs({ seed: 614, B: 1, H: 8, Hkv: 8, Sq: 1, Sk: 2048, D: 64, Dv: 64 });

  it('a call reads the positions as of the call: later appends are not seen', async () => {
    const cache = pool.createKvCache({ batch: 1, kvHeads: 8, headDim: 64, capacity: 4096 });
    cache.append(big.k, big.v);
    const pending = pool.attention(big.q, cache, { causal: true });
    cache.append(junk.k, junk.v);
    expect(cache.length).toBe(4096);
    expectSameBits((await pending).data, (await pool.attention(big.q, big.k, big.v, { causal: true })).data, 'snapshot');
  }, TIMEOUT_MS);

  it('reset and reserve while calls read the cache do not change what those calls read', async () => {
    const expected = (await pool.attention(big.q, big.k, big.v, { causal: true })).data;
    const cache = pool.createKvCache({ batch: 1, kvHeads: 8, headDim: 64, capacity: 2048 });
    cache.append(big.k, big.v);
    const first = pool.attention(big.q, cache, { causal: true });
    cache.reset(); // would let the next append overwrite positions [0, 2048) that `first` reads
    cache.append(junk.k, junk.v);
    const second = pool.attention(big.q, cache, { causal: true });
    cache.reserve(4096); // moves the cache while `second` reads it
    cache.reset();
    cache.append(big.k, big.v);
    expectSameBits((await first).data, expected, 'call before reset');
    expectSameBits((await second).data, (await pool.attention(big.q, junk.k, junk.v, { causal: true })).data, 'call before reserve + reset');
    expectSameBits((await pool.attention(big.q, cache, { causal: true })).data, expected, 'after reset + append');
  }, TIMEOUT_MS);

  it('an aborted call over a cache rejects with AbortError; reset and the next call work', async () => {
    const cache = pool.createKvCache({ batch: 1, kvHeads: 8, headDim: 64, capacity: 2048 });
    cache.append(big.k, big.v);
    const controller = new AbortController();
    const pending = pool.attention(big.q, cache, { signal: controller.signal });
    controller.abort();
    expect((await caught(() => pending)) as Error).toHaveProperty('name', 'AbortError');
    cache.reset();
    cache.append(junk.k, junk.v);
    expectSameBits((await pool.attention(big.q, cache)).data, (await pool.attention(big.q, junk.k, junk.v)).data, 'after abort + reset');
  }, TIMEOUT_MS);

  it('an empty cache gives zero rows and lse −Infinity, as k with Sk = 0 does', async () => {
    const cache = pool.createKvCache({ batch: 1, kvHeads: 4, headDim: 8, capacity: 4 });
    const lse = zeros([1, 4, 1]);
    const out = await pool.attention(seq.q, cache, { lse });
    expect(Array.from(out.data).every((x) => x === 0)).toBe(true);
    expect(Array.from(lse.data).every((x) => x === -Infinity)).toBe(true);
  });
});
