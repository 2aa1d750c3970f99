// Bad input, in API.md's terms: TypeError for a wrong kind of value, RangeError for a wrong shape, size
// or option value, with a message naming the argument; thrown (or rejected) before any work starts.
// After each one the same pool must still answer a valid call correctly.

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { AttentionPool, zeros } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectRelativeToMax, expectSameBits, FLOAT32_RTOL } from './support/compare.js';
import { attentionInputs, filledTensor, mhaInputs, Rng, randomMask, randomTensor, toFloat64, type Shape, type TensorLike } from './support/random.js';
import { referenceAttention, referenceMultiHeadAttention } from './support/reference.js';
import { suitePool } from './support/suite-pools.js';

type ErrorClass = typeof TypeError | typeof RangeError;
const TIMEOUT_MS = 30_000;

// A valid call: q [2, 4, 6, 8], k [2, 2, 9, 8], v [2, 2, 9, 5] (GQA, Sq ≠ Sk, D ≠ Dv).
const good = attentionInputs({ seed: 401, B: 2, H: 4, Hkv: 2, Sq: 6, Sk: 9, D: 8, Dv: 5 });
const goodMha = mhaInputs({ seed: 402, B: 2, Sq: 5, Sk: 7, E: 12, selfAttention: false });
const rng = new Rng(403);
const f32 = (shape: Shape): TensorLike => randomTensor(rng, shape);
const u8 = (shape: Shape): TensorLike<Uint8Array> => randomMask(rng, shape, 0.8);
/** A tensor whose data length disagrees with its shape. */
const withLength = (shape: Shape, length: number): TensorLike => ({ data: new Float32Array(length), shape });

const pool = suitePool({ threads: 2 });

async function expectStillWorks(): Promise<void> {
  const out = await pool.attention(good.q, good.k, good.v, { causal: true });
  expectAttentionClose(out.data, undefined, referenceAttention(good.q, good.k, good.v, { causal: true }), 'valid call after an error');
  const { output } = await pool.multiHeadAttention(goodMha.query, goodMha.key, goodMha.value, goodMha.weights, { numHeads: 3 });
  expectRelativeToMax(output.data, referenceMultiHeadAttention(goodMha.query, goodMha.key, goodMha.value, goodMha.weights, { numHeads: 3 }).output, FLOAT32_RTOL, 'valid layer after an error');
}

async function expectError(call: () => unknown, errorClass: ErrorClass, message: RegExp): Promise<void> {
  const err = await caught(call);
  expect(err, `error class (got: ${String(err)})`).toBeInstanceOf(errorClass);
  expect((err as Error).message).toMatch(message);
}

interface BadCase {
  readonly label: string;
  readonly call: () => unknown;
  readonly error: ErrorClass;
  readonly message: RegExp;
}

