// Outputs must not share memory with anything else the call reads or writes: kernels write a row of
// `out` while other threads still read the inputs, so an `out` over `k` would make results depend on
// the thread count. Inputs may overlap each other freely (they are only read), and two views of one
// buffer that cover different bytes are as good as two buffers.

import type { TensorData } from '../tensor.js';
import type { StoredArray } from '../../workers/dtypes.js';
import { byteRange } from './typed-array.js';

export interface NamedData {
  readonly name: string;
  readonly data: TensorData | Int32Array | StoredArray;
}

/** A RangeError naming both arguments for the first output that overlaps an input or an earlier output. */
export function checkOutputsApart(op: string, outputs: readonly NamedData[], inputs: readonly NamedData[]): void {
  outputs.forEach((output, i) => {
    for (const other of [...inputs, ...outputs.slice(0, i)]) {
      const a = byteRange(output.data), b = byteRange(other.data);
      if (a.buffer !== b.buffer || a.start >= b.end || b.start >= a.end) continue;
      const kind = a.buffer instanceof SharedArrayBuffer ? 'SharedArrayBuffer' : 'ArrayBuffer';
      throw new RangeError(`${op}: ${output.name} overlaps ${other.name} (the same ${kind}, bytes [${a.start}, ${a.end}) and [${b.start}, ${b.end})); ` +
        `an output must not share memory with the call's inputs or its other output`);
    }
  });
}
