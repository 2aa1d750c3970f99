// pool.attentionBatch over paged sequences (issue #15): batches of decode steps and causal prefill chunks
// over many sequences (random lengths, forks sharing prefixes, two stores of different shapes — GQA H8
// Hkv2 D64 and H8 Hkv4 D32 Dv30 — beside a KvCache and plain k/v, the same sequence twice) give each
// request the bits of its own pool.attention call, on 1, 2 and 3 threads, both kernels, float32, float16
// and int8 pages, within FLOAT32_RTOL of the float64 reference over the values the storage rules keep;
// every snapshot is let go when the batch settles, is aborted or is refused (a released sequence,
// another pool's store, a bad request: the error names the request); appends during a batch in flight
// do not reach it.

import { describe, expect, it } from 'vitest';
import { AbortError, AttentionPool, type KernelName, type PagedDType, type PagedKvCache, type PagedSequence, type Tensor } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { kernelOptions, KERNELS } from './support/kernels.js';
import { randomTensor, Rng, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { decodedTensor } from './support/stored-rows.js';
import { suitePool } from './support/suite-pools.js';
import { pagedLayoutOf } from '../dist/src/paged/index.js';

const TIMEOUT_MS = 300_000;
const DTYPES: readonly PagedDType[] = ['float32', 'float16', 'int8'];
const H = 8;

interface StoreShape { readonly Hkv: number; readonly D: number; readonly Dv: number }
const GQA: StoreShape = { Hkv: 2, D: 64, Dv: 64 };
const NARROW: StoreShape = { Hkv: 4, D: 32, Dv: 30 };

type Pair = readonly [Tensor<Float32Array>, Tensor<Float32Array>];

/** A sequence and every position it holds, as appended, for the reference. */
interface Tracked { readonly seq: PagedSequence; readonly shape: StoreShape; readonly appends: Pair[] }

function tensorOf(rng: Rng, shape: number[]): Tensor<Float32Array> {
  return randomTensor(rng, shape) as Tensor<Float32Array>;
}

function filled(shape: number[], value: number): Tensor<Float32Array> {
  return { data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape };
}

function grow(rng: Rng, t: Tracked, n: number): void {
  const pair: Pair = [tensorOf(rng, [1, t.shape.Hkv, n, t.shape.D]), tensorOf(rng, [1, t.shape.Hkv, n, t.shape.Dv])];
  t.seq.append(...pair);
  t.appends.push(pair);
}

function fork(t: Tracked): Tracked {
  return { seq: t.seq.fork(), shape: t.shape, appends: [...t.appends] };
}

/** Side `side` (0: k, 1: v) of every append, concatenated along positions: [1, Hkv, length, C]. */
function joined(t: Tracked, side: 0 | 1): TensorLike<Float32Array> {
  const parts = t.appends.map((pair) => pair[side]);
  const [, Hkv, , C] = parts[0]!.shape;
  const length = parts.reduce((n, p) => n + p.shape[2]!, 0);
  const data = new Float32Array(Hkv! * length * C!);
  for (let h = 0; h < Hkv!; h++) {
    let at = 0;
    for (const p of parts) {
      const n = p.shape[2]!;
      data.set(p.data.subarray(h * n * C!, (h + 1) * n * C!), (h * length + at) * C!);
      at += n;
    }
  }
  return { data, shape: [1, Hkv!, length, C!] };
}

function lseOf(Sq: number): Tensor<Float32Array> {
  return { data: new Float32Array(new SharedArrayBuffer(H * Sq * 4)), shape: [1, H, Sq] };
}

/** Two stores of `dtype` holding many sequences: random initial lengths (1…1200, several pages of 64),
 *  forks of some of them (sharing full pages and the partial last one) that then grow their own way. */
function streams(pool: AttentionPool, rng: Rng, dtype: PagedDType): { readonly stores: PagedKvCache[]; readonly tracked: Tracked[] } {
  const stores = [GQA, NARROW].map((shape) => pool.createPagedKvCache({ kvHeads: shape.Hkv, headDim: shape.D, valueDim: shape.Dv, dtype, pageTokens: 64, capacityTokens: 16_384 }));
  const tracked: Tracked[] = [];
  for (let i = 0; i < 10; i++) {
    const store = stores[i % 2]!;
    const t: Tracked = { seq: store.sequence(), shape: i % 2 === 0 ? GQA : NARROW, appends: [] };
    for (let left = 1 + Math.floor(rng.next() * 1200); left > 0;) {
      const n = Math.min(left, 1 + Math.floor(rng.next() * 300));
      grow(rng, t, n);
      left -= n;
    }
    tracked.push(t);
  }
  for (const parent of [tracked[0]!, tracked[3]!, tracked[4]!]) {
    const child = fork(parent);
    grow(rng, child, 1 + Math.floor(rng.next() * 100));
    tracked.push(child);
  }
  return { stores, tracked };
}

interface Request { readonly q: Tensor<Float32Array>; readonly kv: PagedSequence; readonly options: { causal: true; lse: Tensor<Float32Array> } }

/** A decode step (Sq 1) or a prefill chunk just appended (Sq 7 or 33) for each sequence; sequence 2 twice. */
function requestsOf(rng: Rng, tracked: readonly Tracked[]): { readonly requests: Request[]; readonly of: Tracked[] } {
  const of = [...tracked, tracked[2]!];
  const requests = of.map((t, i) => {
    const Sq = i % 3 === 0 ? 1 : i % 3 === 1 ? Math.min(7, t.seq.length) : Math.min(33, t.seq.length);
    return { q: tensorOf(rng, [1, H, Sq, t.shape.D]), kv: t.seq, options: { causal: true as const, lse: lseOf(Sq) } };
  });
  return { requests, of };
}

for (const kernel of KERNELS) {
  describe(`attentionBatch over paged sequences (${kernel} kernel)`, () => {
    const pools = [1, 2, 3].map((threads) => suitePool({ threads, ...kernelOptions(kernel as KernelName) }));
    const pool = pools[1]!;

    for (const dtype of DTYPES) {
      it(`${dtype}: each request's bits are its own pool.attention call's, on 1, 2 and 3 threads; the float64 reference within tolerance`, async () => {
        let first: Float32Array[] | undefined;
        for (const [p, threadPool] of pools.entries()) {
          const rng = new Rng(1900 + DTYPES.indexOf(dtype)); // the same sequences and queries on every pool
          const { stores, tracked } = streams(threadPool, rng, dtype);
          const { requests, of } = requestsOf(rng, tracked);
          // A KvCache and plain k/v in the same batch, with their own bits to match too.
          const cache = threadPool.createKvCache({ batch: 1, kvHeads: GQA.Hkv, headDim: GQA.D, capacity: 300, dtype });
          const cacheKv: Pair = [tensorOf(rng, [1, GQA.Hkv, 300, GQA.D]), tensorOf(rng, [1, GQA.Hkv, 300, GQA.Dv])];
          cache.append(...cacheKv);
          const plain = { q: tensorOf(rng, [1, H, 5, GQA.D]), k: cacheKv[0], v: cacheKv[1], options: { causal: true } };
          const cacheQ = tensorOf(rng, [1, H, 1, GQA.D]);
          const freeBefore = stores.map((s) => s.freePages);

          const outs = await threadPool.attentionBatch([...requests, { q: cacheQ, kv: cache }, plain]);
          expect(outs.length).toBe(requests.length + 2);
          expect(stores.map((s) => s.freePages)).toEqual(freeBefore); // every snapshot let go

          const label = (i: number) => `${kernel} ${dtype} ${[1, 2, 3][p]} threads request ${i}`;
          for (const [i, request] of requests.entries()) {
            const lse = lseOf(request.q.shape[2]!);
            const alone = await threadPool.attention(request.q, request.kv, { causal: true, lse });
            expectSameBits(outs[i]!.data, alone.data, `${label(i)}: out vs pool.attention`);
            expectSameBits(request.options.lse.data, lse.data, `${label(i)}: lse vs pool.attention`);
          }
          expectSameBits(outs[requests.length]!.data, (await threadPool.attention(cacheQ, cache)).data, `${label(requests.length)}: KvCache`);
          expectSameBits(outs[requests.length + 1]!.data, (await threadPool.attention(plain.q, plain.k, plain.v, plain.options)).data, `${label(requests.length + 1)}: k/v`);
          if (first) outs.forEach((out, i) => expectSameBits(out.data, first![i]!, `${label(i)} vs 1 thread`));
          else {
            first = outs.map((out) => out.data as Float32Array);
            for (const [i, request] of requests.entries()) {
              const stored = (t: TensorLike<Float32Array>) => (dtype === 'float32' ? t : decodedTensor(dtype, t));
              const reference = referenceAttention(request.q, stored(joined(of[i]!, 0)), stored(joined(of[i]!, 1)), { causal: true });
              expectAttentionClose(outs[i]!.data, request.options.lse.data, reference, `${label(i)} vs float64 reference`);
            }
          }
          for (const t of tracked) t.seq.release();
          expect(stores.map((s) => s.freePages)).toEqual(stores.map((s) => s.pageCount));
        }
      }, TIMEOUT_MS);
    }

    it('appends during a batch in flight do not change its bits (Infinity / NaN rows, forks appending)', async () => {
      const rng = new Rng(1910);
      for (const dtype of ['float32', 'float16'] as const) {
        const { tracked } = streams(pool, rng, dtype);
        const { requests } = requestsOf(rng, tracked);
        const expected = await pool.attentionBatch(requests);
        const batch = pool.attentionBatch(requests);
        // Right after the call, before its tiles run: rows in the same last pages, and a fork's own.
        for (const t of tracked) t.seq.append(filled([1, t.shape.Hkv, 3, t.shape.D], Infinity), filled([1, t.shape.Hkv, 3, t.shape.Dv], NaN));
        const child = tracked[0]!.seq.fork();
        child.append(filled([1, GQA.Hkv, 70, GQA.D], NaN), filled([1, GQA.Hkv, 70, GQA.Dv], NaN));
        (await batch).forEach((out, i) => expectSameBits(out.data, expected[i]!.data, `${dtype} request ${i}`));
        // A batch made now reads them: every row attends to NaN values.
        const after = await pool.attentionBatch(requests.map(({ q, kv }) => ({ q, kv })));
        for (const out of after) expect(out.data.some((x) => Number.isNaN(x))).toBe(true);
        child.release();
        for (const t of tracked) t.seq.release();
      }
    }, TIMEOUT_MS);

    it('an aborted batch (in flight, or aborted before the call) releases every snapshot', async () => {
      const rng = new Rng(1920);
      const store = pool.createPagedKvCache({ kvHeads: GQA.Hkv, headDim: GQA.D, pageTokens: 64, capacityTokens: 16 * 2048 });
      const sequences = Array.from({ length: 16 }, () => {
        const t: Tracked = { seq: store.sequence(), shape: GQA, appends: [] };
        grow(rng, t, 2048);
        return t.seq;
      });
      // Prefill chunks of 256 rows over 2,048 keys each: long enough to be aborted in flight.
      const requests = sequences.map((seq) => ({ q: tensorOf(rng, [1, H, 256, GQA.D]), kv: seq, options: { causal: true } }));
      const controller = new AbortController();
      const batch = pool.attentionBatch(requests, { signal: controller.signal });
      for (const seq of sequences) seq.release();
      expect(store.freePages).toBe(0); // the batch's snapshots hold every page
      setTimeout(() => controller.abort(), 5);
      await expect(batch).rejects.toThrow(AbortError);
      await settled(() => store.freePages === store.pageCount);
      expect(store.freePages).toBe(store.pageCount);

      const again = Array.from({ length: 4 }, () => {
        const seq = store.sequence();
        seq.append(tensorOf(rng, [1, GQA.Hkv, 100, GQA.D]), tensorOf(rng, [1, GQA.Hkv, 100, GQA.Dv]));
        return seq;
      });
      const aborted = AbortSignal.abort();
      await expect(pool.attentionBatch(again.map((seq) => ({ q: tensorOf(rng, [1, H, 1, GQA.D]), kv: seq })), { signal: aborted })).rejects.toThrow(AbortError);
      for (const seq of again) seq.release();
      expect(store.freePages).toBe(store.pageCount);
    }, TIMEOUT_MS);

    it('a refused batch holds nothing: released sequence, another pool\'s store, bad q, overlapping out, not a kv (the request named)', async () => {
      const rng = new Rng(1930);
      const store = pool.createPagedKvCache({ kvHeads: GQA.Hkv, headDim: GQA.D, pageTokens: 64, capacityTokens: 1024 });
      const [a, b, c] = [0, 1, 2].map(() => {
        const seq = store.sequence();
        seq.append(tensorOf(rng, [1, GQA.Hkv, 130, GQA.D]), tensorOf(rng, [1, GQA.Hkv, 130, GQA.Dv]));
        return seq;
      }) as [PagedSequence, PagedSequence, PagedSequence];
      const q = tensorOf(rng, [1, H, 1, GQA.D]);
      b.release();
      await expect(pool.attentionBatch([{ q, kv: a }, { q, kv: c }, { q, kv: b }])).rejects.toThrow(/^attentionBatch: requests\[2\]\.kv: the sequence was released/);
      await expect(pool.attentionBatch([{ q, kv: a }, { q: tensorOf(rng, [1, 3, 1, GQA.D]), kv: c }]))
        .rejects.toThrow(/^attentionBatch: requests\[1\]: q\.shape\[1\] \(H\) must be a positive multiple of store\.kvHeads = 2, got 3/);
      const inMemory = { data: new Float32Array(memoryOf(store), 0, H * GQA.Dv), shape: [1, H, 1, GQA.Dv] };
      await expect(pool.attentionBatch([{ q, kv: c }, { q, kv: a, options: { out: inMemory } }]))
        .rejects.toThrow(/^attentionBatch: requests\[1\]: options\.out overlaps the paged store's memory/);
      const otherPool = new AttentionPool({ threads: 1, ...kernelOptions(kernel as KernelName) });
      const foreign = otherPool.createPagedKvCache({ kvHeads: GQA.Hkv, headDim: GQA.D, capacityTokens: 256 }).sequence();
      foreign.append(tensorOf(rng, [1, GQA.Hkv, 10, GQA.D]), tensorOf(rng, [1, GQA.Hkv, 10, GQA.Dv]));
      const refusal = pool.attentionBatch([{ q, kv: a }, { q, kv: foreign }]);
      await expect(refusal).rejects.toThrow(TypeError);
      await expect(refusal).rejects.toThrow(/^attentionBatch: requests\[1\]\.kv must be a sequence of a paged store this pool created/);
      await otherPool.close();
      await expect(pool.attentionBatch([{ q, kv: a }, { q, kv: store as never }])).rejects.toThrow(/^attentionBatch: requests\[1\]\.kv must be a KvCache .* or a sequence of a paged store/);
      // None of them kept a hold: releasing the sequences frees every page.
      a.release();
      c.release();
      expect(store.freePages).toBe(store.pageCount);
    });
  });
}

/** Waits (up to 5 s) until `done()`: an aborted batch lets go of its snapshots once its last tiles return. */
async function settled(done: () => boolean): Promise<void> {
  for (const start = Date.now(); !done() && Date.now() - start < 5000;) await new Promise((resolve) => setTimeout(resolve, 10));
}

function memoryOf(store: PagedKvCache): SharedArrayBuffer {
  return pagedLayoutOf(store).memory.buffer as SharedArrayBuffer;
}