const { q, k, v } = good;
const attentionCases: BadCase[] = [
  { label: 'q of rank 3', call: () => pool.attention(f32([2, 4, 48]), k, v), error: RangeError, message: /\bq\b/ },
  { label: 'k of rank 5', call: () => pool.attention(q, f32([2, 2, 9, 8, 1]), v), error: RangeError, message: /\bk\b/ },
  { label: 'k.shape[3] (D) ≠ q.shape[3]', call: () => pool.attention(q, f32([2, 2, 9, 7]), v), error: RangeError, message: /k\.shape\[3\]/ },
  { label: 'v.shape[2] (Sk) ≠ k.shape[2]', call: () => pool.attention(q, k, f32([2, 2, 10, 5])), error: RangeError, message: /v\.shape\[2\]/ },
  { label: 'k.shape[0] (B) ≠ q.shape[0]', call: () => pool.attention(q, f32([1, 2, 9, 8]), f32([1, 2, 9, 5])), error: RangeError, message: /k\.shape\[0\]/ },
  { label: 'v.shape[0] (B) ≠ q.shape[0]', call: () => pool.attention(q, k, f32([3, 2, 9, 5])), error: RangeError, message: /v\.shape\[0\]/ },
  { label: 'v.shape[1] (Hkv) ≠ k.shape[1]', call: () => pool.attention(q, k, f32([2, 1, 9, 5])), error: RangeError, message: /v\.shape\[1\]/ },
  { label: 'H % Hkv ≠ 0', call: () => pool.attention(q, f32([2, 3, 9, 8]), f32([2, 3, 9, 5])), error: RangeError, message: /k\.shape\[1\]/ },
  { label: 'q.data.length ≠ product(q.shape)', call: () => pool.attention(withLength([2, 4, 6, 8], 383), k, v), error: RangeError, message: /q\.data/ },
  { label: 'v.data.length ≠ product(v.shape)', call: () => pool.attention(q, k, withLength([2, 2, 9, 5], 91)), error: RangeError, message: /v\.data/ },
  { label: 'non-integer dimension', call: () => pool.attention({ data: q.data, shape: [2, 4, 6.5, 8] }, k, v), error: RangeError, message: /q\.shape\[2\]/ },
  { label: 'negative dimension', call: () => pool.attention({ data: new Float32Array(0), shape: [2, -4, 6, 8] }, k, v), error: RangeError, message: /q\.shape\[1\]/ },
  { label: 'NaN dimension', call: () => pool.attention(q, { data: k.data, shape: [2, 2, NaN, 8] }, v), error: RangeError, message: /k\.shape\[2\]/ },
  { label: 'string dimension', call: () => pool.attention(q, k, { data: v.data, shape: [2, 2, '9', 5] as unknown as Shape }), error: TypeError, message: /v\.shape/ },
  { label: 'shape not an array', call: () => pool.attention({ data: q.data, shape: 384 as unknown as Shape }, k, v), error: TypeError, message: /q\.shape/ },
  { label: 'q not a tensor', call: () => pool.attention(null as unknown as TensorLike, k, v), error: TypeError, message: /\bq\b/ },
  { label: 'q.data a plain array', call: () => pool.attention({ data: Array.from(q.data) as unknown as Float32Array, shape: q.shape }, k, v), error: TypeError, message: /q\.data/ },
  { label: 'q.data an Int32Array', call: () => pool.attention({ data: new Int32Array(q.data.length) as unknown as Float32Array, shape: q.shape }, k, v), error: TypeError, message: /q\.data/ },
  { label: 'float64 q with float32 k', call: () => pool.attention(toFloat64(q), k, v), error: TypeError, message: /\bk\b/ },
  { label: 'float32 q, k with float64 v', call: () => pool.attention(q, k, toFloat64(v)), error: TypeError, message: /\bv\b/ },
  { label: 'mask not a Uint8Array', call: () => pool.attention(q, k, v, { mask: f32([6, 9]) as never }), error: TypeError, message: /mask/ },
  { label: 'mask not broadcastable', call: () => pool.attention(q, k, v, { mask: u8([6, 8]) }), error: RangeError, message: /mask/ },
  { label: 'mask with 3 batch entries for B = 2', call: () => pool.attention(q, k, v, { mask: u8([3, 1, 1, 9]) }), error: RangeError, message: /mask/ },
  { label: 'mask of rank 5', call: () => pool.attention(q, k, v, { mask: u8([1, 2, 4, 6, 9]) }), error: RangeError, message: /mask/ },
  { label: 'mask data length ≠ product(shape)', call: () => pool.attention(q, k, v, { mask: { data: new Uint8Array(53), shape: [6, 9] } }), error: RangeError, message: /mask/ },
  { label: 'bias a Uint8Array', call: () => pool.attention(q, k, v, { bias: u8([6, 9]) as never }), error: TypeError, message: /bias/ },
  { label: 'bias not broadcastable', call: () => pool.attention(q, k, v, { bias: f32([4, 6, 8]) }), error: RangeError, message: /bias/ },
  // causal takes 'top-left' and 'bottom-right' too: an unknown string is a wrong value, another kind a wrong kind.
  { label: 'causal an unknown string', call: () => pool.attention(q, k, v, { causal: 'yes' as never }), error: RangeError, message: /options\.causal must be true, false, 'bottom-right' or 'top-left', got "yes"/ },
  { label: 'causal a number', call: () => pool.attention(q, k, v, { causal: 1 as never }), error: TypeError, message: /options\.causal/ },
  { label: 'scale a string', call: () => pool.attention(q, k, v, { scale: '0.5' as never }), error: TypeError, message: /scale/ },
  { label: 'scale NaN', call: () => pool.attention(q, k, v, { scale: NaN }), error: RangeError, message: /scale/ },
  { label: 'out of the wrong shape', call: () => pool.attention(q, k, v, { out: zeros([2, 4, 6, 8]) }), error: RangeError, message: /out/ },
  { label: 'out of the wrong dtype', call: () => pool.attention(q, k, v, { out: zeros([2, 4, 6, 5], 'float64') as never }), error: TypeError, message: /out/ },
  { label: 'lse of the wrong shape', call: () => pool.attention(q, k, v, { lse: zeros([2, 4, 9]) }), error: RangeError, message: /lse/ },
  { label: 'signal not an AbortSignal', call: () => pool.attention(q, k, v, { signal: { aborted: false } as never }), error: TypeError, message: /signal/ },
  { label: 'options not an object', call: () => pool.attention(q, k, v, 'causal' as never), error: TypeError, message: /options/ },
];

