// The element types attnpool holds, in one table: its typed array, its size, whether it holds values,
// a mask or stored K/V, and how the wasm kernel stages it into its memory (which also says which
// kernels take it: the js kernel takes every row, computing in float64; the wasm kernel only rows it
// can stage). A new storage type is one row here and one line in ArrayTypes; the pool's kernel choice,
// validation, the memory bound, allocation and thread crossing follow the row.
//
// float16 and int8 are storage only: a KvCache keeps its keys and values in them (appends take float32
// and convert, workers/storage/), and no tensor has them.
//
// It lives under workers/ because both sides read it and imports run from src/ to workers/, never back.

import { INT8_BLOCK } from './storage/int8-blocks.js';

/** The typed array of each element type (a type-level twin of the table's `array`, which TypeScript
 *  cannot derive from the constructors without losing the plain array types). */
export interface ArrayTypes {
  float32: Float32Array;
  float64: Float64Array;
  uint8: Uint8Array;
  float16: Uint16Array;
  int8: Int8Array;
}

/** Every row of the table. */
export type ElementType = keyof ArrayTypes;
/** The rows whose `holds` is 'stored': K/V storage of a KvCache, never a tensor's element type. */
export type StoredDType = 'float16' | 'int8';
/** A tensor's element type. */
export type DType = Exclude<ElementType, StoredDType>;

interface DTypeRow<A> {
  readonly array: new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => A;
  readonly bytes: number;
  /** 'float': attention inputs and results; 'mask': 0/1 attend flags; 'stored': a KvCache's keys and
   *  values in reduced precision, decoded to float32 values by the kernels. */
  readonly holds: 'float' | 'mask' | 'stored';
  /** How the wasm kernel moves rows of this type into its memory: 'copy' as they are (its own element
   *  type); 'stored' as they are stored, decoded one 64-key block at a time inside the kernel
   *  (asm/kv-decode.ts); or null: it does not take them, and the pool runs such calls on the js kernel. */
  readonly wasmStaging: 'copy' | 'stored' | null;
  /** Values per float32 scale along a row ('stored' rows quantised in blocks: int8); null for none. */
  readonly scaleBlock: number | null;
}

export const DTYPES: { readonly [D in ElementType]: DTypeRow<ArrayTypes[D]> } = {
  float32: { array: Float32Array, bytes: 4, holds: 'float', wasmStaging: 'copy', scaleBlock: null },
  float64: { array: Float64Array, bytes: 8, holds: 'float', wasmStaging: null, scaleBlock: null },
  uint8: { array: Uint8Array, bytes: 1, holds: 'mask', wasmStaging: 'copy', scaleBlock: null },
  float16: { array: Uint16Array, bytes: 2, holds: 'stored', wasmStaging: 'stored', scaleBlock: null },
  int8: { array: Int8Array, bytes: 1, holds: 'stored', wasmStaging: 'stored', scaleBlock: INT8_BLOCK },
};

export type TensorData = ArrayTypes[DType];
/** The rows whose `holds` is 'float' (a type cannot read that from the table's values). */
export type FloatDType = 'float32' | 'float64';
export type FloatArray = ArrayTypes[FloatDType];

/** Every row, tensor types and stored types. */
export const ELEMENT_TYPES = Object.keys(DTYPES) as readonly ElementType[];
/** The element types a tensor may have. */
export const DTYPE_NAMES = ELEMENT_TYPES.filter((d) => DTYPES[d].holds !== 'stored') as readonly DType[];
export const FLOAT_DTYPES = DTYPE_NAMES.filter((d) => DTYPES[d].holds === 'float') as readonly FloatDType[];
export const STORED_DTYPES = ELEMENT_TYPES.filter((d) => DTYPES[d].holds === 'stored') as readonly StoredDType[];
/** The typed arrays of stored K/V. */
export type StoredArray = ArrayTypes[StoredDType];

/** The element type of a tensor's data. */
export function dtypeOf(data: FloatArray): FloatDType;
export function dtypeOf(data: TensorData): DType;
export function dtypeOf(data: TensorData): DType {
  const dtype = DTYPE_NAMES.find((d) => data instanceof DTYPES[d].array);
  if (dtype === undefined) throw new TypeError(`attnpool internal error: ${data.constructor.name} is no tensor element type`);
  return dtype;
}

/** The element type whose typed array is named `arrayName` ('Float32Array', …), for arrays met by name
 *  (%TypedArray%.prototype[Symbol.toStringTag]); undefined for any other name. */
export function dtypeNamed(arrayName: string): DType | undefined {
  return DTYPE_NAMES.find((d) => DTYPES[d].array.name === arrayName);
}

/** A zero-filled `dtype` array of `length` elements on a new SharedArrayBuffer. */
export function sharedArray<D extends ElementType>(dtype: D, length: number): ArrayTypes[D] {
  const row: DTypeRow<ArrayTypes[D]> = DTYPES[dtype];
  return new row.array(new SharedArrayBuffer(length * row.bytes));
}
