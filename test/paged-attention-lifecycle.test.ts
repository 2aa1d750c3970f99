// pool.attention(q, sequence) while the store changes: fork and divergent appends (each side equals
// its own KvCache twin), release while a call is in flight (its bits unchanged, its pages not reused
// until it settles), appends during a call in flight (Infinity / NaN rows past its length never reach
// it: the last partial float32 block is read from a copy), and the call's errors: a released sequence,
// another pool's store, a closed pool, bad q and options — thrown before any work, the snapshot let go.

import { describe, expect, it } from 'vitest';
import { AttentionPool, PoolClosedError, type KernelName, type PagedDType, type Tensor } from '../dist/src/index.js';
import { expectSameBits } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { randomTensor, Rng, type TensorLike } from './support/random.js';
import { suitePool } from './support/suite-pools.js';
import { pagedLayoutOf } from '../dist/src/paged/index.js';

const H = 8, Hkv = 2, D = 64;

function tensorOf(rng: Rng, shape: number[]): Tensor<Float32Array> {
  return randomTensor(rng, shape) as Tensor<Float32Array>;
}

function filled(shape: number[], value: number): Tensor<Float32Array> {
  return { data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape };
}

/** A KvCache of `dtype` holding `appends` in order. */
function cacheOf(pool: AttentionPool, dtype: PagedDType, appends: readonly [TensorLike<Float32Array>, TensorLike<Float32Array>][]) {
  const capacity = appends.reduce((n, [k]) => n + k.shape[2], 0);
  const cache = pool.createKvCache({ batch: 1, kvHeads: Hkv, headDim: D, capacity, dtype });
  for (const [k, v] of appends) cache.append(k as Tensor<Float32Array>, v as Tensor<Float32Array>);
  return cache;
}

