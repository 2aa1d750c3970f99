// Issue #12, item 5: a call reads each argument once. Every tensor, options object and weights object
// below is a Proxy that counts its property reads and answers differently after the first one (a
// shape of [.., 4, ..] during validation, [.., 4096, ..] afterwards; another array as `data`; other
// option values). The call must read each property at most once and give exactly the bits of the
// same call made with plain objects — on the pool (tensors and a KvCache), the layer and the remote
// engine, through the worker path where a stale shape would read memory the call does not own.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, createRemoteEngine, type RemoteEngine } from '../dist/src/index.js';
import { expectSameBits } from './support/compare.js';
import { attentionInputs, filledTensor, mhaInputs, randomTensor, Rng, type TensorLike } from './support/random.js';

const TIMEOUT_MS = 60_000;

/** Property reads by name ("q.shape", "q.shape[2]", "options.scale", …). */
class Reads {
  readonly #counts = new Map<string, number>();

  count(name: string): number {
    const n = (this.#counts.get(name) ?? 0) + 1;
    this.#counts.set(name, n);
    return n;
  }

  /** Names read more than once, with their counts: [] when every property was read at most once. */
  repeated(): string[] {
    return [...this.#counts].filter(([, n]) => n > 1).map(([name, n]) => `${name} ×${n}`);
  }

  get total(): number {
    return this.#counts.size;
  }
}

/** `honest`'s answers on the first read of each property, `later`'s on every read after it. */
function shifty<T extends object>(honest: T, later: T, reads: Reads, label: string, wrap: (key: string, value: unknown) => unknown = (_, v) => v): T {
  return new Proxy(honest, {
    get(target, key, receiver) {
      if (typeof key !== 'string') return Reflect.get(target, key, receiver);
      const first = reads.count(`${label}.${key}`) === 1;
      return first ? wrap(key, Reflect.get(target, key)) : Reflect.get(later, key);
    },
  });
}

/** A tensor whose `data` and `shape` (and each of the shape's elements, and its length) answer as
 *  `honest` once and as `later` afterwards. */
function shiftyTensor<T extends TensorLike<Float32Array | Float64Array | Uint8Array>>(honest: T, later: T, reads: Reads, label: string): T {
  return shifty(honest, later, reads, label, (key, value) =>
    key === 'shape' ? shifty([...honest.shape], [...later.shape], reads, `${label}.shape`) : value);
}

/** The same tensor with a long Sq axis (axis 2 of q) — what a stale read of the shape would see. */
function longer(t: TensorLike, axis: number, length: number, rng: Rng): TensorLike {
  const shape = t.shape.map((d, i) => (i === axis ? length : d));
  return randomTensor(rng, shape);
}

describe('each argument is read once', () => {
  let pool: AttentionPool;
  let remote: RemoteEngine;
  beforeAll(async () => {
    pool = new AttentionPool({ threads: 2 });
    remote = await createRemoteEngine({ threads: 2 });
  }, TIMEOUT_MS);
  afterAll(async () => {
    await pool?.close();
    await remote?.close();
  });

  // 2·4·128·(32 + 32)·128 ≈ 8.4 Mflop: above the inline threshold, so the workers compute it.
  const spec = { seed: 1201, B: 1, H: 4, Hkv: 2, Sq: 128, Sk: 128, D: 32, Dv: 32, maskShape: [128, 128], biasShape: [4, 1, 128] } as const;
  const rng = new Rng(1202);
  const honest = attentionInputs(spec);
  const later = {
    q: longer(honest.q, 2, 4096, rng), k: longer(honest.k, 2, 4096, rng), v: longer(honest.v, 2, 4096, rng),
    mask: { data: new Uint8Array(4096 * 4096), shape: [4096, 4096] }, bias: longer(honest.bias!, 2, 4096, rng),
  };

  function shiftyAttentionArgs(reads: Reads, lse: TensorLike) {
    const options = { causal: true, scale: 0.2, mask: shiftyTensor(honest.mask!, later.mask, reads, 'options.mask'), bias: shiftyTensor(honest.bias!, later.bias, reads, 'options.bias'), lse };
    const laterOptions = { causal: false, scale: 50, mask: later.mask, bias: later.bias, lse: filledTensor([1, 4, 4096], 0) };
    return {
      q: shiftyTensor(honest.q, later.q, reads, 'q'),
      k: shiftyTensor(honest.k, later.k, reads, 'k'),
      v: shiftyTensor(honest.v, later.v, reads, 'v'),
      options: shifty(options, laterOptions, reads, 'options'),
    };
  }

  for (const engine of ['pool', 'remote engine'] as const) {
    it(`${engine}: attention(q, k, v, options) reads each property once and computes what it validated`, async () => {
      const target = engine === 'pool' ? pool : remote;
      const honestLse = filledTensor([1, 4, 128], NaN);
      const expected = await target.attention(honest.q, honest.k, honest.v, { causal: true, scale: 0.2, mask: honest.mask, bias: honest.bias, lse: honestLse });
      const reads = new Reads();
      const lse = filledTensor([1, 4, 128], NaN);
      const { q, k, v, options } = shiftyAttentionArgs(reads, lse);
      const out = await target.attention(q, k, v, options);
      expect(reads.total, 'the Proxies were read at all').toBeGreaterThan(0);
      expect(reads.repeated()).toEqual([]);
      expect(out.shape).toEqual([1, 4, 128, 32]);
      expectSameBits(out.data, expected.data, `${engine} out`);
      expectSameBits(lse.data, honestLse.data, `${engine} lse`);
    }, TIMEOUT_MS);

    it(`${engine}: attention(q, cache, options) reads each property once`, async () => {
      const target = engine === 'pool' ? pool : remote;
      const cache = target.createKvCache({ batch: 1, kvHeads: 2, headDim: 32, capacity: 256 });
      const reads = new Reads();
      cache.append(shiftyTensor(honest.k, later.k, reads, 'k'), shiftyTensor(honest.v, later.v, reads, 'v'));
      expect(cache.length).toBe(128);
      const expected = await target.attention(honest.q, honest.k, honest.v, { causal: true, scale: 0.2, mask: honest.mask, bias: honest.bias });
      const { q, options } = shiftyAttentionArgs(reads, filledTensor([1, 4, 128], NaN));
      const out = await target.attention(q, cache, options);
      expect(reads.repeated()).toEqual([]);
      expectSameBits(out.data, expected.data, `${engine} out over the cache`);
    }, TIMEOUT_MS);

    it(`${engine}: multiHeadAttention reads each property of its inputs, weights and options once`, async () => {
      const target = engine === 'pool' ? pool : remote;
      const layer = mhaInputs({ seed: 1203, B: 1, Sq: 96, Sk: 80, E: 64, selfAttention: false, numHeads: 4, numKvHeads: 2 });
      const big = mhaInputs({ seed: 1204, B: 1, Sq: 2048, Sk: 2048, E: 64, selfAttention: false, numHeads: 4, numKvHeads: 2 });
      const padding = { data: new Uint8Array(80).map((_, j) => (j % 7 === 3 ? 1 : 0)), shape: [1, 80] };
      const honestOptions = { numHeads: 4, numKvHeads: 2, causal: true, needWeights: 'per-head' as const, keyPaddingMask: padding };
      const weights = layer.weights;
      const expected = await target.multiHeadAttention(layer.query, layer.key, layer.value, weights, honestOptions);
      const reads = new Reads();
      const laterOptions = { numHeads: 1, numKvHeads: 1, causal: false, needWeights: false, keyPaddingMask: { data: new Uint8Array(2048), shape: [1, 2048] } };
      const laterWeights = big.weights;
      const tensorNames = ['inProjWeight', 'inProjBias', 'outProjWeight', 'outProjBias'] as const;
      const shiftyWeights = Object.fromEntries(tensorNames.map((name) => [name, shiftyTensor(weights[name]!, laterWeights[name]!, reads, `weights.${name}`)]));
      const result = await target.multiHeadAttention(
        shiftyTensor(layer.query, big.query, reads, 'query'), shiftyTensor(layer.key, big.key, reads, 'key'), shiftyTensor(layer.value, big.value, reads, 'value'),
        shifty(shiftyWeights as typeof weights, laterWeights, reads, 'weights'),
        shifty({ ...honestOptions, keyPaddingMask: shiftyTensor(padding, laterOptions.keyPaddingMask, reads, 'options.keyPaddingMask') }, laterOptions as never, reads, 'options'),
      );
      expect(reads.repeated()).toEqual([]);
      expectSameBits(result.output.data, expected.output.data, `${engine} output`);
      expectSameBits(result.attnWeights!.data, expected.attnWeights!.data, `${engine} weights`);
    }, TIMEOUT_MS);
  }
});
