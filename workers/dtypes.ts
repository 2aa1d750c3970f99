// The element types a tensor of attnpool can have, in one table: its typed array, its size, whether it
// holds values or a mask, and how the wasm kernel stages it into its memory (which also says which
// kernels take it: the js kernel takes every row, computing in float64; the wasm kernel only rows it
// can stage). A new storage type (float16 or int8 K/V) is one row here and one line in ArrayTypes; the
// pool's kernel choice, validation, the memory bound, allocation and thread crossing follow the row.
//
// It lives under workers/ because both sides read it and imports run from src/ to workers/, never back.

/** The typed array of each element type (a type-level twin of the table's `array`, which TypeScript
 *  cannot derive from the constructors without losing the plain array types). */
export interface ArrayTypes {
  float32: Float32Array;
  float64: Float64Array;
  uint8: Uint8Array;
}

export type DType = keyof ArrayTypes;

interface DTypeRow<A> {
  readonly array: new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => A;
  readonly bytes: number;
  /** 'float': attention inputs and results; 'mask': 0/1 attend flags. */
  readonly holds: 'float' | 'mask';
  /** How the wasm kernel moves rows of this type into its memory: 'copy' as they are (its own element
   *  type), or null: it does not take them, and the pool runs such calls on the js kernel. */
  readonly wasmStaging: 'copy' | null;
}

export const DTYPES: { readonly [D in DType]: DTypeRow<ArrayTypes[D]> } = {
  float32: { array: Float32Array, bytes: 4, holds: 'float', wasmStaging: 'copy' },
  float64: { array: Float64Array, bytes: 8, holds: 'float', wasmStaging: null },
  uint8: { array: Uint8Array, bytes: 1, holds: 'mask', wasmStaging: 'copy' },
};

export type TensorData = ArrayTypes[DType];
/** The rows whose `holds` is 'float' (a type cannot read that from the table's values). */
export type FloatDType = 'float32' | 'float64';
export type FloatArray = ArrayTypes[FloatDType];

export const DTYPE_NAMES = Object.keys(DTYPES) as readonly DType[];
export const FLOAT_DTYPES = DTYPE_NAMES.filter((d) => DTYPES[d].holds === 'float') as readonly FloatDType[];

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
export function sharedArray<D extends DType>(dtype: D, length: number): ArrayTypes[D] {
  const row: DTypeRow<ArrayTypes[D]> = DTYPES[dtype];
  return new row.array(new SharedArrayBuffer(length * row.bytes));
}