for (const kernel of KERNELS) {
  describe(`paged attention while the store changes (${kernel} kernel)`, () => {
    const pool = suitePool({ threads: 2, ...kernelOptions(kernel as KernelName) });

    it('fork: parent and child after divergent appends each give their own KvCache twin\'s bits', async () => {
      const rng = new Rng(1700);
      for (const dtype of ['float32', 'float16', 'int8'] as const) {
        const store = pool.createPagedKvCache({ kvHeads: Hkv, headDim: D, dtype, pageTokens: 64, capacityTokens: 2048 });
        const parent = store.sequence();
        const prefix: [Tensor<Float32Array>, Tensor<Float32Array>] = [tensorOf(rng, [1, Hkv, 150, D]), tensorOf(rng, [1, Hkv, 150, D])];
        parent.append(...prefix);
        const child = parent.fork();
        const parentMore: [Tensor<Float32Array>, Tensor<Float32Array>] = [tensorOf(rng, [1, Hkv, 30, D]), tensorOf(rng, [1, Hkv, 30, D])];
        const childMore: [Tensor<Float32Array>, Tensor<Float32Array>] = [tensorOf(rng, [1, Hkv, 77, D]), tensorOf(rng, [1, Hkv, 77, D])];
        child.append(...childMore);
        parent.append(...parentMore);
        const q = tensorOf(rng, [1, H, 1, D]);
        const [p, c] = await Promise.all([pool.attention(q, parent), pool.attention(q, child)]);
        expectSameBits(p.data, (await pool.attention(q, cacheOf(pool, dtype, [prefix, parentMore]))).data, `${dtype} parent`);
        expectSameBits(c.data, (await pool.attention(q, cacheOf(pool, dtype, [prefix, childMore]))).data, `${dtype} child`);
        expect(firstDifference(p.data, c.data)).toBeGreaterThanOrEqual(0); // they did diverge
      }
    });

    it('release while a call is in flight: the call\'s bits are unchanged and its pages are not reused until it settles', async () => {
      const rng = new Rng(1701);
      const store = pool.createPagedKvCache({ kvHeads: Hkv, headDim: D, pageTokens: 64, capacityTokens: 640 });
      const appends: [Tensor<Float32Array>, Tensor<Float32Array>] = [tensorOf(rng, [1, Hkv, 640, D]), tensorOf(rng, [1, Hkv, 640, D])];
      const sequence = store.sequence();
      sequence.append(...appends);
      const q = tensorOf(rng, [1, H, 16, D]);
      const expected = (await pool.attention(q, cacheOf(pool, 'float32', [appends]), { causal: true })).data;
      const call = pool.attention(q, sequence, { causal: true });
      sequence.release();
      expect(store.freePages).toBe(0); // the call's snapshot still holds all ten pages
      const other = store.sequence();
      expect(() => other.append(filled([1, Hkv, 1, D], NaN), filled([1, Hkv, 1, D], NaN))).toThrow(RangeError); // the store is full
      expectSameBits((await call).data, expected, 'released while in flight');
      expect(store.freePages).toBe(10);
      other.append(filled([1, Hkv, 640, D], NaN), filled([1, Hkv, 640, D], NaN)); // now every page is reused
      expect(store.freePages).toBe(0);
    });

    for (const dtype of ['float32', 'float16'] as const) {
      it(`${dtype}: appends during a call in flight: Infinity / NaN rows past its length never reach it`, async () => {
        const rng = new Rng(1702);
        for (const length of [61, 64, 65, 200, 511]) {
          for (const Sq of [1, 9]) {
            const store = pool.createPagedKvCache({ kvHeads: Hkv, headDim: D, dtype, pageTokens: 256, capacityTokens: 2048 });
            const sequence = store.sequence();
            const appends: [Tensor<Float32Array>, Tensor<Float32Array>] = [tensorOf(rng, [1, Hkv, length, D]), tensorOf(rng, [1, Hkv, length, D])];
            sequence.append(...appends);
            const q = tensorOf(rng, [1, H, Sq, D]);
            const expected = (await pool.attention(q, cacheOf(pool, dtype, [appends]), { causal: true })).data;
            const calls = [pool.attention(q, sequence, { causal: true }), pool.attention(q, sequence, { causal: true })];
            // Appended right after the calls were made, before their tiles run: rows of the same last page.
            sequence.append(filled([1, Hkv, 3, D], Infinity), filled([1, Hkv, 3, D], NaN));
            for (const r of await Promise.all(calls)) expectSameBits(r.data, expected, `${dtype} length ${length} Sq ${Sq}`);
            expect(sequence.length).toBe(length + 3);
            // A call made now sees them: its rows attend to NaN values.
            const after = await pool.attention(q, sequence, { causal: true });
            expect(after.data.some((x) => Number.isNaN(x))).toBe(true);
          }
        }
      });
    }

    it('errors before any work: released sequence, another pool\'s store, closed pool, bad q or options; the snapshot is let go', async () => {
      const rng = new Rng(1703);
      const store = pool.createPagedKvCache({ kvHeads: Hkv, headDim: D, pageTokens: 64, capacityTokens: 256 });
      const sequence = store.sequence();
      sequence.append(tensorOf(rng, [1, Hkv, 100, D]), tensorOf(rng, [1, Hkv, 100, D]));
      const q = tensorOf(rng, [1, H, 1, D]);
      await expect(pool.attention(tensorOf(rng, [2, H, 1, D]), sequence)).rejects.toThrow(/q\.shape\[0\] \(B\) must be equal to a sequence's batch = 1, got 2/);
      await expect(pool.attention(tensorOf(rng, [1, 3, 1, D]), sequence)).rejects.toThrow(/q\.shape\[1\] \(H\) must be a positive multiple of store\.kvHeads = 2/);
      await expect(pool.attention(tensorOf(rng, [1, H, 1, 32]), sequence)).rejects.toThrow(/q\.shape\[3\] \(D\) must be equal to store\.headDim = 64/);
      await expect(pool.attention(q, sequence, { casual: true } as never)).rejects.toThrow(RangeError);
      await expect(pool.attention(q, sequence, { mask: { data: new Uint8Array(7), shape: [7] } })).rejects.toThrow(/options\.mask/);
      await expect(pool.attention(q, sequence, q as never)).rejects.toThrow(/attention\(q, sequence, options\)/);
      const inMemory = { data: new Float32Array(pagedMemoryOf(store), 0, H * D), shape: [1, H, 1, D] };
      await expect(pool.attention(q, sequence, { out: inMemory })).rejects.toThrow(/options\.out overlaps the paged store's memory/);
      // None of them kept a hold on the pages: releasing the sequence frees them all.
      sequence.release();
      expect(store.freePages).toBe(4);
      await expect(pool.attention(q, sequence)).rejects.toThrow(/attention: the sequence was released/);

      const otherPool = new AttentionPool({ threads: 1, ...kernelOptions(kernel as KernelName) });
      const foreign = otherPool.createPagedKvCache({ kvHeads: Hkv, headDim: D, capacityTokens: 256 }).sequence();
      foreign.append(tensorOf(rng, [1, Hkv, 10, D]), tensorOf(rng, [1, Hkv, 10, D]));
      await expect(pool.attention(q, foreign)).rejects.toThrow(TypeError);
      await expect(pool.attention(q, foreign)).rejects.toThrow(/a sequence of a paged store this pool created/);
      expect((await otherPool.attention(q, foreign)).data.length).toBe(H * D);
      await otherPool.close();
      await expect(otherPool.attention(q, foreign)).rejects.toThrow(PoolClosedError);
      expect(() => otherPool.createPagedKvCache({ kvHeads: Hkv, headDim: D, capacityTokens: 256 })).toThrow(PoolClosedError);
      expect(foreign.length).toBe(10); // the store itself is untouched
    });
  });
}

function firstDifference(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** The store's memory buffer, for a tensor that overlaps it. */
function pagedMemoryOf(store: Parameters<typeof pagedLayoutOf>[0]): SharedArrayBuffer {
  return pagedLayoutOf(store).memory.buffer as SharedArrayBuffer;
}
