// Bad values of the variants' options (causal, softcap, alibiSlopes, sinks) for pool.attention, KvCache
// calls and the layer: TypeError for a wrong kind, RangeError for a wrong value or shape, the message
// naming the argument, what was expected and what was given — thrown before any work (the output
// given stays untouched) — and the pool still answers afterwards. Also alibiSlopes(H) against the
// paper's formula, non-powers of two included.

import { describe, expect, it } from 'vitest';
import { alibiSlopes, type AttentionOptions, type KvCache, type Tensor } from '../dist/src/index.js';
import { caught, expectAttentionClose } from './support/compare.js';
import { attentionInputs, mhaInputs } from './support/random.js';
import { suitePool } from './support/suite-pools.js';
import { variantReference } from './support/variant-reference.js';

type ErrorClass = typeof TypeError | typeof RangeError;
const good = attentionInputs({ seed: 16_101, B: 1, H: 4, Hkv: 2, Sq: 5, Sk: 7, D: 8, Dv: 6 });
const pool = suitePool({ threads: 2 });
const sinks = (shape: number[], values?: number[]) => ({ data: Float32Array.from(values ?? new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0.5)), shape });

const BAD: readonly { label: string; options: Record<string, unknown>; error: ErrorClass; message: RegExp }[] = [
  { label: 'causal an unknown string', options: { causal: 'top-right' }, error: RangeError, message: /attention: options\.causal must be true, false, 'bottom-right' or 'top-left', got "top-right"/ },
  { label: 'causal a number', options: { causal: 1 }, error: TypeError, message: /options\.causal must be true, false, 'bottom-right' or 'top-left', got 1/ },
  { label: 'softcap 0', options: { softcap: 0 }, error: RangeError, message: /options\.softcap must be a finite number > 0, got 0/ },
  { label: 'softcap negative', options: { softcap: -2 }, error: RangeError, message: /options\.softcap must be a finite number > 0, got -2/ },
  { label: 'softcap NaN', options: { softcap: NaN }, error: RangeError, message: /options\.softcap must be a finite number > 0, got NaN/ },
  { label: 'softcap Infinity', options: { softcap: Infinity }, error: RangeError, message: /options\.softcap .*got Infinity/ },
  { label: 'softcap a string', options: { softcap: '30' }, error: TypeError, message: /options\.softcap must be a number, got "30"/ },
  { label: 'slopes of length H − 1', options: { alibiSlopes: [0.5, 0.25, 0.125] }, error: RangeError, message: /options\.alibiSlopes\.length must be H \(q\.shape\[1\]\) = 4 \(one slope per query head\), got 3/ },
  { label: 'slopes with NaN', options: { alibiSlopes: new Float32Array([0.5, NaN, 0.1, 0.1]) }, error: RangeError, message: /options\.alibiSlopes\[1\] must be finite, got NaN/ },
  { label: 'slopes with Infinity', options: { alibiSlopes: [0.5, 0.1, 0.1, -Infinity] }, error: RangeError, message: /options\.alibiSlopes\[3\] must be finite, got -Infinity/ },
  { label: 'slopes with a string', options: { alibiSlopes: [0.5, '0.1', 0.1, 0.1] }, error: TypeError, message: /options\.alibiSlopes\[1\] must be a number, got "0.1"/ },
  { label: 'slopes a number', options: { alibiSlopes: 0.5 }, error: TypeError, message: /options\.alibiSlopes must be an array of H numbers.*got 0\.5/ },
  { label: 'slopes a tensor of shape [2]', options: { alibiSlopes: { data: new Float32Array(2), shape: [2] } }, error: RangeError, message: /options\.alibiSlopes\.shape\[0\] must be equal to H \(q\.shape\[1\]\) = 4, got 2/ },
  { label: 'sinks of shape [3]', options: { sinks: sinks([3]) }, error: RangeError, message: /options\.sinks\.shape\[0\] must be equal to H \(q\.shape\[1\]\) = 4, got 3/ },
  { label: 'sinks of shape [1, 4]', options: { sinks: sinks([1, 4]) }, error: RangeError, message: /options\.sinks\.shape must be of rank 1 \(\[H\]\), got \[1, 4\]/ },
  { label: 'sinks a plain array', options: { sinks: [0, 0, 0, 0] }, error: TypeError, message: /options\.sinks must be a tensor/ },
  { label: 'sinks with NaN', options: { sinks: sinks([4], [0, 0, NaN, 0]) }, error: RangeError, message: /options\.sinks\[2\] must be finite, got NaN/ },
];

