// Reading a .npy file into an attnpool tensor on a SharedArrayBuffer. The file must be a regular file
// (../read-regular-file.ts), its header is checked strictly first (./header.ts), then npyjs parses it;
// every failure becomes a FileError naming the file.

import { parse } from 'npyjs';
import { zeros, type FloatArray, type Tensor } from '../../src/index.js';
import { FileError } from '../errors.js';
import { readRegularFile } from '../read-regular-file.js';
import { checkNpyHeader, type NpyDescr } from './header.js';

export type FloatTensor = Tensor<FloatArray>;

/** What a file holds, as read: its values, in the typed array its dtype maps to. */
interface NpyContents {
  readonly file: string;
  readonly descr: NpyDescr;
  readonly shape: readonly number[];
  readonly values: Float32Array | Float64Array | Uint8Array;
}

async function readNpy(file: string): Promise<NpyContents> {
  const bytes = await readRegularFile(file);
  try {
    const { descr, shape } = checkNpyHeader(bytes);
    // npyjs wants an ArrayBuffer holding exactly the file (a Buffer may be a slice of a larger pool).
    const exact = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const { data } = parse(exact);
    // npyjs returns booleans as a plain array of true/false; attnpool's masks are uint8 0/1.
    const values = Array.isArray(data) ? Uint8Array.from(data as boolean[], Number) : data;
    return { file, descr, shape, values: values as NpyContents['values'] };
  } catch (err) {
    throw new FileError(file, err instanceof Error ? err.message : String(err));
  }
}

/** A float32 or float64 tensor (inputs, biases, weights). */
export async function readFloatTensor(file: string): Promise<FloatTensor> {
  const npy = await readNpy(file);
  if (npy.descr === '<f4' || npy.descr === '<f8') return copyToShared(npy, npy.descr === '<f4' ? 'float32' : 'float64') as FloatTensor;
  throw new FileError(file, `dtype '${npy.descr}' is not a float dtype (expected float32 '<f4' or float64 '<f8')`);
}

/** A bool or uint8 tensor read as uint8 0/1 (masks). */
export async function readMaskTensor(file: string): Promise<Tensor<Uint8Array>> {
  const npy = await readNpy(file);
  if (npy.descr === '|b1' || npy.descr === '|u1') return copyToShared(npy, 'uint8') as Tensor<Uint8Array>;
  throw new FileError(file, `dtype '${npy.descr}' is not a mask dtype (expected bool '|b1' or uint8 '|u1')`);
}

function copyToShared(npy: NpyContents, dtype: 'float32' | 'float64' | 'uint8'): Tensor<Float32Array | Float64Array | Uint8Array> {
  const t = zeros(npy.shape, dtype);
  t.data.set(npy.values);
  return t;
}
