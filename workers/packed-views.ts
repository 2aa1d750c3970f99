// Typed arrays cross to another thread as (buffer, byteOffset, length) and are rebuilt there.
//
// Why: the structured clone behind postMessage (piscina.run, comlink) keeps a view's byteOffset and
// byteLength only modulo 2³² bytes. Probed on Node 20.20, 22.23, 24.22 and 26.12 alike: a 4 GiB
// Float32Array arrives with length 0, a Float64Array of 2²⁹ + 8 elements with 8, and a view at
// byteOffset 2³² + 8 arrives at byteOffset 8 — reading other data, with no error anywhere. The buffer
// itself arrives whole, so sending it beside the view's offset and length as plain numbers (exact
// doubles) and building the view again on the other side is right for every size.
//
// Everything a thread of attnpool sends that may hold a tensor goes through packViews, and the
// receiver's unpackViews is the only way back to the value's type, so no path can forget it. A phase
// is packed once for all its posts; unpacking costs a few µs per task, against ~50 µs per message.

import { DTYPES, ELEMENT_TYPES, type StoredArray, type TensorData } from './dtypes.js';

/** Marks a record that stands for a typed array; a key no job or tensor object has. */
const VIEW = 'attnpool:view';

/** The element types attnpool sends: every row of ./dtypes.ts (tensors, stored K/V), tile lists and flags (int32). */
export type PackableView = TensorData | StoredArray | Int32Array;
export type ViewConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => PackableView;
/** Every typed array type attnpool sends, in a fixed order (the board's descriptors refer to it by index). */
export const VIEW_CONSTRUCTORS: readonly ViewConstructor[] = [...ELEMENT_TYPES.map((d): ViewConstructor => DTYPES[d].array), Int32Array];
const VIEW_TYPES: ReadonlyMap<string, ViewConstructor> = new Map(VIEW_CONSTRUCTORS.map((array) => [array.name, array]));

interface ViewRecord {
  /** The typed array's constructor name, a key of VIEW_TYPES. */
  readonly [VIEW]: string;
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly length: number;
}

declare const packedValue: unique symbol;
/** A value of type T as it crosses a thread boundary; only unpackViews turns it back into a T. */
export interface Packed<T> {
  readonly [packedValue]: T;
}

/** `value` with each typed array inside plain objects and arrays replaced by its record. The same
 *  array met twice becomes the same record, so it arrives as one array (self-attention passes one
 *  tensor as query, key and value, and the receiver recognises that by identity). */
export function packViews<T>(value: T): Packed<T> {
  return pack(value, new Map()) as Packed<T>;
}

/** The value packViews was given, with every typed array rebuilt over the same (shared) memory. */
export function unpackViews<T>(packed: Packed<T>): T {
  return unpack(packed, new Map()) as T;
}

/** `packed` with its field `key` set to `value` (packed too), without packing the rest again: a phase
 *  is packed once, and each of its lanes adds only its own small field. */
export function withPackedField<T extends object, K extends keyof T & string>(packed: Packed<T>, key: K, value: T[K]): Packed<T> {
  return { ...(packed as unknown as Record<string, unknown>), [key]: pack(value, new Map()) } as unknown as Packed<T>;
}

function pack(value: unknown, records: Map<ArrayBufferView, ViewRecord>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return recordOf(value, records);
  if (Array.isArray(value)) return value.map((item) => pack(item, records));
  if (!isPlainObject(value)) return value; // e.g. a WebAssembly.Module: structured clone handles it
  const out: Record<string, unknown> = {};
  // for-in, not Object.entries: packing and unpacking an attention task took ~70 µs with entries,
  // ~9 µs with for-in (Node 20, loaded 2 cores); plain objects inherit no enumerable keys.
  for (const key in value) out[key] = pack((value as Record<string, unknown>)[key], records);
  return out;
}

function recordOf(view: ArrayBufferView, records: Map<ArrayBufferView, ViewRecord>): ViewRecord {
  const known = records.get(view);
  if (known) return known;
  const type = viewTypeName(view);
  const record: ViewRecord = { [VIEW]: type, buffer: view.buffer, byteOffset: view.byteOffset, length: (view as PackableView).length };
  records.set(view, record);
  return record;
}

function viewTypeName(view: ArrayBufferView): string {
  for (const [name, array] of VIEW_TYPES) {
    if (view instanceof array) return name;
  }
  throw new TypeError(`attnpool internal error: cannot send a typed array of type ${view.constructor.name} to another thread`);
}

function unpack(value: unknown, views: Map<object, PackableView>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => unpack(item, views));
  if (!isPlainObject(value)) return value;
  if (VIEW in value) return viewOf(value as ViewRecord, views);
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = unpack((value as Record<string, unknown>)[key], views);
  return out;
}

function viewOf(record: ViewRecord, views: Map<object, PackableView>): PackableView {
  let view = views.get(record);
  if (!view) {
    view = new (VIEW_TYPES.get(record[VIEW])!)(record.buffer, record.byteOffset, record.length);
    views.set(record, view);
  }
  return view;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