describe('attention rejects bad input, then keeps working', () => {
  it.each(attentionCases)('$label', async ({ call, error, message }) => {
    await expectError(call, error, message);
    await expectStillWorks();
  }, TIMEOUT_MS);

  it('a rejected call leaves a caller-provided out untouched (nothing ran)', async () => {
    const out = filledTensor([2, 4, 6, 5], 7);
    await expectError(() => pool.attention(q, k, v, { out, mask: u8([6, 8]) }), RangeError, /mask/);
    expect(Array.from(out.data).every((x) => x === 7)).toBe(true);
  });
});

const m = goodMha;
const E = 12;
const mhaCases: BadCase[] = [
  { label: 'E % numHeads ≠ 0', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 5 }), error: RangeError, message: /numHeads/ },
  { label: 'numHeads 0', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 0 }), error: RangeError, message: /numHeads/ },
  { label: 'numHeads 1.5', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 1.5 }), error: RangeError, message: /numHeads/ },
  { label: 'numHeads a string', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: '3' as never }), error: TypeError, message: /numHeads/ },
  { label: 'query of rank 4', call: () => pool.multiHeadAttention(f32([2, 5, 12, 1]), m.key, m.value, m.weights, { numHeads: 3 }), error: RangeError, message: /query/ },
  { label: 'key.shape[2] (E) ≠ query.shape[2]', call: () => pool.multiHeadAttention(m.query, f32([2, 7, 10]), m.value, m.weights, { numHeads: 3 }), error: RangeError, message: /key\.shape\[2\]/ },
  { label: 'value.shape[1] (Sk) ≠ key.shape[1]', call: () => pool.multiHeadAttention(m.query, m.key, f32([2, 6, 12]), m.weights, { numHeads: 3 }), error: RangeError, message: /value\.shape\[1\]/ },
  { label: 'key.shape[0] (B) ≠ query.shape[0]', call: () => pool.multiHeadAttention(m.query, f32([1, 7, 12]), f32([1, 7, 12]), m.weights, { numHeads: 3 }), error: RangeError, message: /key\.shape\[0\]/ },
  { label: 'query.data.length ≠ product(shape)', call: () => pool.multiHeadAttention(withLength([2, 5, 12], 119), m.key, m.value, m.weights, { numHeads: 3 }), error: RangeError, message: /query\.data/ },
  { label: 'inProjWeight of the wrong shape', call: () => pool.multiHeadAttention(m.query, m.key, m.value, { ...m.weights, inProjWeight: f32([3 * E, E + 1]) }, { numHeads: 3 }), error: RangeError, message: /inProjWeight/ },
  { label: 'inProjBias of the wrong length', call: () => pool.multiHeadAttention(m.query, m.key, m.value, { ...m.weights, inProjBias: f32([2 * E]) }, { numHeads: 3 }), error: RangeError, message: /inProjBias/ },
  { label: 'outProjWeight of the wrong shape', call: () => pool.multiHeadAttention(m.query, m.key, m.value, { ...m.weights, outProjWeight: f32([E, 3 * E]) }, { numHeads: 3 }), error: RangeError, message: /outProjWeight/ },
  { label: 'outProjBias of the wrong length', call: () => pool.multiHeadAttention(m.query, m.key, m.value, { ...m.weights, outProjBias: f32([E, 1]) }, { numHeads: 3 }), error: RangeError, message: /outProjBias/ },
  { label: 'inProjWeight missing', call: () => pool.multiHeadAttention(m.query, m.key, m.value, { outProjWeight: m.weights.outProjWeight } as never, { numHeads: 3 }), error: TypeError, message: /inProjWeight/ },
  { label: 'weights not an object', call: () => pool.multiHeadAttention(m.query, m.key, m.value, null as never, { numHeads: 3 }), error: TypeError, message: /weights/ },
  { label: 'float64 weights with float32 inputs', call: () => pool.multiHeadAttention(m.query, m.key, m.value, { ...m.weights, outProjWeight: toFloat64(m.weights.outProjWeight) } as never, { numHeads: 3 }), error: TypeError, message: /outProjWeight/ },
  { label: 'keyPaddingMask of the wrong shape', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 3, keyPaddingMask: u8([2, 5]) }), error: RangeError, message: /keyPaddingMask/ },
  { label: 'keyPaddingMask not a Uint8Array', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 3, keyPaddingMask: f32([2, 7]) as never }), error: TypeError, message: /keyPaddingMask/ },
  { label: 'needWeights not a known value', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 3, needWeights: 'all' as never }), error: RangeError, message: /needWeights/ },
  { label: 'causal not a boolean', call: () => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 3, causal: 1 as never }), error: TypeError, message: /causal/ },
];

