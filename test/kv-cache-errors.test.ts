// The KV cache's bad input (createKvCache, append, attention over a cache): each throws the class and
// message it should before any work, then the pool keeps working; a refused append leaves the cache as
// it was.

import { constants } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, zeros, type KvCache, type Tensor } from '../dist/src/index.js';
import { expectAttentionClose, expectRelativeToMax, expectSameBits, FLOAT32_RTOL } from './support/compare.js';
import { expectError, TIMEOUT_MS, type ErrorClass } from './support/kv-decode.js';
import { attentionInputs, cloneTensor, randomTensor, Rng, toFloat64, type Shape, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';

describe('KV cache: bad input throws before any work, then the pool keeps working', () => {
  let pool: AttentionPool;
  let cache: KvCache;
  const rng = new Rng(621);
  const f32 = (shape: Shape): TensorLike<Float32Array> => randomTensor(rng, shape) as TensorLike<Float32Array>;
  // A valid cache: batch 2, kvHeads 2, headDim 8, valueDim 5, 9 positions filled.
  const good = attentionInputs({ seed: 622, B: 2, H: 4, Hkv: 2, Sq: 3, Sk: 9, D: 8, Dv: 5 });
  const valid = { batch: 2, kvHeads: 2, headDim: 8, capacity: 16 };
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2 });
    cache = pool.createKvCache({ ...valid, valueDim: 5 });
    cache.append(good.k as Tensor, good.v as Tensor);
  });
  afterAll(async () => {
    await pool?.close();
  });

  async function expectStillWorks(): Promise<void> {
    expect(cache.length).toBe(9);
    const out = await pool.attention(good.q as Tensor, cache, { causal: true });
    expectAttentionClose(out.data, undefined, referenceAttention(good.q, good.k, good.v, { causal: true }), 'valid call after an error');
  }

  const cases: ReadonlyArray<{ label: string; call: () => unknown; error: ErrorClass; message: RegExp }> = [
    { label: 'createKvCache without options', call: () => pool.createKvCache(undefined as never), error: TypeError, message: /createKvCache: options/ },
    { label: 'createKvCache options not an object', call: () => pool.createKvCache(4 as never), error: TypeError, message: /createKvCache: options/ },
    { label: 'createKvCache unknown option', call: () => pool.createKvCache({ ...valid, heads: 2 } as never), error: RangeError, message: /options\.heads is not an option/ },
    { label: 'createKvCache batch missing', call: () => pool.createKvCache({ ...valid, batch: undefined } as never), error: TypeError, message: /options\.batch must be a positive integer, got undefined/ },
    { label: 'createKvCache kvHeads 0', call: () => pool.createKvCache({ ...valid, kvHeads: 0 }), error: RangeError, message: /options\.kvHeads must be a positive integer, got 0/ },
    { label: 'createKvCache headDim 2.5', call: () => pool.createKvCache({ ...valid, headDim: 2.5 }), error: RangeError, message: /options\.headDim.*got 2\.5/ },
    { label: 'createKvCache valueDim −1', call: () => pool.createKvCache({ ...valid, valueDim: -1 }), error: RangeError, message: /options\.valueDim.*got -1/ },
    { label: 'createKvCache capacity a string', call: () => pool.createKvCache({ ...valid, capacity: '16' as never }), error: TypeError, message: /options\.capacity.*got "16"/ },
    { label: 'createKvCache capacity Infinity', call: () => pool.createKvCache({ ...valid, capacity: Infinity }), error: RangeError, message: /options\.capacity/ },
    { label: "createKvCache dtype 'bfloat16'", call: () => pool.createKvCache({ ...valid, dtype: 'bfloat16' as never }), error: RangeError, message: /options\.dtype must be 'float32', 'float64', 'float16' or 'int8', got "bfloat16"/ },
    { label: 'createKvCache too large to allocate', call: () => pool.createKvCache({ batch: 1 << 20, kvHeads: 1 << 10, headDim: 1 << 10, capacity: 1 << 10 }), error: RangeError,
      // 2^50 keys: past Node 20's typed-array length (2^32), which is checked first; later runtimes allow the length but not the 4 PiB.
      message: constants.MAX_LENGTH < 2 ** 50
        ? /^createKvCache: the keys of a cache of capacity 1024 \(batch·kvHeads·capacity·headDim\) has 1125899906842624 elements, more than this runtime's typed arrays can hold/
        : /createKvCache: a cache of capacity 1024 needs \d+ bytes/ },
    { label: 'append k not a tensor', call: () => cache.append(null as never, f32([2, 2, 1, 5])), error: TypeError, message: /KvCache\.append: k must be a tensor/ },
    { label: 'append k of rank 3', call: () => cache.append(f32([2, 2, 8]), f32([2, 2, 1, 5])), error: RangeError, message: /KvCache\.append: k\.shape/ },
    { label: 'append wrong batch', call: () => cache.append(f32([1, 2, 1, 8]), f32([1, 2, 1, 5])), error: RangeError, message: /k\.shape\[0\] \(B\) must be equal to cache\.batch = 2, got 1/ },
    { label: 'append wrong kvHeads', call: () => cache.append(f32([2, 4, 1, 8]), f32([2, 4, 1, 5])), error: RangeError, message: /k\.shape\[1\] \(Hkv\) must be equal to cache\.kvHeads = 2, got 4/ },
    { label: 'append wrong headDim', call: () => cache.append(f32([2, 2, 1, 7]), f32([2, 2, 1, 5])), error: RangeError, message: /k\.shape\[3\] \(D\) must be equal to cache\.headDim = 8, got 7/ },
    { label: 'append wrong valueDim', call: () => cache.append(f32([2, 2, 1, 8]), f32([2, 2, 1, 8])), error: RangeError, message: /v\.shape\[3\] \(Dv\) must be equal to cache\.valueDim = 5, got 8/ },
    { label: 'append n = 0', call: () => cache.append(f32([2, 2, 0, 8]), f32([2, 2, 0, 5])), error: RangeError, message: /k\.shape\[2\] \(n\) must be at least 1.*got 0/ },
    { label: 'append v with another n', call: () => cache.append(f32([2, 2, 2, 8]), f32([2, 2, 1, 5])), error: RangeError, message: /v\.shape\[2\] \(n\) must be equal to k\.shape\[2\] \(n\) = 2, got 1/ },
    { label: 'append float64 k to a float32 cache', call: () => cache.append(toFloat64(f32([2, 2, 1, 8])) as never, f32([2, 2, 1, 5])), error: TypeError, message: /k\.data must be a Float32Array \(the cache's dtype is 'float32'\), got a Float64Array/ },
    { label: 'append data length ≠ product(shape)', call: () => cache.append({ data: new Float32Array(15), shape: [2, 2, 1, 8] }, f32([2, 2, 1, 5])), error: RangeError, message: /k\.data\.length/ },
    { label: 'attention q.shape[0] ≠ cache.batch', call: () => pool.attention(f32([1, 4, 3, 8]), cache), error: RangeError, message: /attention: q\.shape\[0\] \(B\) must be equal to cache\.batch = 2, got 1/ },
    { label: 'attention H not a multiple of kvHeads', call: () => pool.attention(f32([2, 3, 3, 8]), cache), error: RangeError, message: /q\.shape\[1\] \(H\) must be a positive multiple of cache\.kvHeads = 2, got 3/ },
    { label: 'attention q.shape[3] ≠ cache.headDim', call: () => pool.attention(f32([2, 4, 3, 6]), cache), error: RangeError, message: /q\.shape\[3\] \(D\) must be equal to cache\.headDim = 8, got 6/ },
    { label: 'attention float64 q on a float32 cache', call: () => pool.attention(toFloat64(f32([2, 4, 3, 8])) as never, cache), error: TypeError, message: /q\.data must be a Float32Array \(the cache's dtype is 'float32'\)/ },
    { label: 'attention with a tensor after the cache', call: () => pool.attention(good.q as never, cache as never, good.v as never), error: TypeError, message: /the third argument must be the options object/ },
    { label: 'attention with four arguments', call: () => pool.attention(good.q as never, cache as never, good.v as never, {} as never), error: TypeError, message: /the third argument must be the options object/ },
    { label: 'attention unknown option', call: () => pool.attention(good.q as Tensor, cache, { casual: true } as never), error: RangeError, message: /options\.casual is not an option/ },
    { label: 'attention lse of the wrong shape', call: () => pool.attention(good.q as Tensor, cache, { lse: zeros([2, 4, 9]) }), error: RangeError, message: /options\.lse/ },
    { label: 'attention bias sized for the capacity', call: () => pool.attention(good.q as Tensor, cache, { bias: f32([3, 16]) }), error: RangeError, message: /options\.bias/ },
  ];

  it.each(cases)('$label', async ({ call, error, message }) => {
    await expectError(call, error, message);
    await expectStillWorks();
  }, TIMEOUT_MS);

  it('a refused append leaves the cache as it was; a cache from one pool works on another', async () => {
    const before = (await pool.attention(good.q as Tensor, cache)).data;
    await expectError(() => cache.append(f32([2, 2, 8, 8]), f32([2, 2, 8, 5])), RangeError, /16 − 9 = 7/);
    expect(cache.length).toBe(9);
    const other = new AttentionPool({ threads: 1, kernel: 'js' });
    try {
      const viaOther = await other.attention(good.q as Tensor, cache);
      expectRelativeToMax(viaOther.data, before, FLOAT32_RTOL, 'other pool');
    } finally {
      await other.close();
    }
    expectSameBits((await pool.attention(good.q as Tensor, cache)).data, before, 'after the refused append');
  }, TIMEOUT_MS);

  it('appending shared and non-shared data gives the same cache', async () => {
    const a = pool.createKvCache({ ...valid, valueDim: 5 });
    const b = pool.createKvCache({ ...valid, valueDim: 5 });
    a.append(cloneTensor(good.k, { shared: false }) as Tensor, cloneTensor(good.v, { shared: false }) as Tensor);
    b.append(good.k as Tensor, good.v as Tensor);
    expectSameBits((await pool.attention(good.q as Tensor, a)).data, (await pool.attention(good.q as Tensor, b)).data, 'shared vs not');
  });
});
