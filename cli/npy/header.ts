// Strict checks of a .npy file's header and size, before its data is read: every way a file can be
// malformed is caught here and named, and the header is read exactly as numpy reads it (./header-dict.ts).
//
// Format (numpy/lib/format.py): 6 magic bytes "\x93NUMPY", a major and a minor version byte, the header
// length (uint16 LE in version 1, uint32 LE in versions 2 and 3), then the header: a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and ended by '\n'
// (latin1 in versions 1 and 2, utf-8 in version 3).
// The data follows in C order, with no trailing bytes.

import { parseHeaderDict, showHeaderValue, type HeaderValue } from './header-dict.js';

export const NPY_DTYPES = {
  '<f4': { name: 'float32', bytes: 4 },
  '<f8': { name: 'float64', bytes: 8 },
  '|b1': { name: 'bool', bytes: 1 },
  '|u1': { name: 'uint8', bytes: 1 },
} as const;

export type NpyDescr = keyof typeof NPY_DTYPES;
export type NpyDTypeName = (typeof NPY_DTYPES)[NpyDescr]['name'];

export interface NpyHeader {
  readonly descr: NpyDescr;
  readonly shape: readonly number[];
  readonly dataOffset: number;
}

/** numpy ≥ 1.24 refuses longer headers unless told to trust the file (np.load's max_header_size). */
const MAX_HEADER_SIZE = 10_000;
const REQUIRED_KEYS = ['descr', 'fortran_order', 'shape'] as const;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const SUPPORTED = Object.keys(NPY_DTYPES).map((d) => `'${d}'`).join(', ');

/** Reads and checks the header of a whole .npy file; throws an Error whose message is the problem
 *  (the caller prefixes the file name). */
export function checkNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.length === 0) throw new Error('empty file (not a .npy file)');
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error('not a .npy file (bad magic: it must start with \\x93NUMPY)');
  }
  if (bytes.length < 10) throw new Error(`truncated header (${bytes.length} bytes)`);
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) throw new Error(`unsupported .npy format version ${major}.${minor}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new Error(`truncated header (${bytes.length} bytes)`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lengthBytes + headerLength;
  if (dataOffset > bytes.length) {
    throw new Error(`truncated header (it declares ${headerLength} bytes, the file has ${bytes.length - 8 - lengthBytes})`);
  }
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1')
    .decode(bytes.subarray(8 + lengthBytes, dataOffset));
  // numpy counts the characters of the decoded header; within the limit no further check can be slow.
  if (headerLength > MAX_HEADER_SIZE && codePoints(text) > MAX_HEADER_SIZE) {
    throw new Error(`header of ${codePoints(text)} characters is longer than numpy's limit of ${MAX_HEADER_SIZE} (max_header_size)`);
  }
  const { descr, fortranOrder, shape } = readHeaderFields(text);

  if (!(descr in NPY_DTYPES)) {
    const hint = descr.startsWith('>') ? ' (big-endian)' : '';
    throw new Error(`unsupported dtype '${descr}'${hint}; attnpool reads ${SUPPORTED}`);
  }
  if (fortranOrder) {
    throw new Error('Fortran-order array is not supported (save a C-order copy: numpy.ascontiguousarray)');
  }
  const dtype = NPY_DTYPES[descr as NpyDescr];
  const expected = shape.reduce((n, d) => n * d, 1) * dtype.bytes;
  const actual = bytes.length - dataOffset;
  if (actual < expected) {
    throw new Error(`truncated data: shape [${shape.join(', ')}] of ${dtype.name} needs ${expected} bytes, the file holds ${actual}`);
  }
  if (actual > expected) {
    throw new Error(`${actual - expected} unexpected bytes after the data of shape [${shape.join(', ')}] (${dtype.name})`);
  }
  return { descr: descr as NpyDescr, shape, dataOffset };
}

interface HeaderFields { descr: string; fortranOrder: boolean; shape: readonly number[] }

/** The three fields, checked as numpy's _read_array_header checks them: exactly these keys, each of its type. */
function readHeaderFields(text: string): HeaderFields {
  let dict: Map<string, HeaderValue>;
  try {
    dict = parseHeaderDict(text);
  } catch (err) {
    throw new Error(`malformed header: ${(err as Error).message}`);
  }
  const keys = [...dict.keys()];
  if (keys.length !== REQUIRED_KEYS.length || !REQUIRED_KEYS.every((k) => dict.has(k))) {
    throw new Error("header keys must be exactly 'descr', 'fortran_order' and 'shape' " +
      `(as numpy requires), got ${keys.length === 0 ? 'none' : keys.map((k) => `'${k}'`).join(', ')}`);
  }
  const descr = dict.get('descr')!;
  const fortranOrder = dict.get('fortran_order')!;
  const shape = dict.get('shape')!;
  if (typeof descr !== 'string') throw new Error(`'descr' must be a string, got ${showHeaderValue(descr)}`);
  if (typeof fortranOrder !== 'boolean') throw new Error(`'fortran_order' must be True or False, got ${showHeaderValue(fortranOrder)}`);
  if (typeof shape === 'string' || typeof shape === 'boolean') {
    throw new Error(`'shape' must be a tuple of non-negative integers, got ${showHeaderValue(shape)}`);
  }
  return { descr, fortranOrder, shape };
}

/** Characters as Python counts them (code points, not UTF-16 units). */
function codePoints(text: string): number {
  let n = 0;
  // Every UTF-16 unit but the second half of a surrogate pair starts a code point.
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) n++;
  }
  return n;
}