describe('multiHeadAttention rejects bad input, then keeps working', () => {
  it.each(mhaCases)('$label', async ({ call, error, message }) => {
    await expectError(call, error, message);
    await expectStillWorks();
  }, TIMEOUT_MS);
});

describe('AttentionPool options', () => {
  const bad: ReadonlyArray<{ label: string; options: unknown; error: ErrorClass; message: RegExp }> = [
    { label: 'threads 0', options: { threads: 0 }, error: RangeError, message: /threads/ },
    { label: 'threads −2', options: { threads: -2 }, error: RangeError, message: /threads/ },
    { label: 'threads 1.5', options: { threads: 1.5 }, error: RangeError, message: /threads/ },
    { label: 'threads NaN', options: { threads: NaN }, error: RangeError, message: /threads/ },
    { label: 'threads a string', options: { threads: '2' }, error: TypeError, message: /threads/ },
    { label: "kernel 'gpu'", options: { kernel: 'gpu' }, error: RangeError, message: /kernel/ },
    { label: 'maxQueue −1', options: { maxQueue: -1 }, error: RangeError, message: /maxQueue/ },
    { label: 'options not an object', options: 4, error: TypeError, message: /options/ },
  ];
  it.each(bad)('$label throws', ({ options, error, message }) => {
    let err: unknown;
    try {
      new AttentionPool(options as never).close();
    } catch (e) {
      err = e;
    }
    expect(err, 'the constructor must throw').toBeInstanceOf(error);
    expect((err as Error).message).toMatch(message);
  });

  it('pool.threads is the resolved thread count (default: os.availableParallelism())', async () => {
    const defaults = new AttentionPool();
    try {
      expect(defaults.threads).toBe(availableParallelism());
      const out = await defaults.attention(q, k, v);
      expectAttentionClose(out.data, undefined, referenceAttention(q, k, v), 'default pool');
    } finally {
      await defaults.close();
    }
  }, TIMEOUT_MS);
});

describe('use after close', () => {
  it('rejects every later call clearly, and close() can be called again', async () => {
    const closed = new AttentionPool({ threads: 1 });
    const before = await closed.attention(q, k, v);
    await closed.close();
    for (const call of [() => closed.attention(q, k, v), () => closed.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 3 })]) {
      const err = await caught(call);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/clos/i);
    }
    await closed.close();
    // The other pool is unaffected and agrees bit for bit with what the closed one computed.
    expectSameBits((await pool.attention(q, k, v)).data, before.data, 'another pool after close');
  }, TIMEOUT_MS);

  it('close() rejects a call in flight', async () => {
    const closing = new AttentionPool({ threads: 1 });
    const big = attentionInputs({ seed: 404, B: 1, H: 8, Hkv: 8, Sq: 1024, Sk: 1024, D: 64, Dv: 64 }); // 2 GFLOP: far longer than the 5 ms wait
    // The handler is attached at once: the rejection arrives while close() is being awaited.
    const inFlight = closing.attention(big.q, big.k, big.v).then(() => 'resolved', (err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await closing.close();
    const err = await inFlight;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/clos/i);
  }, TIMEOUT_MS);
});
