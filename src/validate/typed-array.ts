// A caller's typed array, read once. Validation and everything after it use a fresh fixed-length view
// over the same memory, built from the engine's own typed-array accessors: a subclass or an own
// property overriding `length`, a Proxy posing as a typed array, or a length-tracking view whose
// buffer grows later cannot make the call see one length while checking and another while computing.

import { DTYPES, dtypeNamed, type TensorData } from '../../workers/dtypes.js';

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsicGetter(name: PropertyKey): (this: unknown) => unknown {
  const getter = Object.getOwnPropertyDescriptor(TypedArrayPrototype, name)?.get;
  if (!getter) throw new Error(`attnpool: this runtime has no %TypedArray%.prototype[${String(name)}] getter`);
  return getter;
}
// %TypedArray%.prototype[Symbol.toStringTag] answers the element type for a genuine typed array
// (whatever its prototype chain says) and undefined for anything else, Proxies included.
const kindOf = intrinsicGetter(Symbol.toStringTag);
const bufferOf = intrinsicGetter('buffer');
const byteOffsetOf = intrinsicGetter('byteOffset');
const lengthOf = intrinsicGetter('length');

/** The element count each view had when it was made: a view over a resizable ArrayBuffer reads as
 *  length 0 once the buffer shrinks below it, which the copy at the call must not mistake for empty.
 *  Views over a SharedArrayBuffer are not entered (their length never changes: such a buffer may grow
 *  but never shrinks or detaches), which spares most calls a WeakMap entry per tensor. */
const lengthAtRead = new WeakMap<TensorData | Int32Array, number>();

/** A fixed-length `Type` over the elements `value` (a genuine typed array) views as of now. */
function viewOf<V extends TensorData | Int32Array>(Type: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => V, value: unknown): V {
  const length = lengthOf.call(value) as number, buffer = bufferOf.call(value) as ArrayBufferLike;
  const view = new Type(buffer, byteOffsetOf.call(value) as number, length);
  if (!(buffer instanceof SharedArrayBuffer)) lengthAtRead.set(view, length);
  return view;
}

/** A fresh, fixed-length typed array of a tensor element type (workers/dtypes.ts) over the memory
 *  `value` views as of now; undefined when `value` is no genuine typed array of those types. */
export function ownView(value: unknown): TensorData | undefined {
  const kind = kindOf.call(value) as string | undefined;
  const dtype = kind === undefined ? undefined : dtypeNamed(kind);
  if (dtype === undefined) return undefined;
  return viewOf<TensorData>(DTYPES[dtype].array, value);
}

/** The same for an Int32Array (rotary positions), which is no tensor element type of the kernels. */
export function ownInt32View(value: unknown): Int32Array | undefined {
  if (kindOf.call(value) !== 'Int32Array') return undefined;
  return viewOf(Int32Array, value);
}

/** False once the buffer under a view made by ownView() has shrunk below it or been detached. */
export function stillWhole(view: TensorData | Int32Array): boolean {
  return view.length === (lengthAtRead.get(view) ?? view.length);
}

/** The bytes a view covers within its buffer. */
export interface ByteRange {
  readonly buffer: ArrayBufferLike;
  readonly start: number;
  readonly end: number;
}

export function byteRange(view: ArrayBufferView): ByteRange {
  return { buffer: view.buffer, start: view.byteOffset, end: view.byteOffset + view.byteLength };
}

/** Two views of exactly the same elements (same buffer, offset, length and element type). */
export function sameMemory(a: TensorData | Int32Array, b: TensorData | Int32Array): boolean {
  return a === b || (a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length && a.constructor === b.constructor);
}
