// Tensors: a typed array in row-major order plus its shape. attnpool allocates every tensor it returns
// on a SharedArrayBuffer so workers can read and write it in place; inputs that are not shared are
// copied once per call (see toShared).

import { alternatives, rangeError, typeError } from './errors.js';
import { sharedBufferFor } from './shared-buffer.js';
import { DTYPE_NAMES, DTYPES, dtypeOf, sharedArray, type ArrayTypes, type DType, type FloatArray, type TensorData } from '../workers/dtypes.js';

export type { DType, FloatArray, TensorData } from '../workers/dtypes.js';
export type Shape = readonly number[];

/** `A` may also be Int32Array: pool.rotary's positions, the one integer tensor attnpool reads. */
export interface Tensor<A extends TensorData | Int32Array = Float32Array> {
  readonly data: A;
  readonly shape: Shape;
}

export function product(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws unless `shape` is an array of non-negative safe integers. */
export function checkShape(op: string, name: string, shape: unknown): asserts shape is Shape {
  if (!Array.isArray(shape)) throw typeError(op, `${name}`, 'an array of non-negative integers', shape);
  shape.forEach((d: unknown, i) => {
    if (typeof d !== 'number') throw typeError(op, `${name}[${i}]`, 'a number', d);
    if (!Number.isSafeInteger(d) || d < 0) throw rangeError(op, `${name}[${i}]`, 'a non-negative integer', d);
  });
}

/**
 * A tensor on a SharedArrayBuffer holding a copy of `values` (or zeros). A Float64Array keeps float64,
 * because narrowing it would silently round every value; everything else (number[], Float32Array,
 * Float16Array, integer arrays — all of which float32 holds exactly up to 2^24) becomes float32, the
 * contract's default. The return type follows the static type of `values`: a Float64Array typed only
 * as ArrayLike<number> is still float64 at run time.
 */
export function tensor(shape: Shape, values: Float64Array): Tensor<Float64Array>;
export function tensor(shape: Shape, values?: ArrayLike<number>): Tensor<Float32Array>;
export function tensor(shape: Shape, values?: ArrayLike<number>): Tensor<FloatArray> {
  checkShape('tensor', 'shape', shape);
  if (values === undefined) return allocate('tensor', shape, 'float32');
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw typeError('tensor', 'values', 'an array-like of numbers', values);
  }
  const length = product(shape);
  if (values.length !== length) throw rangeError('tensor', 'values.length', `product(shape) = ${length}`, values.length);
  const t = allocate('tensor', shape, values instanceof Float64Array ? 'float64' : 'float32');
  t.data.set(values);
  return t;
}

export function zeros(shape: Shape): Tensor<Float32Array>;
export function zeros<D extends DType>(shape: Shape, dtype: D): Tensor<ArrayTypes[D]>;
export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor<TensorData> {
  checkShape('zeros', 'shape', shape);
  if (!Object.hasOwn(DTYPES, dtype)) throw rangeError('zeros', 'dtype', alternatives(DTYPE_NAMES.map((d) => `'${d}'`)), dtype);
  return allocate('zeros', shape, dtype);
}

/** A zero-filled tensor on a new SharedArrayBuffer; size errors name `op`, the function called. */
function allocate<D extends DType>(op: string, shape: Shape, dtype: D): Tensor<ArrayTypes[D]> {
  return { data: new DTYPES[dtype].array(sharedBufferFor(op, shape, dtype)), shape: [...shape] };
}

export function isShared(data: TensorData | Int32Array): boolean {
  return data.buffer instanceof SharedArrayBuffer;
}

/** The same values on a SharedArrayBuffer: `data` itself when it already is shared (zero-copy). */
export function toShared<A extends TensorData | Int32Array>(data: A): A {
  if (isShared(data)) return data;
  const Ctor = data.constructor as new (buffer: SharedArrayBuffer) => A;
  const copy = new Ctor(new SharedArrayBuffer(data.byteLength));
  copy.set(data as never);
  return copy;
}

/** A zero-filled shared array of `length` elements of `data`'s element type. */
export function allocLike(data: FloatArray, length: number): FloatArray {
  return sharedArray(dtypeOf(data), length);
}