async function expectError(call: () => unknown, errorClass: ErrorClass, message: RegExp): Promise<void> {
  const err = await caught(call);
  expect(err, `error class (got: ${String(err)})`).toBeInstanceOf(errorClass);
  expect((err as Error).message).toMatch(message);
}

describe('bad variant options', () => {
  it.each(BAD)('attention: $label', async ({ options, error, message }) => {
    const out = { data: new Float32Array(1 * 4 * 5 * 6).fill(7), shape: [1, 4, 5, 6] };
    await expectError(() => pool.attention(good.q, good.k, good.v, { ...options, out } as AttentionOptions), error, message);
    expect(out.data.every((x) => x === 7), 'nothing written').toBe(true);
  });

  it.each(BAD)('KvCache call: $label', async ({ options, error, message }) => {
    const cache = pool.createKvCache({ batch: 1, kvHeads: 2, headDim: 8, valueDim: 6, capacity: 7 });
    cache.append(good.k as Tensor, good.v as Tensor);
    await expectError(() => pool.attention(good.q as Tensor, cache as KvCache<Float32Array>, options as AttentionOptions), error, message);
  });

  it.each(BAD)('layer: $label', async ({ options, error, message }) => {
    const m = mhaInputs({ seed: 16_102, B: 1, Sq: 5, Sk: 7, E: 16, selfAttention: false });
    // The layer names its head count options.numHeads.
    const layerMessage = new RegExp(message.source.replace('attention: ', 'multiHeadAttention: ').replace('H \\(q\\.shape\\[1\\]\\)', 'options\\.numHeads'));
    await expectError(() => pool.multiHeadAttention(m.query, m.key, m.value, m.weights, { numHeads: 4, ...options } as never), error, layerMessage);
  });

  it('a window with causal top-left is accepted, and without causal refused naming all three causal values', async () => {
    await expectError(() => pool.attention(good.q, good.k, good.v, { window: 2 }), RangeError,
      /options\.window requires options\.causal: true, 'bottom-right' or 'top-left'.*got causal: false/);
    const out = await pool.attention(good.q, good.k, good.v, { causal: 'top-left', window: 2 });
    expectAttentionClose(out.data, undefined, variantReference(good.q, good.k, good.v, { causal: 'top-left', window: 2 }), 'top-left window');
  });

  it('the pool still answers after every error', async () => {
    const out = await pool.attention(good.q, good.k, good.v, { causal: 'top-left', softcap: 4, alibiSlopes: alibiSlopes(4), sinks: sinks([4]) as Tensor<Float32Array> });
    const ref = variantReference(good.q, good.k, good.v, { causal: 'top-left', softcap: 4, alibiSlopes: alibiSlopes(4), sinks: [0.5, 0.5, 0.5, 0.5] });
    expectAttentionClose(out.data, undefined, ref, 'after errors');
  });
});

describe('alibiSlopes(H)', () => {
  /** The paper's (and BLOOM's) get_slopes, in the recursive form of its reference code. */
  function paperSlopes(n: number): number[] {
    const pow2 = (m: number) => { const start = 2 ** (-(2 ** -(Math.log2(m) - 3))); return Array.from({ length: m }, (_, i) => start * start ** i); };
    if (Number.isInteger(Math.log2(n))) return pow2(n);
    const closest = 2 ** Math.floor(Math.log2(n));
    return [...pow2(closest), ...paperSlopes(2 * closest).filter((_, i) => i % 2 === 0).slice(0, n - closest)];
  }

  it.each([1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 40, 64, 80])('H = %i: the paper\'s slopes (within the rounding of its start · start^i products, ~1e-15 each)', (H) => {
    const got = alibiSlopes(H), expected = paperSlopes(H);
    expect(got.length).toBe(H);
    for (let h = 0; h < H; h++) expect(Math.abs(got[h] - expected[h]) / expected[h], `slope ${h}`).toBeLessThan(1e-14);
  });

  it('H = 8 is 1/2, 1/4, …, 1/256 exactly; H = 12 takes 8\'s then every other of 16\'s', () => {
    expect(Array.from(alibiSlopes(8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((k) => 2 ** -k));
    expect(Array.from(alibiSlopes(12)).slice(8)).toEqual([1, 3, 5, 7].map((k) => 2 ** (-k / 2)));
  });

  it('refuses a non-positive or fractional head count', () => {
    expect(() => alibiSlopes(0)).toThrow(/alibiSlopes: heads must be a positive integer, got 0/);
    expect(() => alibiSlopes(2.5)).toThrow(RangeError);
    expect(() => alibiSlopes('8' as unknown as number)).toThrow(TypeError);
  });
});
