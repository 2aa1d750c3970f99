// Window caches, the cache itself: memory stays sinkTokens + window rows for any number of appends (the
// same buffers, written in place); an append of more than the window writes its last w rows to the
// ring rows their positions map to; a call's snapshot survives appends that overwrite what it reads
// (inline and in the workers); reset; the remote engine; and every bad option, after which the pool
// still answers.

import { describe, expect, it } from 'vitest';
import { createRemoteEngine, type KvCache } from '../dist/src/index.js';
import { snapshotKvCache } from '../dist/src/kv-cache.js';
import { caught, expectSameBits } from './support/compare.js';
import { randomTensor, Rng, type TensorLike } from './support/random.js';
import { suitePool } from './support/suite-pools.js';
import { gatherAxis2, heldPositions, sliceAxis2 } from './support/window-reference.js';

const TIMEOUT_MS = 60_000;
type F32 = TensorLike<Float32Array>;

function appendRange(cache: KvCache, k: F32, v: F32, from: number, to: number): void {
  cache.append(sliceAxis2(k, from, to), sliceAxis2(v, from, to));
}

describe('window cache: memory, snapshots, reset, remote', () => {
  const pool = suitePool({ threads: 2 });
  const rng = new Rng(7201);

  it('holds sinkTokens + window rows in the same buffers for 2,000 appends; ring rows hold position s + (p − s) mod w', () => {
    const B = 2, Hkv = 2, D = 4, window = 7, sinkTokens = 3, total = 6000;
    const k = randomTensor(rng, [B, Hkv, total, D]) as F32, v = randomTensor(rng, [B, Hkv, total, D]) as F32;
    const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, window, sinkTokens });
    const first = snapshotKvCache(cache);
    first.release();
    expect(first.keys.data.length).toBe(B * Hkv * (window + sinkTokens) * D);
    let N = 0;
    for (let step = 0; step < 2000 && N + 3 * window + 2 <= total; step++) {
      const n = rng.pick([1, 1, 2, window, window + 1, 3 * window + 2]);
      appendRange(cache, k, v, N, N + n);
      N += n;
      const snap = snapshotKvCache(cache);
      snap.release();
      expect(snap.keys).toBe(first.keys); // no call in flight: never reallocated
      expect(snap.values).toBe(first.values);
      expect([cache.position, cache.length, cache.capacity]).toEqual([N, Math.min(N, window + sinkTokens), window + sinkTokens]);
      // Every held position sits in its row; a chunk longer than the window left only its last w.
      for (const p of heldPositions(window, sinkTokens, N)) {
        const row = p < sinkTokens ? p : sinkTokens + ((p - sinkTokens) % window);
        for (let bh = 0; bh < B * Hkv; bh++) {
          const got = snap.keys.data.subarray((bh * (window + sinkTokens) + row) * D, (bh * (window + sinkTokens) + row + 1) * D);
          expectSameBits(got, k.data.subarray((bh * total + p) * D, (bh * total + p + 1) * D), `N ${N}: position ${p} in row ${row}`);
        }
      }
    }
  });

  it('a call in flight keeps its snapshot while appends overwrite the ring (inline and in the workers), then sees the new state', async () => {
    for (const [D, H, window] of [[8, 2, 12], [64, 8, 2100]] as const) { // the second leaves the calling thread
      const total = 3 * window, sinkTokens = 2;
      const k = randomTensor(rng, [1, H, total, D]) as F32, v = randomTensor(rng, [1, H, total, D]) as F32;
      const q = randomTensor(rng, [1, H, 3, D]) as F32;
      const cache = pool.createKvCache({ batch: 1, kvHeads: H, headDim: D, window, sinkTokens });
      appendRange(cache, k, v, 0, window + 5); // wrapped
      const before = await pool.attention(q, cache, { causal: true });
      const inFlight = pool.attention(q, cache, { causal: true });
      appendRange(cache, k, v, window + 5, window + 9);
      appendRange(cache, k, v, window + 9, 2 * window + 9); // overwrites the whole ring
      expectSameBits((await inFlight).data, before.data, `D ${D}: the call made before the appends`);
      const after = await pool.attention(q, cache, { causal: true });
      const held = heldPositions(window, sinkTokens, 2 * window + 9);
      const plain = await pool.attention(q, gatherAxis2(k, held), gatherAxis2(v, held), { causal: true });
      expectSameBits(after.data, plain.data, `D ${D}: the call made after the appends`);
      // reset while nothing reads: empty, position 0, and filling again gives what a fresh cache gives.
      cache.reset();
      expect([cache.position, cache.length]).toEqual([0, 0]);
      appendRange(cache, k, v, 0, window + 5);
      expectSameBits((await pool.attention(q, cache, { causal: true })).data, before.data, `D ${D}: after reset`);
    }
  }, TIMEOUT_MS);

  it('the remote engine reads a wrapped window cache in place: the pool\'s bits', async () => {
    const engine = await createRemoteEngine({ threads: 2 });
    try {
      const k = randomTensor(rng, [1, 2, 90, 16]) as F32, v = randomTensor(rng, [1, 2, 90, 16]) as F32;
      const q = randomTensor(rng, [1, 4, 5, 16]) as F32;
      const cache = engine.createKvCache({ batch: 1, kvHeads: 2, headDim: 16, window: 33, sinkTokens: 4 });
      appendRange(cache, k, v, 0, 90);
      const options = { causal: true, window: 20 };
      expectSameBits((await engine.attention(q, cache, options)).data, (await pool.attention(q, cache, options)).data, 'remote vs pool');
    } finally {
      await engine.close();
    }
  }, TIMEOUT_MS);
});

