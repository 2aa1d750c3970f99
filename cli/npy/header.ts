// Strict checks of a .npy file's header and size, before npyjs parses it. npyjs reads whatever follows
// the header as data and reports a bad file with a generic message (or not at all: a truncated file
// simply yields a shorter array), so every way a file can be malformed is caught here first and named.
//
// Format (numpy/lib/format.py): 6 magic bytes "\x93NUMPY", a major and a minor version byte, the header
// length (uint16 LE in version 1, uint32 LE in versions 2 and 3), then the header: a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and ended by '\n'.
// The data follows in C order, with no trailing bytes.

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
  const { descr, fortranOrder, shape } = parseHeaderDict(text);

  if (!(descr in NPY_DTYPES)) {
    const hint = descr.startsWith('>') ? ' (big-endian)' : '';
    throw new Error(`unsupported dtype '${descr}'${hint}; attnpool reads ${SUPPORTED}`);
  }
  if (fortranOrder) {
    throw new Error('Fortran-order array is not supported (save a C-order copy: numpy.ascontiguousarray)');
  }
  const dtype = NPY_DTYPES[descr as NpyDescr];
  if (dataOffset % dtype.bytes !== 0) {
    throw new Error(`data starts at byte ${dataOffset}, not a multiple of ${dtype.bytes} (header not padded as numpy.save does)`);
  }
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

interface HeaderDict { descr: string; fortranOrder: boolean; shape: number[] }

function parseHeaderDict(text: string): HeaderDict {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (!text.trimStart().startsWith('{') || descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`malformed header (expected a dict with 'descr', 'fortran_order' and 'shape'), got ${JSON.stringify(text.trim().slice(0, 80))}`);
  }
  const parts = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const shape = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  if (shape.some((d) => !Number.isSafeInteger(d))) throw new Error(`malformed shape (${shapeText}) in header`);
  return { descr, fortranOrder: fortran === 'True', shape };
}
