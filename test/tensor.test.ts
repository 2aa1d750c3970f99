// tensor() and zeros(): SharedArrayBuffer-backed, row-major, the right element type and length;
// values copied rather than aliased (rounded to float32, except a Float64Array, which keeps float64);
// bad shapes and values rejected with the documented error class and a message naming the argument.

import { afterAll, describe, expect, it } from 'vitest';
import { AttentionPool, tensor, zeros } from '../dist/src/index.js';
import { caught, expectAttentionClose, expectSameBits } from './support/compare.js';
import { Rng } from './support/random.js';
import { referenceAttention } from './support/reference.js';

describe('tensor()', () => {
  it('is float32 on a SharedArrayBuffer, filled with the values in row-major order', () => {
    const values = [0.1, -2, 3.5, 1e-3, 7, 8];
    const t = tensor([2, 3], values);
    expect(t.shape).toEqual([2, 3]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(t.data.length).toBe(6);
    expect(Array.from(t.data)).toEqual(values.map(Math.fround));
  });

  it('without values is all zeros', () => {
    const t = tensor([3, 1, 4]);
    expect(t.data.length).toBe(12);
    expect(t.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(t.data).every((x) => x === 0)).toBe(true);
  });

  it('copies its values: later changes to the source do not show', () => {
    const source = new Float32Array([1, 2, 3, 4]);
    const t = tensor([4], source);
    source[0] = 99;
    expect(t.data[0]).toBe(1);
    expect(t.data).not.toBe(source);
  });

  it('accepts a zero-sized dimension', () => {
    const t = tensor([2, 0, 5]);
    expect(t.data.length).toBe(0);
    expect(t.shape).toEqual([2, 0, 5]);
  });

  it('does not keep the caller\'s shape array (mutating it later changes nothing)', () => {
    const shape = [2, 2];
    const t = tensor(shape, [1, 2, 3, 4]);
    shape[0] = 7;
    expect(t.shape).toEqual([2, 2]);
  });
});

describe('tensor() with Float64Array values', () => {
  // Each differs from its nearest float32 (Math.fround), so a float32 round trip would change it.
  const source = new Float64Array([0.1, 1 / 3, Math.PI, 1 + 2 ** -52, 1e-300, -1e300, 2 ** -1074, -123456789.123456789]);

  it('the test values are not float32 values (so narrowing would show)', () => {
    for (const x of source) expect(Math.fround(x)).not.toBe(x);
  });

  it('keeps float64 and every bit of every value, on a SharedArrayBuffer', () => {
    const t = tensor([2, 4], source);
    expect(t.data).toBeInstanceOf(Float64Array);
    expect(t.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(t.shape).toEqual([2, 4]);
    expectSameBits(t.data, source, 'tensor(shape, Float64Array)');
  });

  it('copies the values: later changes to the source do not show', () => {
    const mine = source.slice();
    const t = tensor([8], mine);
    expect(t.data).not.toBe(mine);
    expect(t.data.buffer).not.toBe(mine.buffer);
    mine[0] = 99;
    expect(t.data[0]).toBe(0.1);
  });

  it('copies shared values too: a SharedArrayBuffer-backed source is not aliased', () => {
    const mine = new Float64Array(new SharedArrayBuffer(source.byteLength));
    mine.set(source);
    const t = tensor([8], mine);
    mine[1] = 99;
    expect(t.data[1]).toBe(1 / 3);
  });

  it('rejects values whose length is not product(shape), naming values.length', async () => {
    const err = await caught(() => tensor([3, 3], source));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/values\.length must be product\(shape\) = 9, got 8/);
  });

  it('every other kind of values becomes float32: integer typed arrays, exactly', () => {
    for (const values of [new Uint8Array([0, 1, 255]), new Int16Array([-32768, 7, 32767]), [1, 2, 3]]) {
      const t = tensor([3], values);
      expect(t.data).toBeInstanceOf(Float32Array);
      expect(Array.from(t.data)).toEqual(Array.from(values));
    }
  });

  describe('through pool.attention', () => {
    const pool = new AttentionPool({ threads: 2 });
    afterAll(() => pool.close());

    // The small call runs on the calling thread; the large one (well above INLINE_MAX_FLOPS = 2e6) in the workers.
    it.each([
      { where: 'in-thread', B: 1, H: 4, Hkv: 2, Sq: 7, Sk: 11, D: 8 },
      { where: 'workers', B: 1, H: 4, Hkv: 2, Sq: 128, Sk: 128, D: 32 },
    ])('float64 tensors from tensor() give a float64 result equal to the float64 reference ($where)', async ({ B, H, Hkv, Sq, Sk, D }) => {
      // Normal draws are full float64 values: narrowing any input to float32 moves the result by ~1e-7,
      // far beyond the 1e-12 float64 tolerance.
      const rng = new Rng(1164);
      const draw = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
      const q = { data: draw(B * H * Sq * D), shape: [B, H, Sq, D] };
      const k = { data: draw(B * Hkv * Sk * D), shape: [B, Hkv, Sk, D] };
      const v = { data: draw(B * Hkv * Sk * D), shape: [B, Hkv, Sk, D] };
      const lse = zeros([B, H, Sq], 'float64');
      const out = await pool.attention(tensor(q.shape, q.data), tensor(k.shape, k.data), tensor(v.shape, v.data), { causal: true, lse });
      expect(out.data).toBeInstanceOf(Float64Array);
      expect(out.shape).toEqual([B, H, Sq, D]);
      expectAttentionClose(out.data, lse.data, referenceAttention(q, k, v, { causal: true }), 'float64 attention');
    });
  });
});

describe('zeros()', () => {
  it.each([
    ['float32', Float32Array],
    ['float64', Float64Array],
    ['uint8', Uint8Array],
  ] as const)('%s: the right element type, length and zeros, on a SharedArrayBuffer', (dtype, Ctor) => {
    const t = zeros([2, 3, 5], dtype);
    expect(t.data).toBeInstanceOf(Ctor);
    expect(t.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(t.data.length).toBe(30);
    expect(t.data.byteLength).toBe(30 * Ctor.BYTES_PER_ELEMENT);
    expect(Array.from(t.data).every((x) => x === 0)).toBe(true);
    expect(t.shape).toEqual([2, 3, 5]);
  });

  it('defaults to float32', () => {
    expect(zeros([4]).data).toBeInstanceOf(Float32Array);
  });

  it('gives every call its own memory', () => {
    const a = zeros([3]);
    const b = zeros([3]);
    a.data[0] = 1;
    expect(b.data[0]).toBe(0);
  });
});

describe('bad shapes and values', () => {
  const badShapes: ReadonlyArray<[string, unknown, typeof TypeError | typeof RangeError]> = [
    ['a negative dimension', [2, -1], RangeError],
    ['a fractional dimension', [2.5, 2], RangeError],
    ['a NaN dimension', [NaN], RangeError],
    ['an infinite dimension', [Infinity, 1], RangeError],
    ['a string dimension', [2, '3'], TypeError],
    ['a shape that is not an array', 6, TypeError],
    ['a null shape', null, TypeError],
  ];

  it.each(badShapes)('tensor() rejects %s', async (_, shape, errorClass) => {
    const err = await caught(() => tensor(shape as number[]));
    expect(err).toBeInstanceOf(errorClass);
    expect((err as Error).message).toMatch(/shape/);
  });

  it.each(badShapes)('zeros() rejects %s', async (_, shape, errorClass) => {
    const err = await caught(() => zeros(shape as number[]));
    expect(err).toBeInstanceOf(errorClass);
    expect((err as Error).message).toMatch(/shape/);
  });

  it('tensor() rejects values whose length is not product(shape)', async () => {
    const err = await caught(() => tensor([2, 3], [1, 2, 3, 4, 5]));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/values/);
  });

  it('tensor() rejects values that are not array-like', async () => {
    const err = await caught(() => tensor([1], 5 as unknown as number[]));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/values/);
  });

  it('zeros() rejects an unknown dtype', async () => {
    const err = await caught(() => zeros([2], 'int32' as never));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/dtype/);
  });
});
