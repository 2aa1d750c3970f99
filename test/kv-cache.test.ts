// The KV cache (pool.createKvCache, cache.append, pool.attention(q, cache, options)): a decode loop over
// a cache must give what full causal attention over the same sequence gives, on every kernel, in the
// calling thread and in the workers; golden sdpa-decode through a cache; GQA, mask and bias; capacity,
// reserve and reset (also while a call reads the cache); every bad input, after which the pool still
// answers; and the remote engine, whose host reads the caller's cache in place.
//
// Why decode rows can be compared bit for bit with the full causal call: both kernels walk the keys in
// blocks at fixed global positions (0, 64, 128, …), keep each query row's softmax state on its own,
// and a row skips blocks past its causal limit (the wasm kernel keeps K/V in one span up to 32,768
// keys at D = 64). Row i of a causal call over the whole sequence therefore does exactly the float
// operations that the decode step with Sk = i + 1 does, whatever rows share its tile.

import { constants } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionPool, INLINE_MAX_FLOPS, zeros, type KvCache, type Tensor } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectLseClose, expectRelativeToMax, expectSameBits, FLOAT32_RTOL } from './support/compare.js';
import { loadGoldenCases, type SdpaCase } from './support/golden.js';
import { KERNELS } from './support/kernels.js';
import { attentionInputs, cloneTensor, randomMask, randomTensor, Rng, toFloat64, type AttentionInputs, type Shape, type TensorLike } from './support/random.js';
import { referenceAttention } from './support/reference.js';
import { suitePool, suiteRemoteEngine } from './support/suite-pools.js';

const TIMEOUT_MS = 60_000;
type ErrorClass = typeof TypeError | typeof RangeError;

/** Positions [start, end) along axis 2 of a [B, H, S, C] tensor, as a new (shared or plain) tensor. */
function positions<A extends Float32Array | Float64Array>(t: TensorLike<A>, start: number, end: number, shared = true): TensorLike<A> {
  const [B, H, S, C] = t.shape;
  const n = end - start;
  const Ctor = t.data.constructor as new (buffer: ArrayBufferLike) => A;
  const bytes = B * H * n * C * t.data.BYTES_PER_ELEMENT;
  const data = new Ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  for (let bh = 0; bh < B * H; bh++) data.set(t.data.subarray((bh * S + start) * C, (bh * S + end) * C) as never, bh * n * C);
  return { data, shape: [B, H, n, C] };
}

/** Writes a [B, H, n, C] result into positions [start, start + n) of a [B, H, S, C] array. */
function place(dst: Float32Array | Float64Array, dstShape: Shape, part: TensorLike, start: number): void {
  const [B, H, S, C] = dstShape;
  const n = part.shape[2];
  for (let bh = 0; bh < B * H; bh++) dst.set(part.data.subarray(bh * n * C, (bh + 1) * n * C), (bh * S + start) * C);
}

/** lse has no column axis: [B, H, n] into [B, H, S]. */
function placeLse(dst: Float32Array | Float64Array, dstShape: Shape, part: TensorLike, start: number): void {
  place(dst, [...dstShape, 1], { data: part.data, shape: [...part.shape, 1] }, start);
}

interface DecodeResult {
  readonly out: Float32Array | Float64Array;
  readonly lse: Float32Array | Float64Array;
}

/** Prefills `prefill` positions in one append (and, unless `attendPrefill` is false, one call for their
 *  queries), then appends and attends one position at a time; returns every step's rows assembled as
 *  [B, H, S, Dv] and [B, H, S] (rows of an unattended prefill stay zero). */
async function decodeLoop(pool: AttentionPool, inputs: AttentionInputs, prefill: number, { shared = true, attendPrefill = true } = {}): Promise<DecodeResult> {
  const { q, k, v } = inputs;
  const [B, H, S] = q.shape;
  const [, Hkv, , D] = k.shape;
  const Dv = v.shape[3];
  const float64 = q.data instanceof Float64Array;
  const cache = (float64
    ? pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv, capacity: S, dtype: 'float64' })
    : pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv, capacity: S })) as KvCache<Float32Array | Float64Array>;
  const out = float64 ? new Float64Array(B * H * S * Dv) : new Float32Array(B * H * S * Dv);
  const lseAll = float64 ? new Float64Array(B * H * S) : new Float32Array(B * H * S);
  const step = async (start: number, end: number, attend = true) => {
    cache.append(positions(k, start, end, shared), positions(v, start, end, shared));
    expect(cache.length).toBe(end);
    if (!attend) return;
    const lse = zeros([B, H, end - start], float64 ? 'float64' : 'float32');
    const rows = await pool.attention(positions(q, start, end, shared), cache, { causal: true, lse });
    expect(rows.shape).toEqual([B, H, end - start, Dv]);
    place(out, [B, H, S, Dv], rows, start);
    placeLse(lseAll, [B, H, S], lse, start);
  };
  if (prefill > 0) await step(0, prefill, attendPrefill);
  for (let i = prefill; i < S; i++) await step(i, i + 1);
  return { out, lse: lseAll };
}

