// RemoteEngine.attentionBatch: a batch of plain-tensor and KvCache requests (float32 and float16 caches,
// GQA, causal, masks, window, out and lse given shared or not) gives each request the bits of an
// in-thread pool's attention() for it, within the float64 reference's bound; errors name the request as
// the pool's do (a paged sequence is refused: its store belongs to the pool that made it); appends made
// right after the call are not read; an abort rejects the batch and leaves the engine working; a closed
// engine refuses.

import { describe, expect, it } from 'vitest';
import { AbortError, PoolClosedError, createRemoteEngine, type AttentionRequest, type KvCache, type Tensor } from '../dist/src/index.js';
import { expectAttentionClose, expectSameBits } from './support/compare.js';
import { randomMask, randomTensor, Rng, toFloat64 } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { suitePool, suiteRemoteEngine } from './support/suite-pools.js';

const TIMEOUT_MS = 120_000;

function tensor(rng: Rng, shape: number[], shared = true): Tensor<Float32Array> {
  return randomTensor(rng, shape, 'float32', { shared }) as Tensor<Float32Array>;
}

describe('remote engine attentionBatch', () => {
  for (const kernel of ['wasm', 'js'] as const) {
    describe(`${kernel} kernel`, () => {
      const remote = suiteRemoteEngine({ threads: 2, kernel }, TIMEOUT_MS);
      const local = suitePool({ threads: 2, kernel });

      it('gives each request the bits of an in-thread attention() for it', async () => {
        const rng = new Rng(71);
        const f32 = local.createKvCache({ batch: 1, kvHeads: 2, headDim: 16, capacity: 300 });
        const f16 = local.createKvCache({ batch: 1, kvHeads: 1, headDim: 32, valueDim: 24, capacity: 200, dtype: 'float16' });
        f32.append(tensor(rng, [1, 2, 257, 16]), tensor(rng, [1, 2, 257, 16]));
        f16.append(tensor(rng, [1, 1, 130, 32]), tensor(rng, [1, 1, 130, 24]));
        const plainK = tensor(rng, [2, 2, 40, 8], false), plainV = tensor(rng, [2, 2, 40, 12], false);
        const mask = randomMask(rng, [2, 1, 9, 40], 0.7, { shared: false }) as Tensor<Uint8Array>;
        const requests: AttentionRequest<Float32Array>[] = [
          { q: tensor(rng, [1, 8, 1, 16]), kv: f32, options: { causal: true } },
          { q: tensor(rng, [2, 4, 9, 8], false), k: plainK, v: plainV, options: { mask } },
          { q: tensor(rng, [1, 3, 5, 32]), kv: f16, options: { causal: true, window: 64 } },
          { q: tensor(rng, [1, 4, 33, 16]), kv: f32, options: { causal: true } }, // the same cache twice
        ];
        const expected: Tensor<Float32Array>[] = [];
        for (const r of requests) {
          expected.push(r.kv ? await local.attention(r.q, r.kv as KvCache<Float32Array>, r.options) : await local.attention(r.q, r.k, r.v, r.options));
        }
        const outs = await remote().attentionBatch(requests);
        expect(outs).toHaveLength(requests.length);
        outs.forEach((out, i) => {
          expect(out.shape).toEqual(expected[i]!.shape);
          expectSameBits(out.data, expected[i]!.data, `request ${i}`);
        });
        // And what both compute is attention: request 1 against float64.
        const ref = referenceAttention(toFloat64(requests[1]!.q), toFloat64(plainK), toFloat64(plainV), { mask });
        expectAttentionClose(outs[1]!.data, undefined, ref, 'request 1 vs float64');
      }, TIMEOUT_MS);

      it('writes given out and lse in place, shared or not, and returns those outs', async () => {
        const rng = new Rng(72);
        const q = tensor(rng, [1, 2, 6, 8]), k = tensor(rng, [1, 2, 20, 8]), v = tensor(rng, [1, 2, 20, 8]);
        const expectedOut = await local.attention(q, k, v);
        for (const shared of [true, false]) {
          const out = tensor(rng, [1, 2, 6, 8], shared).data.fill(NaN);
          const lse = tensor(rng, [1, 2, 6], shared).data.fill(NaN);
          const expectedLse = { data: new Float32Array(12), shape: [1, 2, 6] };
          await local.attention(q, k, v, { lse: expectedLse });
          const given = { data: out, shape: [1, 2, 6, 8] };
          const [result] = await remote().attentionBatch([{ q, k, v, options: { out: given, lse: { data: lse, shape: [1, 2, 6] } } }]);
          expect(result, 'the caller’s out object').toBe(given);
          expectSameBits(out, expectedOut.data, `${shared ? 'shared' : 'plain'} out`);
          expectSameBits(lse, expectedLse.data, `${shared ? 'shared' : 'plain'} lse`);
        }
      }, TIMEOUT_MS);

      it('reads a cache as of the call, not what is appended right after', async () => {
        const rng = new Rng(73);
        const cache = local.createKvCache({ batch: 1, kvHeads: 1, headDim: 8, capacity: 64 });
        cache.append(tensor(rng, [1, 1, 30, 8]), tensor(rng, [1, 1, 30, 8]));
        const q = tensor(rng, [1, 2, 1, 8]);
        const before = await local.attention(q, cache, { causal: true });
        const pending = remote().attentionBatch([{ q, kv: cache, options: { causal: true } }]);
        const nan = { data: new Float32Array(8 * 4).fill(NaN), shape: [1, 1, 4, 8] };
        cache.append(nan, nan);
        const [out] = await pending;
        expectSameBits(out!.data, before.data, 'the 30 positions held at the call');
      }, TIMEOUT_MS);
    });
  }

  describe('errors', () => {
    const remote = suiteRemoteEngine({ threads: 1 }, TIMEOUT_MS);
    const local = suitePool({ threads: 1 });

    it('names the request as the in-thread pool does, with its error class', async () => {
      const rng = new Rng(74);
      const q = tensor(rng, [1, 2, 3, 8]), k = tensor(rng, [1, 2, 5, 8]), v = tensor(rng, [1, 2, 5, 8]);
      const cache = local.createKvCache({ batch: 1, kvHeads: 2, headDim: 8, capacity: 16 });
      const cases: [string, unknown, unknown?][] = [
        ['not an array', { q, k, v }],
        ['k of another D', [{ q, k, v }, { q, k: tensor(rng, [1, 2, 5, 4]), v }]],
        ['a request with both kv and k', [{ q, kv: cache, k, v }]],
        ['q of another D over a cache', [{ q, k, v }, { q: tensor(rng, [1, 2, 1, 4]), kv: cache }]],
        ['a per-request signal', [{ q, k, v, options: { signal: new AbortController().signal } }]],
        ['an unknown batch option', [{ q, k, v }], { signl: undefined }],
      ];
      for (const [label, requests, options] of cases) {
        const expected = await local.attentionBatch(requests as never, options as never).then(() => undefined, (e: unknown) => e as Error);
        const actual = await remote().attentionBatch(requests as never, options as never).then(() => undefined, (e: unknown) => e as Error);
        expect(expected, label).toBeInstanceOf(Error);
        expect(actual?.constructor, label).toBe(expected!.constructor);
        expect(actual?.message, label).toBe(expected!.message);
      }
    }, TIMEOUT_MS);

    it('refuses a paged sequence, naming the request', async () => {
      const rng = new Rng(75);
      const store = local.createPagedKvCache({ kvHeads: 1, headDim: 8, capacityTokens: 128 });
      const sequence = store.sequence();
      sequence.append(tensor(rng, [1, 1, 4, 8]), tensor(rng, [1, 1, 4, 8]));
      const q = tensor(rng, [1, 1, 1, 8]);
      const err = await remote().attentionBatch([{ q, k: q, v: q }, { q, kv: sequence }]).then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(TypeError);
      expect(err?.message).toMatch(/^attentionBatch: requests\[1\]\.kv must be a KvCache on a remote engine/);
      sequence.release();
      expect(store.usedTokens, 'nothing of the store is held').toBe(0);
    }, TIMEOUT_MS);

    it('an abort rejects the batch with AbortError and the engine goes on', async () => {
      const rng = new Rng(76);
      const q = tensor(rng, [1, 8, 512, 64]), k = tensor(rng, [1, 8, 2048, 64]), v = tensor(rng, [1, 8, 2048, 64]);
      const controller = new AbortController();
      const pending = remote().attentionBatch([{ q, k, v }, { q, k, v }], { signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toBeInstanceOf(AbortError);
      const aborted = new AbortController();
      aborted.abort();
      await expect(remote().attentionBatch([{ q, k, v }], { signal: aborted.signal })).rejects.toBeInstanceOf(AbortError);
      const small = { q: tensor(rng, [1, 1, 2, 8]), k: tensor(rng, [1, 1, 3, 8]), v: tensor(rng, [1, 1, 3, 8]) };
      const [out] = await remote().attentionBatch([small]);
      expectSameBits(out!.data, (await local.attention(small.q, small.k, small.v)).data, 'a batch after the abort');
    }, TIMEOUT_MS);

    it('a closed engine refuses with PoolClosedError', async () => {
      const engine = await createRemoteEngine({ threads: 1 });
      await engine.close();
      const rng = new Rng(77);
      const q = tensor(rng, [1, 1, 2, 8]);
      await expect(engine.attentionBatch([{ q, k: q, v: q }])).rejects.toBeInstanceOf(PoolClosedError);
    }, TIMEOUT_MS);
  });
});
