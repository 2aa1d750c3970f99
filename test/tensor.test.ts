// tensor() and zeros(): SharedArrayBuffer-backed, row-major, the right element type and length;
// values copied (and rounded to float32) rather than aliased; bad shapes and values rejected with the
// documented error class and a message naming the argument.

import { describe, expect, it } from 'vitest';
import { tensor, zeros } from '../dist/src/index.js';
import { caught } from './support/compare.js';

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