async function fullCausal(pool: AttentionPool, { q, k, v }: AttentionInputs): Promise<DecodeResult> {
  const lse = zeros(q.shape.slice(0, 3), q.data instanceof Float64Array ? 'float64' : 'float32');
  const out = await pool.attention(q, k, v, { causal: true, lse });
  return { out: out.data, lse: lse.data };
}

function expectDecodeMatches(decoded: DecodeResult, full: DecodeResult, inputs: AttentionInputs, label: string): void {
  expectSameBits(decoded.out, full.out, `${label}: out, decode vs full causal`);
  expectSameBits(decoded.lse, full.lse, `${label}: lse, decode vs full causal`);
  expectAttentionClose(decoded.out, decoded.lse, referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true }), `${label} vs reference`);
}

describe.each(KERNELS)('KV cache on kernel %s', (kernel) => {
  let pool: AttentionPool;
  let singleThread: AttentionPool;
  beforeAll(() => {
    pool = new AttentionPool({ threads: 2, kernel });
    singleThread = new AttentionPool({ threads: 1, kernel });
  });
  afterAll(async () => {
    await pool?.close();
    await singleThread?.close();
  });

  // S = 150 crosses two 64-key block boundaries and the 128-row tile boundary of the full call.
  const gqa = attentionInputs({ seed: 601, B: 2, H: 4, Hkv: 2, Sq: 150, Sk: 150, D: 16, Dv: 12 });

  it('a 1-token decode loop (GQA H4/Hkv2) reproduces full causal attention row by row', async () => {
    expectDecodeMatches(await decodeLoop(pool, gqa, 0), await fullCausal(pool, gqa), gqa, 'decode from empty');
  }, TIMEOUT_MS);

  it('a prefill chunk (n = 37), then 1-token steps with non-shared inputs, reproduces full causal attention', async () => {
    expectDecodeMatches(await decodeLoop(pool, gqa, 37, { shared: false }), await fullCausal(pool, gqa), gqa, 'prefill + decode');
  }, TIMEOUT_MS);

  it('in the workers (each step above the inline threshold): decode = full causal, and 1 thread = 2 threads', async () => {
    // B1 H8 D64 with 2,000 prefilled keys: a step counts 2·8·Sk·128 / 2 (causal calls count half) > 2 MFLOP,
    // so it leaves the calling thread.
    const S = 2008, prefill = 2000;
    expect((2 * 8 * (prefill + 1) * 128) / 2).toBeGreaterThan(INLINE_MAX_FLOPS);
    const big = attentionInputs({ seed: 602, B: 1, H: 8, Hkv: 8, Sq: S, Sk: S, D: 64, Dv: 64 });
    const decodedRows = (data: Float32Array | Float64Array, cols: number) => positions({ data, shape: [1, 8, S, cols] }, prefill, S).data;
    const decoded = await decodeLoop(pool, big, prefill, { attendPrefill: false });
    // The full causal call for the last 8 query rows only (bottom-right aligned: they see keys [0, i]).
    const tail = { q: positions(big.q, prefill, S), k: big.k, v: big.v };
    const fullTail = await fullCausal(pool, tail);
    expectSameBits(decodedRows(decoded.out, 64), fullTail.out, 'out, decode vs full causal');
    expectSameBits(decodedRows(decoded.lse, 1), fullTail.lse, 'lse, decode vs full causal');
    const single = await decodeLoop(singleThread, big, prefill, { attendPrefill: false });
    expectSameBits(single.out, decoded.out, 'out, 1 vs 2 threads');
    expectAttentionClose(fullTail.out, fullTail.lse, referenceAttention(tail.q, tail.k, tail.v, { causal: true }), 'decoded rows vs reference');
  }, TIMEOUT_MS);

  it('MQA (Hkv = 1) and Dv ≠ D', async () => {
    const mqa = attentionInputs({ seed: 603, B: 1, H: 6, Hkv: 1, Sq: 70, Sk: 70, D: 8, Dv: 20 });
    expectDecodeMatches(await decodeLoop(pool, mqa, 5), await fullCausal(pool, mqa), mqa, 'MQA');
  }, TIMEOUT_MS);

  it('golden sdpa-decode through a cache filled in uneven chunks', async () => {
    const c = loadGoldenCases().find((g): g is SdpaCase => g.name === 'sdpa-decode');
    if (!c) throw new Error('golden case sdpa-decode missing');
    const [B, H, Sq] = c.q.shape;
    const [, Hkv, Sk, D] = c.k.shape;
    const Dv = c.v.shape[3];
    expect([Sq, c.causal]).toEqual([1, true]);
    const cache = pool.createKvCache({ batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv, capacity: Sk + 10 });
    for (const [start, end] of [[0, 1], [1, 130], [130, 299], [299, 300]]) cache.append(positions(c.k, start, end), positions(c.v, start, end));
    const lse = zeros([B, H, Sq]);
    const out = await pool.attention(c.q, cache, { causal: true, lse });
    expectRelativeToMax(out.data, c.outF64.data, c.suggestedOutRtol, 'sdpa-decode out');
    expectLseClose(lse.data, c.lse.data, 'sdpa-decode lse');
    // The kernels read the cache through strides: the same bits as the tensor form over k and v.
    expectSameBits(out.data, (await pool.attention(c.q, c.k, c.v, { causal: true })).data, 'cache vs tensor form');
  }, TIMEOUT_MS);

  it('mask and bias broadcast against [B, H, Sq, cache.length], with causal', async () => {
    const rng = new Rng(604);
    const base = attentionInputs({ seed: 605, B: 2, H: 4, Hkv: 2, Sq: 3, Sk: 90, D: 16, Dv: 16 });
    const mask = randomMask(rng, [2, 1, 3, 90], 0.7);
    const bias = randomTensor(rng, [1, 4, 3, 90]);
    const cache = pool.createKvCache({ batch: 2, kvHeads: 2, headDim: 16, capacity: 128 });
    cache.append(base.k, base.v);
    const lse = zeros([2, 4, 3]);
    const out = await pool.attention(base.q, cache, { causal: true, mask, bias, lse });
    expectAttentionClose(out.data, lse.data, referenceAttention(base.q, base.k, base.v, { causal: true, mask, bias }), 'mask + bias');
    expectSameBits(out.data, (await pool.attention(base.q, base.k, base.v, { causal: true, mask, bias })).data, 'cache vs tensor form');
    // A mask sized for the capacity, not the length, is rejected: Sk is cache.length.
    await expectError(() => pool.attention(base.q, cache, { mask: randomMask(rng, [3, 128], 0.5) }), RangeError, /mask/);
  }, TIMEOUT_MS);

  it('float64 cache and q: float64 result on the js kernel', async () => {
    const f64 = attentionInputs({ seed: 606, B: 1, H: 2, Hkv: 2, Sq: 40, Sk: 40, D: 8, Dv: 8, dtype: 'float64' });
    const decoded = await decodeLoop(pool, f64, 3);
    expect(decoded.out).toBeInstanceOf(Float64Array);
    expectDecodeMatches(decoded, await fullCausal(pool, f64), f64, 'float64');
  }, TIMEOUT_MS);
});

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

