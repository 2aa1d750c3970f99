// Reading a .npy file into an attnpool tensor on a SharedArrayBuffer. The file must be a regular file
// (../read-regular-file.ts), its header is checked strictly (./header.ts), and the data bytes after it
// are copied as they are; every failure becomes a FileError naming the file.

import { zeros, type FloatArray, type Tensor } from '../../src/index.js';
import { FileError } from '../errors.js';
import { readRegularFile } from '../read-regular-file.js';
import { checkNpyHeader, type NpyDescr } from './header.js';

export type FloatTensor = Tensor<FloatArray>;

/** What a file holds, as read: its dtype, shape and the bytes of its data. */
interface NpyContents {
  readonly file: string;
  readonly descr: NpyDescr;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

async function readNpy(file: string): Promise<NpyContents> {
  const bytes = await readRegularFile(file);
  try {
    const { descr, shape, dataOffset } = checkNpyHeader(bytes);
    return { file, descr, shape, data: bytes.subarray(dataOffset) };
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

/** A bool or uint8 tensor read as uint8 (masks); a bool is 0 or 1, as numpy reads any nonzero byte as True. */
export async function readMaskTensor(file: string): Promise<Tensor<Uint8Array>> {
  const npy = await readNpy(file);
  if (npy.descr !== '|b1' && npy.descr !== '|u1') {
    throw new FileError(file, `dtype '${npy.descr}' is not a mask dtype (expected bool '|b1' or uint8 '|u1')`);
  }
  const mask = copyToShared(npy, 'uint8') as Tensor<Uint8Array>;
  if (npy.descr === '|b1') for (let i = 0; i < mask.data.length; i++) mask.data[i] = mask.data[i]! === 0 ? 0 : 1;
  return mask;
}

/** The data bytes, copied as they are: '<f4' and '<f8' are little-endian, so this assumes a
 *  little-endian host (x64, arm64). */
function copyToShared(npy: NpyContents, dtype: 'float32' | 'float64' | 'uint8'): Tensor<Float32Array | Float64Array | Uint8Array> {
  const t = zeros(npy.shape, dtype);
  new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).set(npy.data);
  return t;
}