describe('window cache: bad options are refused before anything is allocated', () => {
  const pool = suitePool({ threads: 1 });
  const base = { batch: 1, kvHeads: 2, headDim: 8 };
  const cases: [string, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp][] = [
    ['window 0', { window: 0 }, RangeError, /createKvCache: options\.window must be a positive integer, got 0/],
    ['window 2.5', { window: 2.5 }, RangeError, /options\.window must be a positive integer, got 2\.5/],
    ['window "8"', { window: '8' }, TypeError, /options\.window must be a positive integer, got "8"/],
    ['sinkTokens -1', { window: 8, sinkTokens: -1 }, RangeError, /options\.sinkTokens must be a non-negative integer, got -1/],
    ['sinkTokens NaN', { window: 8, sinkTokens: NaN }, RangeError, /options\.sinkTokens must be a non-negative integer, got NaN/],
    ['sinkTokens null', { window: 8, sinkTokens: null }, TypeError, /options\.sinkTokens must be a non-negative integer, got null/],
    ['sinkTokens without window', { capacity: 8, sinkTokens: 2 }, RangeError, /options\.sinkTokens requires options\.window.*got sinkTokens 2/],
    ['capacity with window', { capacity: 8, window: 8 }, RangeError, /options\.capacity and options\.window exclude each other.*got capacity 8 and window 8/],
    ['neither capacity nor window', {}, TypeError, /options\.capacity must be a positive integer \(or options\.window for a window cache\), got undefined/],
    ['sinkTokens + window past 2^31 − 64', { window: 2 ** 31 - 64, sinkTokens: 1 }, RangeError, /options\.sinkTokens \+ options\.window/],
  ];
  it.each(cases)('%s', async (_, extra, errorClass, message) => {
    const err = await caught(() => pool.createKvCache({ ...base, ...extra } as never));
    expect(err, String(err)).toBeInstanceOf(errorClass);
    expect((err as Error).message).toMatch(message);
  });

  it('reserve() on a window cache is a RangeError; the cache and the pool keep working', async () => {
    const cache = pool.createKvCache({ ...base, window: 4, sinkTokens: 1 });
    const err = await caught(() => cache.reserve(100));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/KvCache\.reserve: a window cache never grows.*sinkTokens \+ window = 5.*got reserve\(100\)/);
    const rng = new Rng(7202);
    const k = randomTensor(rng, [1, 2, 9, 8]) as F32, v = randomTensor(rng, [1, 2, 9, 8]) as F32;
    cache.append(k, v);
    const q = randomTensor(rng, [1, 2, 1, 8]) as F32;
    const held = heldPositions(4, 1, 9);
    expectSameBits((await pool.attention(q, cache)).data, (await pool.attention(q, gatherAxis2(k, held), gatherAxis2(v, held))).data, 'after the refusals');
  });
});