async function expectError(call: () => unknown, errorClass: ErrorClass, message: RegExp): Promise<void> {
  const err = await caught(call);
  expect(err, `error class (got: ${String(err)})`).toBeInstanceOf(errorClass);
  expect((err as Error).message).toMatch(message);
}

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

describe('KV cache on the remote engine', () => {
  const remote = suiteRemoteEngine({ threads: 2, kernel: 'js' }, TIMEOUT_MS);
  const local = suitePool({ threads: 2, kernel: 'js' });

  it('a decode loop on the host gives the local pool bits; later appends and reset do not reach a call', async () => {
    const seq = attentionInputs({ seed: 631, B: 1, H: 8, Hkv: 8, Sq: 2052, Sk: 2052, D: 64, Dv: 64 });
    const prefill = 2048;
    const cache = remote().createKvCache({ batch: 1, kvHeads: 8, headDim: 64, capacity: 2052 });
    cache.append(positions(seq.k, 0, prefill), positions(seq.v, 0, prefill));
    for (let i = prefill; i < 2052; i++) {
      cache.append(positions(seq.k, i, i + 1), positions(seq.v, i, i + 1));
      const q = positions(seq.q, i, i + 1);
      const lse = zeros([1, 8, 1]);
      const out = await remote().attention(q, cache, { causal: true, lse });
      const expectedLse = zeros([1, 8, 1]);
      expectSameBits(out.data, (await local.attention(q, positions(seq.k, 0, i + 1), positions(seq.v, 0, i + 1), { causal: true, lse: expectedLse })).data, `step ${i}`);
      expectSameBits(lse.data, expectedLse.data, `step ${i} lse`);
    }
    const q = positions(seq.q, 2048, 2052);
    const pending = remote().attention(q, cache, { causal: true });
    cache.reset(); // the host is reading: the cache moves to fresh buffers
    cache.append(positions(seq.v, 0, 2052), positions(seq.k, 0, 2052));
    expectSameBits((await pending).data, (await local.attention(q, seq.k, seq.v, { causal: true })).data, 'call before reset');
  }, TIMEOUT_MS);

  it('bad input rejects with the class and message the pool gives', async () => {
    const cache = remote().createKvCache({ batch: 1, kvHeads: 2, headDim: 8, capacity: 4 });
    const q = randomTensor(new Rng(632), [1, 4, 1, 6]);
    const fromPool = (await caught(() => local.attention(q as Tensor, cache))) as Error;
    const fromRemote = (await caught(() => remote().attention(q as Tensor, cache))) as Error;
    expect(fromRemote).toBeInstanceOf(RangeError);
    expect(fromRemote.message).toBe(fromPool.message);
    expect(fromRemote.message).toMatch(/q\.shape\[3\] \(D\) must be equal to cache\.headDim = 8, got 6/);
  });
});
